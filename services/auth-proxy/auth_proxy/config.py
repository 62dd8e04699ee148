"""The auth-proxy's settings, read from the environment once and validated at start-up."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rolechat_common.config import ConfigError, Env, redis_settings
from rolechat_common.limits import LimitPolicy


@dataclass(frozen=True)
class Config:
    chat_url: str
    memory_url: str
    identity_secret: str
    alb_arn: str
    alb_key_url: str
    cognito_issuer: str
    cognito_client_id: str
    # Rate limits and stream slots live in Redis so every instance shares them.
    redis_url: str
    # App clients whose Cognito access tokens API clients may send as `Authorization: Bearer`
    # (none: bearer tokens are refused), and where the pool publishes its keys.
    cognito_api_client_ids: tuple[str, ...] = ()
    cognito_jwks_url: str = ""
    max_body_bytes: int = 262144
    alb_token_leeway_seconds: int = 30
    proxy_read_timeout_seconds: float = 330.0
    key_fetch_timeout_seconds: float = 3.0
    unknown_kid_fetch_interval_seconds: float = 10.0
    log_level: str = "INFO"
    redis_cluster: bool = False
    redis_max_connections: int = 500
    limits: LimitPolicy = LimitPolicy()
    # Proxies in front whose X-Forwarded-For entries are trusted: 1 behind the ALB (or the local
    # edge), 2 behind CloudFront and the ALB. The client IP keys the anonymous routes' limits.
    trusted_proxy_hops: int = 1
    # A stream slot is held until the answer ends; the lease is a backstop if this process dies.
    stream_lease_seconds: int = 960

    def __post_init__(self):
        if not 0 < self.key_fetch_timeout_seconds <= 3:
            raise ConfigError("the ALB key fetch timeout must be greater than 0 and at most 3 seconds")

    def __repr__(self) -> str:  # never print the secret
        return (f"Config(chat_url={self.chat_url!r}, memory_url={self.memory_url!r}, "
                f"alb_arn={self.alb_arn!r}, alb_key_url={self.alb_key_url!r}, ...)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        env = Env(environ)
        alb_arn = env.str("ALB_ARN")
        if not alb_arn.startswith("arn:"):
            raise ConfigError(f"ALB_ARN must be a load balancer ARN (arn:...), got {alb_arn!r}")
        read_timeout = env.float("PROXY_READ_TIMEOUT_SECONDS", 330.0)
        if read_timeout <= 0:
            raise ConfigError(f"PROXY_READ_TIMEOUT_SECONDS must be greater than 0, got {read_timeout}")
        return cls(
            chat_url=env.url("CHAT_URL"),
            memory_url=env.url("MEMORY_URL"),
            identity_secret=env.secret("INTERNAL_IDENTITY_SECRET"),
            alb_arn=alb_arn,
            alb_key_url=env.url("ALB_KEY_URL"),
            # compared as sent by the ALB, so not normalised (no trailing-slash stripping)
            cognito_issuer=_issuer(env),
            cognito_client_id=env.str("COGNITO_CLIENT_ID"),
            cognito_api_client_ids=tuple(c.strip() for c in (env.optional("COGNITO_API_CLIENT_IDS") or "").split(",")
                                         if c.strip()),
            cognito_jwks_url=env.url("COGNITO_JWKS_URL", _issuer(env) + "/.well-known/jwks.json"),
            max_body_bytes=env.int("MAX_BODY_BYTES", 262144, minimum=1024),
            alb_token_leeway_seconds=env.int("ALB_TOKEN_LEEWAY_SECONDS", 30, minimum=0, maximum=300),
            proxy_read_timeout_seconds=read_timeout,
            log_level=env.str("LOG_LEVEL", "INFO"),
            **redis_settings(env),
            limits=LimitPolicy.from_env(environ),
            trusted_proxy_hops=env.int("TRUSTED_PROXY_HOPS", 1, minimum=0, maximum=5),
            stream_lease_seconds=env.int("STREAM_LEASE_SECONDS", 960, minimum=60),
        )


def _issuer(env: Env) -> str:
    env.url("COGNITO_ISSUER")  # validates the form
    return env.str("COGNITO_ISSUER")
