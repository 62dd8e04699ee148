"""The chat service's settings, read from the environment once and validated at start-up."""
from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rolechat_common.config import ConfigError, Env

from .tokens import DEFAULT_CONTEXT_WINDOW, TOKENIZERS

MAX_MODEL_ID_CHARS = 200


@dataclass(frozen=True)
class CatalogModel:
    id: str
    label: str
    context_window: int | None = None      # tokens the model reads at once; None: the known table
    max_output_tokens: int | None = None   # the longest answer it can write; None: the known table
    tokenizer: str | None = None           # "o200k_base", "cl100k_base" or "bytes/3"; None: the known table
    base_url: str | None = None            # its own OpenAI-compatible endpoint; None: OPENAI_BASE_URL
    api_key_env: str | None = None         # the variable holding that endpoint's key (never the key)
    azure: tuple[str, str, str] | None = None  # Azure OpenAI: (endpoint, api_version, deployment)
    input_price: float | None = None       # USD per million prompt tokens
    output_price: float | None = None      # USD per million answer tokens
    fine_tuned: bool = False

    def to_json(self) -> dict:
        return {"id": self.id, "label": self.label, "fine_tuned": self.fine_tuned or self.id.startswith("ft:"),
                "input_price": self.input_price, "output_price": self.output_price}

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if self.input_price is None and self.output_price is None:
            return None
        return round(((self.input_price or 0) * prompt_tokens + (self.output_price or 0) * completion_tokens)
                     / 1_000_000, 8)


def _positive_int(entry: dict, model_id: str, name: str, minimum: int) -> int | None:
    value = entry.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"MODEL_CATALOG entry {model_id!r} has a {name!r} that is not an integer ≥ {minimum}")
    return value


ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")


def _price(entry: dict, model_id: str, name: str) -> float | None:
    value = entry.get(name)
    if value is None:
        return None
    try:
        price = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:  # an integer past what a float holds
        price = math.inf
    if not 0 <= price < math.inf:
        raise ConfigError(f"MODEL_CATALOG entry {model_id!r} has a {name!r} that is not a finite number ≥ 0")
    return price


def _endpoint(entry: dict, model_id: str, environ: Mapping[str, str]):
    base_url, key_env, azure = entry.get("base_url"), entry.get("api_key_env"), entry.get("azure")
    if "api_key" in entry:
        raise ConfigError(f"MODEL_CATALOG entry {model_id!r} carries an \"api_key\": name the variable that "
                          "holds it in \"api_key_env\" instead")
    if base_url is not None and (not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))):
        raise ConfigError(f"MODEL_CATALOG entry {model_id!r} has a \"base_url\" that is not an http(s) URL")
    if key_env is not None:
        if not isinstance(key_env, str) or not ENV_NAME.match(key_env):
            raise ConfigError(f"MODEL_CATALOG entry {model_id!r} has an \"api_key_env\" that is not a variable name")
        if not environ.get(key_env):
            raise ConfigError(f"{key_env} (the key of MODEL_CATALOG entry {model_id!r}) is not set")
    azure_tuple = None
    if azure is not None:
        if not isinstance(azure, dict) or not all(isinstance(azure.get(k), str) and azure.get(k)
                                                  for k in ("endpoint", "api_version", "deployment")):
            raise ConfigError(f"MODEL_CATALOG entry {model_id!r}: \"azure\" needs \"endpoint\", \"api_version\" "
                              "and \"deployment\"")
        if key_env is None:
            raise ConfigError(f"MODEL_CATALOG entry {model_id!r}: an \"azure\" endpoint needs \"api_key_env\"")
        azure_tuple = (azure["endpoint"], azure["api_version"], azure["deployment"])
    if base_url is not None and azure is not None:
        raise ConfigError(f"MODEL_CATALOG entry {model_id!r} has both \"base_url\" and \"azure\"")
    return base_url, key_env, azure_tuple


def load_catalog_file(path: str | None) -> str | None:
    """MODEL_CATALOG_FILE: the same catalog as YAML or JSON, as a JSON string."""
    if not path:
        return None
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"MODEL_CATALOG_FILE {path!r} cannot be read as YAML or JSON ({type(exc).__name__})") from None
    return json.dumps(data)


def parse_catalog(raw: str | None, environ: Mapping[str, str] | None = None
                  ) -> tuple[CatalogModel, ...] | None:
    """MODEL_CATALOG: a JSON list of {"id", "label"?, ...} objects (or plain id strings), or
    {"models": [...], "default": "<id>"}."""
    return parse_catalog_with_default(raw, environ)[0]


