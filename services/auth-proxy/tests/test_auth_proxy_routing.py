"""Routing, header hygiene, body limits and health of the auth-proxy (in-process, stand-in upstreams)."""
from __future__ import annotations

import socket

import pytest

from auth_proxy.routing import API_KEY, CHAT, MEMORY, ROUTES, SELF, USER, resolve
from rolechat_common import identity

CID = "c_" + "A" * 20 + "-_"
BAD_IDS = ["c_short", "c_" + "A" * 23, "x_" + "A" * 22, "c_" + "A" * 21 + ".", "c_" + "A" * 21 + "%25",
           "..", "c_" + "A" * 21 + "é"]


def upstream_for(target, chat, memory):
    return {CHAT: chat, MEMORY: memory}[target]


PIN = "p_" + "B" * 20 + "-_"
ROLE = "r_" + "C" * 20 + "-_"
MODEL = "ft:gpt-4o-mini-2024-07-18:acme:support:Ab12Cd34"


def concrete(path: str, cid: str = CID) -> str:
    return (path.replace("{id}", cid).replace("{pin_id}", PIN).replace("{role_id}", ROLE)
            .replace("{model_id}", MODEL).replace("{slug}", "tea-shop").replace("{key_id}", "k_" + "K" * 22))


# API-key routes ask memory about the key first: tests/test_stack_bots.py covers them end to end.
FORWARDED = [(r.method, concrete(r.path), r.target) for r in ROUTES if r.target != SELF and r.auth != API_KEY]


@pytest.mark.parametrize("method,path,target", FORWARDED)
def test_each_route_reaches_its_service(client, signed_in, chat, memory, method, path, target):
    body = {"content": "hi"} if method in ("POST", "PATCH") else None
    response = client.open(path, method=method, json=body, headers=signed_in)
    assert response.status_code in (200, 201, 204), response.get_data(as_text=True)
    hit, other = upstream_for(target, chat, memory), upstream_for(MEMORY if target == CHAT else CHAT, chat, memory)
    assert len(hit.received) == 1 and other.received == []
    assert hit.received[0]["method"] == method
    assert hit.received[0]["path"] == path


def test_forwarded_request_carries_a_fresh_internal_identity_and_nothing_else(client, signed_in, chat, kit):
    forged = identity.mint(identity.Identity("someone-else", "mallory"), kit.SECRET, "auth-proxy")
    response = client.post(
        "/api/conversations?x=1", data=b'{"instructions":"be brief"}',
        headers={**signed_in, "Content-Type": "application/json", "Accept": "application/json",
                 "Accept-Language": "de", "Last-Event-ID": "7", "X-Request-Id": "req-0123456789",
                 identity.IDENTITY_HEADER: forged, "X-Rolechat-User": "admin", "X-Rolechat-Groups": "admins",
                 "Cookie": "AWSELBAuthSessionCookie-0=secret-cookie", "Authorization": "Bearer x",
                 "X-Forwarded-For": "1.2.3.4", "Origin": "https://evil.example"})
    assert response.status_code == 201
    seen = chat.received[0]
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    token = headers.pop("x-rolechat-identity")
    assert token != forged
    who = identity.verify(token, kit.SECRET, (identity.ISSUER_AUTH_PROXY,))
    assert who == identity.Identity(kit.USER_SUB, "alice", ())
    assert headers["x-request-id"] == "req-0123456789"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["accept-language"] == "de"
    assert headers["last-event-id"] == "7"
    assert not [h for h in headers if h.startswith("x-rolechat-")]
    assert not [h for h in headers if h.startswith("x-amzn-")]
    for dropped in ("cookie", "authorization", "x-forwarded-for", "origin"):
        assert dropped not in headers
    assert seen["body"] == '{"instructions":"be brief"}'
    assert seen["query"] == "x=1"
    assert response.headers["X-Request-Id"] == "req-0123456789"


def test_request_id_is_minted_when_the_client_sends_none_or_a_bad_one(client, signed_in, memory, kit):
    client.get("/api/conversations", headers={**signed_in, "X-Request-Id": "bad id\twith spaces"})
    rid = memory.received[0]["headers"]["X-Request-Id"]
    assert rid and rid != "bad id\twith spaces"
    who = identity.verify(memory.received[0]["headers"]["X-Rolechat-Identity"], kit.SECRET, ("auth-proxy",))
    assert who.user_id == kit.USER_SUB


def test_me_is_answered_by_the_proxy(client, signed_in, chat, memory, kit):
    response = client.get("/api/me", headers=signed_in)
    assert response.get_json() == {"id": kit.USER_SUB, "username": "alice", "groups": []}
    assert chat.received == [] and memory.received == []


