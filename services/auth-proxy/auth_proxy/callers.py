"""Callers without a Cognito session: visitors of a published bot's page and programs holding a
bot's API key.

A visitor is known by a signed cookie holding a random visitor id (`v_` + 22 characters) that the
auth-proxy hands out on the first visit; nothing else about them is known or kept. An API key
(`rck_` + 43 characters) is checked by memory, which holds only its SHA-256 digest; the caller then
acts as the key (`k_…`), and chat answers only as that key's bot.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets

import urllib3
from flask import Response, request

from rolechat_common import identity as ident

from .config import Config

VISITOR_COOKIE = "rolechat_visitor"
VISITOR_COOKIE_MAX_AGE = 30 * 86400
_VISITOR_ID = re.compile(r"^v_[A-Za-z0-9_-]{22}$")
_API_KEY = re.compile(r"^rck_[A-Za-z0-9_-]{43}$")
SERVICE = ident.Identity("auth-proxy", "auth-proxy", ("service",))


class KeyRefused(Exception):
    """The API key is malformed, unknown or revoked."""


class MemoryUnavailable(Exception):
    """Memory could not be asked about the key."""


def _signature(secret: str, visitor_id: str) -> str:
    digest = hmac.new(secret.encode(), f"visitor:{visitor_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def visitor(config: Config) -> tuple[ident.Identity, str | None]:
    """The visitor this browser is, and the cookie value to set when it is new (else None)."""
    raw = request.cookies.get(VISITOR_COOKIE, "")
    visitor_id, _, signature = raw.partition(".")
    expected = _signature(config.identity_secret, visitor_id).encode()
    if _VISITOR_ID.match(visitor_id) and hmac.compare_digest(signature.encode("utf-8", "replace"), expected):
        return ident.Identity(visitor_id, "visitor", ("visitor",)), None
    visitor_id = "v_" + secrets.token_urlsafe(16)
    return (ident.Identity(visitor_id, "visitor", ("visitor",)),
            f"{visitor_id}.{_signature(config.identity_secret, visitor_id)}")


def set_visitor_cookie(response: Response, value: str) -> None:
    # Over HTTPS the page may be embedded in an owner's site (an iframe: a third-party context),
    # which needs SameSite=None; Partitioned keeps the cookie to that embedding site.
    https = request.headers.get("X-Forwarded-Proto", request.scheme) == "https"
    cookie = (f"{VISITOR_COOKIE}={value}; Path=/api/public/; Max-Age={VISITOR_COOKIE_MAX_AGE}; HttpOnly; "
              + ("Secure; SameSite=None; Partitioned" if https else "SameSite=Lax"))
    response.headers.add("Set-Cookie", cookie)


def bearer_key() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def api_key_caller(config: Config, http: urllib3.PoolManager, key: str, request_id: str) -> ident.Identity:
    """The identity of a valid API key, as memory confirms it."""
    if not _API_KEY.match(key):
        raise KeyRefused("malformed key")
    token = ident.mint(SERVICE, config.identity_secret, ident.ISSUER_AUTH_PROXY, request_id=request_id)
    try:
        response = http.request("POST", f"{config.memory_url}/internal/bot-keys/verify",
                                body=json.dumps({"key": key}).encode(), redirect=False,
                                headers={"Content-Type": "application/json", ident.IDENTITY_HEADER: token,
                                         ident.REQUEST_ID_HEADER: request_id},
                                timeout=urllib3.Timeout(connect=2.0, read=5.0))
    except urllib3.exceptions.HTTPError:
        raise MemoryUnavailable() from None
    if response.status == 401:
        raise KeyRefused("unknown or revoked key")
    if response.status != 200:
        raise MemoryUnavailable()
    key_id = str(json.loads(response.data).get("key_id", ""))
    return ident.Identity(key_id, "api-key", ("api-key",))
