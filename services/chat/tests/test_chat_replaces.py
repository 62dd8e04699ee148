"""A turn that replaces a question (`replaces`: edit and resend, regenerate): the old question and
everything after it leave the conversation and the model's history; a refused request removes nothing."""
from __future__ import annotations

import requests

from chat.config import CatalogModel

UNKNOWN = "m_" + "Z" * 22


def turn(client, who, cid, content, **more):
    response = client.post(f"/api/conversations/{cid}/messages", json={"content": content, **more}, headers=who)
    body = response.get_data()
    return response, body


def streamed(upstream) -> list[list[dict]]:
    """The messages of each streamed completion request (not background summaries)."""
    return [r["messages"] for r in upstream.completion_requests() if r.get("stream")]


def store(memory, user_id, cid, *messages, headers_for):
    ids = []
    for role, content in messages:
        response = requests.post(f"{memory.url}/api/conversations/{cid}/messages", timeout=5,
                                 json={"role": role, "content": content}, headers=headers_for(user_id))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def test_edit_and_resend_replaces_the_question_and_what_followed(client, who, user_id, upstream, memory,
                                                               new_conversation, parse_sse):
    cid = new_conversation(instructions="Be brief.")["id"]
    turn(client, who, cid, "First question")
    turn(client, who, cid, "Second question")
    before = memory.messages(user_id, cid)
    assert [m["role"] for m in before] == ["user", "assistant", "user", "assistant"]

    response, body = turn(client, who, cid, "Second question, rephrased", replaces=before[2]["id"])
    assert response.status_code == 200
    done = [e for e in parse_sse(body) if e.kind == "done"][0].data
    assert done["user_message"]["content"] == "Second question, rephrased"
    assert streamed(upstream)[-1] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": before[1]["content"]},
        {"role": "user", "content": "Second question, rephrased"},
    ]
    after = memory.messages(user_id, cid)
    assert [m["content"] for m in after] == ["First question", before[1]["content"], "Second question, rephrased",
                                             done["message"]["content"]]
    assert after[:2] == before[:2] and {m["id"] for m in after[2:]}.isdisjoint(m["id"] for m in before)

    # Editing the very first question starts the conversation over.
    turn(client, who, cid, "Another start", replaces=after[0]["id"])
    assert streamed(upstream)[-1] == [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "Another start"}]
    assert [m["content"] for m in memory.messages(user_id, cid)][:1] == ["Another start"]
    assert len(memory.messages(user_id, cid)) == 2


def test_regenerate_sends_the_same_question_without_the_old_answer(client, who, user_id, upstream, memory,
                                                                 new_conversation):
    cid = new_conversation()["id"]
    turn(client, who, cid, "Tell me a joke")
    upstream.configure(answer="A better joke.")
    old = memory.messages(user_id, cid)
    response, _ = turn(client, who, cid, "Tell me a joke", replaces=old[0]["id"])
    assert response.status_code == 200
    assert streamed(upstream)[-1] == [{"role": "user", "content": "Tell me a joke"}]
    now = memory.messages(user_id, cid)
    assert [(m["role"], m["content"]) for m in now] == [("user", "Tell me a joke"), ("assistant", "A better joke.")]


def test_a_refused_request_removes_nothing_and_reaches_no_model(make_app, who, user_id, upstream, memory,
                                                              headers_for):
    client = make_app(model_catalog=(CatalogModel("gpt-4o-mini", "m", context_window=600, max_output_tokens=100),),
                      default_model="gpt-4o-mini").test_client()
    cid = client.post("/api/conversations", json={}, headers=who).get_json()["id"]
    turn(client, who, cid, "q1")
    turn(client, who, cid, "q2")
    before = memory.messages(user_id, cid)
    requests_before = len(upstream.completion_requests())
    other = memory.create(user_id)["id"]
    [elsewhere] = store(memory, user_id, other, ("user", "elsewhere"), headers_for=headers_for)

    cases = [
        ({"content": "x", "replaces": before[1]["id"]}, 404, "message_not_found"),   # an answer, not a question
        ({"content": "x", "replaces": UNKNOWN}, 404, "message_not_found"),
        ({"content": "x", "replaces": elsewhere}, 404, "message_not_found"),         # another conversation's
        ({"content": "x", "replaces": "m_short"}, 404, "message_not_found"),
        ({"content": "x", "replaces": 42}, 400, "invalid_field"),
        ({"content": "", "replaces": before[2]["id"]}, 400, "invalid_field"),
        ({"content": "word " * 150, "replaces": before[2]["id"]}, 413, None),          # too long for the field
        ({"content": "\U0001d518" * 190, "replaces": before[0]["id"]}, 413, "context_too_long"),  # ~570 tokens
    ]
    for body, status, code in cases:
        response = client.post(f"/api/conversations/{cid}/messages", json=body, headers=who)
        assert response.status_code == status, (body, response.get_data(as_text=True))
        if code:
            assert response.get_json()["error"]["code"] == code, body
    # Someone else's conversation does not exist for them, whatever they replace.
    foreign = client.post(f"/api/conversations/{cid}/messages", headers=headers_for("u-someone-else"),
                          json={"content": "x", "replaces": before[0]["id"]})
    assert foreign.status_code == 404 and foreign.get_json()["error"]["code"] == "not_found"
    assert client.post("/api/conversations/c_" + "Q" * 22 + "/messages", headers=who,
                       json={"content": "x", "replaces": "m_short"}).get_json()["error"]["code"] == "not_found"

    assert memory.messages(user_id, cid) == before
    assert memory.messages(user_id, other)[0]["content"] == "elsewhere"
    assert len(upstream.completion_requests()) == requests_before


def test_a_summary_covering_the_replaced_question_is_neither_sent_nor_kept(make_app, who, user_id, upstream,
                                                                          memory, headers_for):
    client = make_app(context_summaries=True, max_history_messages=1).test_client()
    cid = memory.create(user_id)["id"]
    ids = store(memory, user_id, cid, ("user", "q0"), ("user", "q1"), ("user", "q2"), ("user", "q3"),
                headers_for=headers_for)
    summary_url = f"{memory.url}/api/conversations/{cid}/summary"

    # A summary of q0 only does not reach q2: it is still sent (the history is trimmed to one message).
    put = requests.put(summary_url, json={"text": "SUMMARY OF Q0", "upto": 1}, headers=headers_for(user_id), timeout=5)
    assert put.json()["stored"] is True
    turn(client, who, cid, "q3 again", replaces=ids[3])
    assert streamed(upstream)[-1] == [
        {"role": "system", "content": streamed(upstream)[-1][0]["content"]},
        {"role": "user", "content": "q2"}, {"role": "user", "content": "q3 again"}]
    assert "SUMMARY OF Q0" in streamed(upstream)[-1][0]["content"]

    # A summary of q0..q2 covers q2: replacing q2 neither sends it nor keeps it.
    requests.put(summary_url, json={"text": "SUMMARY OF Q0 TO Q2", "upto": 3}, headers=headers_for(user_id), timeout=5)
    turn(client, who, cid, "q2 edited", replaces=ids[2])
    assert streamed(upstream)[-1] == [{"role": "user", "content": "q1"}, {"role": "user", "content": "q2 edited"}]
    context = requests.get(f"{memory.url}/api/conversations/{cid}/context", headers=headers_for(user_id),
                           timeout=5).json()
    assert context["summary_text"] != "SUMMARY OF Q0 TO Q2"
    assert [m["content"] for m in memory.messages(user_id, cid)][:3] == ["q0", "q1", "q2 edited"]
