"""Pinned memory through the whole stack: pins reach every later turn, long conversations fit the window."""
from __future__ import annotations

import json
import time

import pytest
import requests

from chat.context import PINS_HEADER, SUMMARY_HEADER
from chat.tokens import MESSAGE_OVERHEAD_TOKENS, REPLY_PRIMING_TOKENS, Counter
from rolechat_common import identity
from tests.support.processes import TEST_SECRET
from tests.support.sse import parse_sse
from tests.support.stack import Stack

SMALL_WINDOW = 1024
SMALL_ANSWER = 128
SMALL_MODEL = "gpt-4o-mini"


def send(session: requests.Session, base: str, cid: str, content: str):
    response = session.post(f"{base}/api/conversations/{cid}/messages", json={"content": content}, timeout=60)
    assert response.status_code == 200, response.text
    events = [e for e in parse_sse(response.content) if e.kind != "comment"]
    assert events[-1].kind == "done", events
    return events[-1].data


def new_conversation(session, base, **fields) -> str:
    response = session.post(f"{base}/api/conversations", json=fields, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def pin(session, base, cid, **body):
    return session.post(f"{base}/api/conversations/{cid}/pins", json=body, timeout=10)


def streamed(fake) -> list[dict]:
    return [b for b in fake.completion_requests() if b.get("stream")]


def pins_message(body: dict) -> str:
    found = [m["content"] for m in body["messages"] if m["role"] == "system" and m["content"].startswith(PINS_HEADER)]
    assert len(found) <= 1
    return found[0] if found else ""


def test_pins_reach_every_later_turn_and_unpinned_ones_are_gone(stack, fake):
    alice = stack.login("pin-alice")
    base = stack.edge
    cid = new_conversation(alice, base, instructions="You are the support agent of a tea shop.")
    first = send(alice, base, cid, "Remember that my order number is A-1234.")
    user_id, answer_id = first["user_message"]["id"], first["message"]["id"]

    whole = pin(alice, base, cid, message_id=user_id)
    excerpt = pin(alice, base, cid, message_id=answer_id, text="This is the fake upstream answering")
    note = pin(alice, base, cid, text="Our return window is 30 days.")
    for response in (whole, excerpt, note):
        assert response.status_code == 201, response.text
        assert response.json()["id"].startswith("p_")
    assert whole.json()["text"] == "Remember that my order number is A-1234."
    assert whole.json()["message_id"] == user_id
    assert excerpt.json() | {"id": None, "created_at": None} == {
        "id": None, "created_at": None, "text": "This is the fake upstream answering", "message_id": answer_id}
    assert "message_id" not in note.json()
    listed = alice.get(f"{base}/api/conversations/{cid}/pins", timeout=5).json()["pins"]
    assert [p["id"] for p in listed] == [whole.json()["id"], excerpt.json()["id"], note.json()["id"]]

    fake.clear_requests()
    for text in ("What is my order number?", "And the return window?"):
        send(alice, base, cid, text)
    for body in streamed(fake):
        assert body["messages"][0] == {"role": "system", "content": "You are the support agent of a tea shop."}
        assert body["messages"][1]["role"] == "system" and body["messages"][1]["content"].startswith(PINS_HEADER)
        pinned = pins_message(body)
        for text in ("order number is A-1234", "This is the fake upstream answering", "return window is 30 days"):
            assert text in pinned

    assert alice.delete(f"{base}/api/conversations/{cid}/pins/{note.json()['id']}", timeout=5).status_code == 204
    assert alice.delete(f"{base}/api/conversations/{cid}/pins/{note.json()['id']}", timeout=5).status_code == 404
    fake.clear_requests()
    send(alice, base, cid, "Thanks!")
    [body] = streamed(fake)
    pinned = pins_message(body)
    assert "return window is 30 days" not in pinned and "order number is A-1234" in pinned

    context = alice.get(f"{base}/api/conversations/{cid}/context", timeout=5).json()
    assert context["assembled"] is True and context["pins_count"] == 2
    assert context["pins"] > 0 and context["role"] > 0 and context["history"] > 0
    assert context["used"] <= context["budget"] < context["window"]


def test_bad_pins_are_refused_with_a_clear_4xx(stack, fake):
    bob = stack.login("pin-bob")
    base = stack.edge
    cid = new_conversation(bob, base)
    done = send(bob, base, cid, "The sky is blue today.")
    mid = done["user_message"]["id"]
    cases = [
        (dict(message_id=mid, text="the sky is green"), 400, "invalid_excerpt"),
        (dict(message_id="m_" + "A" * 22), 404, "message_not_found"),
        (dict(message_id="not-an-id"), 404, "message_not_found"),
        (dict(), 400, "missing_field"),
        (dict(text=""), 400, "invalid_field"),
        (dict(text=5), 400, "invalid_field"),
        (dict(text="x", colour="red"), 400, "invalid_field"),
        (dict(text="x" * 40_000), 413, "too_long"),
    ]
    for body, status, code in cases:
        response = pin(bob, base, cid, **body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"] == code, body
    assert bob.get(f"{base}/api/conversations/{cid}/pins", timeout=5).json() == {"pins": []}
    assert bob.get(f"{base}/api/conversations/{cid}/pins/p_x", timeout=5).status_code == 404
    assert bob.delete(f"{base}/api/conversations/{cid}/pins/p_short", timeout=5).status_code == 404


def test_another_users_pins_and_conversations_are_404(stack, fake):
    erin, frank = stack.login("pin-erin"), stack.login("pin-frank")
    base = stack.edge
    cid = new_conversation(erin, base, instructions="erin's private role")
    done = send(erin, base, cid, "my secret plan involves kites")
    pin_id = pin(erin, base, cid, text="secret note").json()["id"]
    attempts = [
        frank.get(f"{base}/api/conversations/{cid}/pins", timeout=5),
        pin(frank, base, cid, text="mine now"),
        pin(frank, base, cid, message_id=done["user_message"]["id"]),
        frank.delete(f"{base}/api/conversations/{cid}/pins/{pin_id}", timeout=5),
        frank.get(f"{base}/api/conversations/{cid}/context", timeout=5),
        frank.get(f"{base}/api/conversations/{cid}/export?format=json", timeout=5),
        frank.get(f"{base}/api/conversations/{cid}/export?format=md", timeout=5),
    ]
    for response in attempts:
        assert response.status_code == 404, response.text
        assert "secret" not in response.text and "kites" not in response.text
    assert frank.get(f"{base}/api/conversations?q=kites", timeout=5).json() == {"conversations": []}
    assert [p["text"] for p in erin.get(f"{base}/api/conversations/{cid}/pins", timeout=5).json()["pins"]] == [
        "secret note"]


def test_search_and_export(stack, fake):
    gina = stack.login("pin-gina")
    base = stack.edge
    cid = new_conversation(gina, base, instructions="You are a gardener.")
    send(gina, base, cid, "How do I grow Tomatoes on a balcony?")
    other = new_conversation(gina, base)
    send(gina, base, other, "Tell me about violins")
    assert gina.patch(f"{base}/api/conversations/{other}", json={"title": "Strings and bows"},
                      timeout=5).json()["title"] == "Strings and bows"
    pin(gina, base, cid, text="Balcony faces south.")

    by_text = gina.get(f"{base}/api/conversations", params={"q": "tomatoes"}, timeout=5).json()["conversations"]
    assert [c["id"] for c in by_text] == [cid]
    assert by_text[0]["match"]["in"] in ("title", "message")
    by_title = gina.get(f"{base}/api/conversations", params={"q": "BOWS"}, timeout=5).json()["conversations"]
    assert [c["id"] for c in by_title] == [other] and by_title[0]["match"]["in"] == "title"
    assert gina.get(f"{base}/api/conversations", params={"q": "zebra"}, timeout=5).json() == {"conversations": []}
    for bad in ("", "   ", "x" * 201):
        response = gina.get(f"{base}/api/conversations", params={"q": bad}, timeout=5)
        assert response.status_code == 400, bad
    assert len(gina.get(f"{base}/api/conversations", timeout=5).json()["conversations"]) == 2

    md = gina.get(f"{base}/api/conversations/{cid}/export?format=md", timeout=5)
    assert md.status_code == 200 and md.headers["Content-Type"].startswith("text/markdown")
    assert "attachment" in md.headers["Content-Disposition"] and ".md" in md.headers["Content-Disposition"]
    assert "You are a gardener." in md.text and "Balcony faces south." in md.text
    assert "How do I grow Tomatoes on a balcony?" in md.text and "### Assistant" in md.text
    exported = gina.get(f"{base}/api/conversations/{cid}/export?format=json", timeout=5)
    assert exported.headers["Content-Type"].startswith("application/json")
    assert ".json" in exported.headers["Content-Disposition"]
    data = exported.json()
    assert data["id"] == cid and data["instructions"] == "You are a gardener."
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert [p["text"] for p in data["pins"]] == ["Balcony faces south."]
    assert gina.get(f"{base}/api/conversations/{cid}/export?format=pdf", timeout=5).status_code == 400


def test_pins_survive_kill_9_of_redis(stack, fake):
    hana = stack.login("pin-hana")
    base = stack.edge
    cid = new_conversation(hana, base)
    created = pin(hana, base, cid, text="The launch is on Friday.")
    assert created.status_code == 201  # acknowledged

    stack.redis.kill9()
    stack.redis.start()
    deadline = time.monotonic() + 10
    while (again := hana.get(f"{base}/api/conversations/{cid}/pins", timeout=10)).status_code != 200:
        assert time.monotonic() < deadline, again.text
        time.sleep(0.1)
    assert again.json()["pins"] == [created.json()]


# --- a long conversation on a model with a small window ----------------------------------------

@pytest.fixture(scope="module")
def small_stack(tmp_path_factory, fake_upstream):
    catalog = [{"id": SMALL_MODEL, "label": "Small window", "context_window": SMALL_WINDOW,
                "max_output_tokens": SMALL_ANSWER}]
    running = Stack(tmp_path_factory.mktemp("small-stack"), fake_upstream.base_url,
                    chat_env={"MODEL_CATALOG": json.dumps(catalog), "SUMMARY_REFRESH_MESSAGES": "6"}).start()
    yield running
    running.stop()


def seed(stack, user_id: str, cid: str, count: int) -> None:
    """Write messages straight through memory's API, as the user (fast: no model turns)."""
    token = identity.mint(identity.Identity(user_id, user_id), TEST_SECRET, identity.ISSUER_CHAT, ttl=600)
    with requests.Session() as http:
        http.headers[identity.IDENTITY_HEADER] = token
        for i in range(count):
            role = "user" if i % 2 == 0 else "assistant"
            response = http.post(f"{stack.url('memory')}/api/conversations/{cid}/messages", timeout=5,
                                 json={"role": role, "content": f"Message {i} about the harbour, the boats and the "
                                                                f"weather on day {i // 2}."})
            assert response.status_code == 201, response.text


def prompt_tokens(body: dict) -> int:
    counter = Counter("o200k_base")
    return sum(counter.text(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in body["messages"]) + REPLY_PRIMING_TOKENS


def test_a_2000_message_conversation_always_fits_the_window(small_stack, fake):
    stack, base = small_stack, small_stack.edge
    zoe = stack.login("pin-zoe")
    user_id = zoe.get(f"{base}/api/me", timeout=5).json()["id"]
    role = "You are a meticulous harbour archivist."
    cid = new_conversation(zoe, base, instructions=role)
    seed(stack, user_id, cid, 2000)
    assert pin(zoe, base, cid, text="The vault code is 4417.").status_code == 201

    summary_seen = False
    for turn in range(4):
        fake.clear_requests()
        question = f"Question {turn}: what was the weather on the last day?"
        done = send(zoe, base, cid, question)
        [body] = streamed(fake)
        assert prompt_tokens(body) + body["max_tokens"] <= SMALL_WINDOW, "every request fits the window"
        assert body["max_tokens"] <= SMALL_ANSWER
        assert body["messages"][0] == {"role": "system", "content": role}
        assert "The vault code is 4417." in body["messages"][1]["content"]
        assert body["messages"][-1] == {"role": "user", "content": question}
        assert len(body["messages"]) < 100, "only the newest turns are sent"
        has_summary = any(m["role"] == "system" and m["content"].startswith(SUMMARY_HEADER) for m in body["messages"])
        if summary_seen:
            assert has_summary, "once written, the summary is sent with every turn"
        context = done["context"]
        assert context["omitted_messages"] > 1900 and context["window"] == SMALL_WINDOW
        assert context["used"] <= context["budget"]
        # the summary is written in the background after a turn that left messages out
        deadline = time.monotonic() + 15
        while not summary_seen and time.monotonic() < deadline:
            report = zoe.get(f"{base}/api/conversations/{cid}/context", timeout=5).json()
            summary_seen = bool(report.get("summary_text"))
            time.sleep(0.1)
        assert summary_seen, "a summary is stored once turns were dropped"
    summarising = [b for b in fake.completion_requests() if not b.get("stream")]
    for body in summarising:  # the summarising calls fit the window too
        assert prompt_tokens(body) + body["max_tokens"] <= SMALL_WINDOW
    report = zoe.get(f"{base}/api/conversations/{cid}/context", timeout=5).json()
    assert report["summary"] > 0 and report["summarized_messages"] > 1900
    assert report["role"] > 0 and report["pins"] > 0 and report["pins_count"] == 1


def test_a_pin_over_the_budget_is_refused_saying_how_much_room_is_left(small_stack, fake):
    stack, base = small_stack, small_stack.edge
    yuki = stack.login("pin-yuki")
    cid = new_conversation(yuki, base, instructions="You are brief.")
    assert pin(yuki, base, cid, text="Small fact number one.").status_code == 201
    big = " ".join(f"fact{i}" for i in range(600))
    response = pin(yuki, base, cid, text=big)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "pins_over_budget"
    assert "left" in error["message"] and "tokens" in error["message"]
    assert len(yuki.get(f"{base}/api/conversations/{cid}/pins", timeout=5).json()["pins"]) == 1
    too_long_role = yuki.patch(f"{base}/api/conversations/{cid}", json={"instructions": big}, timeout=5)
    assert too_long_role.status_code == 400 and too_long_role.json()["error"]["code"] == "pins_over_budget"
