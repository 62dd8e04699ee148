"""Streaming as it runs in production: chat under gunicorn with gevent workers, real sockets.

Heartbeats on a silent model, a client that hangs up mid-answer (the upstream call must stop within
a second and the partial answer be kept as interrupted), the stream time cap, many streams at once.
"""
from __future__ import annotations

import http.client
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

SECRET_MARKER = "my-private-question-7f3a"


class LiveStream:
    """A raw HTTP client for one turn, so the test decides exactly when the connection closes."""

    def __init__(self, base_url: str, cid: str, content: str, headers: dict, parse_sse):
        parts = urlsplit(base_url)
        self.parse_sse = parse_sse
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.conn.request("POST", f"/api/conversations/{cid}/messages", body=json.dumps({"content": content}),
                          headers={"Content-Type": "application/json", **headers})
        self.response = self.conn.getresponse()
        self.buffer = b""

    def events(self):
        """(arrival time, event) pairs as they come."""
        while True:
            while b"\n\n" in self.buffer:
                block, self.buffer = self.buffer.split(b"\n\n", 1)
                for event in self.parse_sse(block + b"\n\n"):
                    yield time.monotonic(), event
            chunk = self.response.read1(65536)
            if not chunk:
                return
            self.buffer += chunk

    def hang_up(self) -> float:
        """Close the connection the way a browser tab does; returns the wall-clock time."""
        closed_at = time.time()
        self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()
        return closed_at


@pytest.fixture(scope="module")
def live_service(live_chat):
    return live_chat()


@pytest.fixture(scope="module")
def chat_url(live_service):
    return live_service.url


