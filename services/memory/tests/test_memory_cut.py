"""Replacing a conversation from a user message on (edit and resend, regenerate): the message and
every message after it give way to the new question in one atomic step; anything else is a 404
that changes nothing."""
from __future__ import annotations

import threading
from dataclasses import replace

import redis

from memory import create_app
from rolechat_common.limits import Allowance, LimitPolicy
from tests.support.memory_api import create, post

UNKNOWN = "m_" + "Z" * 22


def cut(client, who, cid, mid, content="new question"):
    """Store `content` in place of user message `mid` and everything after it."""
    return client.post(f"/api/conversations/{cid}/messages", headers=who,
                       json={"role": "user", "content": content, "replaces": mid})


def replaced(response) -> dict:
    assert response.status_code == 201, response.get_json()
    return response.get_json()["replaced"]


def contents(client, who, cid):
    return [m["content"] for m in client.get(f"/api/conversations/{cid}", headers=who).get_json()["messages"]]


def exchange(client, who, cid, n):
    """n questions and answers; returns the stored messages."""
    out = []
    for i in range(n):
        out.append(post(client, who, cid, "user", f"q{i}"))
        out.append(post(client, who, cid, "assistant", f"a{i}", context={"window": 100, "used": i + 1}))
    return out


def test_cut_removes_exactly_the_message_and_everything_after_it(client, alice, config):
    cid = create(client, alice)
    stored = exchange(client, alice, cid, 3)
    pin = client.post(f"/api/conversations/{cid}/pins", json={"message_id": stored[3]["id"]}, headers=alice)
    assert pin.status_code == 201

    response = cut(client, alice, cid, stored[2]["id"], "q1 edited")  # q1, a1, q2, a2 give way
    assert replaced(response) == {"index": 2, "removed": 4, "summary_dropped": False}
    assert response.get_json()["role"] == "user" and response.get_json()["content"] == "q1 edited"
    assert contents(client, alice, cid) == ["q0", "a0", "q1 edited"]
    for gone in stored[2:]:
        assert client.get(f"/api/conversations/{cid}/messages/{gone['id']}", headers=alice).status_code == 404
    # Pins are copies of text: the one taken from a removed answer stays.
    assert [p["text"] for p in client.get(f"/api/conversations/{cid}/pins", headers=alice).get_json()["pins"]] == ["a1"]
    # The last context breakdown belonged to a removed answer: it is gone too.
    assert client.get(f"/api/conversations/{cid}/context", headers=alice).get_json()["assembled"] is False
    # Nothing of the removed messages is left in Redis (no orphaned hash fields).
    raw = redis.Redis.from_url(config.redis_url, decode_responses=True)
    assert sorted(raw.hkeys(f"rc:{{alice-id}}:c:{cid}:msgs")) == sorted(
        [m["id"] for m in stored[:2]] + [response.get_json()["id"]])

    # The count went down: room for new messages again (the test limit is 6), appended after it.
    post(client, alice, cid, "assistant", "a1 again")
    assert contents(client, alice, cid) == ["q0", "a0", "q1 edited", "a1 again"]

    # Replacing from the first question leaves only the new one; the conversation itself stays.
    assert replaced(cut(client, alice, cid, stored[0]["id"], "fresh start")) == {
        "index": 0, "removed": 4, "summary_dropped": False}
    assert contents(client, alice, cid) == ["fresh start"]
    assert [c["id"] for c in client.get("/api/conversations", headers=alice).get_json()["conversations"]] == [cid]


def test_assistant_unknown_foreign_and_malformed_ids_are_404_and_nothing_changes(client, alice, bob):
    cid = create(client, alice)
    stored = exchange(client, alice, cid, 2)
    url = f"/api/conversations/{cid}/summary"
    assert client.put(url, json={"text": "about q0", "upto": 2}, headers=alice).get_json()["stored"] is True
    other = create(client, alice)
    elsewhere = post(client, alice, other, "user", "in another conversation")
    before = client.get(f"/api/conversations/{cid}", headers=alice).get_json()

    for mid in (stored[1]["id"], stored[3]["id"], UNKNOWN, elsewhere["id"], "not-an-id"):
        response = cut(client, alice, cid, mid)
        assert response.status_code == 404, mid
        assert response.get_json()["error"]["code"] == "message_not_found", mid
    # Another user's conversation does not exist for bob: not_found, and alice's stays whole.
    response = cut(client, bob, cid, stored[0]["id"])
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert cut(client, alice, "c_" + "Q" * 22, stored[0]["id"]).get_json()["error"]["code"] == "not_found"
    assert cut(client, alice, "c_" + "Q" * 22, "not-an-id").get_json()["error"]["code"] == "not_found"

    assert client.get(f"/api/conversations/{cid}", headers=alice).get_json() == before
    assert client.get(url.replace("/summary", "/context"), headers=alice).get_json()["summary_text"] == "about q0"
    assert contents(client, alice, other) == ["in another conversation"]


