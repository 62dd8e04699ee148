"""Settings are read once; a missing or bad one stops the service with a message naming it."""
from __future__ import annotations

import pytest

from auth_proxy.config import Config
from rolechat_common.config import ConfigError

GOOD = {
    "CHAT_URL": "http://chat:8082", "MEMORY_URL": "http://memory:8083/",
    "INTERNAL_IDENTITY_SECRET": "s" * 32,
    "ALB_ARN": "arn:aws:elasticloadbalancing:local-1:000000000000:loadbalancer/app/rolechat-local/0123456789abcdef",
    "ALB_KEY_URL": "http://local-edge:8080/alb-keys",
    "COGNITO_ISSUER": "https://cognito-idp.local-1.amazonaws.com/local-1_rolechat",
    "COGNITO_CLIENT_ID": "rolechatlocalclient",
    "REDIS_URL": "redis://redis:6390/0",
}


def test_defaults():
    config = Config.from_env(GOOD)
    assert config.memory_url == "http://memory:8083"
    assert config.max_body_bytes == 262144
    assert config.alb_token_leeway_seconds == 30
    assert config.key_fetch_timeout_seconds <= 3
    assert config.unknown_kid_fetch_interval_seconds == 10
    assert "s" * 32 not in repr(config)
    assert config.limits.default.rate_limit_per_minute == 120 and config.limits.default.concurrent_streams == 3
    assert config.limits.for_groups(["admins"]).daily_tokens is None  # admins: unlimited
    assert config.trusted_proxy_hops == 1


@pytest.mark.parametrize("name", list(GOOD))
def test_each_required_setting_is_named_when_missing(name):
    env = {k: v for k, v in GOOD.items() if k != name}
    with pytest.raises(ConfigError, match=name):
        Config.from_env(env)


@pytest.mark.parametrize("name,value", [
    ("INTERNAL_IDENTITY_SECRET", "short"), ("CHAT_URL", "chat:8082"), ("ALB_KEY_URL", "file:///etc/keys"),
    ("COGNITO_ISSUER", "not a url"), ("ALB_ARN", "my-alb"), ("MAX_BODY_BYTES", "lots"),
    ("ALB_TOKEN_LEEWAY_SECONDS", "3600"), ("ALB_TOKEN_LEEWAY_SECONDS", "-1"),
    ("PROXY_READ_TIMEOUT_SECONDS", "0"), ("REDIS_URL", "localhost:6379"), ("REDIS_CLUSTER", "maybe"),
    ("RATE_LIMIT_PER_MINUTE", "0"), ("MAX_CONCURRENT_STREAMS", "many"), ("TRUSTED_PROXY_HOPS", "9"),
    ("LIMITS_BY_GROUP", "[]"), ("LIMITS_BY_GROUP", '{"admins": {"daily_tokens": -5}}'),
    ("LIMITS_BY_GROUP", '{"admins": {"tokens": 5}}'),
])
def test_bad_values_are_named(name, value):
    with pytest.raises(ConfigError, match=name):
        Config.from_env({**GOOD, name: value})


def test_create_app_fails_fast_on_bad_settings(monkeypatch):
    from auth_proxy import create_app
    for key in GOOD:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConfigError, match="is required"):
        create_app()
