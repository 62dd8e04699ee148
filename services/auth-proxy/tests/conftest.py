"""Fixtures for the auth-proxy's tests.

The auth-proxy talks HTTP to three things: the ALB key endpoint, chat and memory. The tests run
small stand-ins for them in threads (werkzeug servers) that record what reached them. Tokens are
built here independently of the local edge, exactly as the ALB builds them: padded base64url
segments, raw r||s ES256 signature over the segments as sent.
"""
from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from flask import Flask, Response, request
from werkzeug.serving import make_server

from auth_proxy import create_app
from auth_proxy.config import Config

ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/rolechat/0123456789abcdef"
OTHER_ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:222222222222:loadbalancer/app/attacker/fedcba9876543210"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_rolechatTest"
CLIENT_ID = "rolechattestclient01"
SECRET = "auth-proxy-test-internal-secret-0123456789abcdef"
USER_SUB = "1f2e3d4c-5b6a-4789-9abc-def012345678"


# ---------------------------------------------------------------- ALB-format tokens

def b64url_padded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")  # '=' kept, as the ALB does


def segment(claims: dict) -> str:
    return b64url_padded(json.dumps(claims, separators=(",", ":")).encode())


def es256_raw(private_key: ec.EllipticCurvePrivateKey, signing_input: bytes) -> bytes:
    r, s = decode_dss_signature(private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def alb_token(private_key, header: dict, payload: dict) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    return f"{signing_input}.{b64url_padded(es256_raw(private_key, signing_input.encode()))}"


@dataclass
class AlbKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)


class Tokens:
    """Builds ALB tokens for the test's key, with any claim overridden or removed (value None)."""

    def __init__(self, key: AlbKey):
        self.key = key

    def header(self, **changes) -> dict:
        header = {"typ": "JWT", "kid": self.key.kid, "alg": "ES256", "iss": ISSUER, "client": CLIENT_ID,
                  "signer": ALB_ARN, "exp": int(time.time()) + 120}
        return _apply(header, changes)

    def payload(self, **changes) -> dict:
        payload = {"sub": USER_SUB, "username": "alice", "email": "alice@example.com",
                   "exp": int(time.time()) + 120, "iss": ISSUER}
        return _apply(payload, changes)

    def make(self, header: dict | None = None, payload: dict | None = None, key=None) -> str:
        return alb_token(key or self.key.private_key, header or self.header(), payload or self.payload())

    def __call__(self, header: dict | None = None, payload: dict | None = None, **payload_changes) -> str:
        return self.make(header, payload or self.payload(**payload_changes))


def _apply(claims: dict, changes: dict) -> dict:
    claims = dict(claims)
    for name, value in changes.items():
        name = name.replace("__", ":")  # cognito__groups -> cognito:groups
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


# ---------------------------------------------------------------- stand-in servers

class ThreadServer:
    """A WSGI app on a free loopback port, served from a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@dataclass
class KeyServer:
    """A stand-in for the ALB's regional key endpoint, counting every request it gets."""
    keys: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # kid -> status to answer instead
    delay: float = 0.0
    server: ThreadServer | None = None

    def start(self) -> "KeyServer":
        app = Flask("key-server")

        @app.route("/alb-keys/<path:kid>")
        def key(kid):
            self.requests.append(kid)
            if self.delay:
                time.sleep(self.delay)
            if kid in self.failures:
                return "failure", self.failures[kid]
            if kid == "redirect-me":
                return Response("", status=302, headers={"Location": f"{self.url}/elsewhere"})
            if kid not in self.keys:
                return "not found", 404
            return Response(self.keys[kid], mimetype="text/plain")

        @app.route("/elsewhere")
        def elsewhere():
            self.requests.append("elsewhere")
            return Response(next(iter(self.keys.values())), mimetype="text/plain")

        self.server = ThreadServer(app)
        return self

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base(self) -> str:
        return f"{self.server.url}/alb-keys"

    def reset(self):
        self.requests.clear()
        self.failures.clear()
        self.delay = 0.0


