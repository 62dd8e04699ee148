"""The edge's settings: read once, a bad one named."""
from __future__ import annotations

from pathlib import Path

import pytest

from local_edge.config import Config
from rolechat_common.config import ConfigError

GOOD = {
    "AUTH_PROXY_URL": "http://auth-proxy:8081",
    "EDGE_SESSION_SECRET": "e" * 32,
    "EDGE_DATA_DIR": "/data",
    "ALB_ARN": "arn:aws:elasticloadbalancing:local-1:000000000000:loadbalancer/app/rolechat-local/0123456789abcdef",
    "COGNITO_ISSUER": "https://cognito-idp.local-1.amazonaws.com/local-1_rolechat",
    "COGNITO_CLIENT_ID": "rolechatlocalclient",
}


def test_defaults():
    config = Config.from_env(GOOD)
    assert config.static_dir == Path("frontend/dist")
    assert config.data_dir == Path("/data")
    assert config.token_ttl_seconds == 120
    assert "e" * 32 not in repr(config)


@pytest.mark.parametrize("name", ["AUTH_PROXY_URL", "EDGE_SESSION_SECRET", "ALB_ARN", "COGNITO_ISSUER",
                                  "COGNITO_CLIENT_ID"])
def test_required_settings_are_named(name):
    with pytest.raises(ConfigError, match=name):
        Config.from_env({k: v for k, v in GOOD.items() if k != name})


@pytest.mark.parametrize("name,value", [("EDGE_SESSION_SECRET", "short"), ("AUTH_PROXY_URL", "auth-proxy"),
                                        ("COGNITO_ISSUER", "nope"), ("ALB_ARN", "alb"),
                                        ("EDGE_MAX_BODY_BYTES", "many")])
def test_bad_values_are_named(name, value):
    with pytest.raises(ConfigError, match=name):
        Config.from_env({**GOOD, name: value})
