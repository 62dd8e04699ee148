"""The byte relay the auth-proxy and the local edge share (rolechat_common.proxy), against servers
that send exactly the bytes each test scripts."""
from __future__ import annotations

import logging

from rolechat_common import proxy
from tests.support.scripted_http import keep_answering, serve  # noqa: F401 - serve is a fixture

STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
EVENTS = (b"event: delta\ndata: {\"content\":\"Hel\"}\n\n", b"event: done\ndata: {}\n\n")


def chunk(data: bytes, extension: bytes = b"") -> bytes:
    return b"%x%s\r\n%s\r\n" % (len(data), extension, data)


def forward(http, url: str):
    response = proxy.forward(http, "POST", url, {"Content-Type": "application/json"}, b"{}", {}, read_timeout=5)
    return response, list(response.response)


def test_a_chunked_stream_is_relayed_whole_and_its_connection_kept_for_the_next_requests(serve):
    wire = STREAM_HEAD + chunk(EVENTS[0], b";ext=1") + chunk(EVENTS[1]) + b"0\r\nX-Trailer: t\r\n\r\n"
    pieces = [wire[:len(STREAM_HEAD) + 5], wire[len(STREAM_HEAD) + 5:-7], wire[-7:]]  # split mid-chunk, mid-trailer
    server = serve(keep_answering(*pieces, pause=0.02))
    http = proxy.pool()
    for _ in range(3):
        response, relayed = forward(http, server.url("/stream"))
        assert response.status_code == 200 and response.mimetype == "text/event-stream"
        assert b"".join(relayed) == b"".join(EVENTS)
    assert server.connections == 1 and len(server.requests) == 3


def test_a_broken_stream_ends_the_relay_and_its_connection_is_not_reused(serve, caplog):
    broken = (STREAM_HEAD + chunk(EVENTS[0]) + b"zz\r\nnot a chunk\r\n",  # a size that is not hex
              STREAM_HEAD + chunk(EVENTS[0]) + b"40\r\nonly part")         # cut mid-chunk
    for wire in broken:
        def handler(conn, _index, server, wire=wire):
            server.request(conn)
            conn.sendall(wire)
            if b"zz" in wire:
                server.request(conn)  # the relay must close the connection, not send another request on it
        server = serve(handler)
        http = proxy.pool()
        with caplog.at_level(logging.WARNING, logger="rolechat.proxy"):
            _, relayed = forward(http, server.url("/stream"))
        assert b"".join(relayed) == EVENTS[0]  # the whole chunks before the break
        assert "stream from next hop broke" in caplog.text
        caplog.clear()
        _, relayed = forward(http, server.url("/stream"))  # a new connection answers again
        assert server.connections == 2


UNDER_GEVENT = """
from gevent import monkey
monkey.patch_all()
import json, logging, sys
import urllib3
from rolechat_common import proxy

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
by_urllib3 = []
urllib3.response.HTTPResponse.stream = lambda *args, **kwargs: by_urllib3.append(1) or iter(())
http = proxy.pool()
relayed = []
for url in sys.argv[1:]:
    response = proxy.forward(http, "POST", url, {"Content-Type": "application/json"}, b"{}", {}, read_timeout=5)
    relayed.append(b"".join(response.response).decode())
assert not by_urllib3, "the body was read by urllib3"
print(json.dumps(relayed))
"""


def relay_under_gevent(*urls: str) -> tuple[list[str], str]:
    """Relay each URL's stream in a monkey-patched process, as the services do (there the body is
    read by the relay's own decoder, waiting on the event loop for each read)."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", UNDER_GEVENT, *urls], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_under_gevent_a_stream_split_anywhere_is_relayed_whole_and_its_connection_kept(serve):
    wire = STREAM_HEAD + chunk(EVENTS[0], b";ext=1") + chunk(EVENTS[1]) + b"0\r\nX-Trailer: t\r\n\r\n"
    cut = len(STREAM_HEAD)
    pieces = [wire[:cut + 5], wire[cut + 5:cut + 9], wire[cut + 9:-7], wire[-7:]]  # with the head, mid-chunk, mid-trailer
    server = serve(keep_answering(*pieces, pause=0.02))
    relayed, _ = relay_under_gevent(*[server.url("/stream")] * 3)
    assert relayed == [b"".join(EVENTS).decode()] * 3
    assert server.connections == 1 and len(server.requests) == 3


def test_under_gevent_a_broken_stream_ends_the_relay_and_its_connection_is_not_reused(serve):
    broken = (STREAM_HEAD + chunk(EVENTS[0]) + b"zz\r\nnot a chunk\r\n",  # a size that is not hex
              STREAM_HEAD + chunk(EVENTS[0]) + b"40\r\nonly part",        # cut mid-chunk
              STREAM_HEAD + chunk(EVENTS[0]) + b"0\r\n\r\nHTTP/1.1 200 OK")  # bytes after the body's end
    for wire in broken:
        def handler(conn, _index, server, wire=wire):
            server.request(conn)
            conn.sendall(wire)
            if b"only part" not in wire:
                server.request(conn)  # the relay must close the connection, not send another request on it
        server = serve(handler)
        relayed, log = relay_under_gevent(server.url("/stream"), server.url("/stream"))
        # what came before the break, as it came: here bytes go on as they arrive, so the start of
        # a cut chunk too (an unterminated event, which SSE clients drop)
        assert relayed[0] == EVENTS[0].decode() + ("only part" if b"only part" in wire else "")
        assert "stream from next hop broke" in log
        assert server.connections == 2  # the second stream came over a new connection
