"""The identity header the edge adds is the ALB's, byte for byte in format, and the auth-proxy accepts it."""
from __future__ import annotations

import base64
import json
import re
import stat
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from auth_proxy.alb import AlbVerifier
from auth_proxy.keys import KeyStore
from local_edge import alb_token
from local_edge.keys import KEY_FILE
from local_edge.signin import user_id_for


def decode(segment: str) -> bytes:
    assert len(segment) % 4 == 0, "ALB segments keep their base64 padding"
    return base64.urlsafe_b64decode(segment)


@pytest.fixture
def signed(client, login, stand_in) -> dict:
    """The headers the stand-in auth-proxy received for a signed-in request."""
    login("alice")
    assert client.get("/api/me").status_code == 200
    return stand_in.last["headers"]


def test_the_header_has_the_alb_format(signed, app, edge_consts):
    token = signed["x-amzn-oidc-data"]
    header_seg, payload_seg, signature_seg = token.split(".")
    header, payload = json.loads(decode(header_seg)), json.loads(decode(payload_seg))
    kid = app.extensions["edge.key"].kid
    now = time.time()
    assert set(header) == {"typ", "kid", "alg", "iss", "client", "signer", "exp"}
    assert header["typ"] == "JWT" and header["alg"] == "ES256" and header["kid"] == kid
    assert header["iss"] == edge_consts["ISSUER"]
    assert header["client"] == edge_consts["CLIENT_ID"]
    assert header["signer"] == edge_consts["ALB_ARN"]
    assert now + 110 <= header["exp"] <= now + 121
    assert set(payload) == {"sub", "username", "email", "exp", "iss"}
    assert payload["sub"] == user_id_for("alice") and payload["username"] == "alice"
    assert payload["iss"] == edge_consts["ISSUER"] and payload["exp"] == header["exp"]
    assert "@" in payload["email"]
    signature = decode(signature_seg)
    assert len(signature) == 64 and signature_seg.endswith("=")
    public = load_pem_public_key(app.extensions["edge.key"].public_pem)
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    public.verify(encode_dss_signature(r, s), f"{header_seg}.{payload_seg}".encode(), ec.ECDSA(hashes.SHA256()))


def test_identity_and_access_token_headers(signed, client, stand_in):
    assert signed["x-amzn-oidc-identity"] == user_id_for("alice")
    first = signed["x-amzn-oidc-accesstoken"]
    assert len(first) >= 32
    client.get("/api/me")
    assert stand_in.last["headers"]["x-amzn-oidc-accesstoken"] != first


def test_the_auth_proxy_verifier_accepts_it(signed, app, edge_consts):
    server = edge_consts["ThreadServer"](app)  # the edge serves its key at /alb-keys/<kid>
    try:
        keys = KeyStore(f"{server.url}/alb-keys")
        verifier = AlbVerifier(keys, alb_arn=edge_consts["ALB_ARN"], issuer=edge_consts["ISSUER"],
                               client_id=edge_consts["CLIENT_ID"])
        who = verifier.verify(signed["x-amzn-oidc-data"])
    finally:
        server.stop()
    assert (who.user_id, who.username, who.groups) == (user_id_for("alice"), "alice", ())
    assert keys.fetches == 1


def test_client_sent_alb_headers_are_stripped(client, login, stand_in):
    forged = {"x-amzn-oidc-data": "forged.token.value", "x-amzn-oidc-identity": "mallory",
              "x-amzn-oidc-accesstoken": "forged", "X-Amzn-Oidc-Anything": "x"}
    client.get("/api/me", headers=forged)
    assert not [h for h in stand_in.last["headers"] if h.startswith("x-amzn-oidc-")]
    login("alice")
    client.get("/api/me", headers=forged)
    headers = stand_in.last["headers"]
    assert headers["x-amzn-oidc-data"] != "forged.token.value"
    assert headers["x-amzn-oidc-identity"] == user_id_for("alice")
    assert "x-amzn-oidc-anything" not in headers


