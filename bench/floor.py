"""The floor under the benchmark's CPU figures: what reading and relaying one streamed token costs
on this machine at the lowest level, against the same bench upstream, in one run.

    .venv/bin/python -m bench.floor [--streams 200] [--rate 50] [--tokens 500]

- `sdk-httpx`: the model's stream read through the official SDK over httpx's own transport, lines
  from the SDK's `iter_lines` and each chunk's JSON decoded (no per-read timeout);
- `chat`: the same, as chat reads it: the SDK over chat's HTTP/1.1 transport (chat.http11), the
  body's bytes split into lines by chat's reader (chat.turns.read_chunks);
- `raw-socket`: the same stream read from a plain socket with the same parsing: no HTTP library;
- `relay-hop`: a bare gevent relay process (recv, then sendall to the reader) between the upstream
  and a raw-socket reader: the relay's own CPU, the least any hop between services can cost.

Figures are CPU microseconds per token (each token is one chunk, as OpenAI streams). Results go to
bench/results/floor.json (or --out).
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402 - after monkey-patching, as in the services
import json  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import httpx2  # noqa: E402
import openai  # noqa: E402
from chat.turns import read_chunks  # noqa: E402
from chat.upstream import http_client  # noqa: E402

from tests.support.processes import free_port  # noqa: E402

from . import procstat  # noqa: E402
from .stack import start_upstream  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BODY = {"model": "bench-model", "stream": True, "messages": [{"role": "user", "content": "hello"}]}


def _open_stream(client: openai.OpenAI):
    return client.chat.completions.with_streaming_response.create(
        model=BODY["model"], messages=[], extra_body={"messages": BODY["messages"]}, stream=True)


def _no_read_timeout(stream) -> None:
    """The body is read without a read timeout, as chat reads it."""
    request = stream.http_response.request
    request.extensions["timeout"] = {**request.extensions.get("timeout", {}), "read": None}


def read_sdk(client: openai.OpenAI) -> int:
    with _open_stream(client) as stream:
        _no_read_timeout(stream)
        count = 0
        for line in stream.iter_lines():
            if line.startswith("data: {"):
                json.loads(line[6:])
                count += 1
        return count


def read_as_chat(client: openai.OpenAI) -> int:
    with _open_stream(client) as stream:
        _no_read_timeout(stream)
        return sum(1 for _ in read_chunks(stream.http_response.iter_bytes()))


def read_raw(port: int) -> int:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = json.dumps(BODY).encode()
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer sk-floor\r\n"
                 b"Content-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    buffer, count = b"", 0
    with sock:
        while True:
            data = sock.recv(65536)
            if not data:
                return count
            buffer += data
            while (end := buffer.find(b"\n\n")) >= 0:
                event, buffer = buffer[:end], buffer[end + 2:]
                start = event.find(b"data: {")
                if start >= 0:
                    json.loads(event[start + 6:])
                    count += 1
                elif b"[DONE]" in event:
                    return count


def relay(listen_port: int, upstream_port: int) -> None:
    """A bare relay: each client connection is piped to the upstream and back, recv → sendall."""
    from gevent.server import StreamServer

    def pipe(source, target):
        while data := source.recv(65536):
            target.sendall(data)

    def handle(client, _address):
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream = socket.create_connection(("127.0.0.1", upstream_port))
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        forward = gevent.spawn(pipe, client, upstream)
        try:
            pipe(upstream, client)
        finally:
            forward.kill()
            upstream.close()

    StreamServer(("127.0.0.1", listen_port), handle, backlog=4096).serve_forever()


def _wait_for(port: int, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.05)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            gevent.sleep(0.05)
    raise RuntimeError(f"the relay did not listen on port {port}")


def measure(name: str, read, streams: int, pid: int | None = None) -> dict:
    before = procstat.sample(pid).cpu if pid else procstat.own_cpu()
    counts = [g.get() for g in gevent.joinall([gevent.spawn(read) for _ in range(streams)], raise_error=True)]
    seconds = (procstat.sample(pid).cpu if pid else procstat.own_cpu()) - before
    tokens = sum(counts)
    row = {"path": name, "tokens": tokens, "us_per_token": round(seconds / tokens * 1e6, 1)}
    print(f"{name:>10}: {row['us_per_token']:6.1f} µs of CPU per token ({tokens} tokens, {streams} streams)", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second per stream")
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--relay", nargs=2, type=int, metavar=("LISTEN", "UPSTREAM"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.relay:
        relay(*args.relay)
        return 0
    upstream, port = start_upstream(args.tokens, args.rate)
    relay_port = free_port()
    hop = None
    try:
        hop = subprocess.Popen([sys.executable, "-m", "bench.floor", "--relay", str(relay_port), str(port)], cwd=ROOT)
        limits = httpx2.Limits(max_connections=args.streams, max_keepalive_connections=args.streams)
        client = openai.OpenAI(api_key="sk-floor", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0,
                               http_client=openai.DefaultHttpxClient(limits=limits, timeout=httpx2.Timeout(60.0)))
        chat_client = openai.OpenAI(api_key="sk-floor", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0,
                                    http_client=http_client(args.streams, httpx2.Timeout(60.0)))
        read_sdk(client), read_as_chat(chat_client), read_raw(port)  # warm: imports, connections
        _wait_for(relay_port)
        rows = [measure("sdk-httpx", lambda: read_sdk(client), args.streams),
                measure("chat", lambda: read_as_chat(chat_client), args.streams),
                measure("raw-socket", lambda: read_raw(port), args.streams),
                measure("relay-hop", lambda: read_raw(relay_port), args.streams, pid=hop.pid)]
    finally:
        for proc in (hop, upstream):
            if proc is not None:
                proc.terminate()
                proc.wait(10)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "floor.json").write_text(json.dumps({"streams": args.streams, "rate": args.rate, "tokens": args.tokens,
                                                "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
