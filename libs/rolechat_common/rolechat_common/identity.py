"""The internal identity: a short-lived HS256 token the auth-proxy mints for each request.

Chat and memory trust nothing else about who is calling. Chat re-mints the same identity when it
calls memory later in a long stream (the original token may have expired by then); memory accepts
either issuer, chat accepts only the auth-proxy.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import jwt

IDENTITY_HEADER = "X-Rolechat-Identity"
REQUEST_ID_HEADER = "X-Request-Id"
AUDIENCE = "rolechat-internal"
ISSUER_AUTH_PROXY = "auth-proxy"
ISSUER_CHAT = "chat"
DEFAULT_TTL_SECONDS = 60
_USER_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


class InvalidIdentity(Exception):
    """The internal identity token is missing, forged, expired or malformed."""


@dataclass(frozen=True)
class Identity:
    user_id: str
    username: str
    groups: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if not _USER_ID.match(self.user_id or ""):
            raise InvalidIdentity("user id has an unexpected format")

    def to_json(self) -> dict:
        return {"id": self.user_id, "username": self.username, "groups": list(self.groups)}


def mint(identity: Identity, secret: str, issuer: str, *, request_id: str = "",
         ttl: int = DEFAULT_TTL_SECONDS) -> str:
    now = int(time.time())
    claims = {
        "sub": identity.user_id,
        "name": identity.username,
        "groups": list(identity.groups),
        "iss": issuer,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl,
        "rid": request_id,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(token: str | None, secret: str, allowed_issuers: tuple[str, ...]) -> Identity:
    if not token:
        raise InvalidIdentity("no internal identity")
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], audience=AUDIENCE,
            options={"require": ["sub", "iss", "aud", "exp", "iat"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidIdentity(f"internal identity rejected: {type(exc).__name__}") from None
    if claims["iss"] not in allowed_issuers:
        raise InvalidIdentity("internal identity from an issuer not allowed here")
    groups = claims.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise InvalidIdentity("internal identity groups malformed")
    return Identity(str(claims["sub"]), str(claims.get("name") or ""), tuple(groups))
