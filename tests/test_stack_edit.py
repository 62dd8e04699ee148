"""Edit and resend, and regenerate (`replaces`), through the edge, the auth-proxy, chat, memory and the
(fake) model: the replaced question and what followed leave the history the model sees and the stored
conversation; a refused request changes nothing."""
from __future__ import annotations

import pytest
import requests

from tests.support.sse import parse_sse
from tests.support.stack import Stack

UNKNOWN = "m_" + "Z" * 22


def new_conversation(session: requests.Session, base: str, **fields) -> str:
    response = session.post(f"{base}/api/conversations", json=fields, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def post(session: requests.Session, base: str, cid: str, content: str, **more) -> requests.Response:
    return session.post(f"{base}/api/conversations/{cid}/messages", json={"content": content, **more}, timeout=30)


def send(session: requests.Session, base: str, cid: str, content: str, **more) -> dict:
    response = post(session, base, cid, content, **more)
    assert response.status_code == 200, response.text
    events = [e for e in parse_sse(response.content) if e.kind != "comment"]
    assert events[-1].kind == "done", events
    return events[-1].data


def history(session: requests.Session, base: str, cid: str) -> list[tuple[str, str]]:
    response = session.get(f"{base}/api/conversations/{cid}", timeout=5)
    assert response.status_code == 200, response.text
    return [(m["role"], m["content"]) for m in response.json()["messages"]]


def streamed(fake) -> list[list[dict]]:
    return [b["messages"] for b in fake.completion_requests() if b.get("stream")]


def test_regenerate_and_edit_replace_the_history_in_place(stack, fake):
    alice = stack.login("edit-alice")
    base = stack.edge
    cid = new_conversation(alice, base, instructions="You are a maths tutor.")
    fake.configure(answer="Four.")
    first = send(alice, base, cid, "What is 2+2?")
    fake.configure(answer="Six.")
    second = send(alice, base, cid, "What is 3+3?")
    pinned = alice.post(f"{base}/api/conversations/{cid}/pins", json={"message_id": second["message"]["id"]},
                        timeout=5)
    assert pinned.status_code == 201, pinned.text

    # Regenerate: the last question again, in place of itself; the model never sees the old answer.
    fake.configure(answer="It is six.")
    fake.clear_requests()
    again = send(alice, base, cid, "What is 3+3?", replaces=second["user_message"]["id"])
    assert history(alice, base, cid) == [("user", "What is 2+2?"), ("assistant", "Four."),
                                         ("user", "What is 3+3?"), ("assistant", "It is six.")]
    [sent] = streamed(fake)
    assert [m for m in sent if m["role"] != "system"] == [
        {"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "Four."},
        {"role": "user", "content": "What is 3+3?"}]
    assert again["user_message"]["id"] != second["user_message"]["id"]

    # Edit the first question: everything after it goes, the edited one takes its place.
    fake.configure(answer="Eight.")
    fake.clear_requests()
    send(alice, base, cid, "What is 4+4?", replaces=first["user_message"]["id"])
    assert history(alice, base, cid) == [("user", "What is 4+4?"), ("assistant", "Eight.")]
    [sent] = streamed(fake)
    assert [m for m in sent if m["role"] != "system" or not m["content"].startswith("Pinned")] == [
        {"role": "system", "content": "You are a maths tutor."}, {"role": "user", "content": "What is 4+4?"}]
    # Pins are copies of text: the one taken from a removed answer is still sent.
    assert any(m["role"] == "system" and "Six." in m["content"] for m in sent)
    assert [p["text"] for p in alice.get(f"{base}/api/conversations/{cid}/pins", timeout=5).json()["pins"]] == ["Six."]
    for gone in (first, second, again):
        for message in (gone["user_message"], gone["message"]):
            assert alice.get(f"{base}/api/conversations/{cid}", timeout=5).text.count(message["id"]) == 0


def test_refused_replacements_change_nothing(stack, fake):
    bob, eve = stack.login("edit-bob"), stack.login("edit-eve")
    base = stack.edge
    cid = new_conversation(bob, base)
    done = send(bob, base, cid, "Keep this question")
    other = new_conversation(bob, base)
    elsewhere = send(bob, base, other, "In another conversation")
    before = bob.get(f"{base}/api/conversations/{cid}", timeout=5).json()
    fake.clear_requests()

    for replaces, status, code in ((done["message"]["id"], 404, "message_not_found"),     # an answer
                                   (UNKNOWN, 404, "message_not_found"),
                                   (elsewhere["user_message"]["id"], 404, "message_not_found"),
                                   ("not-an-id", 404, "message_not_found"),
                                   (7, 400, "invalid_field")):
        response = post(bob, base, cid, "Replacement", replaces=replaces)
        assert response.status_code == status, (replaces, response.text)
        assert response.json()["error"]["code"] == code, replaces
    assert post(bob, base, cid, "", replaces=done["user_message"]["id"]).status_code == 400
    assert post(bob, base, cid, "x" * 20_000, replaces=done["user_message"]["id"]).status_code == 413
    # Another user: the conversation does not exist for them.
    refused = post(eve, base, cid, "Mine now", replaces=done["user_message"]["id"])
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert bob.get(f"{base}/api/conversations/{cid}", timeout=5).json() == before
    assert history(bob, base, other) == [("user", "In another conversation"),
                                         ("assistant", elsewhere["message"]["content"])]
    assert fake.completion_requests() == [], "no refused request reached the model"


@pytest.fixture(scope="module")
def quota_stack(tmp_path_factory, fake_upstream):
    limits = {"DAILY_TOKEN_QUOTA": "60"}
    running = Stack(tmp_path_factory.mktemp("edit-quota-stack"), fake_upstream.base_url,
                    proxy_env=limits, memory_env=limits).start()
    yield running
    running.stop()


def test_a_replacement_over_the_daily_quota_removes_nothing(quota_stack, fake):
    carol = quota_stack.login("edit-quota-carol")
    base = quota_stack.edge
    cid = new_conversation(carol, base)
    fake.configure(tokens=80)
    done = send(carol, base, cid, "Spend it all")  # the answer that crosses the quota still finishes
    before = carol.get(f"{base}/api/conversations/{cid}", timeout=5).json()
    fake.reset()
    fake.clear_requests()
    refused = post(carol, base, cid, "Spend it all", replaces=done["user_message"]["id"])
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "quota_exceeded"
    assert 1 <= int(refused.headers["Retry-After"]) <= 86400
    assert carol.get(f"{base}/api/conversations/{cid}", timeout=5).json() == before
    assert fake.completion_requests() == []
