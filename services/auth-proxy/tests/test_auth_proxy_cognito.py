"""Cognito access tokens from a local Cognito emulator (real Cognito-format, RS256, JWKS)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from auth_proxy.alb import Unauthenticated
from auth_proxy.cognito import CognitoAccessTokens
from tests.support.cognito import CognitoEmulator


@pytest.fixture(scope="module")
def cognito(tmp_path_factory):
    emulator = CognitoEmulator(tmp_path_factory.mktemp("cognito")).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def pool(cognito):
    pool = cognito.new_pool()
    pool.add_user("alice", groups=("admins",))
    pool.add_user("bob")
    return pool


def verifier(pool, **options) -> CognitoAccessTokens:
    return CognitoAccessTokens(pool.jwks_url, issuer=pool.issuer, client_ids=[pool.client_id], **options)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_an_access_token_identifies_the_user_with_groups(pool):
    tokens = pool.sign_in("alice")
    identity = verifier(pool).verify(tokens["AccessToken"])
    assert identity.username == "alice" and identity.groups == ("admins",)
    assert identity.user_id == json.loads(base64.urlsafe_b64decode(tokens["AccessToken"].split(".")[1] + "=="))["sub"]
    assert verifier(pool).verify(pool.sign_in("bob")["AccessToken"]).groups == ()


def test_an_id_token_is_not_an_access_token(pool):
    with pytest.raises(Unauthenticated, match="not an access token"):
        verifier(pool).verify(pool.sign_in("alice")["IdToken"])


def test_a_token_for_another_app_client_is_refused(pool):
    other_client = pool.add_client("someone-else")
    with pytest.raises(Unauthenticated, match="another app client"):
        verifier(pool).verify(pool.sign_in("alice", client_id=other_client)["AccessToken"])


def test_a_token_from_another_user_pool_is_refused(cognito, pool):
    other = cognito.new_pool("other")
    other.add_user("alice")
    with pytest.raises(Unauthenticated, match="InvalidIssuer"):
        verifier(pool).verify(other.sign_in("alice")["AccessToken"])


def test_tampered_expired_and_algorithm_confusion_are_refused(pool):
    token = pool.sign_in("bob")["AccessToken"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered = f"{header}.{b64(json.dumps({**claims, 'sub': 'victim'}).encode())}.{signature}"
    with pytest.raises(Unauthenticated, match="InvalidSignature"):
        verifier(pool).verify(tampered)
    head = json.loads(base64.urlsafe_b64decode(header + "=="))
    for alg in ("none", "HS256"):
        forged_header = b64(json.dumps({**head, "alg": alg}).encode())
        body = f"{forged_header}.{payload}"
        sig = "" if alg == "none" else b64(hmac.new(b"public-key-material", body.encode(), hashlib.sha256).digest())
        with pytest.raises(Unauthenticated, match="not RS256"):
            verifier(pool).verify(f"{body}.{sig}")
    for garbage in ("", "abc", "a.b.c", "x" * 20000):
        with pytest.raises(Unauthenticated):
            verifier(pool).verify(garbage)


def test_unknown_key_ids_refetch_at_most_once_per_interval(pool):
    now = [1000.0]
    tokens = verifier(pool, clock=lambda: now[0])
    good = pool.sign_in("bob")["AccessToken"]
    tokens.verify(good)
    assert tokens.fetches == 1
    header, payload, signature = good.split(".")
    head = json.loads(base64.urlsafe_b64decode(header + "=="))
    for i in range(5):
        unknown = f"{b64(json.dumps({**head, 'kid': f'unknown{i}'}).encode())}.{payload}.{signature}"
        with pytest.raises(Unauthenticated):
            tokens.verify(unknown)
    assert tokens.fetches == 1, "unknown kids within 10 s of the last fetch cost no fetch"
    tokens.verify(good)  # known keys keep working
    now[0] += 11
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            tokens.verify(unknown)
    assert tokens.fetches == 2, "then one fetch, and none again for 10 s"


def test_unreachable_jwks_fails_closed_but_cached_keys_keep_working(pool):
    now = [0.0]
    tokens = CognitoAccessTokens(pool.jwks_url, issuer=pool.issuer, client_ids=[pool.client_id],
                                 clock=lambda: now[0], timeout=0.5)
    good = pool.sign_in("bob")["AccessToken"]
    tokens.verify(good)
    tokens.jwks_url = "http://127.0.0.1:9/unreachable"
    now[0] += 60
    assert tokens.verify(good).username == "bob"
    header, payload, signature = good.split(".")
    head = json.loads(base64.urlsafe_b64decode(header + "=="))
    with pytest.raises(Unauthenticated):
        tokens.verify(f"{b64(json.dumps({**head, 'kid': 'rotated'}).encode())}.{payload}.{signature}")


@pytest.fixture
def own_issuer():
    """A JWKS we control, to sign tokens the emulator would not (expired ones)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield key, f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


def test_expired_access_tokens_are_refused(own_issuer):
    import time

    import jwt

    key, jwks_url = own_issuer
    issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_own"
    tokens = CognitoAccessTokens(jwks_url, issuer=issuer, client_ids=["c1"], leeway=30)
    now = int(time.time())
    claims = {"iss": issuer, "sub": "u-1", "token_use": "access", "client_id": "c1", "username": "u"}
    fresh = jwt.encode({**claims, "iat": now, "exp": now + 300}, key, algorithm="RS256", headers={"kid": "k1"})
    assert tokens.verify(fresh).user_id == "u-1"
    stale = jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, key, algorithm="RS256",
                       headers={"kid": "k1"})
    with pytest.raises(Unauthenticated, match="ExpiredSignature"):
        tokens.verify(stale)