def parse_catalog_with_default(raw: str | None, environ: Mapping[str, str] | None = None
                               ) -> tuple[tuple[CatalogModel, ...] | None, str | None]:
    if raw is None:
        return None, None
    environ = os.environ if environ is None else environ
    try:
        entries = json.loads(raw)
    except ValueError:
        raise ConfigError("MODEL_CATALOG must be a JSON list of {\"id\", \"label\"} objects") from None
    default = None
    if isinstance(entries, dict):
        default = entries.get("default")
        if default is not None and not isinstance(default, str):
            raise ConfigError("MODEL_CATALOG's \"default\" must be a model id")
        entries = entries.get("models")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("MODEL_CATALOG must be a non-empty JSON list of {\"id\", \"label\"} objects")
    models: list[CatalogModel] = []
    for entry in entries:
        if isinstance(entry, str):
            entry = {"id": entry}
        if not isinstance(entry, dict):
            raise ConfigError("MODEL_CATALOG entries must be objects with an \"id\"")
        model_id, label = entry.get("id"), entry.get("label")
        if not isinstance(model_id, str) or not model_id.strip() or len(model_id) > MAX_MODEL_ID_CHARS:
            raise ConfigError("MODEL_CATALOG has an entry without a valid \"id\"")
        if label is not None and not isinstance(label, str):
            raise ConfigError(f"MODEL_CATALOG entry {model_id!r} has a \"label\" that is not a string")
        if any(m.id == model_id for m in models):
            raise ConfigError(f"MODEL_CATALOG lists {model_id!r} twice")
        tokenizer = entry.get("tokenizer")
        if tokenizer is not None and tokenizer not in TOKENIZERS:
            raise ConfigError(f"MODEL_CATALOG entry {model_id!r} has an unknown \"tokenizer\" "
                              f"(one of {', '.join(TOKENIZERS)})")
        base_url, key_env, azure = _endpoint(entry, model_id, environ)
        models.append(CatalogModel(model_id, label or model_id,
                                   _positive_int(entry, model_id, "context_window", 256),
                                   _positive_int(entry, model_id, "max_output_tokens", 1), tokenizer,
                                   base_url, key_env, azure,
                                   _price(entry, model_id, "input_price"), _price(entry, model_id, "output_price"),
                                   bool(entry.get("fine_tuned", False))))
    if default is not None and all(m.id != default for m in models):
        raise ConfigError(f"MODEL_CATALOG's default {default!r} is not one of its models")
    return tuple(models), default


