"""The ALB's public keys, fetched from the regional key endpoint by key id and cached.

`{ALB_KEY_URL}/{kid}` serves one PEM public key per key id; a key never changes for its id, so a
fetched key is kept for the life of the process. The URL comes from configuration; the token only
chooses the last path segment, and only after it matched the key-id format. Unknown key ids are
the one thing a caller can make us fetch, so fetches are rate limited: at most one per
`min_interval` seconds across all unknown ids. A failed fetch is not remembered as a key, and
every failure (timeout, redirect, non-200, not an EC P-256 PEM) refuses the request.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

import urllib3
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from rolechat_common.logs import log

logger = logging.getLogger("rolechat.auth.keys")
KID_FORMAT = re.compile(r"^[A-Za-z0-9-]{1,64}$")
MAX_KEY_BYTES = 8192
MAX_CACHED_KEYS = 1024


class KeyUnavailable(Exception):
    """No usable public key for this key id (unknown, rate limited, or the endpoint failed)."""


class KeyStore:
    def __init__(self, base_url: str, *, timeout: float = 3.0, min_interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, http: urllib3.PoolManager | None = None):
        if not 0 < timeout <= 3:
            raise ValueError("the key fetch timeout must be in (0, 3] seconds")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.min_interval = min_interval
        self.clock = clock
        self.http = http or urllib3.PoolManager(num_pools=2, maxsize=4, retries=False)
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._lock = threading.Lock()
        self._last_fetch: float | None = None
        self.fetches = 0  # how many times the endpoint was asked (for metrics and tests)

    def get(self, kid: str) -> ec.EllipticCurvePublicKey:
        if not isinstance(kid, str) or not KID_FORMAT.fullmatch(kid):
            raise KeyUnavailable("key id has an invalid format")
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:  # one fetch at a time; a concurrent request for the same id waits for it
            key = self._keys.get(kid)
            if key is not None:
                return key
            now = self.clock()
            if self._last_fetch is not None and now - self._last_fetch < self.min_interval:
                raise KeyUnavailable("unknown key id; key fetches are rate limited")
            self._last_fetch = now
            key = self._fetch(kid)
            if len(self._keys) >= MAX_CACHED_KEYS:
                self._keys.pop(next(iter(self._keys)))
            self._keys[kid] = key
            return key

    def _fetch(self, kid: str) -> ec.EllipticCurvePublicKey:
        self.fetches += 1
        url = f"{self.base_url}/{kid}"  # kid matched KID_FORMAT: no '/', '.', ':', '%' or '?'
        try:
            # fetches are rare: no idle keep-alive connection left behind on the key endpoint
            response = self.http.request("GET", url, headers={"Connection": "close"}, preload_content=False,
                                         redirect=False, retries=False, timeout=urllib3.Timeout(total=self.timeout))
            try:
                status = response.status
                body = response.read(MAX_KEY_BYTES + 1) if status == 200 else b""
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            log(logger, logging.WARNING, "ALB key fetch failed", reason=type(exc).__name__)
            raise KeyUnavailable("key endpoint unreachable") from None
        if status != 200:
            log(logger, logging.WARNING, "ALB key fetch refused", status=status)
            raise KeyUnavailable("key endpoint did not return the key")
        if len(body) > MAX_KEY_BYTES:
            raise KeyUnavailable("key endpoint returned an oversized body")
        try:
            key = load_pem_public_key(body)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            log(logger, logging.WARNING, "ALB key fetch returned no PEM public key")
            raise KeyUnavailable("key endpoint returned no PEM public key") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            log(logger, logging.WARNING, "ALB key is not an EC P-256 key")
            raise KeyUnavailable("key is not an EC P-256 key")
        return key
