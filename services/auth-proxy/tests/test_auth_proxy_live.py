"""The auth-proxy as it runs in production: gunicorn with gevent workers, over real sockets."""
from __future__ import annotations

import time

import pytest
import requests

from tests.support.processes import Service

CID = "c_" + "B" * 22


@pytest.fixture(scope="module")
def live(_key_server, _upstreams, kit, tmp_path_factory, redis_server):
    chat, memory = _upstreams
    service = Service("auth-proxy-live", "auth_proxy:create_app()", {
        "CHAT_URL": chat.url, "MEMORY_URL": memory.url, "INTERNAL_IDENTITY_SECRET": kit.SECRET,
        "ALB_ARN": kit.ALB_ARN, "ALB_KEY_URL": _key_server.base, "COGNITO_ISSUER": kit.ISSUER,
        "COGNITO_CLIENT_ID": kit.CLIENT_ID, "MAX_BODY_BYTES": "4096", "REDIS_URL": redis_server.url,
    }, tmp_path_factory.mktemp("auth-proxy-live-logs")).start()
    yield service
    service.stop()


def test_signed_in_request_over_http(live, signed_in, kit, key_server):
    response = requests.get(f"{live.url}/api/me", headers=signed_in, timeout=5)
    assert response.status_code == 200
    assert response.json()["id"] == kit.USER_SUB
    anonymous = requests.get(f"{live.url}/api/me", headers={"x-amzn-oidc-identity": kit.USER_SUB}, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert requests.get(f"{live.url}/readyz", timeout=5).status_code == 200


def test_stream_is_relayed_unbuffered_and_a_disconnect_closes_the_upstream(live, signed_in, chat):
    response = requests.post(f"{live.url}/api/conversations/{CID}/messages?slow=1", json={"content": "hi"},
                             headers=signed_in, stream=True, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    first = next(response.iter_content(chunk_size=None))
    assert first.startswith(b'event: delta\ndata: {"content":"Hel"}')  # while the upstream is still going
    assert not chat.stream_closed.is_set()
    response.close()  # the client leaves mid-answer
    assert chat.stream_closed.wait(5), "the upstream stream was not closed after the client left"


def test_oversized_bodies_are_413(live, signed_in, chat):
    response = requests.post(f"{live.url}/api/conversations", data=b"x" * 5000, timeout=5,
                             headers={**signed_in, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"

    def chunks():  # no Content-Length: the limit still holds while reading
        for _ in range(10):
            yield b"x" * 1000

    response = requests.post(f"{live.url}/api/conversations", data=chunks(), timeout=5,
                             headers={**signed_in, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert chat.received == []


def test_log_lines_carry_no_token(live, signed_in):
    requests.get(f"{live.url}/api/me", headers=signed_in, timeout=5)
    requests.get(f"{live.url}/api/me", headers={"x-amzn-oidc-data": signed_in["x-amzn-oidc-data"] + "x"},
                 timeout=5)
    time.sleep(0.2)
    text = live.log_text()
    assert "authentication refused" in text
    token = signed_in["x-amzn-oidc-data"]
    for part in [token] + token.split("."):
        assert part.rstrip("=") not in text


def test_keep_alive_connection_is_reused_after_a_stream(live, signed_in):
    with requests.Session() as session:
        for _ in range(3):
            response = session.post(f"{live.url}/api/conversations/{CID}/messages", json={"content": "hi"},
                                    headers=signed_in, timeout=5)
            assert response.status_code == 200
            assert response.text.endswith('event: done\ndata: {"message":{}}\n\n')
            assert session.get(f"{live.url}/api/me", headers=signed_in, timeout=5).status_code == 200
    time.sleep(0.2)
    assert "Error handling request" not in live.log_text()
