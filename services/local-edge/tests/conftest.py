"""Fixtures for the local edge's tests: the edge in-process, a stand-in auth-proxy recording what
reaches it, and a small built front end in a temporary directory."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from flask import Flask, Response, request
from werkzeug.serving import make_server

from local_edge import create_app
from local_edge.config import Config

ALB_ARN = "arn:aws:elasticloadbalancing:local-1:000000000000:loadbalancer/app/rolechat-edge-test/0123456789abcdef"
ISSUER = "https://cognito-idp.local-1.amazonaws.com/local-1_rolechatedgetest"
CLIENT_ID = "rolechatedgetestclient"
SESSION_SECRET = "edge-test-session-secret-0123456789abcdef"


class ThreadServer:
    """A WSGI app on a free loopback port, served from a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@dataclass
class StandIn:
    """A stand-in for the auth-proxy: records each request and echoes what it saw."""
    received: list[dict] = field(default_factory=list)
    server: ThreadServer | None = None

    def start(self) -> "StandIn":
        app = Flask("stand-in-auth-proxy")
        methods = ["GET", "POST", "PATCH", "DELETE", "PUT"]

        @app.route("/", defaults={"path": ""}, methods=methods)
        @app.route("/<path:path>", methods=methods)
        def anything(path):
            seen = {"method": request.method, "path": request.path, "query": request.query_string.decode(),
                    "headers": {k.lower(): v for k, v in request.headers.items()},
                    "body": request.get_data(as_text=True)}
            self.received.append(seen)
            if request.path.endswith("/messages"):
                def stream():
                    yield b'event: delta\ndata: {"content":"Hi"}\n\n'
                    time.sleep(0.05)
                    yield b'event: done\ndata: {"message":{}}\n\n'
                return Response(stream(), mimetype="text/event-stream")
            return {"path": request.path}

        self.server = ThreadServer(app)
        return self

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def last(self) -> dict:
        return self.received[-1]


@pytest.fixture(scope="session")
def _stand_in():
    stand_in = StandIn().start()
    yield stand_in
    stand_in.server.stop()


@pytest.fixture
def stand_in(_stand_in) -> StandIn:
    _stand_in.received.clear()
    return _stand_in


@pytest.fixture
def static_dir(tmp_path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>rolechat</title><div id=root></div>")
    (root / "assets" / "app-1a2b3c.js").write_text("console.log('rolechat')")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return root


@pytest.fixture
def config(tmp_path, static_dir, stand_in) -> Config:
    return Config(auth_proxy_url=stand_in.url, session_secret=SESSION_SECRET, data_dir=tmp_path / "edge-data",
                  alb_arn=ALB_ARN, cognito_issuer=ISSUER, cognito_client_id=CLIENT_ID, static_dir=static_dir,
                  max_body_bytes=4096)


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
def login(client):
    def sign_in(username: str = "alice"):
        response = client.post("/local/login", json={"username": username})
        assert response.status_code == 204, response.get_data(as_text=True)
        return response
    return sign_in


@pytest.fixture(scope="session")
def edge_consts():
    return {"ALB_ARN": ALB_ARN, "ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID, "SESSION_SECRET": SESSION_SECRET,
            "ThreadServer": ThreadServer}
