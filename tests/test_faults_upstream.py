"""Fault drills at the model provider: 429, 500 and timeouts before the first token, and an answer
cut off in the middle. Real processes throughout: the module's own stack, with a short
UPSTREAM_READ_TIMEOUT_SECONDS so a timeout takes seconds, and its own fake upstream.

What chat does, asserted precisely: the official SDK retries a failed request twice (three
requests reach the provider) with a growing backoff, then the person gets one `error` event with a
stable code and our own message (never the provider's text), and the turn is stored as `failed`.
An answer cut off mid-stream is stored as `failed` with the part already sent.
"""
from __future__ import annotations

import time

import openai
import pytest
import requests

from tests.support.bots import new_key, publish, sdk
from tests.support.fake_openai import start_fake_openai
from tests.support.sse import Event, iter_sse
from tests.support.stack import UPSTREAM_KEY, Stack

READ_TIMEOUT = 1.5        # UPSTREAM_READ_TIMEOUT_SECONDS of this module's chat
SDK_ATTEMPTS = 3          # the first request and the SDK's two retries (chat sets max_retries=2)
TIMEOUT = (5, 5)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    fake = start_fake_openai(api_key=UPSTREAM_KEY,
                             log_path=tmp_path_factory.mktemp("faults-fake-upstream") / "fake.log")
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory, upstream):
    stack = Stack(tmp_path_factory.mktemp("faults-upstream"), upstream.base_url,
                  chat_env={"UPSTREAM_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT)})
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def person(own_stack):
    with own_stack.login("upstreamdrills") as session:
        yield session


@pytest.fixture
def fake(upstream):
    upstream.reset()
    return upstream


def ask(stack: Stack, session: requests.Session, question: str, *, within: float = 30) -> tuple[str, list[Event]]:
    """A new conversation, one question; (conversation id, every event of the answer)."""
    created = session.post(f"{stack.edge}/api/conversations", json={}, timeout=5)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    deadline = time.monotonic() + within
    response = session.post(f"{stack.edge}/api/conversations/{cid}/messages", json={"content": question},
                            stream=True, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    events = []
    with response:
        for event in iter_sse(response.iter_content(chunk_size=None)):
            events.append(event)
            if event.kind in ("done", "error"):
                break
            assert time.monotonic() < deadline, f"no end after {within}s: {[e.kind for e in events]}"
    return cid, events


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events if e.kind != "comment"]


def stored(stack: Stack, session: requests.Session, cid: str) -> list[dict]:
    response = session.get(f"{stack.edge}/api/conversations/{cid}", timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def attempts(fake) -> list[float]:
    """When each chat completion request reached the provider."""
    return [r["at"] for r in fake.requests("/v1/chat/completions")]


@pytest.mark.parametrize("status, code, provider_text", [
    (429, "upstream_rate_limited", "Rate limit reached"),
    (500, "upstream_error", "Sorry about that"),
])
def test_provider_error_before_the_first_token_retries_twice_with_backoff_then_fails_clearly(
        own_stack, person, fake, status, code, provider_text):
    fake.configure(fail_status=status)
    started = time.monotonic()
    cid, events = ask(own_stack, person, "hello?")
    assert time.monotonic() - started < 10

    assert kinds(events) == ["error"]
    error = events[-1].data
    assert error["code"] == code and error["message"]
    assert provider_text not in error["message"], "the provider's own text is never passed on"

    at = attempts(fake)
    assert len(at) == SDK_ATTEMPTS, "bounded: the first request and two retries"
    first_wait, second_wait = at[1] - at[0], at[2] - at[1]
    assert first_wait >= 0.3 and second_wait > first_wait, f"a growing backoff: {first_wait:.2f}, {second_wait:.2f}"

    messages = stored(own_stack, person, cid)
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "failed")]
    assert messages[0]["content"] == "hello?" and messages[1]["content"] == ""


def test_a_provider_error_that_passes_within_the_retries_is_invisible(own_stack, person, fake):
    fake.configure(fail_status=500, fail_count=2, answer="all good in the end")
    cid, events = ask(own_stack, person, "will it work?")
    assert kinds(events)[-1] == "done"
    assert events[-1].data["message"]["content"] == "all good in the end"
    assert len(attempts(fake)) == SDK_ATTEMPTS
    assert [(m["role"], m["status"]) for m in stored(own_stack, person, cid)] == [
        ("user", "complete"), ("assistant", "complete")]


def test_no_response_before_the_read_timeout_retries_twice_then_fails_clearly(own_stack, person, fake):
    fake.configure(response_delay=READ_TIMEOUT * 2)  # not even the response headers in time
    started = time.monotonic()
    cid, events = ask(own_stack, person, "anyone there?")
    took = time.monotonic() - started
    assert kinds(events) == ["error"]
    assert events[-1].data["code"] == "upstream_timeout" and events[-1].data["message"]
    assert len(attempts(fake)) == SDK_ATTEMPTS
    assert SDK_ATTEMPTS * READ_TIMEOUT <= took < SDK_ATTEMPTS * READ_TIMEOUT + 6
    assert sum(1 for e in events if e.kind == "comment") >= SDK_ATTEMPTS, "heartbeats while waiting"
    messages = stored(own_stack, person, cid)
    assert [(m["role"], m["status"], m["content"]) for m in messages] == [
        ("user", "complete", "anyone there?"), ("assistant", "failed", "")]


def test_silence_after_the_headers_before_the_first_token_fails_clearly(own_stack, person, fake):
    # The provider answered 200 but sends no token within the read timeout. The SDK cannot retry a
    # response it already has; chat gives up after the read timeout.
    fake.configure(first_token_delay=READ_TIMEOUT * 4)
    started = time.monotonic()
    cid, events = ask(own_stack, person, "say something")
    assert time.monotonic() - started < READ_TIMEOUT * SDK_ATTEMPTS + 6
    assert kinds(events) == ["error"]
    assert events[-1].data["code"] == "upstream_timeout"
    assert 1 <= len(attempts(fake)) <= SDK_ATTEMPTS
    assert [(m["role"], m["status"], m["content"]) for m in stored(own_stack, person, cid)] == [
        ("user", "complete", "say something"), ("assistant", "failed", "")]


def test_silence_in_the_middle_of_an_answer_fails_clearly_and_keeps_the_partial_answer(own_stack, person, fake):
    # Past the headers chat reads the body without a socket timeout and watches the silence itself.
    fake.configure(answer="one two three four five six", token_delay=0.05, stall_after=3, stall_seconds=30)
    started = time.monotonic()
    cid, events = ask(own_stack, person, "count slowly")
    took = time.monotonic() - started
    received = "".join(e.data["content"] for e in events if e.kind == "delta")
    assert received == "one two three"
    assert kinds(events)[-1] == "error" and events[-1].data["code"] == "upstream_timeout"
    assert READ_TIMEOUT <= took < READ_TIMEOUT + 3, f"gave up after {took:.1f} s"
    wait_until_cancelled = time.monotonic() + 5
    while not fake.streams()[0].get("cancelled") and time.monotonic() < wait_until_cancelled:
        time.sleep(0.05)
    assert fake.streams()[0]["cancelled"], "chat closed the silent stream"
    assert len(attempts(fake)) == 1, "an answer already under way is not asked again"
    messages = stored(own_stack, person, cid)
    assert [(m["role"], m["status"], m["content"]) for m in messages] == [
        ("user", "complete", "count slowly"), ("assistant", "failed", received)]


def test_an_answer_cut_off_mid_stream_gives_an_error_and_keeps_the_partial_answer_as_failed(
        own_stack, person, fake):
    words = [f"word{i}" for i in range(20)]
    fake.configure(answer=" ".join(words), token_delay=0.05, cut_after=5)
    cid, events = ask(own_stack, person, "tell me twenty words")

    received = "".join(e.data["content"] for e in events if e.kind == "delta")
    assert received == " ".join(words[:5])
    assert kinds(events)[-1] == "error"
    assert events[-1].data["code"] == "upstream_error" and events[-1].data["message"]
    assert [s["cut"] for s in fake.streams()] == [True]
    assert len(attempts(fake)) == 1, "an answer already under way is not asked again"

    messages = stored(own_stack, person, cid)
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "failed")]
    assert messages[1]["content"] == received, "the partial answer is kept, marked failed"


def test_silence_mid_answer_on_the_openai_compatible_api_ends_the_stream_with_an_error(own_stack, person, fake):
    publish(own_stack, person, "silent-shop")
    client = sdk(own_stack, new_key(own_stack, person, "silent-shop")["key"])
    fake.configure(answer="one two three four five six", token_delay=0.05, stall_after=3, stall_seconds=30)
    started = time.monotonic()
    stream = client.chat.completions.create(model="silent-shop", stream=True,
                                            messages=[{"role": "user", "content": "count slowly"}])
    received = []
    with pytest.raises(openai.APIError) as failure:
        for chunk in stream:
            received += [c.delta.content or "" for c in chunk.choices]
    assert "".join(received) == "one two three"
    assert failure.value.code == "upstream_timeout"
    assert READ_TIMEOUT <= time.monotonic() - started < READ_TIMEOUT + 3