@pytest.mark.parametrize("method,path", [(r.method, concrete(r.path, bad)) for r in ROUTES
                                         if "{id}" in r.path for bad in BAD_IDS[:4]])
def test_malformed_ids_are_404_without_forwarding(client, signed_in, chat, memory, method, path):
    response = client.open(path, method=method, json={}, headers=signed_in)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert chat.received == [] and memory.received == []


@pytest.mark.parametrize("bad", BAD_IDS)
def test_resolve_refuses_malformed_ids(bad):
    assert resolve("GET", f"/api/roles/{bad}") is None
    assert resolve("PATCH", f"/api/models/{bad}") is None
    assert resolve("GET", f"/api/conversations/{bad}") is None
    assert resolve("GET", f"/api/conversations/{CID}") is not None


@pytest.mark.parametrize("method,path", [
    ("GET", "/api"), ("GET", "/api/"), ("GET", "/api/nope"), ("GET", "/api/conversations/"),
    ("GET", "/api//conversations"), ("GET", "/api/v1/models"),
    ("GET", f"/api/conversations/{CID}/messages/extra"), ("GET", "/api/internal/users"),
])
def test_unknown_routes_are_404(client, signed_in, chat, memory, method, path):
    response = client.open(path, method=method, headers=signed_in)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert chat.received == [] and memory.received == []


@pytest.mark.parametrize("method,path,allow", [
    ("PUT", "/api/conversations", "GET, POST"), ("DELETE", "/api/conversations", "GET, POST"),
    ("PUT", "/api/models", "GET, POST"), ("GET", f"/api/conversations/{CID}/messages", "POST"),
    ("POST", "/api/me", "GET"), ("HEAD", "/api/models", "GET, POST"), ("GET", f"/api/models/{MODEL}", "DELETE, PATCH"),
    ("DELETE", "/api/roles/preset-assistant/pins", "GET, POST"), ("OPTIONS", "/api/conversations", "GET, POST"),
    ("PUT", "/api/openapi.json", "GET"),
])
def test_known_paths_with_another_method_are_405_with_allow(client, signed_in, chat, memory, method, path, allow):
    response = client.open(path, method=method, headers=signed_in)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    if method != "HEAD":
        assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert chat.received == [] and memory.received == []


def test_non_api_paths_are_404_json(client):
    response = client.get("/index.html")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method,path", [(r.method, concrete(r.path)) for r in ROUTES if r.auth == USER])
def test_every_authenticated_route_refuses_anonymous_callers(client, chat, memory, method, path):
    response = client.open(path, method=method, json={"content": "x"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert chat.received == [] and memory.received == []


def test_oversized_body_is_413_before_anything_else(client, signed_in, chat):
    response = client.post(f"/api/conversations/{CID}/messages", data=b"x" * 5000,
                           headers={**signed_in, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert chat.received == []


def test_oversized_body_is_413_even_without_sign_in(client, chat):
    response = client.post("/api/conversations", data=b"x" * 5000, content_type="application/json")
    assert response.status_code == 413
    assert chat.received == []


def test_body_at_the_limit_is_forwarded(client, signed_in, chat):
    response = client.post("/api/conversations", data=b"x" * 4096,
                           headers={**signed_in, "Content-Type": "application/json"})
    assert response.status_code == 201
    assert len(chat.received[0]["body"]) == 4096


def test_streamed_answer_passes_through(client, signed_in, chat):
    response = client.post(f"/api/conversations/{CID}/messages", json={"content": "hi"}, headers=signed_in)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.get_data() == (b'event: delta\ndata: {"content":"Hel"}\n\n'
                                   b'event: delta\ndata: {"content":"lo"}\n\n'
                                   b'event: done\ndata: {"message":{}}\n\n')


def test_upstream_status_and_body_pass_through(client, signed_in, memory):
    response = client.delete(f"/api/conversations/{CID}", headers=signed_in)
    assert response.status_code == 204


def test_unreachable_service_is_503(make_app, signed_in):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    client = make_app(chat_url=closed).test_client()
    response = client.get("/api/models", headers=signed_in)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"
    assert response.headers["Retry-After"]


def test_openapi_is_served_without_sign_in(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json()["openapi"].startswith("3.1")


def test_health_endpoints(client, make_app):
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert client.get("/readyz").status_code == 200
    assert b"http_requests_total" in client.get("/metrics").data
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = make_app(memory_url=closed).test_client().get("/readyz")
    assert down.status_code == 503
    assert "memory" in down.get_json()["error"]["message"]
