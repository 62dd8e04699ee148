"""The front end, its runtime config, the security headers, and health."""
from __future__ import annotations

import socket

import pytest

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def test_config_json(client):
    response = client.get("/config.json")
    assert response.status_code == 200
    assert response.get_json() == {"auth": "local"}


@pytest.mark.parametrize("path", ["/", "/index.html", "/c/c_AAAAAAAAAAAAAAAAAAAAAA", "/settings/models"])
def test_spa_fallback_serves_index(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b"<div id=root>" in response.get_data()
    assert response.headers["Cache-Control"] == "no-cache"


def test_assets_are_served_and_cached(client):
    response = client.get("/assets/app-1a2b3c.js")
    assert response.status_code == 200
    assert response.get_data() == b"console.log('rolechat')"
    assert "immutable" in response.headers["Cache-Control"]
    assert client.get("/favicon.svg").status_code == 200


def test_missing_assets_are_404_not_html(client):
    response = client.get("/assets/missing-123.js")
    assert response.status_code == 404
    assert response.mimetype == "application/json"


def test_no_path_traversal(client, static_dir):
    (static_dir.parent / "secret.txt").write_text("top secret")
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"):
        assert b"top secret" not in client.get(path).get_data()


def test_front_end_not_built(make_app, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    response = make_app(static_dir=empty).test_client().get("/")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert b"make run" in response.get_data()


@pytest.mark.parametrize("method,path", [
    ("GET", "/"), ("GET", "/config.json"), ("GET", "/assets/app-1a2b3c.js"), ("GET", "/assets/nope.js"),
    ("GET", "/api/me"), ("GET", "/alb-keys/nope"), ("GET", "/healthz"), ("POST", "/local/login"),
    ("POST", "/local/logout"), ("DELETE", "/config.json"),
])
def test_security_headers_on_every_response(client, method, path):
    response = client.open(path, method=method)
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_health(client, make_app):
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert client.get("/readyz").status_code == 200
    assert b"http_requests_total" in client.get("/metrics").data
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = make_app(auth_proxy_url=closed).test_client().get("/readyz")
    assert down.status_code == 503
    assert "auth-proxy" in down.get_json()["error"]["message"]