def create(url: str, headers: dict, **fields) -> str:
    response = requests.post(f"{url}/api/conversations", json=fields, headers=headers, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def test_deltas_then_done_through_gunicorn(chat_url, who, user_id, upstream, memory, parse_sse):
    cid = create(chat_url, who, instructions="Answer briefly.")
    stream = LiveStream(chat_url, cid, "Hello from a real socket", who, parse_sse)
    assert stream.response.status == 200
    assert stream.response.getheader("Content-Type").startswith("text/event-stream")
    assert stream.response.getheader("Cache-Control") == "no-cache"
    assert stream.response.getheader("X-Accel-Buffering") == "no"
    events = [event for _, event in stream.events()]
    text = "".join(e.data["content"] for e in events if e.kind == "delta")
    assert 'You said: "Hello from a real socket"' in text
    assert events[-1].kind == "done" and events[-1].data["message"]["content"] == text
    assert [(m["role"], m["status"]) for m in memory.messages(user_id, cid)] == [
        ("user", "complete"), ("assistant", "complete")]
    assert upstream.completion_requests()[-1]["messages"][0] == {"role": "system", "content": "Answer briefly."}


def test_turns_one_after_another_reuse_one_connection_to_the_model(chat_url, who, upstream, parse_sse):
    # A response closed with its end unread would close the connection, and every turn would pay
    # for a new one (with a real provider, a TLS handshake).
    cid = create(chat_url, who)
    for question in ("first", "second", "third"):
        events = [event for _, event in LiveStream(chat_url, cid, question, who, parse_sse).events()]
        assert events[-1].kind == "done"
    ports = [r["client_port"] for r in upstream.requests("/v1/chat/completions")]
    assert len(ports) == 3 and ports[0] and len(set(ports)) == 1, ports


def test_a_body_that_ends_a_moment_after_its_last_event_still_leaves_its_connection_for_the_next_turn(
        chat_url, who, upstream, parse_sse):
    upstream.configure(end_delay=0.1)  # as under load: the body's end comes after `data: [DONE]`
    cid = create(chat_url, who)
    for question in ("first", "second"):
        events = [event for _, event in LiveStream(chat_url, cid, question, who, parse_sse).events()]
        assert events[-1].kind == "done"
    ports = [r["client_port"] for r in upstream.requests("/v1/chat/completions")]
    assert len(ports) == 2 and ports[0] and len(set(ports)) == 1, ports


def test_heartbeat_comments_while_the_model_is_silent(chat_url, who, upstream, parse_sse):
    upstream.configure(first_token_delay=3.5)
    cid = create(chat_url, who)
    stream = LiveStream(chat_url, cid, "are you there?", who, parse_sse)
    started = time.monotonic()
    arrivals = []
    first_delta = None
    for at, event in stream.events():
        if event.kind == "delta" and first_delta is None:
            first_delta = at
        arrivals.append((at, event))
    beats = [at for at, event in arrivals if event.kind == "comment" and event.data == "keep-alive"]
    assert beats and beats[0] - started < 0.5, "the stream opens at once, before the model speaks"
    silent = [started] + [at for at in beats if at < first_delta] + [first_delta]
    assert len(silent) >= 5, f"expected a heartbeat every second over 3.5 s of silence, got {len(silent) - 2}"
    assert max(b - a for a, b in zip(silent, silent[1:])) < 1.6, "never silent much longer than 1 s"
    assert arrivals[-1][1].kind == "done"


def test_user_message_is_stored_while_the_model_is_still_thinking(chat_url, who, user_id, upstream, memory,
                                                                 parse_sse):
    upstream.configure(first_token_delay=1.5)
    cid = create(chat_url, who)
    stream = LiveStream(chat_url, cid, "stored first?", who, parse_sse)
    events = stream.events()
    next(events)  # the stream is open; the model has not said anything yet
    stored = memory.messages(user_id, cid)
    assert [(m["role"], m["content"]) for m in stored] == [("user", "stored first?")]
    wait_for(lambda: upstream.requests("/v1/chat/completions"), 2, "the model call")
    assert [(m["role"], m["content"]) for m in memory.messages(user_id, cid)] == [("user", "stored first?")]
    assert list(events)[-1][1].kind == "done"


def test_hang_up_mid_answer_stops_the_upstream_and_keeps_the_partial(chat_url, who, user_id, upstream, memory,
                                                                     parse_sse):
    upstream.configure(tokens=200, token_delay=0.1)
    cid = create(chat_url, who)
    stream = LiveStream(chat_url, cid, "tell me a long story", who, parse_sse)
    received = ""
    deltas = 0
    for _, event in stream.events():
        if event.kind == "delta":
            received += event.data["content"]
            deltas += 1
            if deltas == 3:
                break
    closed_at = stream.hang_up()
    upstream_stream = upstream.wait_for_stream(lambda s: s["cancelled"], timeout=5)
    assert upstream_stream["ended_at"] - closed_at < 1.0, "the upstream call stopped within a second"
    assert not upstream_stream["finished"] and upstream_stream["tokens_sent"] < 200

    def interrupted():
        messages = memory.messages(user_id, cid)
        return messages[-1] if messages[-1]["role"] == "assistant" else None
    answer = wait_for(interrupted, 5, "storing the partial answer")
    assert answer["status"] == "interrupted"
    assert answer["content"].startswith(received) and len(answer["content"]) < 200 * 3


def test_hang_up_before_the_model_speaks(chat_url, who, user_id, upstream, memory, parse_sse):
    upstream.configure(first_token_delay=20)
    cid = create(chat_url, who)
    stream = LiveStream(chat_url, cid, "never mind", who, parse_sse)
    next(stream.events())
    wait_for(lambda: upstream.streams(), 5, "the upstream call")
    closed_at = stream.hang_up()
    upstream_stream = upstream.wait_for_stream(lambda s: s["cancelled"], timeout=5)
    assert upstream_stream["ended_at"] - closed_at < 1.0
    answer = wait_for(lambda: memory.messages(user_id, cid)[1:], 5, "storing the empty answer")[0]
    assert (answer["role"], answer["content"], answer["status"]) == ("assistant", "", "interrupted")


def test_stream_is_capped_at_max_stream_seconds(live_chat, who, user_id, upstream, memory, parse_sse):
    url = live_chat(MAX_STREAM_SECONDS="1.5").url
    upstream.configure(tokens=100, token_delay=0.1)
    cid = create(url, who)
    started = time.monotonic()
    events = [event for _, event in LiveStream(url, cid, "go on forever", who, parse_sse).events()]
    assert time.monotonic() - started < 4
    assert events[-1].kind == "error" and events[-1].data["code"] == "time_limit"
    upstream.wait_for_stream(lambda s: s["cancelled"], timeout=3)
    answer = memory.messages(user_id, cid)[-1]
    assert answer["role"] == "assistant" and answer["status"] == "interrupted" and answer["content"]


def test_many_streams_at_once(chat_url, headers_for, upstream, parse_sse):
    upstream.configure(token_delay=0.02, first_token_delay=0.2)

    def one_turn(i: int) -> str:
        who = headers_for(f"crowd-{i}-{time.time_ns()}")
        cid = create(chat_url, who)
        response = requests.post(f"{chat_url}/api/conversations/{cid}/messages", json={"content": f"question {i}"},
                                 headers=who, timeout=30)
        events = parse_sse(response.content)
        assert events[-1].kind == "done", events[-1]
        return "".join(e.data["content"] for e in events if e.kind == "delta")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(one_turn, range(30)))
    assert all(f'"question {i}"' in answer for i, answer in enumerate(answers))
    single = 0.2 + 0.02 * 25
    assert time.monotonic() - started < single * 30 / 3, "streams are served concurrently"


def test_logs_hold_no_message_content_or_keys(live_service, chat_url, who, upstream, upstream_key, parse_sse):
    cid = create(chat_url, who, instructions="role text " + SECRET_MARKER)
    events = [e for _, e in LiveStream(chat_url, cid, "question " + SECRET_MARKER, who, parse_sse).events()]
    assert events[-1].kind == "done"
    upstream.configure(fail_status=401)
    events = [e for _, e in LiveStream(chat_url, cid, "again " + SECRET_MARKER, who, parse_sse).events()]
    assert events[-1].kind == "error" and events[-1].data["code"] == "upstream_auth"
    logs = live_service.log_text()
    assert '"msg": "turn"' in logs, "turns are logged"
    assert SECRET_MARKER not in logs
    assert upstream_key not in logs
    assert who["X-Rolechat-Identity"] not in logs


def test_turns_reuse_one_keep_alive_connection(chat_url, who, upstream, live_service):
    """As the auth-proxy's connection pool does: several turns, one after another, on one connection."""
    cid = create(chat_url, who)
    with requests.Session() as session:
        for i in range(5):
            response = session.post(f"{chat_url}/api/conversations/{cid}/messages", json={"content": f"turn {i}"},
                                    headers=who, timeout=10)
            assert response.status_code == 200
            assert b"event: done" in response.content
            time.sleep(0.05)  # the next request arrives after the server is back to waiting for one
    assert "ConcurrentObjectUseError" not in live_service.log_text()
