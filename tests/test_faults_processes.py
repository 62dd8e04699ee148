"""Fault drills with real processes: kill -9 of memory and of Redis mid-stream, SIGTERM to chat and
to the auth-proxy with 50 streams open, and the ALB key endpoint out of reach.

Every drill here kills or stops a process, so the module runs its own stack (and its own fake
upstream), never the session's. A drill restores what it broke; the `drill_stack` fixture also
restarts any process a failed drill left dead, so one failure does not cascade.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from local_edge import alb_token
from local_edge.keys import load_or_create

from tests.support.fake_openai import start_fake_openai
from tests.support.processes import Service, wait_until
from tests.support.sse import Event, iter_sse
from tests.support.stack import (
    ALB_ARN,
    COGNITO_CLIENT_ID,
    COGNITO_ISSUER,
    UPSTREAM_KEY,
    Stack,
)

GRACEFUL_SECONDS = 7      # gunicorn's graceful_timeout for chat and the auth-proxy in these drills
PROXY_READ_TIMEOUT = 3    # PROXY_READ_TIMEOUT_SECONDS of the frozen-chat drill's own auth-proxy
STREAMS = 50              # concurrent clients in the SIGTERM drills
ANSWER_TOKENS, TOKEN_DELAY = 20, 0.15   # each answer streams for about 3 s
ACCEPT_WINDOW = 1.5       # gunicorn's worker notices SIGTERM within a second; later connections are refused
TIMEOUT = (5, 5)          # connect, read: heartbeats come every second, so a 5 s silence is a hang


# --- the drills' own stack ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    fake = start_fake_openai(api_key=UPSTREAM_KEY, log_path=tmp_path_factory.mktemp("faults-fake") / "fake.log")
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory, upstream):
    graceful = {"GRACEFUL_TIMEOUT_SECONDS": str(GRACEFUL_SECONDS)}
    stack = Stack(tmp_path_factory.mktemp("faults-processes"), upstream.base_url,
                  chat_env=graceful, proxy_env=graceful)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def drill_stack(own_stack, upstream):
    """The module's stack with every process running and the fake upstream at its defaults."""
    if own_stack.redis.proc.poll() is not None:
        own_stack.redis.start()
    for service in own_stack.services.values():
        if service.proc.poll() is not None:
            service.start()
    upstream.reset()
    return own_stack


# --- helpers ------------------------------------------------------------------------------------------
def alb_headers(stack: Stack, user: str, *, kid: str | None = None, key=None) -> dict:
    """The identity header the ALB would add, signed with the edge's key (or the given one)."""
    edge_key = load_or_create(stack.workdir / "edge")
    exp = int(time.time()) + 600
    header = alb_token.alb_header(kid=kid or edge_key.kid, issuer=COGNITO_ISSUER, client_id=COGNITO_CLIENT_ID,
                                  signer=ALB_ARN, exp=exp)
    payload = alb_token.alb_payload(sub=f"drill-{user}", username=user, email=f"{user}@example.com",
                                    issuer=COGNITO_ISSUER, exp=exp)
    # Connection: close, so no idle connection of ours keeps a draining server waiting
    return {"x-amzn-oidc-data": alb_token.sign(header, payload, key or edge_key.private_key), "Connection": "close"}


def events_until_end(events: Iterator[Event], *, within: float) -> list[Event]:
    """The rest of a live stream, up to its `done` or `error` (or until the server closes it)."""
    deadline = time.monotonic() + within
    seen = []
    for event in events:
        seen.append(event)
        if event.kind in ("done", "error"):
            break
        assert time.monotonic() < deadline, f"the stream was still open after {within}s: {kinds(seen)}"
    return seen


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events if e.kind != "comment"]


def text_of(events: list[Event]) -> str:
    return "".join(e.data["content"] for e in events if e.kind == "delta")


def until_first_delta(events: Iterator[Event], *, within: float = 10) -> list[Event]:
    deadline = time.monotonic() + within
    seen = []
    for event in events:
        seen.append(event)
        if event.kind == "delta":
            return seen
        assert event.kind == "comment", f"the stream ended before the answer began: {event}"
        assert time.monotonic() < deadline, "no answer began"
    raise AssertionError(f"the stream ended before the answer began: {kinds(seen)}")


