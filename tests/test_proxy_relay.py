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
