"""Published bots in chat: visitors' turns on the public page and the OpenAI-compatible /v1 API.

Memory runs as a real process on a private Redis, the model is the fake OpenAI upstream, and the
/v1 API is called through the real `openai` SDK against chat under gunicorn.
"""
from __future__ import annotations

import secrets
import uuid

import openai
import pytest
import requests

from rolechat_common import identity
from tests.support.processes import TEST_SECRET

INSTRUCTIONS = "You are the support agent of Sencha & Co., a tea shop."
PIN = "The shop is closed on Mondays."


def mint(user_id: str, groups: tuple[str, ...] = (), username: str | None = None) -> dict:
    who = identity.Identity(user_id, username or user_id, groups)
    return {identity.IDENTITY_HEADER: identity.mint(who, TEST_SECRET, identity.ISSUER_AUTH_PROXY)}


def visitor() -> dict:
    return mint("v_" + secrets.token_urlsafe(16), ("visitor",), "visitor")


class Owner:
    """A signed-in person publishing bots, talking to memory as the auth-proxy would route them."""

    def __init__(self, memory_url: str):
        self.url = memory_url
        self.headers = mint("owner-" + uuid.uuid4().hex)

    def call(self, method: str, path: str, expected: int, headers: dict | None = None, **body):
        response = requests.request(method, self.url + path, json=body if method != "GET" else None,
                                    headers=headers or self.headers, timeout=10)
        assert response.status_code == expected, response.text
        return response.json() if response.content else None

    def publish(self, *, max_answer_tokens: int | None = None, **bot) -> str:
        role = self.call("POST", "/api/roles", 201, name="Tea shop", instructions=INSTRUCTIONS,
                         max_answer_tokens=max_answer_tokens)
        self.call("POST", f"/api/roles/{role['id']}/pins", 201, text=PIN)
        slug = "shop-" + uuid.uuid4().hex[:10]
        self.call("POST", "/api/bots", 201, role_id=role["id"], slug=slug, **bot)
        return slug

    def usage(self, slug: str) -> dict:
        return self.call("GET", f"/api/bots/{slug}/usage", 200)

    def key(self, slug: str) -> tuple[str, dict]:
        """A new API key of the bot, verified as the auth-proxy verifies it: (key, caller's identity headers)."""
        key = self.call("POST", f"/api/bots/{slug}/keys", 201, name="tests")
        verified = self.call("POST", "/internal/bot-keys/verify", 200,
                             headers=mint("auth-proxy", ("service",), "auth-proxy"), key=key["key"])
        assert verified["slug"] == slug
        return key["key"], mint(verified["key_id"], ("api-key",), "api-key")


@pytest.fixture
def owner(memory_service) -> Owner:
    return Owner(memory_service.url)


def open_conversation(owner: Owner, slug: str, who: dict) -> str:
    return owner.call("POST", f"/api/public/bots/{slug}/conversations", 201, headers=who)["id"]


def fake_usage(body: dict, answer: str) -> int:
    """The tokens the fake upstream reports for a request and its answer (its own counting rule)."""
    from tests.support.fake_openai import answer_tokens, count_tokens

    prompt = sum(count_tokens(m["content"]) + 4 for m in body["messages"]) + 3
    return prompt + len(answer_tokens(body, {"answer": answer}))


# --- the public page -----------------------------------------------------------------------------
def test_a_visitor_turn_streams_as_the_bot_is_stored_and_counted(client, owner, upstream, parse_sse):
    slug = owner.publish(greeting="Welcome!", daily_token_budget=100_000)
    upstream.configure(answer="We are open Tuesday to Sunday.")
    guest = visitor()
    cid = open_conversation(owner, slug, guest)

    response = client.post(f"/api/public/bots/{slug}/conversations/{cid}/messages",
                           json={"content": "Are you open on Monday?"}, headers=guest)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    events = parse_sse(response.get_data())
    deltas = "".join(e.data["content"] for e in events if e.kind == "delta")
    assert deltas == "We are open Tuesday to Sunday."
    done = [e for e in events if e.kind == "done"]
    assert len(done) == 1 and done[0].data["message"]["status"] == "complete"

    sent = upstream.completion_requests()
    assert len(sent) == 1
    messages = sent[0]["messages"]
    assert messages[0] == {"role": "system", "content": INSTRUCTIONS}
    assert messages[1]["role"] == "system" and PIN in messages[1]["content"]
    assert messages[-1] == {"role": "user", "content": "Are you open on Monday?"}

    stored = owner.call("GET", f"/api/public/bots/{slug}/conversations/{cid}", 200, headers=guest)
    assert [(m["role"], m["content"]) for m in stored["messages"]] == [
        ("user", "Are you open on Monday?"), ("assistant", "We are open Tuesday to Sunday.")]
    assert owner.usage(slug)["tokens_today"] == fake_usage(sent[0], "We are open Tuesday to Sunday.")
    transcripts = owner.call("GET", f"/api/bots/{slug}/conversations", 200)["conversations"]
    assert [(t["id"], t["first_message"], t["messages"]) for t in transcripts] == [(cid, "Are you open on Monday?", 2)]

    # the second turn carries the visitor's history
    again = client.post(f"/api/public/bots/{slug}/conversations/{cid}/messages", json={"content": "And Sunday?"},
                        headers=guest)
    assert [e.kind for e in parse_sse(again.get_data())][-1] == "done"
    history = upstream.completion_requests()[-1]["messages"]
    assert [m["content"] for m in history[2:]] == ["Are you open on Monday?", "We are open Tuesday to Sunday.",
                                                   "And Sunday?"]