def new_conversation(session: requests.Session, base: str, headers: dict | None = None) -> str:
    response = session.post(f"{base}/api/conversations", json={}, headers=headers, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def complete_turn(session: requests.Session, base: str, cid: str, content: str) -> dict:
    """One whole turn; the `done` event's stored answer."""
    response = session.post(f"{base}/api/conversations/{cid}/messages", json={"content": content},
                            stream=True, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    with response:
        events = events_until_end(iter_sse(response.iter_content(chunk_size=None)), within=20)
    assert events[-1].kind == "done", kinds(events)
    return events[-1].data["message"]


def stored_messages(session: requests.Session, base: str, cid: str, *, within: float = 15) -> list[dict]:
    """The conversation's messages, polling while storage is still coming back (503)."""
    def read():
        response = session.get(f"{base}/api/conversations/{cid}", timeout=5)
        return response.json()["messages"] if response.status_code == 200 else None
    return wait_until(read, within, "the conversation to be readable", interval=0.1)


def wait_exit(service: Service, within: float) -> float:
    """Seconds until the service's process exited; fails if it is still running after `within`."""
    started = time.monotonic()
    service.proc.wait(within)
    return time.monotonic() - started


def pids(stack: Stack) -> dict[str, int]:
    return {name: service.pid for name, service in stack.services.items()}


# --- kill -9 of memory and of Redis in the middle of an answer ----------------------------------------
def test_a_frozen_chat_mid_stream_is_given_up_after_the_proxy_read_timeout(drill_stack, upstream, tmp_path):
    # The auth-proxy reads a stream's body without a socket timeout and watches its silence
    # instead: a chat that stops answering (here SIGSTOP) ends the client's stream after
    # PROXY_READ_TIMEOUT_SECONDS, not never. Its own auth-proxy, so the other drills keep the
    # default (chat's patient store of an answer may outlast a short limit).
    stack, chat = drill_stack, drill_stack.services["chat"]
    env = {k: v for k, v in stack.services["auth-proxy"].env.items() if k != "PORT"}
    proxy = Service("auth-proxy-short-read", "auth_proxy:create_app()",
                    {**env, "PROXY_READ_TIMEOUT_SECONDS": str(PROXY_READ_TIMEOUT)}, tmp_path).start()
    try:
        headers = alb_headers(stack, "frozenchat")
        session = requests.Session()
        cid = new_conversation(session, proxy.url, headers)
        upstream.configure(tokens=ANSWER_TOKENS, token_delay=TOKEN_DELAY)
        response = session.post(f"{proxy.url}/api/conversations/{cid}/messages", json={"content": "are you there?"},
                                headers=headers, stream=True, timeout=(5, 30))
        assert response.status_code == 200
        try:
            with response:
                events = iter_sse(response.iter_content(chunk_size=None))
                until_first_delta(events)
                os.killpg(chat.pid, signal.SIGSTOP)  # the master and its worker
                frozen_at = time.monotonic()
                rest = list(events)
                ended_after = time.monotonic() - frozen_at
        finally:
            os.killpg(chat.pid, signal.SIGCONT)
        assert PROXY_READ_TIMEOUT - 0.5 <= ended_after < PROXY_READ_TIMEOUT + 3, f"ended {ended_after:.1f} s after the freeze"
        assert all(e.kind in ("comment", "delta") for e in rest), [e.kind for e in rest]
        assert "went silent" in proxy.log_text()
    finally:
        proxy.stop()
    upstream.configure(tokens=3, token_delay=0)
    fresh = stack.login("frozenchat-after")
    complete_turn(fresh, stack.edge, new_conversation(fresh, stack.edge), "and now?")  # chat, thawed, answers


@pytest.mark.parametrize("back_before_the_end", [False, True], ids=["down-until-the-end", "back-mid-stream"])
def test_kill_9_of_memory_mid_stream_loses_no_acknowledged_message(drill_stack, upstream, back_before_the_end):
    stack, memory = drill_stack, drill_stack.services["memory"]
    session = stack.login(f"memkill{int(back_before_the_end)}")
    cid = new_conversation(session, stack.edge)
    earlier = complete_turn(session, stack.edge, cid, "an earlier question")

    upstream.configure(tokens=ANSWER_TOKENS, token_delay=TOKEN_DELAY)
    response = session.post(f"{stack.edge}/api/conversations/{cid}/messages", json={"content": "mid-stream question"},
                            stream=True, timeout=TIMEOUT)
    assert response.status_code == 200  # the question is stored: acknowledged
    with response:
        events = iter_sse(response.iter_content(chunk_size=None))
        seen = until_first_delta(events)
        memory.kill9()
        if back_before_the_end:
            memory.start()  # same port: chat and the auth-proxy find it again
        seen += events_until_end(events, within=20)

    final = seen[-1]
    if back_before_the_end:
        assert final.kind == "done", kinds(seen)
        assert final.data["message"]["content"] == text_of(seen)
    else:  # the answer could not be saved: a clear error, not a hang and not a false `done`
        assert (final.kind, final.data["code"]) == ("error", "storage_unavailable"), kinds(seen)
        assert final.data["message"]
        memory.start()

    messages = stored_messages(session, stack.edge, cid)
    assert [(m["role"], m["content"], m["status"]) for m in messages[:3]] == [
        ("user", "an earlier question", "complete"),
        ("assistant", earlier["content"], "complete"),
        ("user", "mid-stream question", "complete")]
    assert messages[1]["id"] == earlier["id"]
    if back_before_the_end:
        assert [(m["role"], m["status"], m["content"]) for m in messages[3:]] == [
            ("assistant", "complete", text_of(seen))]
    else:
        assert len(messages) == 3, "nothing half-stored: the unsaved answer is simply absent"


@pytest.mark.parametrize("back_before_the_end", [False, True], ids=["down-until-the-end", "back-mid-stream"])
def test_kill_9_of_redis_mid_stream_gives_503_then_recovers_without_restarts(drill_stack, upstream,
                                                                             back_before_the_end):
    stack = drill_stack
    session = stack.login(f"rediskill{int(back_before_the_end)}")
    cid = new_conversation(session, stack.edge)
    earlier = complete_turn(session, stack.edge, cid, "remember the number 4711")
    before = pids(stack)

    upstream.configure(tokens=ANSWER_TOKENS, token_delay=TOKEN_DELAY)
    response = session.post(f"{stack.edge}/api/conversations/{cid}/messages", json={"content": "and now?"},
                            stream=True, timeout=TIMEOUT)
    assert response.status_code == 200
    with response:
        events = iter_sse(response.iter_content(chunk_size=None))
        seen = until_first_delta(events)
        stack.redis.kill9()
        started = time.monotonic()
        down = session.get(f"{stack.edge}/api/conversations", timeout=10)
        assert time.monotonic() - started < 5, "storage down is answered at once, not after a hang"
        assert down.status_code == 503, down.text
        assert down.headers.get("Retry-After", "").isdigit()
        assert down.json()["error"]["code"] == "unavailable"
        if back_before_the_end:
            stack.redis.start()  # same port, same directory: the append-only file is read back
        seen += events_until_end(events, within=20)

    final = seen[-1]
    if back_before_the_end:
        assert final.kind == "done", kinds(seen)
    else:
        assert (final.kind, final.data["code"]) == ("error", "storage_unavailable"), kinds(seen)
        stack.redis.start()

    messages = stored_messages(session, stack.edge, cid)  # memory reconnects by itself
    assert pids(stack) == before, "recovery needs no service restart"
    assert [(m["role"], m["content"], m["status"]) for m in messages[:3]] == [
        ("user", "remember the number 4711", "complete"),
        ("assistant", earlier["content"], "complete"),
        ("user", "and now?", "complete")]
    if back_before_the_end:
        assert [(m["role"], m["status"], m["content"]) for m in messages[3:]] == [
            ("assistant", "complete", text_of(seen))]
    else:
        assert len(messages) == 3
    listed = session.get(f"{stack.edge}/api/conversations", timeout=5)
    assert listed.status_code == 200 and cid in [c["id"] for c in listed.json()["conversations"]]


# --- SIGTERM with 50 streams open -----------------------------------------------------------------------
class Client(threading.Thread):
    """One person asking a question and reading the whole streamed answer."""

    def __init__(self, base: str, headers: dict, cid: str, question: str):
        super().__init__(daemon=True)
        self.base, self.headers, self.cid, self.question = base, headers, cid, question
        self.status: int | None = None
        self.events: list[Event] = []
        self.error: str | None = None
        self.ended_at: float | None = None

    def run(self):
        try:
            response = requests.post(f"{self.base}/api/conversations/{self.cid}/messages",
                                     json={"content": self.question}, headers=self.headers, stream=True,
                                     timeout=TIMEOUT)
            self.status = response.status_code
            with response:
                self.events = events_until_end(iter_sse(response.iter_content(chunk_size=None)), within=30)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = repr(exc)
        finally:
            self.ended_at = time.monotonic()

    @property
    def final(self) -> str | None:
        found = kinds(self.events)
        return found[-1] if found else None


def open_streams(stack: Stack, upstream, who: str) -> tuple[list[Client], list[dict]]:
    """STREAMS people, each in their own conversation, with an answer streaming to every one."""
    base = stack.url("auth-proxy")  # where the ALB sends them
    headers = [alb_headers(stack, f"{who}{i}") for i in range(STREAMS)]
    with requests.Session() as setup:
        cids = [new_conversation(setup, base, h) for h in headers]
    upstream.configure(tokens=ANSWER_TOKENS, token_delay=TOKEN_DELAY)
    clients = [Client(base, h, cid, f"question {i}") for i, (h, cid) in enumerate(zip(headers, cids))]
    for client in clients:
        client.start()
    wait_until(lambda: sum(1 for s in upstream.streams() if s["tokens_sent"] >= 1) >= STREAMS, 20,
               f"{STREAMS} answers streaming", interval=0.05)
    return clients, headers


def assert_every_stream_completed(clients: list[Client], sigterm_at: float) -> None:
    for client in clients:
        client.join(max(0.1, sigterm_at + GRACEFUL_SECONDS + 5 - time.monotonic()))
    assert not [c for c in clients if c.is_alive()], "a client is still waiting: a stream hung"
    failures = [(c.question, c.status, c.error, kinds(c.events)[-3:]) for c in clients
                if c.error or c.status != 200 or c.final != "done"]
    assert not failures, f"{len(failures)} of {STREAMS} streams did not end with `done`: {failures[:5]}"
    late = max(c.ended_at for c in clients) - sigterm_at
    assert late < GRACEFUL_SECONDS, f"the last stream ended {late:.1f}s after SIGTERM"
    for client in clients:
        done = client.events[-1].data
        assert done["message"]["status"] == "complete"
        assert done["message"]["content"] == text_of(client.events)
        assert len(done["message"]["content"].split()) == ANSWER_TOKENS


def test_sigterm_to_chat_drains_50_open_streams(drill_stack, upstream):
    stack, chat = drill_stack, drill_stack.services["chat"]
    clients, headers = open_streams(stack, upstream, "chatdrain")
    chat.signal(signal.SIGTERM)
    sigterm_at = time.monotonic()
    try:
        time.sleep(ACCEPT_WINDOW)
        # New requests during the drain: each is answered at once, by a 503 or in full; none hangs.
        for _ in range(3):
            started = time.monotonic()
            response = requests.get(f"{stack.url('auth-proxy')}/api/models", headers=headers[0], timeout=5)
            assert time.monotonic() - started < 3
            assert response.status_code in (200, 503), response.text
            if response.status_code == 503:
                assert response.headers.get("Retry-After")
        assert_every_stream_completed(clients, sigterm_at)
        wait_exit(chat, GRACEFUL_SECONDS + 5)
        assert time.monotonic() - sigterm_at < GRACEFUL_SECONDS + 2, "gone within the stop timeout"
    finally:
        chat.stop(timeout=GRACEFUL_SECONDS + 5)
        chat.start()
    with requests.Session() as check:  # every answer is stored, complete
        for client, h in zip(clients[:10], headers[:10]):
            messages = check.get(f"{stack.url('auth-proxy')}/api/conversations/{client.cid}", headers=h,
                                 timeout=5).json()["messages"]
            assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "complete")]


