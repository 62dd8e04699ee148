"""Response headers leave with the first body bytes, in one write.

gunicorn writes a response's headers and its body with separate `sendall` calls (and, for a
streamed body, each chunk and the closing chunk separately). Between our services on one host or
one VPC, every write wakes the reader and costs both sides a system call; for the small JSON
answers memory gives chat several times per turn, the headers' own write is a third of the
response's cost. Holding the header bytes back until the first body write (or the end of the
response) halves the writes of a small response and sends a stream's headers together with its
first event. Nothing waits longer: the first body write follows the headers at once.

Each write is one `send` when the socket's buffer takes it whole (nearly always: these are small
writes): gevent's `sendall` first asks the kernel for the buffer's size, a system call on every
write of every streamed event.
"""
from __future__ import annotations

from gunicorn import util
from gunicorn.http import wsgi

_ATTR = "_rolechat_head"


def _send_headers(self) -> None:
    """Prepare the header bytes; they leave with the first body bytes or at the end. Until then
    `headers_sent` stays False, so an error before any byte is written still gets a 500."""
    if self.headers_sent or getattr(self, _ATTR, b""):
        return
    lines = self.default_headers()
    lines.extend(f"{k}: {v}\r\n" for k, v in self.headers)
    setattr(self, _ATTR, ("".join(lines) + "\r\n").encode("latin-1"))


def _flush_head(self) -> bytes:
    head = getattr(self, _ATTR, b"")
    if head:
        setattr(self, _ATTR, b"")
        self.headers_sent = True
    return head


def _write(sock, data: bytes) -> None:
    sent = sock.send(data)
    if sent < len(data):
        sock.sendall(memoryview(data)[sent:])


def _emit_body(self, data: bytes) -> None:
    if self.chunked:
        data = b"%X\r\n%s\r\n" % (len(data), data)
    _write(self.sock, _flush_head(self) + data)


def _close(self) -> None:
    if not self.headers_sent:
        self.send_headers()
    tail = b"0\r\n\r\n" if self.chunked else b""
    out = _flush_head(self) + tail
    if out:
        _write(self.sock, out)


def install() -> None:
    """Patch gunicorn's Response (in the master, before workers fork; idempotent)."""
    response = wsgi.Response
    if getattr(response, "_rolechat_one_write", False):
        return
    send_headers_now, sendfile_as_is = response.send_headers, response.sendfile

    def sendfile(self, respiter):
        # sendfile writes to the socket itself right after sending the headers: no holding back.
        head = _flush_head(self)
        if head:
            util.write(self.sock, head)
        self.send_headers = lambda: send_headers_now(self)
        try:
            return sendfile_as_is(self, respiter)
        finally:
            del self.send_headers

    response.send_headers = _send_headers
    response._emit_body = _emit_body
    response.close = _close
    response.sendfile = sendfile
    response._rolechat_one_write = True
