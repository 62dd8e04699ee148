"""A turn of a conversation through chat's HTTP API (Flask test client; memory and upstream are real processes)."""
from __future__ import annotations

from datetime import datetime



def deltas(events) -> str:
    return "".join(e.data["content"] for e in events if e.kind == "delta")


def final(events):
    ends = [e for e in events if e.kind in ("done", "error")]
    assert len(ends) == 1, f"exactly one done or error event expected: {events}"
    assert events[-1] is ends[0], "the done/error event comes last"
    return ends[0]


def test_answer_streams_as_deltas_then_done(client, who, user_id, upstream, memory, new_conversation, say):
    cid = new_conversation()["id"]
    response, events = say(cid, "How do I write a loop in Python?")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    text = deltas(events)
    assert 'You said: "How do I write a loop in Python?"' in text
    assert len([e for e in events if e.kind == "delta"]) >= 1
    end = final(events)
    assert end.kind == "done"
    assert end.data["message"]["content"] == text
    assert end.data["message"]["role"] == "assistant"
    assert end.data["message"]["status"] == "complete"
    assert end.data["message"]["model"] == "gpt-4o-mini"
    assert end.data["user_message"]["content"] == "How do I write a loop in Python?"
    assert end.data["user_message"]["role"] == "user"
    stored = memory.messages(user_id, cid)
    assert [(m["role"], m["content"], m["status"]) for m in stored] == [
        ("user", "How do I write a loop in Python?", "complete"), ("assistant", text, "complete")]
    assert [m["id"] for m in stored] == [end.data["user_message"]["id"], end.data["message"]["id"]]


def test_upstream_gets_the_sdk_request_with_key_model_and_answer_cap(make_app, who, upstream, new_conversation):
    client = make_app(max_answer_tokens=7).test_client()
    cid = client.post("/api/conversations", json={"model": "gpt-4o"}, headers=who).get_json()["id"]
    response = client.post(f"/api/conversations/{cid}/messages", json={"content": "hi"}, headers=who)
    response.get_data()
    [request] = upstream.requests("/v1/chat/completions")
    assert request["authorized"], "chat sends OPENAI_API_KEY as the bearer key"
    body = request["body"]
    assert body["model"] == "gpt-4o"
    assert body["stream"] is True
    assert body["max_tokens"] == 7
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_answer_cut_by_max_tokens_is_complete(make_app, who, user_id, upstream, memory, parse_sse):
    client = make_app(max_answer_tokens=3).test_client()
    cid = client.post("/api/conversations", json={}, headers=who).get_json()["id"]
    events = parse_sse(client.post(f"/api/conversations/{cid}/messages", json={"content": "hi"},
                                   headers=who).get_data())
    assert final(events).kind == "done"
    assert deltas(events) == 'You said: "hi".'
    assert memory.messages(user_id, cid)[-1]["status"] == "complete"


def test_user_message_is_stored_before_the_model_is_called(who, user_id, upstream, memory, new_conversation, say):
    cid = new_conversation()["id"]
    upstream.configure(fail_status=500, retry_after_ms=1)
    say(cid, "keep this question")
    [first_call, *_] = upstream.requests("/v1/chat/completions")
    stored = memory.messages(user_id, cid)
    assert stored[0]["role"] == "user" and stored[0]["content"] == "keep this question"
    stored_at = datetime.fromisoformat(stored[0]["created_at"].replace("Z", "+00:00")).timestamp()
    assert stored_at <= first_call["at"], "the question was stored before the model was asked"


def test_role_instructions_reach_the_upstream_as_the_system_message(who, upstream, new_conversation, say):
    cid = new_conversation(instructions="You are a patient Japanese tutor.")["id"]
    say(cid, "How do I say hello?")
    [body] = upstream.completion_requests()
    assert body["messages"] == [{"role": "system", "content": "You are a patient Japanese tutor."},
                                {"role": "user", "content": "How do I say hello?"}]


def test_patched_instructions_and_history_reach_the_next_turn(client, who, upstream, new_conversation, say):
    cid = new_conversation(instructions="You are a programming teacher.")["id"]
    _, events = say(cid, "What is a list?")
    first_answer = deltas(events)
    response = client.patch(f"/api/conversations/{cid}", json={"instructions": "You are a support agent."},
                            headers=who)
    assert response.status_code == 200
    assert response.get_json()["instructions"] == "You are a support agent."
    say(cid, "And a tuple?")
    body = upstream.completion_requests()[-1]
    assert body["messages"] == [
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": "What is a list?"},
        {"role": "assistant", "content": first_answer},
        {"role": "user", "content": "And a tuple?"},
    ]


