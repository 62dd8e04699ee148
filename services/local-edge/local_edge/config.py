"""The local edge's settings, read from the environment once and validated at start-up."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rolechat_common.config import ConfigError, Env


@dataclass(frozen=True)
class Config:
    auth_proxy_url: str
    session_secret: str
    data_dir: Path
    alb_arn: str
    cognito_issuer: str
    cognito_client_id: str
    static_dir: Path = Path("frontend/dist")
    max_body_bytes: int = 1048576
    token_ttl_seconds: int = 120
    session_days: int = 7
    proxy_read_timeout_seconds: float = 360.0
    log_level: str = "INFO"

    def __repr__(self) -> str:  # never print the secret
        return (f"Config(auth_proxy_url={self.auth_proxy_url!r}, data_dir={str(self.data_dir)!r}, "
                f"static_dir={str(self.static_dir)!r}, ...)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        env = Env(environ)
        env.url("COGNITO_ISSUER")  # validates the form; the value is signed as given
        read_timeout = env.float("PROXY_READ_TIMEOUT_SECONDS", 360.0)
        if read_timeout <= 0:
            raise ConfigError(f"PROXY_READ_TIMEOUT_SECONDS must be greater than 0, got {read_timeout}")
        alb_arn = env.str("ALB_ARN")
        if not alb_arn.startswith("arn:"):
            raise ConfigError(f"ALB_ARN must be a load balancer ARN (arn:...), got {alb_arn!r}")
        return cls(
            auth_proxy_url=env.url("AUTH_PROXY_URL"),
            session_secret=env.str("EDGE_SESSION_SECRET", min_length=32),
            data_dir=Path(env.str("EDGE_DATA_DIR", ".local/edge")),
            alb_arn=alb_arn,
            cognito_issuer=env.str("COGNITO_ISSUER"),
            cognito_client_id=env.str("COGNITO_CLIENT_ID"),
            static_dir=Path(env.str("STATIC_DIR", "frontend/dist")),
            max_body_bytes=env.int("EDGE_MAX_BODY_BYTES", 1048576, minimum=1024),
            proxy_read_timeout_seconds=read_timeout,
            log_level=env.str("LOG_LEVEL", "INFO"),
        )