def test_a_summary_covering_a_removed_message_is_dropped_and_one_before_the_cut_kept(client, alice):
    cid = create(client, alice)
    stored = exchange(client, alice, cid, 3)
    context = f"/api/conversations/{cid}/context"
    summary = f"/api/conversations/{cid}/summary"
    assert client.put(summary, json={"text": "q0 and a0", "upto": 2}, headers=alice).get_json()["stored"]

    # A summary of [0, 2) does not reach the cut at 4: kept.
    assert replaced(cut(client, alice, cid, stored[4]["id"])) == {"index": 4, "removed": 2, "summary_dropped": False}
    assert client.get(context, headers=alice).get_json()["summary_text"] == "q0 and a0"

    # A summary of [0, 4) covers q1 (index 2), which a cut there removes: dropped with it.
    assert client.put(summary, json={"text": "q0 to a1", "upto": 4}, headers=alice).get_json()["stored"]
    assert replaced(cut(client, alice, cid, stored[2]["id"])) == {"index": 2, "removed": 3, "summary_dropped": True}
    after = client.get(context, headers=alice).get_json()
    assert after["summary_text"] is None and after["summarized_messages"] == 0
    # A new summary may be written again from scratch.
    assert client.put(summary, json={"text": "q0", "upto": 2}, headers=alice).get_json()["stored"] is True


def test_context_source_replacing_shows_the_conversation_as_it_will_be(client, alice):
    cid = create(client, alice, instructions="role")
    stored = exchange(client, alice, cid, 3)
    assert client.put(f"/api/conversations/{cid}/summary", json={"text": "s", "upto": 3},
                      headers=alice).get_json()["stored"]
    url = f"/api/conversations/{cid}/context-source"
    source = client.get(f"{url}?limit=1&replacing={stored[4]['id']}", headers=alice).get_json()
    assert (source["total"], source["start"]) == (4, 3)
    assert [m["content"] for m in source["messages"]] == ["a1"] and source["summary"]["upto"] == 3
    source = client.get(f"{url}?replacing={stored[2]['id']}", headers=alice).get_json()
    assert (source["total"], source["start"]) == (2, 0) and source["summary"] is None
    assert [m["content"] for m in source["messages"]] == ["q0", "a0"]
    source = client.get(f"{url}?replacing={stored[0]['id']}", headers=alice).get_json()
    assert (source["total"], source["start"], source["messages"]) == (0, 0, [])
    for mid in (stored[5]["id"], UNKNOWN, "x"):
        response = client.get(f"{url}?replacing={mid}", headers=alice)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "message_not_found"
    assert len(contents(client, alice, cid)) == 6  # reading changed nothing


def test_cut_is_atomic_against_concurrent_appends(config, alice):
    """Appends racing a cut land either before it (and are removed) or after it (and stay): the
    list of ids and the hash of messages never disagree."""
    app = create_app(replace(config, max_messages_per_conversation=10_000))
    client = app.test_client()
    raw = redis.Redis.from_url(config.redis_url, decode_responses=True)
    for _round in range(5):
        cid = create(client, alice)
        first = post(client, alice, cid, "user", "start")
        for i in range(200):
            post(client, alice, cid, "assistant" if i % 2 else "user", f"m{i}")
        stop = threading.Event()

        def append():
            local = app.test_client()
            while not stop.is_set():
                post(local, alice, cid, "assistant", "racing")

        writer = threading.Thread(target=append)
        writer.start()
        try:
            assert cut(client, alice, cid, first["id"], "racing").status_code == 201
        finally:
            stop.set()
            writer.join()
        order = raw.lrange(f"rc:{{alice-id}}:c:{cid}:order", 0, -1)
        assert sorted(order) == sorted(raw.hkeys(f"rc:{{alice-id}}:c:{cid}:msgs"))
        assert all(m == "racing" for m in contents(client, alice, cid))


def test_a_question_over_the_daily_quota_cuts_nothing(config, alice):
    client = create_app(replace(config, limits=LimitPolicy(default=Allowance(daily_tokens=10)))).test_client()
    cid = create(client, alice)
    stored = exchange(client, alice, cid, 1)
    assert client.post("/api/usage", json={"model": "m", "prompt_tokens": 5, "completion_tokens": 5},
                       headers=alice).status_code == 204
    response = cut(client, alice, cid, stored[0]["id"])
    assert response.status_code == 429 and response.get_json()["error"]["code"] == "quota_exceeded"
    assert contents(client, alice, cid) == ["q0", "a0"]


def test_an_answer_is_kept_only_while_its_question_is(client, alice):
    """Stop, then Regenerate at once: the stopped answer is saved a moment after the question it
    answers was replaced; it must not land after the new question."""
    cid = create(client, alice)
    question = post(client, alice, cid, "user", "q0")
    kept = post(client, alice, cid, "assistant", "a0", answers=question["id"])
    assert "answers" not in kept
    new_question = replaced(cut(client, alice, cid, question["id"], "q0 again")) and contents(client, alice, cid)
    assert new_question == ["q0 again"]
    late = client.post(f"/api/conversations/{cid}/messages", headers=alice,
                       json={"role": "assistant", "content": "a0, stopped", "status": "interrupted",
                             "answers": question["id"]})
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "question_replaced"
    assert contents(client, alice, cid) == ["q0 again"]
    assert client.post(f"/api/conversations/{cid}/messages", headers=alice,
                       json={"role": "user", "content": "x", "answers": question["id"]}).status_code == 400
    bob_answer = client.post(f"/api/conversations/{'c_' + 'Q' * 22}/messages", headers=alice,
                             json={"role": "assistant", "content": "x", "answers": question["id"]})
    assert bob_answer.status_code == 404