def test_history_keeps_interrupted_answers_and_skips_failed_ones(who, user_id, upstream, memory, say):
    cid = memory.create(user_id, model="gpt-4o-mini")["id"]
    post = memory_post(memory, user_id, cid)
    post(role="user", content="q1")
    post(role="assistant", content="half an answer", status="interrupted")
    post(role="user", content="q2")
    post(role="assistant", content="", status="failed")
    post(role="user", content="q3")
    post(role="assistant", content="broken", status="failed")
    say(cid, "q4")
    assert upstream.completion_requests()[-1]["messages"] == [
        {"role": "user", "content": "q1"}, {"role": "assistant", "content": "half an answer"},
        {"role": "user", "content": "q2"}, {"role": "user", "content": "q3"}, {"role": "user", "content": "q4"}]


def test_history_is_trimmed_to_the_newest_that_fit(make_app, who, user_id, upstream, memory, parse_sse):
    client = make_app(max_history_messages=3, max_history_chars=10).test_client()
    cid = memory.create(user_id)["id"]
    post = memory_post(memory, user_id, cid)
    for text in ("one", "two", "three", "four", "five"):
        post(role="user", content=text)
    client.post(f"/api/conversations/{cid}/messages", json={"content": "six"}, headers=who).get_data()
    assert upstream.completion_requests()[-1]["messages"] == [
        {"role": "user", "content": "four"}, {"role": "user", "content": "five"}, {"role": "user", "content": "six"}]


def test_upstream_500_ends_with_an_error_event_and_a_failed_message(who, user_id, upstream, memory,
                                                                  new_conversation, say):
    cid = new_conversation()["id"]
    upstream.configure(fail_status=500, retry_after_ms=1)
    response, events = say(cid, "hello?")
    assert response.status_code == 200
    end = final(events)
    assert end.kind == "error"
    assert end.data["code"] == "upstream_error"
    assert "HTTP 500" in end.data["message"]
    assert len(upstream.requests("/v1/chat/completions")) == 3, "the SDK retried twice (max_retries=2)"
    stored = memory.messages(user_id, cid)
    assert [(m["role"], m["status"]) for m in stored] == [("user", "complete"), ("assistant", "failed")]
    assert stored[1]["error"] == "upstream_error"


def test_a_transient_upstream_failure_is_retried_by_the_sdk(who, upstream, new_conversation, say):
    cid = new_conversation()["id"]
    upstream.configure(fail_status=503, fail_count=1, retry_after_ms=1)
    _, events = say(cid, "hello again")
    assert final(events).kind == "done"
    assert "hello again" in deltas(events)


def test_upstream_rate_limit_and_bad_key_have_their_own_codes(make_app, who, upstream, new_conversation, say):
    cid = new_conversation()["id"]
    upstream.configure(fail_status=429, retry_after_ms=1, fail_message="Rate limit reached for sk-abc...xyz")
    _, events = say(cid, "x")
    end = final(events)
    assert end.data["code"] == "upstream_rate_limited"
    assert "sk-" not in end.data["message"], "the provider's own words never reach the user"

    upstream.reset()
    client = make_app(openai_api_key="sk-wrong-key", model_catalog=_catalog("gpt-4o-mini")).test_client()
    cid = client.post("/api/conversations", json={}, headers=who).get_json()["id"]
    body = client.post(f"/api/conversations/{cid}/messages", json={"content": "x"}, headers=who).get_data()
    assert b"upstream_auth" in body
    assert b"sk-wrong-key" not in body and b"Incorrect API key" not in body


def test_stream_cut_by_the_upstream_is_an_error_with_the_partial_kept(who, user_id, upstream, memory,
                                                                     new_conversation, say):
    cid = new_conversation()["id"]
    upstream.configure(answer="one two three four five six seven eight", cut_after=3)
    _, events = say(cid, "count")
    assert deltas(events) == "one two three"
    end = final(events)
    assert end.kind == "error" and end.data["code"] == "upstream_error"
    answer = memory.messages(user_id, cid)[-1]
    assert (answer["role"], answer["content"], answer["status"]) == ("assistant", "one two three", "failed")


def test_unreachable_upstream_is_an_error_event(make_app, who, user_id, memory, parse_sse, upstream):
    from tests.support.processes import free_port

    client = make_app(openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
                                 model_catalog=_catalog("gpt-4o-mini")).test_client()
    cid = memory.create(user_id, model="gpt-4o-mini")["id"]
    events = parse_sse(client.post(f"/api/conversations/{cid}/messages", json={"content": "x"},
                                   headers=who).get_data())
    end = final(events)
    assert end.kind == "error" and end.data["code"] == "upstream_unreachable"
    assert memory.messages(user_id, cid)[-1]["status"] == "failed"


