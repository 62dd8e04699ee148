from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rolechat_common.config import Env, redis_settings
from rolechat_common.limits import LimitPolicy


@dataclass(frozen=True)
class Config:
    redis_url: str
    identity_secret: str
    max_conversations_per_user: int = 1000
    max_messages_per_conversation: int = 50_000
    max_content_chars: int = 200_000
    max_instructions_chars: int = 8000
    max_body_bytes: int = 1_048_576
    max_pins_per_conversation: int = 50
    max_pin_chars: int = 32000
    search_max_conversations: int = 200
    search_messages_per_conversation: int = 1000
    max_roles_per_user: int = 100
    max_pins_per_role: int = 50
    max_models_per_user: int = 50
    max_bots_per_user: int = 20
    max_keys_per_bot: int = 20
    max_greeting_chars: int = 500
    max_suggestions: int = 4
    max_suggestion_chars: int = 200
    log_level: str = "INFO"
    limits: LimitPolicy = LimitPolicy()  # memory enforces the daily token quotas
    # MemoryDB (and Redis in cluster mode) speaks only the cluster protocol; every multi-key
    # operation here stays inside one user's hash tag, so one slot.
    redis_cluster: bool = False
    redis_max_connections: int = 500

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        env = Env(environ)
        return cls(
            **redis_settings(env),
            identity_secret=env.secret("INTERNAL_IDENTITY_SECRET"),
            max_conversations_per_user=env.int("MAX_CONVERSATIONS_PER_USER", 1000, minimum=1),
            max_messages_per_conversation=env.int("MAX_MESSAGES_PER_CONVERSATION", 50_000, minimum=2),
            max_content_chars=env.int("MAX_CONTENT_CHARS", 200_000, minimum=1),
            max_instructions_chars=env.int("MAX_INSTRUCTIONS_CHARS", 8000, minimum=1),
            max_body_bytes=env.int("MAX_BODY_BYTES", 1_048_576, minimum=1024),
            max_pins_per_conversation=env.int("MAX_PINS_PER_CONVERSATION", 50, minimum=1),
            max_pin_chars=env.int("MAX_PIN_CHARS", 32000, minimum=1),
            search_max_conversations=env.int("SEARCH_MAX_CONVERSATIONS", 200, minimum=1),
            search_messages_per_conversation=env.int("SEARCH_MESSAGES_PER_CONVERSATION", 1000, minimum=1),
            max_roles_per_user=env.int("MAX_ROLES_PER_USER", 100, minimum=1),
            max_pins_per_role=env.int("MAX_PINS_PER_ROLE", 50, minimum=1),
            max_models_per_user=env.int("MAX_MODELS_PER_USER", 50, minimum=1),
            max_bots_per_user=env.int("MAX_BOTS_PER_USER", 20, minimum=1),
            max_keys_per_bot=env.int("MAX_KEYS_PER_BOT", 20, minimum=1),
            log_level=env.str("LOG_LEVEL", "INFO"),
            limits=LimitPolicy.from_env(environ),
        )

