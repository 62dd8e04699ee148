"""Parsing the model's raw SSE body (chat reads it without the SDK's typed chunk objects)."""
import json

import pytest

from chat.turns import UpstreamStreamError, read_chunks


def lines(*events: str) -> list[str]:
    out = []
    for event in events:
        out += event.split("\n") + [""]
    return out


def test_chunks_up_to_done_ignoring_comments_and_blank_lines():
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
    body = lines(": keep-alive", f"data: {json.dumps(chunk)}", "data:" + json.dumps({"choices": []}),
                 "data: [DONE]", f"data: {json.dumps(chunk)}")
    assert list(read_chunks(iter(body))) == [chunk, {"choices": []}]


def test_an_error_object_in_the_stream_raises():
    body = lines('data: {"error": {"message": "overloaded", "type": "server_error"}}')
    with pytest.raises(UpstreamStreamError):
        list(read_chunks(iter(body)))


def test_a_line_that_is_not_json_raises_value_error():
    with pytest.raises(ValueError):
        list(read_chunks(iter(["data: {not json"])))


def test_deltas_are_coalesced_into_at_most_one_event_per_interval(live_chat, who, upstream, parse_sse):
    """The first token goes out at once; after it, at most one delta event per SSE_COALESCE_MS."""
    import time

    import requests

    service = live_chat(SSE_COALESCE_MS="100")
    upstream.configure(tokens=60, token_delay=0.005)
    cid = requests.post(f"{service.url}/api/conversations", json={}, headers=who, timeout=5).json()["id"]
    started = time.monotonic()
    response = requests.post(f"{service.url}/api/conversations/{cid}/messages", json={"content": "count"},
                             headers=who, timeout=30)
    elapsed = time.monotonic() - started
    events = parse_sse(response.content)
    deltas = [e for e in events if e.kind == "delta"]
    assert events[-1].kind == "done"
    assert "".join(e.data["content"] for e in deltas) == events[-1].data["message"]["content"]
    assert 1 <= len(deltas) <= elapsed / 0.1 + 1, (len(deltas), elapsed)
    assert len(deltas) < 60, "sixty tokens did not become sixty events"
