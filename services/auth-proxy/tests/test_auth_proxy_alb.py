"""The ALB identity header: what the auth-proxy accepts, and everything it refuses with 401."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from rolechat_common import identity


def assert_401(response):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "unauthorized"


def me(client, token=None, **headers):
    if token is not None:
        headers["x-amzn-oidc-data"] = token
    return client.get("/api/me", headers=headers)


# ---------------------------------------------------------------- accepted

def test_token_built_exactly_as_the_alb_builds_it_is_accepted(client, tokens, kit, key_server):
    token = tokens()
    header_seg, payload_seg, signature_seg = token.split(".")
    # the ALB keeps base64 padding: this token must really carry it, or the test proves nothing
    assert signature_seg.endswith("=")  # 64 bytes always pads
    assert header_seg.endswith("=") or payload_seg.endswith("=")
    response = me(client, token)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"id": kit.USER_SUB, "username": "alice", "groups": []}
    assert key_server.requests == [tokens.key.kid]


def test_every_padding_length_verifies(client, tokens):
    """Payloads of every length mod 3: no padding, one '=', two '='."""
    seen = set()
    for extra in range(6):
        token = tokens(username="a" * (5 + extra))
        seen.add(len(token.split(".")[1]) - len(token.split(".")[1].rstrip("=")))
        assert me(client, token).status_code == 200
    assert seen == {0, 1, 2}


def test_key_is_fetched_once_per_kid_then_cached(client, tokens, key_server):
    for _ in range(5):
        assert me(client, tokens()).status_code == 200
    assert key_server.requests == [tokens.key.kid]


def test_groups_and_email_fallback(client, tokens):
    token = tokens(username=None, email="bob@example.com", cognito__groups=["admins", "staff"])
    assert me(client, token).get_json() == {"id": tokens.payload()["sub"], "username": "bob@example.com",
                                            "groups": ["admins", "staff"]}


def test_malformed_groups_grant_nothing(client, tokens):
    for groups in ("admins", [1, 2], {"a": "b"}):
        assert me(client, tokens(cognito__groups=groups)).get_json()["groups"] == []


def test_expiry_within_the_leeway_is_accepted(client, tokens):
    past = int(time.time()) - 10  # leeway is 30 s
    token = tokens.make(tokens.header(exp=past), tokens.payload(exp=past))
    assert me(client, token).status_code == 200


# ---------------------------------------------------------------- refused: claims

@pytest.mark.parametrize("changes", [
    {"signer": "OTHER"},                       # signed by another account's ALB in the region
    {"signer": None},
    {"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_attacker"},
    {"iss": None},
    {"client": "someotherclient"},
    {"client": None},
    {"exp": None},
    {"exp": "9999999999"},
    {"exp": True},
])
def test_wrong_or_missing_header_claims_are_refused(client, tokens, kit, changes):
    if changes.get("signer") == "OTHER":
        changes = {"signer": kit.OTHER_ALB_ARN}
    assert_401(me(client, tokens.make(tokens.header(**changes))))


@pytest.mark.parametrize("changes", [
    {"sub": None},
    {"sub": ""},
    {"sub": 12345},
    {"sub": "has spaces and / slashes"},
    {"exp": None},
    {"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_attacker"},
])
def test_wrong_or_missing_payload_claims_are_refused(client, tokens, changes):
    assert_401(me(client, tokens(**changes)))


def test_absurd_exp_values_never_cause_a_500(client, tokens, kit, alb_key):
    for exp in ("10" + "0" * 400, "1e999", "-1e999", "NaN", "Infinity"):
        header = json.dumps(tokens.header())[:-1].rsplit(',"exp":', 1)[0] + f',"exp":{exp}}}'
        signing_input = f"{kit.b64(header.encode())}.{kit.segment(tokens.payload())}"
        token = f"{signing_input}.{kit.b64(kit.es256_raw(alb_key.private_key, signing_input.encode()))}"
        response = me(client, token)
        assert response.status_code in (200, 401), exp
    assert_401(me(client, tokens(exp=10 ** 400 * -1)))


def test_expired_header_is_refused(client, tokens):
    old = int(time.time()) - 31
    assert_401(me(client, tokens.make(tokens.header(exp=old))))


def test_expired_payload_is_refused(client, tokens):
    old = int(time.time()) - 31
    assert_401(me(client, tokens(exp=old)))


# ---------------------------------------------------------------- refused: algorithm and signature

def test_alg_none_is_refused(client, tokens, kit, key_server):
    header = tokens.header(alg="none")
    token = f"{kit.segment(header)}.{kit.segment(tokens.payload())}."
    assert_401(me(client, token))
    # ...even with a valid-looking ES256 signature attached
    assert_401(me(client, tokens.make(tokens.header(alg="none"))))
    assert key_server.requests == []


def test_hs256_signed_with_the_public_key_pem_is_refused(client, tokens, kit, alb_key, key_server):
    """The classic confusion attack: the public PEM used as an HMAC secret."""
    header = tokens.header(alg="HS256")
    signing_input = f"{kit.segment(header)}.{kit.segment(tokens.payload())}"
    mac = hmac.new(alb_key.pem, signing_input.encode(), hashlib.sha256).digest()
    assert_401(me(client, f"{signing_input}.{kit.b64(mac)}"))
    assert key_server.requests == []


def test_rs256_is_refused(client, tokens, kit):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = tokens.header(alg="RS256")
    signing_input = f"{kit.segment(header)}.{kit.segment(tokens.payload())}"
    signature = rsa_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert_401(me(client, f"{signing_input}.{kit.b64(signature)}"))


@pytest.mark.parametrize("alg", ["es256", "ES384", "ES256K", "", None, ["ES256"]])
def test_other_alg_values_are_refused(client, tokens, alg):
    assert_401(me(client, tokens.make(tokens.header(alg=alg) if alg is not None else tokens.header(alg=None))))


def test_tampered_payload_is_refused(client, tokens, kit):
    header_seg, _, signature_seg = tokens().split(".")
    forged = kit.segment(tokens.payload(sub="00000000-0000-4000-8000-000000000000", username="mallory"))
    assert_401(me(client, f"{header_seg}.{forged}.{signature_seg}"))


def test_tampered_header_is_refused(client, tokens, kit):
    _, payload_seg, signature_seg = tokens().split(".")
    forged = kit.segment(tokens.header(exp=int(time.time()) + 10 ** 6))
    assert_401(me(client, f"{forged}.{payload_seg}.{signature_seg}"))


def test_signature_by_another_key_is_refused(client, tokens):
    stranger = ec.generate_private_key(ec.SECP256R1())
    assert_401(me(client, tokens.make(key=stranger)))


def test_padding_stripped_segments_do_not_verify(client, tokens):
    """The signature covers the segments as sent (padded); a re-encoded token is a different one."""
    token = tokens(username="abcde")  # payload segment carries padding
    header_seg, payload_seg, signature_seg = token.split(".")
    assert payload_seg.endswith("=") or header_seg.endswith("=")
    stripped = ".".join([header_seg.rstrip("="), payload_seg.rstrip("="), signature_seg])
    assert_401(me(client, stripped))


def test_der_encoded_signature_is_refused(client, tokens, kit, alb_key):
    header_seg, payload_seg, _ = tokens().split(".")
    der = alb_key.private_key.sign(f"{header_seg}.{payload_seg}".encode(), ec.ECDSA(hashes.SHA256()))
    assert_401(me(client, f"{header_seg}.{payload_seg}.{kit.b64(der)}"))


@pytest.mark.parametrize("mangle", [
    lambda t: t.rsplit(".", 1)[0],                      # two segments
    lambda t: t + ".extra",                             # four segments
    lambda t: t.replace(".", "..", 1),                  # empty segment
    lambda t: "!" + t,                                  # not base64url
    lambda t: t.replace("-", "+").replace("_", "/") + "+/",  # standard base64 alphabet
    lambda t: t.split(".")[0] + "===." + ".".join(t.split(".")[1:]),  # bad padding
    lambda t: t + "x" * 20000,                          # oversized
    lambda t: "Bearer " + t,
])
def test_malformed_tokens_are_refused(client, tokens, mangle):
    assert_401(me(client, mangle(tokens())))


@pytest.mark.parametrize("raw_header", [b"not json", b"[1,2,3]", b'"ES256"', b"\xff\xfe",
                                         b'{"alg":"ES256","alg":"none"}'])
def test_unparseable_headers_are_refused(client, tokens, kit, raw_header):
    _, payload_seg, signature_seg = tokens().split(".")
    assert_401(me(client, f"{kit.b64(raw_header)}.{payload_seg}.{signature_seg}"))


def test_duplicate_claims_are_refused(client, tokens, kit, alb_key):
    """Parsers disagree on duplicate members; a token that has them is not ours."""
    header = json.dumps(tokens.header())[:-1] + f',"signer":"{kit.OTHER_ALB_ARN}"}}'
    payload_seg = kit.segment(tokens.payload())
    signing_input = f"{kit.b64(header.encode())}.{payload_seg}"
    token = f"{signing_input}.{kit.b64(kit.es256_raw(alb_key.private_key, signing_input.encode()))}"
    assert_401(me(client, token))


# ---------------------------------------------------------------- refused: missing or unsigned headers

def test_missing_header_is_refused(client):
    assert_401(me(client))


def test_empty_header_is_refused(client):
    assert_401(me(client, ""))


def test_unsigned_alb_headers_alone_are_refused(client, kit):
    assert_401(me(client, **{"x-amzn-oidc-identity": kit.USER_SUB}))
    assert_401(me(client, **{"x-amzn-oidc-identity": kit.USER_SUB, "x-amzn-oidc-accesstoken": "eyJ.x.y"}))


def test_internal_identity_from_a_client_is_not_accepted(client, kit):
    forged = identity.mint(identity.Identity(kit.USER_SUB, "alice"), kit.SECRET, "auth-proxy")
    assert_401(me(client, **{identity.IDENTITY_HEADER: forged}))


# ---------------------------------------------------------------- key ids and key fetching

@pytest.mark.parametrize("kid", ["../x", "http://evil", "a" * 200, "", "a/b", "a.b", "kid?x=1", "kid%2F",
                                 "kid\n", "k id", "ключ", 42, None, ["kid"]])
def test_hostile_kids_are_refused_without_a_fetch(client, tokens, key_server, kid):
    header = tokens.header(kid=kid) if kid is not None else tokens.header(kid=None)
    assert_401(me(client, tokens.make(header)))
    assert key_server.requests == []


def test_unknown_kids_are_fetched_at_most_once_per_interval(app, client, tokens, key_server, fake_clock):
    for n in range(5):
        assert_401(me(client, tokens.make(tokens.header(kid=f"unknown-{n}"))))
    assert key_server.requests == ["unknown-0"]
    # the real kid, never fetched, is refused too until the interval has passed: fail closed
    assert_401(me(client, tokens()))
    assert key_server.requests == ["unknown-0"]
    fake_clock.advance(9.9)
    assert_401(me(client, tokens()))
    assert key_server.requests == ["unknown-0"]
    fake_clock.advance(0.2)
    assert me(client, tokens()).status_code == 200
    assert key_server.requests == ["unknown-0", tokens.key.kid]
    # known kids are never rate limited
    for _ in range(3):
        assert me(client, tokens()).status_code == 200
    fake_clock.advance(10)
    assert_401(me(client, tokens.make(tokens.header(kid="unknown-9"))))
    assert len(key_server.requests) == 3


def test_a_failed_fetch_is_not_cached(client, tokens, key_server, fake_clock):
    key_server.failures[tokens.key.kid] = 500
    assert_401(me(client, tokens()))
    key_server.failures.clear()
    assert_401(me(client, tokens()))  # rate limited, not remembered as a key
    fake_clock.advance(10)
    assert me(client, tokens()).status_code == 200
    assert key_server.requests == [tokens.key.kid, tokens.key.kid]


def test_redirects_from_the_key_endpoint_are_not_followed(client, tokens, key_server):
    assert_401(me(client, tokens.make(tokens.header(kid="redirect-me"))))
    assert key_server.requests == ["redirect-me"]


def test_key_endpoint_unreachable_is_401_not_500(make_app, tokens):
    import socket
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/alb-keys"
    client = make_app(alb_key_url=closed).test_client()
    assert_401(me(client, tokens()))


def test_key_endpoint_timeout_is_401_within_the_timeout(client, tokens, key_server):
    key_server.delay = 3.0  # the test config waits at most 1 s
    started = time.monotonic()
    assert_401(me(client, tokens()))
    assert time.monotonic() - started < 2.5


def test_key_endpoint_serving_a_non_p256_key_is_refused(client, tokens, key_server, fake_clock):
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    p384_pem = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    bodies = [rsa_pem, p384_pem, b"garbage", b"", b"-----BEGIN PUBLIC KEY-----\n" + b"A" * 10000]
    for n, body in enumerate(bodies):
        kid = f"odd-key-{n}"
        key_server.keys[kid] = body
        try:
            fake_clock.advance(10)
            assert_401(me(client, tokens.make(tokens.header(kid=kid))))
        finally:
            del key_server.keys[kid]
    assert key_server.requests == [f"odd-key-{n}" for n in range(len(bodies))]


def test_key_url_comes_from_configuration(client, tokens, key_server):
    assert me(client, tokens()).status_code == 200
    assert key_server.requests == [tokens.key.kid]  # i.e. GET {ALB_KEY_URL}/{kid}, nothing else


# ---------------------------------------------------------------- no token content in logs

def test_tokens_never_reach_the_logs(client, tokens, kit, caplog, capsys):
    good = tokens()
    bad = tokens.make(tokens.header(signer=kit.OTHER_ALB_ARN))
    with caplog.at_level(logging.DEBUG):
        assert me(client, good).status_code == 200
        assert_401(me(client, bad))
        assert_401(me(client, tokens.make(tokens.header(kid="attacker-chosen-kid"))))
    text = caplog.text + "".join(capsys.readouterr())
    for secret in (good, bad, good.split(".")[1], good.split(".")[2], "attacker-chosen-kid", kit.OTHER_ALB_ARN):
        assert secret not in text
    assert "authentication refused" in text


def test_payload_is_base64url_not_base64(kit):
    """Sanity check of the test helper itself: the segments use '-' and '_', keep '='."""
    data = bytes(range(250, 256)) + b"\x00"
    assert kit.b64(data) == base64.urlsafe_b64encode(data).decode()
    assert kit.b64(data).endswith("=")