@dataclass
class Upstream:
    """A stand-in for chat or memory: records every request and answers with what it saw."""
    name: str
    received: list[dict] = field(default_factory=list)
    stream_closed: threading.Event = field(default_factory=threading.Event)
    server: ThreadServer | None = None

    def start(self) -> "Upstream":
        app = Flask(f"upstream-{self.name}")

        @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PATCH", "DELETE", "PUT"])
        @app.route("/<path:path>", methods=["GET", "POST", "PATCH", "DELETE", "PUT"])
        def anything(path):
            seen = {"service": self.name, "method": request.method, "path": request.path,
                    "query": request.query_string.decode(), "headers": dict(request.headers),
                    "body": request.get_data(as_text=True)}
            self.received.append(seen)
            if request.args.get("fail") == "restarting":  # as a stopping service answers
                return {"error": {"code": "restarting", "message": "The service is restarting."}}, 503
            if request.path.endswith("/messages") and request.method == "POST":
                return Response(self._stream(request.args.get("slow") == "1"), mimetype="text/event-stream")
            if request.method == "DELETE":
                return "", 204
            return seen, 201 if request.method == "POST" else 200

        self.server = ThreadServer(app)
        return self

    def _stream(self, slow: bool):
        try:
            yield b'event: delta\ndata: {"content":"Hel"}\n\n'
            if slow:
                for _ in range(200):  # until the client leaves (20 s at most)
                    time.sleep(0.1)
                    yield b": keep-alive\n\n"
            yield b'event: delta\ndata: {"content":"lo"}\n\n'
            yield b'event: done\ndata: {"message":{}}\n\n'
        finally:
            self.stream_closed.set()

    @property
    def url(self) -> str:
        return self.server.url

    def reset(self):
        self.received.clear()
        self.stream_closed.clear()


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def alb_key() -> AlbKey:
    return AlbKey(str(uuid.uuid4()), ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="session")
def _key_server(alb_key):
    server = KeyServer(keys={alb_key.kid: alb_key.pem}).start()
    yield server
    server.server.stop()


@pytest.fixture
def key_server(_key_server) -> KeyServer:
    _key_server.reset()
    return _key_server


@pytest.fixture(scope="session")
def _upstreams():
    chat, memory = Upstream("chat").start(), Upstream("memory").start()
    yield chat, memory
    chat.server.stop()
    memory.server.stop()


@pytest.fixture
def chat(_upstreams) -> Upstream:
    _upstreams[0].reset()
    return _upstreams[0]


@pytest.fixture
def memory(_upstreams) -> Upstream:
    _upstreams[1].reset()
    return _upstreams[1]


@pytest.fixture
def config(key_server, chat, memory, redis_url) -> Config:
    return Config(chat_url=chat.url, memory_url=memory.url, identity_secret=SECRET, alb_arn=ALB_ARN,
                  alb_key_url=key_server.base, cognito_issuer=ISSUER, cognito_client_id=CLIENT_ID, redis_url=redis_url,
                  max_body_bytes=4096, alb_token_leeway_seconds=30, key_fetch_timeout_seconds=1.0)


@pytest.fixture
def make_app(config):
    def make(**changes):
        return create_app(replace(config, **changes))
    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def tokens(alb_key) -> Tokens:
    return Tokens(alb_key)


@pytest.fixture
def signed_in(tokens) -> dict:
    """Headers of a request the ALB authenticated as alice."""
    return {"x-amzn-oidc-data": tokens(), "x-amzn-oidc-identity": USER_SUB,
            "x-amzn-oidc-accesstoken": "opaque-access-token"}


class FakeClock:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float):
        self.now += seconds


@pytest.fixture
def fake_clock(app) -> FakeClock:
    """The key store's rate-limit clock, under the test's control."""
    clock = FakeClock()
    app.extensions["auth_proxy.keys"].clock = clock
    return clock


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The helpers and constants above, for test modules (they cannot import conftest)."""
    return SimpleNamespace(
        alb_token=alb_token, segment=segment, b64=b64url_padded, es256_raw=es256_raw, AlbKey=AlbKey,
        KeyServer=KeyServer, Upstream=Upstream, ThreadServer=ThreadServer, FakeClock=FakeClock,
        ALB_ARN=ALB_ARN, OTHER_ALB_ARN=OTHER_ALB_ARN, ISSUER=ISSUER, CLIENT_ID=CLIENT_ID, SECRET=SECRET,
        USER_SUB=USER_SUB)