@dataclass(frozen=True)
class Config:
    memory_url: str
    identity_secret: str
    openai_api_key: str
    openai_base_url: str | None = None
    model_catalog: tuple[CatalogModel, ...] | None = None
    default_model: str | None = None
    sse_heartbeat_seconds: float = 10.0
    sse_coalesce_seconds: float = 0.025
    sse_coalesce_max_seconds: float = 0.25  # the interval's ceiling while the process is overloaded
    max_message_chars: int = 16000
    max_instructions_chars: int = 8000
    max_answer_tokens: int = 1024
    max_stream_seconds: float = 900.0
    upstream_read_timeout_seconds: float = 300.0
    # Connections kept open to each model endpoint: one per concurrent answer, so a busy instance
    # does not open a new TLS connection per answer (the SDK's own default keeps 100).
    upstream_max_connections: int = 1000
    max_history_messages: int | None = None   # optional caps on top of the token budget
    max_history_chars: int | None = None
    context_summaries: bool = True
    context_margin_tokens: int | None = None  # None: 5% of the window, 32..2048
    pins_max_share: float = 0.5
    summary_refresh_messages: int = 10
    default_context_window: int = DEFAULT_CONTEXT_WINDOW
    max_body_bytes: int = 262144
    models_cache_seconds: float = 60.0
    memory_timeout_seconds: float = 10.0
    role_presets_file: str | None = None   # None: the presets.yaml shipped with chat
    provider_keys: Mapping[str, str] = field(default_factory=dict)  # api_key_env name -> key
    log_level: str = "INFO"

    def __post_init__(self):
        if self.model_catalog is not None and self.default_model is not None:
            if all(m.id != self.default_model for m in self.model_catalog):
                raise ConfigError(f"DEFAULT_MODEL {self.default_model!r} is not in MODEL_CATALOG")

    def __repr__(self) -> str:  # never print the secrets
        return f"Config(memory_url={self.memory_url!r}, openai_base_url={self.openai_base_url!r}, ...)"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        env = Env(environ)
        base_url = env.optional("OPENAI_BASE_URL")
        if base_url is not None:
            base_url = env.url("OPENAI_BASE_URL")
        environ = os.environ if environ is None else environ
        raw_catalog = env.optional("MODEL_CATALOG")
        catalog_file = env.optional("MODEL_CATALOG_FILE")
        if raw_catalog is not None and catalog_file:
            raise ConfigError("Set MODEL_CATALOG or MODEL_CATALOG_FILE, not both")
        if catalog_file:
            raw_catalog = load_catalog_file(catalog_file)
        catalog, catalog_default = parse_catalog_with_default(raw_catalog, environ)
        keys = {m.api_key_env: environ[m.api_key_env] for m in catalog or () if m.api_key_env}
        presets_file = env.optional("ROLE_PRESETS_FILE") or None
        default_model = env.optional("DEFAULT_MODEL") or catalog_default
        if default_model is not None and len(default_model) > MAX_MODEL_ID_CHARS:
            raise ConfigError(f"DEFAULT_MODEL must be at most {MAX_MODEL_ID_CHARS} characters")
        return cls(
            memory_url=env.url("MEMORY_URL"),
            identity_secret=env.secret("INTERNAL_IDENTITY_SECRET"),
            openai_api_key=env.str("OPENAI_API_KEY"),
            openai_base_url=base_url,
            model_catalog=catalog,
            default_model=default_model,
            sse_heartbeat_seconds=_positive(env, "SSE_HEARTBEAT_SECONDS", 10.0),
            sse_coalesce_seconds=env.int("SSE_COALESCE_MS", 25, minimum=0, maximum=1000) / 1000,
            sse_coalesce_max_seconds=env.int("SSE_COALESCE_MAX_MS", 250, minimum=0, maximum=5000) / 1000,
            max_message_chars=env.int("MAX_MESSAGE_CHARS", 16000, minimum=1),
            max_instructions_chars=env.int("MAX_INSTRUCTIONS_CHARS", 8000, minimum=1),
            max_answer_tokens=env.int("MAX_ANSWER_TOKENS", 1024, minimum=1),
            max_stream_seconds=_positive(env, "MAX_STREAM_SECONDS", 900.0),
            upstream_read_timeout_seconds=_positive(env, "UPSTREAM_READ_TIMEOUT_SECONDS", 300.0),
            upstream_max_connections=env.int("UPSTREAM_MAX_CONNECTIONS", 1000, minimum=1, maximum=20000),
            max_history_messages=_optional_int(env, "MAX_HISTORY_MESSAGES", minimum=0),
            max_history_chars=_optional_int(env, "MAX_HISTORY_CHARS", minimum=0),
            context_summaries=_switch(env, "CONTEXT_SUMMARIES", True),
            context_margin_tokens=_optional_int(env, "CONTEXT_MARGIN_TOKENS", minimum=0),
            pins_max_share=_share(env, "PINS_MAX_SHARE", 0.5),
            summary_refresh_messages=env.int("SUMMARY_REFRESH_MESSAGES", 10, minimum=1),
            default_context_window=env.int("DEFAULT_CONTEXT_WINDOW", DEFAULT_CONTEXT_WINDOW, minimum=256),
            max_body_bytes=env.int("MAX_BODY_BYTES", 262144, minimum=1024),
            models_cache_seconds=env.float("MODELS_CACHE_SECONDS", 60.0),
            memory_timeout_seconds=_positive(env, "MEMORY_TIMEOUT_SECONDS", 10.0),
            role_presets_file=presets_file,
            provider_keys=keys,
            log_level=env.str("LOG_LEVEL", "INFO"),
        )


def _positive(env: Env, name: str, default: float) -> float:
    value = env.float(name, default)
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {value}")
    return value


def _optional_int(env: Env, name: str, *, minimum: int) -> int | None:
    if not env.optional(name):
        return None
    return env.int(name, 0, minimum=minimum)


def _switch(env: Env, name: str, default: bool) -> bool:
    raw = (env.optional(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be 'on' or 'off', got {raw!r}")


def _share(env: Env, name: str, default: float) -> float:
    value = env.float(name, default)
    if not 0 < value <= 1:
        raise ConfigError(f"{name} must be a fraction greater than 0 and at most 1, got {value}")
    return value