def test_bad_input_is_a_4xx_json_error_and_nothing_is_stored(client, who, user_id, upstream, memory,
                                                            new_conversation):
    cid = new_conversation()["id"]
    url = f"/api/conversations/{cid}/messages"
    cases = [
        (dict(json={}), 400, "missing_field"),
        (dict(json={"content": ""}), 400, "invalid_field"),
        (dict(json={"content": "   "}), 400, "invalid_field"),
        (dict(json={"content": 42}), 400, "invalid_field"),
        (dict(json={"content": "x" * 201}), 413, "too_long"),
        (dict(json=["content"]), 400, "invalid_json"),
        (dict(data="{not json", content_type="application/json"), 400, "invalid_json"),
        (dict(data="content=hi", content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type"),
        (dict(data="x" * 300_000, content_type="application/json"), 413, "too_large"),
    ]
    for kwargs, status, code in cases:
        response = client.post(url, headers=who, **kwargs)
        assert response.status_code == status, (kwargs, response.get_json())
        assert response.get_json()["error"]["code"] == code, kwargs
        assert response.get_json()["error"]["message"]
    assert memory.messages(user_id, cid) == []
    assert upstream.requests("/v1/chat/completions") == []


def test_unknown_or_foreign_conversation_is_404_from_memory(client, who, upstream, new_conversation, headers_for):
    cid = new_conversation()["id"]
    other = headers_for("someone-else")
    for path, headers in ((f"/api/conversations/{cid}/messages", other),
                          ("/api/conversations/c_AAAAAAAAAAAAAAAAAAAAAA/messages", who),
                          ("/api/conversations/not-an-id/messages", who)):
        response = client.post(path, json={"content": "hi"}, headers=headers)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "not_found"
    assert upstream.requests("/v1/chat/completions") == []


def test_a_model_no_longer_offered_is_400_before_anything_is_stored(make_app, who, user_id, upstream, memory):
    client = make_app(model_catalog=_catalog("gpt-4o-mini", "gpt-4o")).test_client()
    cid = memory.create(user_id, model="gpt-3-retired")["id"]
    response = client.post(f"/api/conversations/{cid}/messages", json={"content": "hi"}, headers=who)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "unknown_model"
    assert memory.messages(user_id, cid) == []
    assert upstream.requests("/v1/chat/completions") == []


def test_conversation_without_a_model_uses_the_default(who, user_id, upstream, memory, say):
    cid = memory.create(user_id)["id"]
    _, events = say(cid, "hi")
    assert final(events).data["message"]["model"] == "gpt-4o-mini"
    assert upstream.completion_requests()[-1]["model"] == "gpt-4o-mini"


def test_every_route_needs_an_identity_from_the_auth_proxy(client, upstream, headers_for, new_conversation):
    cid = new_conversation()["id"]
    forged = headers_for("u-1", secret="another-secret-0123456789abcdef-0123456789")
    from_chat = headers_for("u-1", issuer="chat")  # chat trusts only the auth-proxy
    routes = [("get", "/api/models", None), ("post", "/api/conversations", {}),
              ("patch", f"/api/conversations/{cid}", {"title": "x"}),
              ("post", f"/api/conversations/{cid}/messages", {"content": "hi"})]
    for method, path, body in routes:
        for headers in ({}, forged, from_chat, {"X-Rolechat-Identity": "garbage"}):
            response = getattr(client, method)(path, json=body, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.get_json()["error"]["code"] == "unauthorized"
    assert upstream.requests("/v1/chat/completions") == []


def test_memory_out_of_reach_is_503_with_retry_after(make_app, who, upstream):
    from tests.support.processes import free_port

    client = make_app(memory_url=f"http://127.0.0.1:{free_port()}").test_client()
    for method, path, body in (("post", "/api/conversations", {}),
                               ("post", "/api/conversations/c_AAAAAAAAAAAAAAAAAAAAAA/messages", {"content": "x"})):
        response = getattr(client, method)(path, json=body, headers=who)
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert response.get_json()["error"]["code"] == "unavailable"
    assert client.get("/readyz").status_code == 503


def memory_post(memory, user_id, cid):
    import requests as http

    from rolechat_common import identity
    from tests.support.processes import TEST_SECRET

    def post(**message):
        token = identity.mint(identity.Identity(user_id, user_id), TEST_SECRET, identity.ISSUER_CHAT)
        response = http.post(f"{memory.url}/api/conversations/{cid}/messages", json=message,
                             headers={identity.IDENTITY_HEADER: token}, timeout=5)
        assert response.status_code == 201, response.text
    return post


def _catalog(*ids):
    from chat.config import CatalogModel

    return tuple(CatalogModel(i, i) for i in ids)