def test_not_signed_in_forwards_without_identity(client, stand_in):
    response = client.get("/api/conversations?x=1", headers={"X-Request-Id": "edge-req-000001"})
    assert response.status_code == 200
    seen = stand_in.last
    assert seen["path"] == "/api/conversations" and seen["query"] == "x=1"
    assert not [h for h in seen["headers"] if h.startswith("x-amzn-oidc-")]
    assert seen["headers"]["x-request-id"] == "edge-req-000001"


def test_cookies_and_hop_by_hop_headers_are_not_forwarded(client, login, stand_in):
    login("alice")
    client.post("/api/conversations", data='{"instructions": "x"}', content_type="application/json",
                headers={"X-Forwarded-For": "6.6.6.6", "Accept-Language": "fr"})
    headers = stand_in.last["headers"]
    assert "cookie" not in headers
    assert headers["x-forwarded-for"] != "6.6.6.6"
    assert headers["accept-language"] == "fr"
    assert headers["content-type"] == "application/json"
    assert stand_in.last["body"] == '{"instructions": "x"}'


def test_v1_is_forwarded_without_identity(client, login, stand_in):
    login("alice")
    client.get("/v1/models")
    assert stand_in.last["path"] == "/v1/models"
    assert not [h for h in stand_in.last["headers"] if h.startswith("x-amzn-oidc-")]


def test_streams_pass_through(client, login):
    login("alice")
    response = client.post("/api/conversations/c_" + "A" * 22 + "/messages", json={"content": "hi"})
    assert response.mimetype == "text/event-stream"
    assert response.get_data() == b'event: delta\ndata: {"content":"Hi"}\n\nevent: done\ndata: {"message":{}}\n\n'


def test_oversized_bodies_are_413_at_the_edge(client, stand_in):
    response = client.post("/api/conversations", data=b"x" * 5000, content_type="application/json")
    assert response.status_code == 413
    assert stand_in.received == []


def test_unreachable_auth_proxy_is_503(make_app):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    response = make_app(auth_proxy_url=closed).test_client().get("/api/me")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"


# ---------------------------------------------------------------- the key

def test_key_is_created_once_and_kept(make_app, config, tmp_path):
    first, second = make_app(), make_app()
    key1, key2 = first.extensions["edge.key"], second.extensions["edge.key"]
    assert key1.kid == key2.kid and key1.public_pem == key2.public_pem
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", key1.kid)
    assert stat.S_IMODE((config.data_dir / KEY_FILE).stat().st_mode) == 0o600
    other = make_app(data_dir=tmp_path / "other-edge-data").extensions["edge.key"]
    assert other.kid != key1.kid


def test_a_corrupt_key_file_is_a_clear_config_error(make_app, config):
    from rolechat_common.config import ConfigError
    config.data_dir.mkdir(parents=True)
    (config.data_dir / KEY_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match="EDGE_DATA_DIR"):
        make_app()


def test_public_key_is_served_as_pem_text(client, app):
    key = app.extensions["edge.key"]
    response = client.get(f"/alb-keys/{key.kid}")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    public = load_pem_public_key(response.get_data())
    assert isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1)


@pytest.mark.parametrize("kid", ["00000000-0000-4000-8000-000000000000", "unknown", "..%2Fx"])
def test_unknown_kids_are_404(client, kid):
    response = client.get(f"/alb-keys/{kid}")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_sign_signs_whatever_header_it_is_given():
    """Integration tests build forged variants with it (e.g. alg none, another signer)."""
    key = alb_token.generate_key()
    token = alb_token.sign({"alg": "none", "kid": "k"}, {"sub": "x"}, key)
    header_seg, payload_seg, signature_seg = token.split(".")
    assert json.loads(decode(header_seg)) == {"alg": "none", "kid": "k"}
    assert json.loads(decode(payload_seg)) == {"sub": "x"}
    assert len(decode(signature_seg)) == 64
