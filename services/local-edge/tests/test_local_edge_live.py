"""The edge and the auth-proxy as they run locally: gunicorn processes, real sockets, real cookies.

The auth-proxy fetches the edge's public key from the edge itself, verifies the header the edge
signed, and forwards to a stand-in for chat and memory.
"""
from __future__ import annotations

import gc

import pytest
import requests

from local_edge.signin import user_id_for
from rolechat_common import identity
from tests.support.processes import Service, free_port

INTERNAL_SECRET = "edge-live-internal-identity-secret-0123456789"


def close_sessions(stack):
    """Close the test's keep-alive connections, so gunicorn's graceful stop need not wait for them."""
    for session in stack["sessions"]:
        session.close()
    gc.collect()  # finished responses can keep their socket open until collected


@pytest.fixture(scope="module")
def stack(_stand_in, edge_consts, tmp_path_factory, redis_server):
    logs = tmp_path_factory.mktemp("edge-live-logs")
    data_dir = tmp_path_factory.mktemp("edge-live-data")
    static = tmp_path_factory.mktemp("edge-live-static")
    (static / "index.html").write_text("<!doctype html><title>rolechat</title>")
    edge_port = free_port()
    cognito = {"ALB_ARN": edge_consts["ALB_ARN"], "COGNITO_ISSUER": edge_consts["ISSUER"],
               "COGNITO_CLIENT_ID": edge_consts["CLIENT_ID"]}
    auth_proxy = Service("auth-proxy-for-edge", "auth_proxy:create_app()", {
        "CHAT_URL": _stand_in.url, "MEMORY_URL": _stand_in.url, "INTERNAL_IDENTITY_SECRET": INTERNAL_SECRET,
        "ALB_KEY_URL": f"http://127.0.0.1:{edge_port}/alb-keys", "REDIS_URL": redis_server.url, **cognito},
        logs).start()
    edge_env = {"AUTH_PROXY_URL": auth_proxy.url, "STATIC_DIR": str(static), "EDGE_DATA_DIR": str(data_dir),
                "EDGE_SESSION_SECRET": edge_consts["SESSION_SECRET"], **cognito}
    edge = Service("local-edge-live", "local_edge:create_app()", edge_env, logs, port=edge_port).start()
    services = {"auth-proxy": auth_proxy, "edge": edge, "edge_env": edge_env, "logs": logs, "sessions": []}
    yield services
    close_sessions(services)
    services["edge"].stop()
    auth_proxy.stop()


def test_sign_in_then_use_the_api(stack, stand_in):
    edge = stack["edge"].url
    session = requests.Session()
    stack["sessions"].append(session)
    assert session.get(f"{edge}/api/me", timeout=5).status_code == 401
    assert session.post(f"{edge}/local/login", json={"username": "dora"}, timeout=5).status_code == 204
    response = session.get(f"{edge}/api/me", timeout=5)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": user_id_for("dora"), "username": "dora", "groups": []}
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")

    response = session.get(f"{edge}/api/conversations", timeout=5)
    assert response.status_code == 200
    who = identity.verify(stand_in.last["headers"]["x-rolechat-identity"], INTERNAL_SECRET, ("auth-proxy",))
    assert who.user_id == user_id_for("dora")
    assert not [h for h in stand_in.last["headers"] if h.startswith("x-amzn-")]

    assert session.post(f"{edge}/local/logout", timeout=5).status_code == 204
    assert session.get(f"{edge}/api/me", timeout=5).status_code == 401


def test_forged_alb_header_from_a_browser_is_refused(stack):
    edge = stack["edge"].url
    response = requests.get(f"{edge}/api/me", timeout=5, headers={
        "x-amzn-oidc-data": "eyJhbGciOiJub25lIn0=.eyJzdWIiOiJ4In0=.", "x-amzn-oidc-identity": "x"})
    assert response.status_code == 401


def test_answers_stream_through_both_hops(stack):
    edge = stack["edge"].url
    session = requests.Session()
    stack["sessions"].append(session)
    session.post(f"{edge}/local/login", json={"username": "dora"}, timeout=5)
    response = session.post(f"{edge}/api/conversations/c_{'A' * 22}/messages", json={"content": "hi"},
                            stream=True, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    body = b"".join(response.iter_content(chunk_size=None))
    assert body == b'event: delta\ndata: {"content":"Hi"}\n\nevent: done\ndata: {"message":{}}\n\n'


def test_sessions_and_key_survive_an_edge_restart(stack):
    edge = stack["edge"].url
    session = requests.Session()
    stack["sessions"].append(session)
    session.post(f"{edge}/local/login", json={"username": "erin"}, timeout=5)
    assert session.get(f"{edge}/api/me", timeout=5).status_code == 200
    close_sessions(stack)  # idle keep-alive connections would hold up gunicorn's graceful stop
    stack["edge"].stop()
    stack["edge"] = Service("local-edge-live", "local_edge:create_app()", stack["edge_env"], stack["logs"],
                            port=stack["edge"].port).start()
    # the auth-proxy cached the key under its kid; the restarted edge signs with the same one
    response = session.get(f"{edge}/api/me", timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["username"] == "erin"
    assert session.get(f"{edge}/", timeout=5).status_code == 200
