"""Reading settings from the environment, once, with errors that name the variable."""
from __future__ import annotations

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
