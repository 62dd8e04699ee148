"""Parsing the model's raw SSE body (chat reads it without the SDK's typed chunk objects)."""
import json

import pytest

from chat.turns import UpstreamStreamError, read_chunks


def body(*events: str, newline: str = "\n") -> bytes:
    """An SSE body: each event's lines, then a blank line."""
    return "".join(newline.join(event.split("\n")) + newline * 2 for event in events).encode()


CHUNK = {"choices": [{"index": 0, "delta": {"content": "Hi – ünïcode ✓"}, "finish_reason": None}]}
STREAM = (": keep-alive", f"data: {json.dumps(CHUNK, ensure_ascii=False)}", "data:" + json.dumps({"choices": []}),
          "data: [DONE]", f"data: {json.dumps(CHUNK)}")


def test_chunks_up_to_done_ignoring_comments_and_blank_lines():
    assert list(read_chunks(iter([body(*STREAM)]))) == [CHUNK, {"choices": []}]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_lines_split_anywhere_across_reads_are_put_back_together(newline):
    """A read can end in the middle of a line, of a CRLF, or of a UTF-8 character."""
    raw = body(*STREAM, newline=newline)
    for size in (1, 2, 3, 7, 64):
        pieces = [raw[i:i + size] for i in range(0, len(raw), size)]
        assert list(read_chunks(iter(pieces))) == [CHUNK, {"choices": []}], size


def test_a_last_line_without_its_newline_is_still_read():
    raw = b"data: " + json.dumps(CHUNK).encode()
    assert list(read_chunks(iter([raw[:10], raw[10:]]))) == [CHUNK]


def test_an_error_object_in_the_stream_raises():
    with pytest.raises(UpstreamStreamError):
        list(read_chunks(iter([body('data: {"error": {"message": "overloaded", "type": "server_error"}}')])))


def test_a_line_that_is_not_json_raises_value_error():
    with pytest.raises(ValueError):
        list(read_chunks(iter([b"data: {not json\n\n"])))


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
