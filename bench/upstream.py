"""A lean OpenAI-compatible upstream for the benchmark: streams chat completions at a set rate.

One asyncio event loop, no framework. Every chunk of the answer is encoded once at start-up; a
stream is a timer per token (`loop.call_at`) writing a pre-built HTTP chunk, so 1,000 concurrent
streams at 50 tokens/s (50,000 writes/s) cost a fraction of one core. It speaks what rolechat
uses, in OpenAI's wire format:

- `POST /v1/chat/completions` with `stream: true` (`data: {chat.completion.chunk}` lines, the
  usage chunk when `stream_options.include_usage` is set, then `data: [DONE]`), keep-alive,
  chunked transfer encoding;
- `GET /v1/models`;
- `GET /alb-keys/{kid}`: the PEM public key of the load balancer signing key the benchmark uses
  (a stand-in for the ALB's regional key endpoint), when started with `--key-file`.

Every token is ` tk~` (a `~` marks each token, so a client can count tokens in any framing
without parsing). The schedule is fixed: token i is due at start + first_token_delay + i/rate.
When the client cannot keep up (the socket's buffer is full), the stream waits, and the delay
shows in the client's timings. Run: `python -m bench.upstream --port 0 --tokens 500 --rate 50`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import time

TOKEN = " tk~"
MODEL = "bench-model"
HIGH_WATER = 64 * 1024  # bytes queued on one socket before that stream waits for the reader


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _event(payload: dict) -> bytes:
    return _chunked(b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n")


class Answer:
    """The pre-built frames of one streamed answer of `tokens` tokens."""

    def __init__(self, tokens: int, include_usage: bool):
        created = int(time.time())
        base = {"id": "chatcmpl-bench0000000000000000000000", "object": "chat.completion.chunk",
                "created": created, "model": MODEL, "service_tier": "default",
                "system_fingerprint": "fp_bench0001"}
        extra = {"usage": None} if include_usage else {}

        def delta(content: dict, finish=None) -> bytes:
            return _event({**base, "choices": [{"index": 0, "delta": content, "logprobs": None,
                                                "finish_reason": finish}], **extra})

        self.first = delta({"role": "assistant", "content": "", "refusal": None})
        self.token = delta({"content": TOKEN})
        tail = delta({}, "stop")
        if include_usage:
            tail += _event({**base, "choices": [], "usage": {
                "prompt_tokens": 20, "completion_tokens": tokens, "total_tokens": 20 + tokens}})
        self.tail = tail + _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n"
        self.tokens = tokens


class Server:
    def __init__(self, tokens: int, rate: float, first_token_delay: float, key_pem: bytes | None):
        self.tokens, self.rate, self.first_token_delay = tokens, rate, first_token_delay
        self.key_pem = key_pem
        self.answers: dict[tuple[int, bool], Answer] = {}
        self.streams_started = 0
        self.streams_finished = 0
        self.streams_cancelled = 0
        self.open_streams = 0

    def answer(self, tokens: int, include_usage: bool) -> Answer:
        key = (tokens, include_usage)
        if key not in self.answers:
            self.answers[key] = Answer(tokens, include_usage)
        return self.answers[key]


class Conn(asyncio.Protocol):
    def __init__(self, server: Server):
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.stream: Stream | None = None
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            import socket
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc):
        self.closed = True
        if self.stream is not None:
            self.stream.cancel()

    def data_received(self, data: bytes):
        self.buffer += data
        while self.stream is None and not self.closed:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self.transport.close()
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            try:
                method, target, _ = lines[0].split(" ", 2)
            except ValueError:
                self.transport.close()
                return
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self.handle(method, target.split("?", 1)[0], body)

    def reply(self, status: str, body: bytes, content_type: str = "application/json"):
        self.transport.write(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    def handle(self, method: str, path: str, body: bytes):
        server = self.server
        if method == "GET" and path == "/v1/models":
            data = {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "bench"}]}
            return self.reply("200 OK", json.dumps(data).encode())
        if method == "GET" and path.startswith("/alb-keys/") and server.key_pem is not None:
            return self.reply("200 OK", server.key_pem, "application/x-pem-file")
        if method == "GET" and path == "/_stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            data = {"started": server.streams_started, "finished": server.streams_finished,
                    "cancelled": server.streams_cancelled, "open": server.open_streams,
                    "cpu_seconds": usage.ru_utime + usage.ru_stime}
            return self.reply("200 OK", json.dumps(data).encode())
        if method == "POST" and path == "/_config":  # {"tokens": n}: the answer length from now on
            settings = json.loads(body or b"{}")
            server.tokens = int(settings.get("tokens", server.tokens))
            return self.reply("200 OK", json.dumps({"tokens": server.tokens}).encode())
        if method == "POST" and path == "/v1/chat/completions":
            try:
                request = json.loads(body)
            except ValueError:
                request = None
            if not isinstance(request, dict) or not request.get("stream"):
                return self.reply("400 Bad Request", b'{"error":{"message":"only streaming","type":"invalid_request_error"}}')
            tokens = server.tokens
            limit = request.get("max_completion_tokens") or request.get("max_tokens")
            if isinstance(limit, int) and 0 < limit < tokens:
                tokens = limit
            include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                                 b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
            self.stream = Stream(self, server.answer(tokens, include_usage))
            return
        return self.reply("404 Not Found", b'{"error":{"message":"not found","type":"invalid_request_error"}}')

    def stream_done(self):
        self.stream = None
        if self.buffer:  # a pipelined request waited behind the stream
            self.data_received(b"")


class Stream:
    def __init__(self, conn: Conn, answer: Answer):
        self.conn, self.answer = conn, answer
        server = conn.server
        self.loop = asyncio.get_running_loop()
        self.interval = 1.0 / server.rate
        self.start = self.loop.time() + server.first_token_delay
        self.sent = -1  # -1: the role chunk is next
        self.handle = None
        server.streams_started += 1
        server.open_streams += 1
        self.handle = self.loop.call_at(self.start, self.tick)

    def due(self) -> float:
        return self.start + max(self.sent, 0) * self.interval

    def tick(self):
        transport = self.conn.transport
        if self.conn.closed:
            return
        if transport.get_write_buffer_size() > HIGH_WATER:  # the reader is behind: wait for it
            self.handle = self.loop.call_later(self.interval, self.tick)
            return
        answer = self.answer
        if self.sent < 0:
            transport.write(answer.first + answer.token)  # role chunk, then token 0 at once
            self.sent = 1
        else:
            transport.write(answer.token)
            self.sent += 1
        if self.sent >= answer.tokens:
            transport.write(answer.tail)
            server = self.conn.server
            server.streams_finished += 1
            server.open_streams -= 1
            self.handle = None
            self.conn.stream_done()
            return
        self.handle = self.loop.call_at(max(self.due(), self.loop.time()), self.tick)

    def cancel(self):
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
            server = self.conn.server
            server.streams_cancelled += 1
            server.open_streams -= 1


async def main_async(args) -> None:
    key_pem = open(args.key_file, "rb").read() if args.key_file else None
    server = Server(args.tokens, args.rate, args.first_token_delay, key_pem)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: Conn(server), args.host, args.port, backlog=4096)
    port = srv.sockets[0].getsockname()[1]
    print(f"bench-upstream listening on http://{args.host}:{port}/v1", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    srv.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=500, help="answer length in tokens")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second per stream")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds before the first token")
    parser.add_argument("--key-file", help="PEM public key served at /alb-keys/{kid}")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
