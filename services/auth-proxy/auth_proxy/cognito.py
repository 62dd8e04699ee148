"""Cognito access tokens presented as `Authorization: Bearer` by API clients.

RS256 only, keys from the user pool's JWKS; `iss` must be our pool, `token_use` must be
"access" (an ID token is refused) and `client_id` one of the allowed app clients — access tokens
have no `aud`, so that check is ours to make. The JWKS is fetched with a short timeout and no
redirects; a token naming a key id we have not seen triggers at most one re-fetch per
`min_interval` seconds (PyJWT's PyJWKClient would re-fetch on every unknown kid).
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable

import jwt
import urllib3

from rolechat_common.identity import Identity, InvalidIdentity
from rolechat_common.logs import log

from .alb import MAX_GROUPS, MAX_USERNAME_CHARS, Unauthenticated

logger = logging.getLogger("rolechat.auth.cognito")
KID_FORMAT = re.compile(r"^[A-Za-z0-9+/=_-]{1,128}$")
MAX_JWKS_BYTES = 65536
MAX_TOKEN_CHARS = 16384


class CognitoAccessTokens:
    def __init__(self, jwks_url: str, *, issuer: str, client_ids: Iterable[str], leeway: int = 30,
                 timeout: float = 3.0, min_interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, http: urllib3.PoolManager | None = None):
        if not 0 < timeout <= 3:
            raise ValueError("the JWKS fetch timeout must be in (0, 3] seconds")
        self.jwks_url, self.issuer = jwks_url, issuer
        self.client_ids = frozenset(client_ids)
        self.leeway, self.timeout, self.min_interval, self.clock = leeway, timeout, min_interval, clock
        self.http = http or urllib3.PoolManager(num_pools=2, maxsize=4, retries=False)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._lock = threading.Lock()
        self._last_fetch: float | None = None
        self.fetches = 0

    def verify(self, token: str) -> Identity:
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise Unauthenticated("bearer token missing or too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("bearer token is not a JWT") from None
        if header.get("alg") != "RS256":
            raise Unauthenticated("bearer token algorithm is not RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not KID_FORMAT.fullmatch(kid):
            raise Unauthenticated("bearer token key id has an invalid format")
        key = self._key(kid)
        try:
            claims = jwt.decode(token, key, algorithms=["RS256"], issuer=self.issuer, leeway=self.leeway,
                                options={"require": ["exp", "iss", "sub", "token_use"],
                                         "verify_aud": False})
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"bearer token rejected: {type(exc).__name__}") from None
        if claims["token_use"] != "access":
            raise Unauthenticated("bearer token is not an access token")
        if claims.get("client_id") not in self.client_ids:
            raise Unauthenticated("bearer token was issued to another app client")
        return _identity(claims)

    def _key(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            key = self._keys.get(kid)
            if key is not None:
                return key
            now = self.clock()
            if self._last_fetch is not None and now - self._last_fetch < self.min_interval:
                raise Unauthenticated("unknown key id; key fetches are rate limited")
            self._last_fetch = now
            self._keys = self._fetch()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("bearer token signed with an unknown key")
        return key

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        self.fetches += 1
        try:
            response = self.http.request("GET", self.jwks_url, preload_content=False, redirect=False,
                                         retries=False, timeout=urllib3.Timeout(total=self.timeout))
            try:
                status, body = response.status, response.read(MAX_JWKS_BYTES + 1)
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            log(logger, logging.WARNING, "JWKS fetch failed", reason=type(exc).__name__)
            return self._keys
        if status != 200 or len(body) > MAX_JWKS_BYTES:
            log(logger, logging.WARNING, "JWKS fetch refused", status=status)
            return self._keys
        try:
            entries = json.loads(body)["keys"]
            keys = {}
            for entry in entries:
                if entry.get("kty") == "RSA" and isinstance(entry.get("kid"), str):
                    keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256")
        except (ValueError, KeyError, TypeError, AttributeError, jwt.PyJWTError):
            log(logger, logging.WARNING, "JWKS fetch returned no usable key set")
            return self._keys
        return keys or self._keys


def _identity(claims: dict) -> Identity:
    username = claims.get("username")
    if not isinstance(username, str) or not username:
        username = claims["sub"]
    groups = claims.get("cognito:groups")
    if not (isinstance(groups, list) and len(groups) <= MAX_GROUPS and all(isinstance(g, str) for g in groups)):
        groups = []
    try:
        return Identity(str(claims["sub"]), username[:MAX_USERNAME_CHARS], tuple(groups))
    except InvalidIdentity:
        raise Unauthenticated("bearer token sub has an unexpected format") from None
