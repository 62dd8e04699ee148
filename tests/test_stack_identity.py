"""Forged or malformed identity headers, sent straight to the auth-proxy as an attacker inside
the network would, are all refused; a well-formed one signed by the edge's key is accepted."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
import requests

from local_edge import alb_token
from local_edge.keys import load_or_create
from rolechat_common.identity import IDENTITY_HEADER, Identity, mint
from tests.support.processes import TEST_SECRET
from tests.support.stack import ALB_ARN, COGNITO_CLIENT_ID, COGNITO_ISSUER


@pytest.fixture(scope="module")
def edge_key(stack):
    return load_or_create(stack.workdir / "edge")  # the key the running edge signs with


def claims(edge_key, **header_changes):
    exp = int(time.time()) + 120
    header = alb_token.alb_header(kid=edge_key.kid, issuer=COGNITO_ISSUER, client_id=COGNITO_CLIENT_ID,
                                  signer=ALB_ARN, exp=exp)
    payload = alb_token.alb_payload(sub="forged-user-1", username="mallory", email="m@example.com",
                                    issuer=COGNITO_ISSUER, exp=exp)
    header.update(header_changes)
    return header, payload


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode()  # padding kept, as the ALB does


def call(stack, token: str | None, **extra_headers):
    headers = dict(extra_headers)
    if token is not None:
        headers["x-amzn-oidc-data"] = token
    return requests.get(f"{stack.url('auth-proxy')}/api/me", headers=headers, timeout=5)


def test_a_token_signed_as_the_alb_signs_is_accepted(stack, edge_key):
    header, payload = claims(edge_key)
    response = call(stack, alb_token.sign(header, payload, edge_key.private_key))
    assert response.status_code == 200
    assert response.json()["id"] == "forged-user-1"


def forgeries(edge_key):
    other_key = alb_token.generate_key()
    header, payload = claims(edge_key)
    valid = alb_token.sign(header, payload, edge_key.private_key)
    h, p, s = valid.split(".")
    now = int(time.time())
    hs256_header = {**header, "alg": "HS256"}
    signing_input = f"{b64(hs256_header)}.{b64(payload)}".encode()
    hs256 = signing_input.decode() + "." + b64(hmac.new(edge_key.public_pem, signing_input, hashlib.sha256).digest())
    yield "wrong signer", alb_token.sign(*claims(edge_key, signer=ALB_ARN.replace("0123", "9999")),
                                         edge_key.private_key)
    yield "wrong issuer", alb_token.sign(*claims(edge_key, iss="https://cognito-idp.x.amazonaws.com/evil"),
                                         edge_key.private_key)
    yield "wrong client", alb_token.sign(*claims(edge_key, client="someoneelse"), edge_key.private_key)
    yield "alg none", f"{b64({**header, 'alg': 'none'})}.{p}."
    yield "alg HS256 keyed with the public key", hs256
    yield "tampered payload", f"{h}.{b64({**payload, 'sub': 'victim'})}.{s}"
    yield "signed by another key", alb_token.sign(header, payload, other_key)
    yield "expired", alb_token.sign(*claims(edge_key, exp=now - 3600),
                                    edge_key.private_key)
    yield "unknown kid", alb_token.sign(*claims(edge_key, kid="00000000-0000-0000-0000-000000000000"),
                                        edge_key.private_key)
    yield "path kid", alb_token.sign(*claims(edge_key, kid="../../etc/passwd"), edge_key.private_key)
    yield "url kid", alb_token.sign(*claims(edge_key, kid="http://169.254.169.254/latest"), edge_key.private_key)
    yield "garbage", "not.a.jwt"
    yield "empty", ""


@pytest.mark.parametrize("index", range(13))
def test_forged_and_malformed_headers_are_refused(stack, edge_key, index):
    name, token = list(forgeries(edge_key))[index]
    response = call(stack, token)
    assert response.status_code == 401, name
    assert response.json()["error"]["code"] == "unauthorized", name


def test_unsigned_alb_headers_alone_never_authenticate(stack):
    response = call(stack, None, **{"x-amzn-oidc-identity": "some-user", "x-amzn-oidc-accesstoken": "abc"})
    assert response.status_code == 401


def test_client_sent_internal_identity_is_ignored(stack, edge_key):
    """A signed-in user who adds a forged internal identity still acts only as themself."""
    victim = stack.login("victim")
    cid = victim.post(f"{stack.edge}/api/conversations", json={"instructions": "victim data"},
                      timeout=5).json()["id"]
    victim_id = victim.get(f"{stack.edge}/api/me", timeout=5).json()["id"]
    forged = mint(Identity(victim_id, "victim"), TEST_SECRET, "auth-proxy")
    header, payload = claims(edge_key)
    token = alb_token.sign(header, payload, edge_key.private_key)
    response = requests.get(f"{stack.url('auth-proxy')}/api/conversations/{cid}", timeout=5,
                            headers={"x-amzn-oidc-data": token, IDENTITY_HEADER: forged})
    assert response.status_code == 404
    # ...and chat and memory refuse anything without a valid internal identity of their own.
    wrong_secret = {IDENTITY_HEADER: mint(Identity(victim_id, "v"), "y" * 40, "auth-proxy")}
    for url in (f"{stack.url('chat')}/api/models", f"{stack.url('memory')}/api/conversations/{cid}"):
        assert requests.get(url, headers=wrong_secret, timeout=5).status_code == 401
        assert requests.get(url, timeout=5).status_code == 401


def test_identity_headers_sent_by_the_browser_are_stripped_by_the_edge(stack, edge_key):
    header, payload = claims(edge_key)
    token = alb_token.sign(header, payload, edge_key.private_key)
    response = requests.get(f"{stack.edge}/api/me", headers={"x-amzn-oidc-data": token}, timeout=5)
    assert response.status_code == 401, "a header the edge did not add itself is never passed on"
