"""A whole turn through the edge, the auth-proxy, chat, memory and the (fake) model."""
from __future__ import annotations

import requests

from tests.support.sse import parse_sse
from tests.support.stack import UPSTREAM_KEY


def send(session: requests.Session, stack, cid: str, content: str):
    response = session.post(f"{stack.edge}/api/conversations/{cid}/messages", json={"content": content},
                            timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return parse_sse(response.content)


def test_sign_in_set_a_role_and_get_a_streamed_answer(stack, fake):
    fake.configure(answer="Loops repeat work. Use for item in items: to visit each item.", token_delay=0.01)
    alice = stack.login("alice")
    me = alice.get(f"{stack.edge}/api/me", timeout=5).json()
    assert me["username"] == "alice" and me["id"]
    models = alice.get(f"{stack.edge}/api/models", timeout=5).json()
    assert models["default"] in [m["id"] for m in models["models"]]

    created = alice.post(f"{stack.edge}/api/conversations",
                         json={"instructions": "You are a programming teacher"}, timeout=5)
    assert created.status_code == 201
    cid = created.json()["id"]
    assert created.json()["model"] == models["default"]

    events = send(alice, stack, cid, "How do I write a loop in Python?")
    deltas = [e for e in events if e.kind == "delta"]
    final = [e for e in events if e.kind in ("done", "error")]
    assert len(deltas) >= 2, "the answer arrives in pieces, not at once"
    assert [e.kind for e in final] == ["done"] and events[-1].kind == "done"
    answer = "".join(e.data["content"] for e in deltas)
    assert answer == "Loops repeat work. Use for item in items: to visit each item."
    assert final[0].data["message"]["content"] == answer

    sent = fake.completion_requests()[-1]
    assert sent["stream"] is True and sent["model"] == models["default"]
    assert sent["messages"][0] == {"role": "system", "content": "You are a programming teacher"}
    assert sent["messages"][-1] == {"role": "user", "content": "How do I write a loop in Python?"}
    assert fake.requests("/v1/chat/completions")[-1]["authorized"] is True

    stored = alice.get(f"{stack.edge}/api/conversations/{cid}", timeout=5).json()
    assert [(m["role"], m["status"]) for m in stored["messages"]] == [("user", "complete"), ("assistant", "complete")]
    assert stored["messages"][1]["content"] == answer
    listed = alice.get(f"{stack.edge}/api/conversations", timeout=5).json()["conversations"]
    assert listed[0]["id"] == cid


def test_role_change_mid_conversation_reaches_the_model(stack, fake):
    bob = stack.login("bob-role")
    cid = bob.post(f"{stack.edge}/api/conversations", json={"instructions": "You are a pirate."},
                   timeout=5).json()["id"]
    send(bob, stack, cid, "Hello")
    patched = bob.patch(f"{stack.edge}/api/conversations/{cid}",
                        json={"instructions": "You are a customer-support agent for a tea shop."}, timeout=5)
    assert patched.status_code == 200
    send(bob, stack, cid, "Where is my order?")
    first, second = fake.completion_requests()[-2:]
    assert first["messages"][0]["content"] == "You are a pirate."
    assert second["messages"][0] == {"role": "system",
                                     "content": "You are a customer-support agent for a tea shop."}
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert "pirate" not in str(second["messages"])


def test_the_same_username_is_always_the_same_user(stack):
    first = stack.login("carol").get(f"{stack.edge}/api/me", timeout=5).json()
    again = stack.login("carol").get(f"{stack.edge}/api/me", timeout=5).json()
    other = stack.login("dave").get(f"{stack.edge}/api/me", timeout=5).json()
    assert first["id"] == again["id"] != other["id"]


def test_users_see_only_their_own_conversations(stack, fake):
    erin, frank = stack.login("erin"), stack.login("frank")
    cid = erin.post(f"{stack.edge}/api/conversations", json={"instructions": "erin's private role"},
                    timeout=5).json()["id"]
    send(erin, stack, cid, "my secret plan")
    base = f"{stack.edge}/api/conversations/{cid}"
    attempts = [frank.get(base, timeout=5), frank.patch(base, json={"instructions": "x"}, timeout=5),
                frank.delete(base, timeout=5),
                frank.post(base + "/messages", json={"content": "hi"}, timeout=5)]
    for response in attempts:
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
        assert "secret" not in response.text and "private" not in response.text
    assert frank.get(f"{stack.edge}/api/conversations", timeout=5).json()["conversations"] == []
    kept = erin.get(base, timeout=5).json()
    assert kept["instructions"] == "erin's private role" and len(kept["messages"]) == 2


def test_bad_input_gets_a_clear_4xx_and_nothing_reaches_the_model(stack, fake):
    grace = stack.login("grace")
    cid = grace.post(f"{stack.edge}/api/conversations", json={}, timeout=5).json()["id"]
    url = f"{stack.edge}/api/conversations/{cid}/messages"
    cases = [
        (grace.post(url, json={"content": ""}, timeout=5), 400),
        (grace.post(url, json={"content": 42}, timeout=5), 400),
        (grace.post(url, json={}, timeout=5), 400),
        (grace.post(url, data="{not json", headers={"Content-Type": "application/json"}, timeout=5), 400),
        (grace.post(url, data="hello", headers={"Content-Type": "text/plain"}, timeout=5), 415),
        (grace.post(url, json={"content": "x" * 20_000}, timeout=5), 413),
        (grace.post(url, data=b"x" * 2_000_000, headers={"Content-Type": "application/json"}, timeout=10), 413),
        (grace.post(f"{stack.edge}/api/conversations", json={"instructions": "x" * 9000}, timeout=5), 413),
        (grace.post(f"{stack.edge}/api/conversations", json={"model": "no-such-model"}, timeout=5), 400),
        (grace.get(f"{stack.edge}/api/conversations/not-an-id", timeout=5), 404),
        (grace.get(f"{stack.edge}/api/nothing-here", timeout=5), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, (status, response.text)
        error = response.json()["error"]
        assert error["code"] and error["message"]
    assert fake.completion_requests() == []
    assert grace.get(f"{stack.edge}/api/conversations/{cid}", timeout=5).json()["messages"] == []


def test_signed_out_callers_get_401_json(stack):
    response = requests.get(f"{stack.edge}/api/conversations", timeout=5)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    session = stack.login("henry")
    assert session.post(f"{stack.edge}/local/logout", timeout=5).status_code == 204
    assert session.get(f"{stack.edge}/api/me", timeout=5).status_code == 401


def test_the_app_is_served_with_a_strict_content_security_policy(stack):
    page = requests.get(stack.edge + "/", timeout=5)
    assert page.status_code in (200, 503)
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in \
        policy.split("script-src")[1].split(";")[0]
    spec = requests.get(f"{stack.edge}/api/openapi.json", timeout=5).json()
    assert {"/api/me", "/api/models", "/api/conversations", "/api/conversations/{id}",
            "/api/conversations/{id}/messages"} <= set(spec["paths"])


def test_logs_hold_no_secrets_or_message_text(stack, fake):
    session = stack.login("ivan")
    cid = session.post(f"{stack.edge}/api/conversations", json={}, timeout=5).json()["id"]
    send(session, stack, cid, "my-distinctive-message-text-4711")
    cookie = session.cookies.get_dict()
    logs = stack.logs()
    assert UPSTREAM_KEY not in logs
    assert "my-distinctive-message-text-4711" not in logs
    for value in cookie.values():
        assert value not in logs
    leaks = [line.split("eyJ")[0][-200:] for line in logs.splitlines() if "eyJ" in line]
    assert not leaks, f"no JWT (identity header, internal identity) is ever logged; found after: {leaks[:3]}"