def test_sigterm_to_the_auth_proxy_drains_50_open_streams_and_refuses_new_connections(drill_stack, upstream):
    stack, proxy = drill_stack, drill_stack.services["auth-proxy"]
    clients, headers = open_streams(stack, upstream, "proxydrain")
    proxy.signal(signal.SIGTERM)
    sigterm_at = time.monotonic()
    try:
        time.sleep(ACCEPT_WINDOW)
        for _ in range(3):  # a new connection during the drain is refused at once
            started = time.monotonic()
            with pytest.raises(requests.ConnectionError):
                requests.get(f"{stack.url('auth-proxy')}/api/me", headers=headers[0], timeout=5)
            assert time.monotonic() - started < 2
        assert_every_stream_completed(clients, sigterm_at)
        wait_exit(proxy, GRACEFUL_SECONDS + 5)
        assert time.monotonic() - sigterm_at < GRACEFUL_SECONDS + 2, "gone within the stop timeout"
    finally:
        proxy.stop(timeout=GRACEFUL_SECONDS + 5)
        proxy.start()
    assert requests.get(f"{stack.url('auth-proxy')}/api/me", headers=headers[0], timeout=5).status_code == 200


def test_a_new_turn_sent_to_a_draining_chat_is_refused(drill_stack, upstream):
    stack, chat = drill_stack, drill_stack.services["chat"]
    base, headers = stack.url("auth-proxy"), alb_headers(stack, "lateturn")
    cid = new_conversation(requests, base, headers)  # also leaves a pooled connection auth-proxy → chat
    upstream.configure(tokens=5)
    chat.signal(signal.SIGTERM)
    try:
        time.sleep(ACCEPT_WINDOW)
        started = time.monotonic()
        response = requests.post(f"{base}/api/conversations/{cid}/messages", json={"content": "too late?"},
                                 headers=headers, timeout=TIMEOUT)
        assert time.monotonic() - started < 3
        assert response.status_code == 503, f"accepted by the draining chat: {response.status_code}"
        assert response.headers.get("Retry-After")
    finally:
        chat.stop(timeout=GRACEFUL_SECONDS + 5)
        chat.start()


