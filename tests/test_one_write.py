"""gunicorn's responses as every service sends them (rolechat_common.one_write): the headers leave
with the first body bytes, and what goes on the wire is still exactly one valid HTTP response."""
from __future__ import annotations

from types import SimpleNamespace

import h11
from gunicorn.config import Config
from gunicorn.http import wsgi

from rolechat_common import one_write


class RecordingSocket:
    """Records each write; `send` takes at most `room` bytes at a time, as a full socket buffer would."""

    def __init__(self, room: int = 1 << 20):
        self.writes: list[bytes] = []
        self.room = room

    def send(self, data) -> int:
        self.writes.append(bytes(data[:self.room]))
        return len(self.writes[-1])

    def sendall(self, data) -> None:
        self.writes.append(bytes(data))


def respond(status: str, headers: list[tuple[str, str]], body: list[bytes], method: str = "GET",
            sock: RecordingSocket | None = None) -> list[bytes]:
    one_write.install()
    request = SimpleNamespace(version=(1, 1), method=method, should_close=lambda: False, headers=[])
    sock = sock or RecordingSocket()
    response = wsgi.Response(request, sock, Config())
    response.start_response(status, headers)
    for part in body:
        response.write(part)
    response.close()
    return sock.writes


def parse(wire: bytes, method: str = "GET") -> tuple[int, dict, bytes]:
    """The response as an HTTP client reads it (fails on anything malformed)."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(wire)
    status, headers, body = None, {}, b""
    while True:
        event = client.next_event()
        if isinstance(event, h11.Response):
            status, headers = event.status_code, {k.decode(): v.decode() for k, v in event.headers}
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return status, headers, body
        else:
            raise AssertionError(f"incomplete response: {event!r}")


def test_a_small_json_answer_is_one_write():
    writes = respond("200 OK", [("Content-Type", "application/json"), ("Content-Length", "11")], [b'{"ok":true}'])
    assert len(writes) == 1
    assert parse(writes[0])[::2] == (200, b'{"ok":true}')


def test_an_answer_without_a_body_is_one_write():
    writes = respond("204 No Content", [], [])
    assert len(writes) == 1 and parse(writes[0])[0] == 204


def test_a_stream_sends_its_headers_with_the_first_event_then_one_write_per_event():
    events = [b": keep-alive\n\n", b"event: delta\ndata: {}\n\n", b"event: done\ndata: {}\n\n"]
    writes = respond("200 OK", [("Content-Type", "text/event-stream")], events)
    assert len(writes) == len(events) + 1  # the last write is the closing chunk
    assert writes[0].startswith(b"HTTP/1.1 200 ") and writes[0].endswith(b": keep-alive\n\n\r\n")
    status, headers, body = parse(b"".join(writes))
    assert (status, headers["transfer-encoding"], body) == (200, "chunked", b"".join(events))


def test_what_a_full_socket_buffer_does_not_take_goes_out_after_it():
    events = [b"event: delta\ndata: {\"content\": \"" + b"x" * 300 + b"\"}\n\n"] * 3
    sock = RecordingSocket(room=100)
    writes = respond("200 OK", [("Content-Type", "text/event-stream")], events, sock=sock)
    assert len(writes) > len(events) + 1 and all(len(w) <= 100 for w in writes[::2])
    status, _, body = parse(b"".join(writes))
    assert (status, body) == (200, b"".join(events))


def test_head_gets_the_headers_alone():
    writes = respond("200 OK", [("Content-Type", "application/json"), ("Content-Length", "11")], [b'{"ok":true}'],
                     method="HEAD")
    assert len(writes) == 1 and b"\r\n\r\n" in writes[0] and writes[0].endswith(b"\r\n\r\n")
    assert parse(writes[0], method="HEAD")[0] == 200


def test_nothing_counts_as_sent_before_a_byte_is_written():
    # gunicorn answers an error with a 500 only while `headers_sent` is False: held-back headers
    # must leave it False until they are on the wire.
    one_write.install()
    request = SimpleNamespace(version=(1, 1), method="GET", should_close=lambda: False, headers=[])
    sock = RecordingSocket()
    response = wsgi.Response(request, sock, Config())
    response.start_response("200 OK", [("Content-Type", "text/event-stream")])
    response.write(b"")  # an empty first chunk: nothing to send yet
    assert (response.headers_sent, sock.writes) == (False, [])
    response.write(b"data: 1\n\n")
    assert response.headers_sent and len(sock.writes) == 1
