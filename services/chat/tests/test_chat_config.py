"""Configuration from the environment: read once, and a bad setting names its variable."""
from __future__ import annotations

import pytest

from chat import create_app
from chat.config import CatalogModel, Config
from rolechat_common.config import ConfigError

BASE = {"MEMORY_URL": "http://127.0.0.1:8083", "INTERNAL_IDENTITY_SECRET": "s" * 40, "OPENAI_API_KEY": "local-model"}


def test_defaults():
    config = Config.from_env(BASE)
    assert config.openai_base_url is None and config.model_catalog is None and config.default_model is None
    assert (config.sse_heartbeat_seconds, config.max_message_chars, config.max_instructions_chars) == (10, 16000, 8000)
    assert (config.max_answer_tokens, config.max_stream_seconds, config.upstream_read_timeout_seconds) == (
        1024, 900, 300)
    assert (config.sse_coalesce_seconds, config.sse_coalesce_max_seconds) == (0.025, 0.25)


def test_the_coalescing_interval_and_its_ceiling_under_load_are_read():
    config = Config.from_env({**BASE, "SSE_COALESCE_MS": "40", "SSE_COALESCE_MAX_MS": "400"})
    assert (config.sse_coalesce_seconds, config.sse_coalesce_max_seconds) == (0.04, 0.4)


def test_every_setting_is_read():
    config = Config.from_env({**BASE, "OPENAI_BASE_URL": "http://model:8090/v1/",
                              "MODEL_CATALOG": '[{"id": "a", "label": "Model A"}, "b"]', "DEFAULT_MODEL": "b",
                              "SSE_HEARTBEAT_SECONDS": "2.5", "MAX_MESSAGE_CHARS": "10", "MAX_INSTRUCTIONS_CHARS": "20",
                              "MAX_ANSWER_TOKENS": "30", "MAX_STREAM_SECONDS": "40",
                              "UPSTREAM_READ_TIMEOUT_SECONDS": "50"})
    assert config.openai_base_url == "http://model:8090/v1"
    assert config.model_catalog == (CatalogModel("a", "Model A"), CatalogModel("b", "b"))
    assert config.default_model == "b"
    assert (config.sse_heartbeat_seconds, config.max_message_chars, config.max_instructions_chars,
            config.max_answer_tokens, config.max_stream_seconds, config.upstream_read_timeout_seconds) == (
        2.5, 10, 20, 30, 40, 50)


@pytest.mark.parametrize("changes, variable", [
    ({"OPENAI_API_KEY": ""}, "OPENAI_API_KEY"),
    ({"MEMORY_URL": ""}, "MEMORY_URL"),
    ({"MEMORY_URL": "memory:8083"}, "MEMORY_URL"),
    ({"INTERNAL_IDENTITY_SECRET": "short"}, "INTERNAL_IDENTITY_SECRET"),
    ({"OPENAI_BASE_URL": "ftp://x"}, "OPENAI_BASE_URL"),
    ({"MODEL_CATALOG": "gpt-4o"}, "MODEL_CATALOG"),
    ({"MODEL_CATALOG": "[]"}, "MODEL_CATALOG"),
    ({"MODEL_CATALOG": '[{"label": "no id"}]'}, "MODEL_CATALOG"),
    ({"MODEL_CATALOG": '["a", "a"]'}, "MODEL_CATALOG"),
    ({"MODEL_CATALOG": '["a"]', "DEFAULT_MODEL": "b"}, "DEFAULT_MODEL"),
    ({"SSE_HEARTBEAT_SECONDS": "0"}, "SSE_HEARTBEAT_SECONDS"),
    ({"MAX_MESSAGE_CHARS": "lots"}, "MAX_MESSAGE_CHARS"),
    ({"MAX_ANSWER_TOKENS": "0"}, "MAX_ANSWER_TOKENS"),
    ({"MAX_STREAM_SECONDS": "-1"}, "MAX_STREAM_SECONDS"),
    ({"MAX_STREAM_SECONDS": "nan"}, "MAX_STREAM_SECONDS"),          # would pass every comparison
    ({"SSE_HEARTBEAT_SECONDS": "inf"}, "SSE_HEARTBEAT_SECONDS"),
    ({"UPSTREAM_READ_TIMEOUT_SECONDS": "soon"}, "UPSTREAM_READ_TIMEOUT_SECONDS"),
    ({"SSE_COALESCE_MAX_MS": "-1"}, "SSE_COALESCE_MAX_MS"),
    ({"SSE_COALESCE_MAX_MS": "60000"}, "SSE_COALESCE_MAX_MS"),
])
def test_a_bad_setting_names_its_variable(changes, variable):
    with pytest.raises(ConfigError, match=variable):
        Config.from_env({**BASE, **changes})


def test_create_app_reads_the_environment(monkeypatch):
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        create_app()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-1234")
    app = create_app()
    assert app.config["CHAT"].openai_api_key == "sk-secret-value-1234"
    assert "sk-secret" not in repr(app.config["CHAT"])