def test_another_visitor_or_bot_cannot_use_a_conversation(client, owner, upstream):
    slug = owner.publish()
    other_slug = owner.publish()
    guest = visitor()
    cid = open_conversation(owner, slug, guest)
    for path, who in [(f"/api/public/bots/{slug}/conversations/{cid}/messages", visitor()),
                      (f"/api/public/bots/{other_slug}/conversations/{cid}/messages", guest),
                      (f"/api/public/bots/no-such-bot/conversations/{cid}/messages", guest),
                      (f"/api/public/bots/{slug}/conversations/c_{'x' * 22}/messages", guest)]:
        response = client.post(path, json={"content": "hello"}, headers=who)
        assert response.status_code == 404, path
    key_caller = mint("k_" + secrets.token_urlsafe(16), ("api-key",), "api-key")
    assert client.post(f"/api/public/bots/{slug}/conversations/{cid}/messages", json={"content": "hi"},
                       headers=key_caller).status_code == 403
    owner.call("PATCH", f"/api/bots/{slug}", 200, published=False)
    assert client.post(f"/api/public/bots/{slug}/conversations/{cid}/messages", json={"content": "hi"},
                       headers=guest).status_code == 404
    assert upstream.completion_requests() == []
    # the visitor's own conversation stays readable to them, and nothing was added to it
    assert owner.call("GET", f"/api/public/bots/{slug}/conversations/{cid}", 200, headers=guest)["messages"] == []


def test_an_exhausted_daily_budget_is_429_without_calling_the_model(client, owner, upstream, parse_sse):
    slug = owner.publish(daily_token_budget=10)
    guest = visitor()
    cid = open_conversation(owner, slug, guest)
    first = client.post(f"/api/public/bots/{slug}/conversations/{cid}/messages", json={"content": "Hello"},
                        headers=guest)
    assert [e.kind for e in parse_sse(first.get_data())][-1] == "done"
    assert owner.usage(slug)["remaining_today"] == 0
    upstream.clear_requests()

    refused = client.post(f"/api/public/bots/{slug}/conversations/{cid}/messages", json={"content": "Hello again"},
                          headers=guest)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "bot_budget_exhausted"
    assert refused.get_json()["error"]["message"].endswith(".")
    assert 1 <= int(refused.headers["Retry-After"]) <= 86400
    assert upstream.completion_requests() == []
    stored = owner.call("GET", f"/api/public/bots/{slug}/conversations/{cid}", 200, headers=guest)
    assert len(stored["messages"]) == 2  # nothing stored for the refused turn

    owner.call("PATCH", f"/api/bots/{slug}", 200, daily_token_budget=None)
    allowed = client.post(f"/api/public/bots/{slug}/conversations/{cid}/messages", json={"content": "Hello again"},
                          headers=guest)
    assert [e.kind for e in parse_sse(allowed.get_data())][-1] == "done"


# --- the OpenAI-compatible API, through the openai SDK ------------------------------------------------
@pytest.fixture(scope="module")
def chat_url(live_chat):
    # a small window, so that a request too long for the bot is cheap to make
    return live_chat(MODEL_CATALOG='[{"id": "gpt-4o-mini", "context_window": 4096}]').url


def sdk(chat_url: str, headers: dict, **options) -> openai.OpenAI:
    return openai.OpenAI(base_url=chat_url + "/v1", api_key="unused", default_headers=headers, **options)


