"""The fake OpenAI-compatible upstream speaks the wire format the real one does, and obeys its controls."""
from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import openai
import pytest
import requests

from tests.support.fake_openai import start_fake_openai
from tests.support.processes import free_port


@pytest.fixture
def sdk(upstream, upstream_key):
    return openai.OpenAI(api_key=upstream_key, base_url=upstream.base_url, max_retries=0, timeout=10)


def raw_post(upstream, key: str, body: dict) -> tuple[int, dict, bytes]:
    parts = urlsplit(upstream.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body),
                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def test_stream_wire_format_matches_openai(upstream, upstream_key):
    status, headers, data = raw_post(upstream, upstream_key, {
        "model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hello there"}]})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    assert data.endswith(b"data: [DONE]\n\n")
    blocks = data.decode().split("\n\n")[:-1]
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks)
    chunks = [json.loads(b[6:]) for b in blocks[:-1]]
    assert blocks[-1] == "data: [DONE]"
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and ids.pop().startswith("chatcmpl-")
    for c in chunks:
        assert c["object"] == "chat.completion.chunk" and c["model"] == "gpt-4o-mini"
        assert isinstance(c["created"], int) and c["system_fingerprint"].startswith("fp_")
        assert "usage" in c
    first, *middle, last_choice, usage = chunks
    assert first["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None},
                                 "logprobs": None, "finish_reason": None}]
    assert all(c["choices"][0]["finish_reason"] is None and set(c["choices"][0]["delta"]) == {"content"}
               for c in middle)
    assert last_choice["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == len(middle)
    assert usage["usage"]["total_tokens"] == usage["usage"]["prompt_tokens"] + len(middle)
    text = "".join(c["choices"][0]["delta"]["content"] for c in middle)
    assert 'You said: "Hello there"' in text
    assert 15 <= len(middle) <= 30, "about twenty tokens by default"


def test_without_include_usage_there_is_no_usage_chunk(upstream, upstream_key):
    _, _, data = raw_post(upstream, upstream_key, {"model": "m", "stream": True,
                                                   "messages": [{"role": "user", "content": "hi"}]})
    chunks = [json.loads(b[6:]) for b in data.decode().split("\n\n")[:-2]]
    assert all("usage" not in c and c["choices"] for c in chunks)


def test_sdk_streaming_and_non_streaming(sdk, upstream):
    stream = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ping"}],
                                         stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith('You said: "ping".')
    assert chunks[-1].usage.completion_tokens > 0
    completion = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ping"}])
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == text
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    limited = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ping"}],
                                          max_tokens=2)
    assert limited.choices[0].message.content == "You said:" and limited.choices[0].finish_reason == "length"


def test_models_and_auth(sdk, upstream, upstream_key):
    assert [m.id for m in sdk.models.list()][:2] == ["gpt-4o-mini", "gpt-4o"]
    assert sdk.models.retrieve("gpt-4o").owned_by == "fake-openai"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("gpt-nope")
    response = requests.get(f"{upstream.base_url}/models", timeout=5)
    assert response.status_code == 401 and response.json()["error"]["type"] == "invalid_request_error"
    response = requests.get(f"{upstream.base_url}/models", headers={"Authorization": "Bearer sk-wrong"}, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                         "param": None, "code": "invalid_api_key"}}
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="sk-wrong", base_url=upstream.base_url, max_retries=0).models.list()
    assert [r["authorized"] for r in upstream.requests()][-2:] == [False, False]


def test_bad_requests_get_openai_errors(upstream, upstream_key):
    for body, param in (({"messages": [{"role": "user", "content": "x"}]}, None),
                        ({"model": "m", "messages": []}, "messages"),
                        ({"model": "m"}, "messages"),
                        ({"model": "m", "messages": [{"content": "no role"}]}, "messages")):
        status, _, data = raw_post(upstream, upstream_key, body)
        assert status == 400, body
        error = json.loads(data)["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param


def test_controls_script_answers_failures_and_one_shots(sdk, upstream):
    upstream.configure(answer="Scripted reply here.", token_delay=0.0)
    reply = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert reply.choices[0].message.content == "Scripted reply here."
    upstream.configure(answer=None, tokens=40)
    assert reply.usage is not None
    reply = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert reply.usage.completion_tokens == 40
    upstream.configure(fail_status=429, fail_count=1, retry_after_ms=5)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["code"] == "rate_limit_exceeded"
    assert sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}]).choices
    upstream.next(fail_status=500)
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["type"] == "server_error"
    assert sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}]).choices
    upstream.configure(strict_models=True)
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="gpt-unknown", messages=[{"role": "user", "content": "x"}])
    bodies = upstream.completion_requests()
    assert bodies[0] == {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(RuntimeError):
        upstream.configure(no_such_setting=1)


def test_cut_stream_is_a_connection_error_for_the_sdk(sdk, upstream):
    upstream.configure(cut_after=4)
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert len([r for r in received if r]) == 4
    [stream] = upstream.streams()
    assert stream["cut"] and stream["tokens_sent"] == 4 and not stream["finished"]


@pytest.mark.parametrize("where", ["between tokens", "before the first token"])
def test_a_client_hanging_up_is_noticed_within_a_second(sdk, upstream, where):
    if where == "between tokens":
        upstream.configure(tokens=100, token_delay=0.3)
    else:
        upstream.configure(first_token_delay=30)
    stream = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
    if where == "between tokens":
        chunks = iter(stream)
        next(chunks), next(chunks)
    closed_at = time.time()
    stream.close()
    record = upstream.wait_for_stream(lambda s: s["cancelled"], timeout=3)
    assert record["ended_at"] - closed_at < 1.0
    assert not record["finished"] and record["tokens_sent"] < 100


def test_many_concurrent_streams(upstream, upstream_key):
    upstream.configure(token_delay=0.01)

    def one(i: int) -> str:
        client = openai.OpenAI(api_key=upstream_key, base_url=upstream.base_url, max_retries=0)
        chunks = client.chat.completions.create(model="m", stream=True,
                                                messages=[{"role": "user", "content": f"number {i}"}])
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(one, range(100)))
    assert all(f'"number {i}"' in a for i, a in enumerate(answers))
    assert time.monotonic() - started < 10
    streams = upstream.streams()
    assert len(streams) == 100 and all(s["finished"] for s in streams)


def test_runs_on_a_chosen_port_and_accepts_any_key_when_asked():
    port = free_port()
    fake = start_fake_openai(None, port=port)
    try:
        assert fake.base_url == f"http://127.0.0.1:{port}/v1"
        client = openai.OpenAI(api_key="anything", base_url=fake.base_url, max_retries=0)
        assert client.models.list().data
    finally:
        fake.stop()
    assert fake.proc.poll() is not None