def test_a_stream_outliving_the_graceful_timeout_ends_with_an_error_and_keeps_its_partial(drill_stack, upstream):
    stack, chat = drill_stack, drill_stack.services["chat"]
    base, headers = stack.url("auth-proxy"), alb_headers(stack, "longanswer")
    cid = new_conversation(requests, base, headers)
    upstream.configure(tokens=200, token_delay=0.1)  # 20 s: longer than the graceful timeout
    response = requests.post(f"{base}/api/conversations/{cid}/messages", json={"content": "a long story"},
                             headers=headers, stream=True, timeout=TIMEOUT)
    try:
        with response:
            events = iter_sse(response.iter_content(chunk_size=None))
            seen = until_first_delta(events)
            chat.signal(signal.SIGTERM)
            try:
                seen += events_until_end(events, within=GRACEFUL_SECONDS + 5)
            except requests.RequestException:
                pass  # the connection broke: no final event, asserted below
        assert kinds(seen)[-1] == "error", f"the stream ended without a final event: {kinds(seen)[-3:]}"
        assert seen[-1].data["code"] == "restarting"
    finally:
        chat.stop(timeout=GRACEFUL_SECONDS + 5)
        chat.start()
    messages = requests.get(f"{base}/api/conversations/{cid}", headers=headers, timeout=5).json()["messages"]
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "interrupted")]
    assert messages[1]["content"] and text_of(seen).startswith(messages[1]["content"][:20])