def test_v1_streams_and_answers_as_the_bot_through_the_openai_sdk(chat_url, owner, upstream):
    slug = owner.publish(max_answer_tokens=40)
    _, caller = owner.key(slug)
    api = sdk(chat_url, caller)
    upstream.configure(answer="Matcha, sencha and gyokuro.")

    assert [m.id for m in api.models.list().data] == [slug]
    assert api.models.retrieve(slug).owned_by == "rolechat"

    stream = api.chat.completions.create(model=slug, stream=True, stream_options={"include_usage": True},
                                         max_tokens=5000, temperature=0.2,
                                         messages=[{"role": "system", "content": "Be brief."},
                                                   {"role": "user", "content": "Which teas do you sell?"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Matcha, sencha and gyokuro."
    assert all(c.model == slug and c.object == "chat.completion.chunk" for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    sent = upstream.completion_requests()[-1]
    assert usage is not None and usage.total_tokens == fake_usage(sent, text)
    assert sent["messages"][0] == {"role": "system", "content": INSTRUCTIONS}
    assert PIN in sent["messages"][1]["content"]
    assert sent["messages"][2:] == [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "Which teas do you sell?"}]
    assert sent["max_tokens"] == 40 and sent["temperature"] == 0.2 and sent["model"] != slug

    completion = api.chat.completions.create(model=slug, messages=[{"role": "user", "content": "Hi"}])
    assert completion.object == "chat.completion" and completion.model == slug
    assert completion.choices[0].message.content == "Matcha, sencha and gyokuro."
    assert completion.choices[0].finish_reason == "stop"
    plain = upstream.completion_requests()[-1]
    assert plain["stream"] is False and completion.usage.total_tokens == fake_usage(plain, text)

    counted = usage.total_tokens + completion.usage.total_tokens
    assert owner.usage(slug)["tokens_today"] == counted
    keys = owner.call("GET", f"/api/bots/{slug}/keys", 200)["keys"]
    assert keys[0]["usage_this_month"] == {"tokens": counted, "requests": 2}


def test_v1_streams_one_after_another_keep_their_connection_to_the_model(chat_url, owner, upstream):
    slug = owner.publish(max_answer_tokens=40)
    _, caller = owner.key(slug)
    upstream.configure(end_delay=0.1)  # as under load: the body's end comes after `data: [DONE]`
    api = sdk(chat_url, caller)
    for question in ("first", "second"):
        # Read to the end of the body (the SDK's own stream stops at `data: [DONE]`, and the next
        # request could start while chat still holds the first connection).
        with api.chat.completions.with_streaming_response.create(
                model=slug, stream=True, messages=[{"role": "user", "content": question}]) as response:
            lines = [line for line in response.iter_lines() if line]
        assert lines[-1] == "data: [DONE]" and '"finish_reason":"stop"' in "".join(lines)
    ports = [r["client_port"] for r in upstream.requests("/v1/chat/completions")]
    assert len(ports) == 2 and ports[0] and len(set(ports)) == 1, ports


def test_v1_refuses_other_bots_bad_requests_and_callers_without_a_key(chat_url, owner, upstream):
    slug = owner.publish()
    other = owner.publish()
    _, caller = owner.key(slug)
    api = sdk(chat_url, caller, max_retries=0)
    for model in (other, "gpt-4o-mini", "no-such-bot"):
        with pytest.raises(openai.NotFoundError) as refused:
            api.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}])
        assert refused.value.code == "model_not_found" and refused.value.body["param"] == "model"
    with pytest.raises(openai.NotFoundError):
        api.models.retrieve(other)
    with pytest.raises(openai.BadRequestError) as bad:
        api.chat.completions.create(model=slug, messages=[])
    assert bad.value.body["type"] == "invalid_request_error" and bad.value.body["param"] == "messages"
    with pytest.raises(openai.BadRequestError):
        api.chat.completions.create(model=slug, messages=[{"role": "user", "content": "Hi"}], temperature=5)
    with pytest.raises(openai.BadRequestError) as long:
        api.chat.completions.create(model=slug, messages=[{"role": "user", "content": "tea " * 5000}])
    assert long.value.code == "context_length_exceeded"
    with pytest.raises(openai.AuthenticationError):
        sdk(chat_url, visitor(), max_retries=0).chat.completions.create(
            model=slug, messages=[{"role": "user", "content": "Hi"}])
    assert upstream.completion_requests() == []


def test_v1_budget_exhausted_is_a_rate_limit_error_with_retry_after(chat_url, owner, upstream):
    slug = owner.publish(daily_token_budget=10)
    _, caller = owner.key(slug)
    api = sdk(chat_url, caller)
    first = api.chat.completions.create(model=slug, messages=[{"role": "user", "content": "Hello"}])
    assert first.usage.total_tokens >= 10
    upstream.clear_requests()
    for stream in (False, True):
        with pytest.raises(openai.RateLimitError) as limited:
            api.chat.completions.create(model=slug, stream=stream, messages=[{"role": "user", "content": "Hello"}])
        assert 1 <= int(limited.value.response.headers["retry-after"]) <= 86400
        assert limited.value.code == "rate_limit_exceeded"
    assert upstream.completion_requests() == []


def test_v1_streams_coalesce_deltas_as_the_browser_stream_does(live_chat, owner, upstream):
    """/v1 reads the model on the same ticks: at most one content chunk per SSE_COALESCE_MS, the
    first at once, the text unchanged."""
    import time

    url = live_chat(SSE_COALESCE_MS="100", MODEL_CATALOG='[{"id": "gpt-4o-mini", "context_window": 4096}]').url
    slug = owner.publish(max_answer_tokens=100)
    _, caller = owner.key(slug)
    upstream.configure(answer="tick", tokens=60, token_delay=0.005)
    started = time.monotonic()
    chunks = list(sdk(url, caller).chat.completions.create(
        model=slug, stream=True, messages=[{"role": "user", "content": "count"}]))
    elapsed = time.monotonic() - started
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(contents) == " ".join(["tick"] * 60)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert 1 <= len(contents) <= elapsed / 0.1 + 1, (len(contents), elapsed)
    assert len(contents) < 60, "sixty tokens did not become sixty chunks"
