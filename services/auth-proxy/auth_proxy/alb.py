"""Verification of the ALB's `x-amzn-oidc-data` header, exactly as AWS documents it.

The header is a JWT whose three segments are base64url *with* `=` padding, signed ES256 (raw
r||s) over `<header segment>.<payload segment>` as sent. Generic JWT libraries reject or
re-encode the padded form, so the segments are checked and decoded here and the signature is
verified over the raw bytes with `cryptography`.

Order matters: format, `alg` and `kid` first (before anything is fetched), then the signature,
then the claims — a valid signature proves only that *some* ALB in the region signed the token,
so `signer`, `iss` and `client` must name ours.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import time
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from rolechat_common.identity import Identity, InvalidIdentity

from .keys import KID_FORMAT, KeyStore, KeyUnavailable

HEADER = "x-amzn-oidc-data"
MAX_TOKEN_CHARS = 16384
MAX_USERNAME_CHARS = 256
MAX_GROUPS = 100
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


class Unauthenticated(Exception):
    """The request carries no acceptable ALB identity. The message is safe to log (no token data)."""


def _b64decode(segment: str) -> bytes:
    if not _SEGMENT.fullmatch(segment):
        raise Unauthenticated("segment is not base64url")
    core = segment.rstrip("=")
    if len(core) != len(segment) and len(segment) % 4:
        raise Unauthenticated("segment has wrong padding")
    if len(core) % 4 == 1:
        raise Unauthenticated("segment has an impossible length")
    try:
        return base64.b64decode(core + "=" * (-len(core) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise Unauthenticated("segment is not base64url") from None


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate member")
        result[key] = value
    return result


def _json_object(raw: bytes, what: str) -> dict:
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Unauthenticated(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Unauthenticated(f"{what} is not a JSON object")
    return value


def _number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _same(actual: object, expected: str) -> bool:
    return isinstance(actual, str) and hmac.compare_digest(actual.encode(), expected.encode())


class AlbVerifier:
    def __init__(self, keys: KeyStore, *, alb_arn: str, issuer: str, client_id: str, leeway: int = 30,
                 clock: Callable[[], float] = time.time):
        self.keys = keys
        self.alb_arn, self.issuer, self.client_id = alb_arn, issuer, client_id
        self.leeway = leeway
        self.clock = clock

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise Unauthenticated("no ALB identity header")
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthenticated("ALB identity header too long")
        parts = token.split(".")
        if len(parts) != 3:
            raise Unauthenticated("ALB identity header is not a three-part JWT")
        header_segment, payload_segment, signature_segment = parts

        header = _json_object(_b64decode(header_segment), "JWT header")
        if header.get("alg") != "ES256":
            raise Unauthenticated("JWT algorithm is not ES256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not KID_FORMAT.fullmatch(kid):
            raise Unauthenticated("JWT key id has an invalid format")
        payload_bytes = _b64decode(payload_segment)  # also proves the segment is plain ASCII
        signature = _b64decode(signature_segment)
        if len(signature) != 64:
            raise Unauthenticated("ES256 signature is not 64 bytes")

        try:
            key = self.keys.get(kid)
        except KeyUnavailable as exc:
            raise Unauthenticated(f"no public key: {exc}") from None
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
        try:
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            raise Unauthenticated("signature does not verify") from None

        payload = _json_object(payload_bytes, "JWT payload")
        if not _same(header.get("signer"), self.alb_arn):
            raise Unauthenticated("token signed by another load balancer")
        if not _same(header.get("iss"), self.issuer):
            raise Unauthenticated("token issuer is not our user pool")
        if not _same(header.get("client"), self.client_id):
            raise Unauthenticated("token client is not our app client")
        if "iss" in payload and not _same(payload["iss"], self.issuer):
            raise Unauthenticated("payload issuer is not our user pool")
        now = self.clock()
        for where, claims in (("header", header), ("payload", payload)):
            exp = claims.get("exp")
            if not _number(exp):
                raise Unauthenticated(f"{where} has no valid exp")
            if now > exp + self.leeway:
                raise Unauthenticated("token expired")
        return self._identity(payload)

    @staticmethod
    def _identity(payload: dict) -> Identity:
        sub = payload.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Unauthenticated("payload has no sub")
        username = payload.get("username")
        if not isinstance(username, str) or not username:
            username = payload.get("email")
        if not isinstance(username, str) or not username:
            username = sub
        groups = payload.get("cognito:groups")
        if not (isinstance(groups, list) and len(groups) <= MAX_GROUPS
                and all(isinstance(item, str) for item in groups)):
            groups = []  # absent or malformed: no groups, which grants the least
        try:
            return Identity(sub, username[:MAX_USERNAME_CHARS], tuple(groups))
        except InvalidIdentity:
            raise Unauthenticated("payload sub has an unexpected format") from None
