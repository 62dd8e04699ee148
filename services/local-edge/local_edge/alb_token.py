"""The `x-amzn-oidc-data` header, built exactly as the AWS Application Load Balancer builds it.

A JWT whose three segments are base64url *with* `=` padding (the ALB keeps it, unlike RFC 7515),
signed ES256 with the raw 64-byte r||s signature over `<header segment>.<payload segment>`.
`sign` takes the claims as given, so tests can build forged or malformed variants with it.
"""
from __future__ import annotations

import base64
import json
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    """base64url with the `=` padding kept, as the ALB encodes every segment."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def _segment(claims: dict) -> str:
    return b64url(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def sign(claims_header: dict, payload: dict, private_key: ec.EllipticCurvePrivateKey) -> str:
    """The token `<header>.<payload>.<signature>`, each segment padded base64url."""
    signing_input = f"{_segment(claims_header)}.{_segment(payload)}"
    r, s = decode_dss_signature(private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def alb_header(*, kid: str, issuer: str, client_id: str, signer: str, exp: int) -> dict:
    return {"typ": "JWT", "kid": kid, "alg": "ES256", "iss": issuer, "client": client_id,
            "signer": signer, "exp": exp}


def alb_payload(*, sub: str, username: str, email: str, issuer: str, exp: int) -> dict:
    return {"sub": sub, "username": username, "email": email, "exp": exp, "iss": issuer}


def generate_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def new_kid() -> str:
    return str(uuid.uuid4())


def public_pem(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """The public key as the ALB's key endpoint serves it: a SubjectPublicKeyInfo PEM."""
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
