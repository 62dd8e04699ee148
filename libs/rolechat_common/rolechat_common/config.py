"""Reading settings from the environment, once, with errors that name the variable."""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from urllib.parse import urlsplit


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


class Env:
    """Typed access to an environment mapping; every failure raises ConfigError."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        self.environ = os.environ if environ is None else environ

    def str(self, name: str, default: str | None = None, *, min_length: int = 0) -> str:
        value = self.environ.get(name)
        if value is None or value == "":
            if default is None:
                raise ConfigError(f"{name} is required but not set")
            value = default
        if len(value) < min_length:
            raise ConfigError(f"{name} must be at least {min_length} characters long")
        return value

    def optional(self, name: str) -> str | None:
        value = self.environ.get(name)
        return value or None

    def int(self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self.environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else f" and at most {maximum}"
            raise ConfigError(f"{name} must be at least {minimum}{upper}, got {value}")
        return value

    def float(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self.environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value):  # "nan" or "inf" read as numbers, and would pass every comparison
            raise ConfigError(f"{name} must be a finite number, got {raw!r}")
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value

    def url(self, name: str, default: str | None = None) -> str:
        value = self.str(name, default)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    def secret(self, name: str) -> str:
        """A shared secret: required and long enough to resist guessing."""
        return self.str(name, min_length=32)


def flag(env: Env, name: str, default: bool) -> bool:
    value = env.str(name, "true" if default else "false").lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def redis_settings(env: Env) -> dict:
    """REDIS_URL (required), REDIS_CLUSTER (MemoryDB and cluster-mode Redis) and
    REDIS_MAX_CONNECTIONS (per process), validated."""
    url = env.str("REDIS_URL")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
    return {"redis_url": url, "redis_cluster": flag(env, "REDIS_CLUSTER", False),
            "redis_max_connections": env.int("REDIS_MAX_CONNECTIONS", 500, minimum=1, maximum=10000)}


def redis_client(url: str, cluster: bool, *, max_connections: int = 500, **options):
    """A Redis (or Redis Cluster) client with short timeouts: a stalled Redis fails fast.

    Every greenlet holds a connection while its command runs; under a burst more greenlets than
    connections wait up to a few seconds for one (a blocking pool) instead of failing at once.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.cluster import RedisCluster
    from redis.retry import Retry

    options = {"decode_responses": True, "socket_timeout": 5, "socket_connect_timeout": 2, **options}
    if cluster:
        return RedisCluster.from_url(url, max_connections=max_connections, **options)
    no_retry = Retry(NoBackoff(), 0)  # a failed command fails now: callers answer 503 or step aside
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=5,
                                                 health_check_interval=30, retry=no_retry, **options)
    return redis.Redis(connection_pool=pool, retry=no_retry)