# --- the ALB key endpoint out of reach ----------------------------------------------------------------------
def test_alb_key_endpoint_unreachable_cached_key_works_unknown_kid_fails_closed(drill_stack):
    stack, edge, proxy = drill_stack, drill_stack.services["local-edge"], drill_stack.services["auth-proxy"]
    base = stack.url("auth-proxy")
    assert requests.get(f"{base}/api/me", headers=alb_headers(stack, "keyuser"), timeout=5).status_code == 200
    edge.stop()  # the edge serves /alb-keys: the key endpoint is gone
    try:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", edge.port), timeout=1).close()
        log_before = len(proxy.log_text())

        for _ in range(3):  # fresh tokens signed with the cached key id keep working
            headers = alb_headers(stack, "keyuser")
            me = requests.get(f"{base}/api/me", headers=headers, timeout=5)
            assert me.status_code == 200 and me.json()["id"] == "drill-keyuser"
            assert requests.get(f"{base}/api/conversations", headers=headers, timeout=5).status_code == 200

        other = alb_token.generate_key()
        for unknown in (alb_headers(stack, "keyuser", kid=alb_token.new_kid()),  # the edge's key, unknown id
                        alb_headers(stack, "keyuser", kid=alb_token.new_kid(), key=other)):
            started = time.monotonic()
            refused = requests.get(f"{base}/api/me", headers=unknown, timeout=10)
            assert time.monotonic() - started < 3.5, "the key fetch is bounded"
            assert refused.status_code == 401, refused.text
            assert refused.json()["error"]["code"] == "unauthorized"

        new_lines = proxy.log_text()[log_before:]
        assert new_lines.count("ALB key fetch failed") <= 1, "unknown key ids: at most one fetch per 10 s"
        assert requests.get(f"{base}/api/me", headers=alb_headers(stack, "keyuser"), timeout=5).status_code == 200
    finally:
        edge.start()
