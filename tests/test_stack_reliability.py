"""What happens when things go wrong: the client leaves, the model fails, Redis dies."""
from __future__ import annotations

import time

import requests

from tests.support.sse import iter_sse, parse_sse


def new_conversation(session, stack) -> str:
    return session.post(f"{stack.edge}/api/conversations", json={}, timeout=5).json()["id"]


def test_client_disconnect_stops_the_model_and_keeps_the_partial_answer(stack, fake):
    fake.configure(tokens=400, token_delay=0.05)
    session = stack.login("judy")
    cid = new_conversation(session, stack)
    response = session.post(f"{stack.edge}/api/conversations/{cid}/messages", json={"content": "Tell me a story"},
                            stream=True, timeout=30)
    received = ""
    for event in iter_sse(response.iter_content(chunk_size=None)):
        if event.kind == "delta":
            received += event.data["content"]
        if len(received.split()) >= 5:
            break
    response.close()  # the browser's Stop button, or a closed tab
    closed_at = time.monotonic()

    stream = fake.wait_for_stream(lambda s: s.get("cancelled"), timeout=5)
    assert time.monotonic() - closed_at < 1.5, "the upstream call stops within about a second"
    assert stream["tokens_sent"] < 400

    def stored():
        messages = session.get(f"{stack.edge}/api/conversations/{cid}", timeout=5).json()["messages"]
        return messages if len(messages) == 2 else None

    deadline = time.monotonic() + 5
    while not (messages := stored()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert messages, "the partial answer is kept"
    assert messages[1]["status"] == "interrupted"
    assert messages[1]["content"].startswith(received.strip()[:20])


def test_upstream_failure_gives_an_error_event_and_a_failed_turn(stack, fake):
    fake.configure(fail_status=500)
    session = stack.login("ken")
    cid = new_conversation(session, stack)
    response = session.post(f"{stack.edge}/api/conversations/{cid}/messages", json={"content": "hi"}, timeout=60)
    events = [e for e in parse_sse(response.content) if e.kind != "comment"]
    assert [e.kind for e in events] == ["error"]
    assert events[0].data["code"] == "upstream_error" and events[0].data["message"]
    messages = session.get(f"{stack.edge}/api/conversations/{cid}", timeout=5).json()["messages"]
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "failed")]


def test_acknowledged_message_survives_kill_9_of_redis(stack, fake):
    session = stack.login("laura")
    cid = new_conversation(session, stack)
    response = session.post(f"{stack.edge}/api/conversations/{cid}/messages",
                            json={"content": "remember: the launch code is 0000"}, timeout=30)
    assert parse_sse(response.content)[-1].kind == "done"  # acknowledged

    stack.redis.kill9()
    down = session.get(f"{stack.edge}/api/conversations/{cid}", timeout=10)
    assert down.status_code == 503 and down.headers.get("Retry-After")
    stack.redis.start()

    deadline = time.monotonic() + 10
    while (again := session.get(f"{stack.edge}/api/conversations/{cid}", timeout=10)).status_code != 200:
        assert time.monotonic() < deadline, again.text
        time.sleep(0.1)
    messages = again.json()["messages"]
    assert [m["content"] for m in messages][0] == "remember: the launch code is 0000"
    assert [m["status"] for m in messages] == ["complete", "complete"]


def test_heartbeats_keep_a_silent_stream_alive(stack, fake):
    fake.configure(first_token_delay=2.5, answer="finally")
    session = stack.login("mike")
    cid = new_conversation(session, stack)
    response = session.post(f"{stack.edge}/api/conversations/{cid}/messages", json={"content": "think"},
                            timeout=30)
    events = parse_sse(response.content)
    comments = [e for e in events if e.kind == "comment"]
    assert len(comments) >= 2, "a comment line at least every SSE_HEARTBEAT_SECONDS (1 s in tests)"
    assert events[-1].kind == "done" and events[-1].data["message"]["content"] == "finally"


def test_readiness_reflects_dependencies(stack):
    for name in ("memory", "chat", "auth-proxy", "local-edge"):
        assert requests.get(stack.url(name) + "/readyz", timeout=5).status_code == 200, name
        assert requests.get(stack.url(name) + "/healthz", timeout=5).json()["status"] == "ok"
