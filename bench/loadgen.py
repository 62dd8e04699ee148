"""The load generator: C concurrent streamed requests over raw asyncio sockets, timed per token.

No HTTP library: each stream is one TCP connection, one pre-built request, and a protocol object
that only counts `~` bytes (one per token, see bench.upstream) and looks for the end marker. That
keeps the client cheap enough to hold 1,000 streams on a small machine, and it reads any framing
the same way (OpenAI chunks straight from the upstream, rolechat's SSE events, chunked or not).
"""
from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field

TOKEN_MARK = b"~"


@dataclass
class Target:
    """Where and what to send, and how the answer ends."""
    name: str
    host: str
    port: int
    requests: list[bytes]            # one pre-built HTTP request per stream (cycled)
    done_marker: bytes               # the end of a complete answer
    error_marker: bytes | None = None  # an in-stream error event


@dataclass
class StreamRecord:
    index: int
    user: int = 0
    t_start: float = 0.0             # just before connecting
    t_first: float | None = None     # the first token arrived
    t_end: float | None = None
    status: int | None = None
    outcome: str = "pending"         # ok | http_error | stream_error | cut | connect_error | timeout
    detail: str = ""
    tokens: int = 0
    times: list[float] = field(default_factory=list)   # arrival time of each read that held tokens
    counts: list[int] = field(default_factory=list)    # tokens in that read


class _Client(asyncio.Protocol):
    def __init__(self, record: StreamRecord, request: bytes, target: Target, finished: asyncio.Future):
        self.record, self.request, self.target, self.finished = record, request, target, finished
        self.transport = None
        self.head = b""
        self.tail = b""
        self.in_body = False

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(self.request)

    def _finish(self, outcome: str, detail: str = ""):
        record = self.record
        if record.outcome == "pending":
            record.outcome, record.detail = outcome, detail
            record.t_end = time.perf_counter()
        if self.transport is not None:
            self.transport.close()
        if not self.finished.done():
            self.finished.set_result(None)

    def data_received(self, data: bytes):
        now = time.perf_counter()
        record = self.record
        if not self.in_body:
            self.head += data
            line_end = self.head.find(b"\r\n")
            if record.status is None and line_end >= 0:
                try:
                    record.status = int(self.head.split(b" ", 2)[1])
                except (IndexError, ValueError):
                    return self._finish("http_error", "bad status line")
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            data, self.head, self.in_body = self.head[end + 4:], b"", True
            if record.status != 200:
                return self._finish("http_error", str(record.status))
        window = self.tail + data
        stop = len(data)
        ending = None
        done_at = window.find(self.target.done_marker)
        if done_at >= 0:
            stop, ending = max(0, done_at - len(self.tail)), "ok"
        marker = self.target.error_marker
        if marker is not None:
            error_at = window.find(marker)
            if error_at >= 0 and (done_at < 0 or error_at < done_at):
                stop, ending = max(0, error_at - len(self.tail)), "stream_error"
        count = data.count(TOKEN_MARK, 0, stop)
        if count:
            if record.t_first is None:
                record.t_first = now
            record.tokens += count
            record.times.append(now)
            record.counts.append(count)
        self.tail = window[-24:]
        if ending == "stream_error":
            return self._finish(ending, window[window.find(marker):][:200].decode("utf-8", "replace"))
        if ending:
            return self._finish(ending)

    def connection_lost(self, exc):
        if self.record.outcome == "pending":
            self._finish("cut", type(exc).__name__ if exc else "closed by the server")


async def run_streams(target: Target, concurrency: int, *, ramp: float, timeout: float,
                      until: float | None = None, on_start=None) -> list[StreamRecord]:
    """`concurrency` users, started evenly over `ramp` seconds; each opens a stream and, while
    time.perf_counter() < `until`, opens the next as soon as one ends (a closed loop: C streams
    stay open). Without `until` each user opens one stream. Waits at most `timeout` seconds."""
    loop = asyncio.get_running_loop()
    records: list[StreamRecord] = []
    clients: list[_Client] = []

    async def one(user: int):
        await asyncio.sleep(ramp * user / max(concurrency, 1))
        for _ in range(100_000):
            record = StreamRecord(len(records), user=user)
            records.append(record)
            finished = loop.create_future()
            request = target.requests[user % len(target.requests)]
            record.t_start = time.perf_counter()
            client = _Client(record, request, target, finished)
            clients.append(client)
            try:
                await loop.create_connection(lambda: client, target.host, target.port)
            except OSError as exc:
                record.outcome, record.detail, record.t_end = "connect_error", type(exc).__name__, time.perf_counter()
                await asyncio.sleep(0.1)
            else:
                await finished
            if until is None or time.perf_counter() >= until:
                return

    if on_start is not None:
        on_start(records)
    tasks = [asyncio.ensure_future(one(u)) for u in range(concurrency)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for client in clients:
        if client.record.outcome == "pending":
            client._finish("timeout")
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for record in records:
        if record.outcome == "pending":
            record.outcome = "timeout"
    return records
