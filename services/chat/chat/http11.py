"""HTTP/1.1 to the model provider, under the openai SDK: an httpx transport that costs little per
streamed token.

httpx's own transport passes every chunk of a streamed answer through h11's state machine and
several layers of generators; per token that cost about as much CPU as everything else chat does
with the token. This transport parses what the provider sends with a few bytes operations (the
status line and headers, then a Content-Length, chunked (rolechat_common.chunked) or read-to-close
body) and hands up all that one read brought in one piece. Everything above it is unchanged: the SDK builds the request,
retries and reports errors, httpx decodes content encodings.

Connections are kept between requests (at most `max_keepalive` idle ones, each for
`keepalive_expiry` seconds). Only the idle connection about to be reused is checked, with a
zero-timeout poll that lets no other greenlet run: a connection the provider closed, or one with
stray bytes waiting, is dropped. Failures raise httpx's exceptions, as httpx's transport would. A
request on a reused connection that the provider closed before answering anything is sent once
more on a new connection, if that close came right after the request went out (the provider
closed it while idle). No proxy is spoken: with a proxy in the environment chat uses httpx's
own transport (see upstream.http_client).
"""
from __future__ import annotations

import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator

import gevent.lock
import httpx2
from gevent import monkey

from rolechat_common import chunked
from rolechat_common.streaming import SocketReader

_poll_without_yielding = monkey.get_original("select", "poll")

READ_SIZE = 16 * 1024
# A reused connection closed within this long after the request went out was closed by the
# provider while idle (its close crossed our request): the request is sent once more. Closed any
# later, the provider may have begun work on it: that is an error for the SDK to handle.
STALE_CLOSE_SECONDS = 0.25
MAX_INFORMATIONAL = 10          # 1xx responses skipped before the real one
_FORBIDDEN = re.compile(rb"[\r\n\x00]")
MAX_HEAD_BYTES = 64 * 1024      # status line and headers of one response
_HEAD_END = re.compile(rb"\r?\n\r?\n")
# The response extension that carries this transport's own body stream (see body_pieces).
BODY_EXTENSION = "rolechat.body"


class _Stale(Exception):
    """A reused connection was closed by the provider before it answered anything."""


class _Connection:
    __slots__ = ("sock", "key", "idle_since", "reader")

    def __init__(self, sock: socket.socket, key: tuple):
        self.sock, self.key, self.idle_since = sock, key, 0.0
        self.reader = SocketReader(sock)

    def reusable(self, now: float, expiry: float) -> bool:
        """Not expired, not closed by the provider, nothing unread: poll(0) sees no event."""
        if now - self.idle_since > expiry:
            return False
        fd = self.sock.fileno()
        if fd < 0 or self.reader.pending():  # bytes decrypted, unread
            return False
        poll = _poll_without_yielding()
        poll.register(fd, select.POLLIN)
        return not poll.poll(0)

    def close(self) -> None:
        self.reader.close()
        try:
            self.sock.close()
        except OSError:
            pass


class HTTP11Transport(httpx2.BaseTransport):
    def __init__(self, *, max_connections: int, max_keepalive: int, keepalive_expiry: float = 30.0,
                 ssl_context=None):
        # Under gevent, gevent's own semaphore. The standard library's, built on a Condition, lost
        # slots for good when chat stopped a reader greenlet at the end of an answer (the kill
        # landed inside its release: 574 times in 600 answers); after enough answers every new
        # one waited for the pool timeout.
        patched = monkey.is_module_patched("threading")
        self._slots = (gevent.lock.BoundedSemaphore if patched else threading.BoundedSemaphore)(max_connections)
        self._max_keepalive, self._expiry = max_keepalive, keepalive_expiry
        self._ssl_context = ssl_context
        self._idle: dict[tuple, deque[_Connection]] = {}
        self._idle_count = 0
        self._lock = threading.Lock()

    # -- the exchange -------------------------------------------------------------------------

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        timeouts = request.extensions.get("timeout") or {}
        if not self._slots.acquire(timeout=timeouts.get("pool")):
            raise httpx2.PoolTimeout("every connection to the model provider is in use")
        connection = None
        try:
            key = _key(request.url)
            payload = _request_bytes(request)
            connection = self._take_idle(key)
            if connection is not None:
                try:
                    return self._exchange(connection, request, payload, timeouts, reused=True)
                except _Stale:
                    connection.close()
            connection = self._open(key, timeouts)
            return self._exchange(connection, request, payload, timeouts, reused=False)
        except BaseException:
            if connection is not None:
                connection.close()
            self._slots.release()
            raise

    def _exchange(self, connection: _Connection, request: httpx2.Request, payload: bytes, timeouts: dict,
                  *, reused: bool) -> httpx2.Response:
        sock = connection.sock
        try:
            sock.settimeout(timeouts.get("write"))
            sock.sendall(payload)
        except TimeoutError as exc:
            raise httpx2.WriteTimeout(str(exc) or "timed out sending the request") from exc
        except OSError as exc:
            if reused:
                raise _Stale() from exc
            raise httpx2.WriteError(str(exc)) from exc
        stale_until = time.monotonic() + STALE_CLOSE_SECONDS if reused else 0.0
        status, reason, headers, rest = _read_head(sock, timeouts.get("read"), stale_until)
        length, chunked, keep_alive = _framing(request.method, status, headers)
        body = _Body(self, connection, request, rest, length, chunked, keep_alive)
        return httpx2.Response(status, headers=headers, stream=body,
                               extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason,
                                           BODY_EXTENSION: body})

    # -- connections --------------------------------------------------------------------------

    def _take_idle(self, key: tuple) -> _Connection | None:
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                connection = idle.pop()  # the most recently used: the least likely to have been closed
                self._idle_count -= 1
            if connection.reusable(now, self._expiry):
                return connection
            connection.close()

    def _open(self, key: tuple, timeouts: dict) -> _Connection:
        scheme, host, port = key
        try:
            sock = socket.create_connection((host, port), timeout=timeouts.get("connect"))
        except TimeoutError as exc:
            raise httpx2.ConnectTimeout(str(exc) or "timed out connecting") from exc
        except OSError as exc:
            raise httpx2.ConnectError(str(exc)) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = self._tls().wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            sock.close()
            raise httpx2.ConnectTimeout(str(exc) or "timed out in the TLS handshake") from exc
        except OSError as exc:  # ssl.SSLError included
            sock.close()
            raise httpx2.ConnectError(str(exc)) from exc
        return _Connection(sock, key)

    def _tls(self):
        if self._ssl_context is None:
            self._ssl_context = httpx2.create_ssl_context()
        return self._ssl_context

    def _release(self, connection: _Connection, reusable: bool) -> None:
        """Called once per exchange, when its response is closed."""
        try:
            if not reusable:
                connection.close()
                return
            connection.idle_since = time.monotonic()
            with self._lock:
                if self._idle_count < self._max_keepalive:
                    self._idle.setdefault(connection.key, deque()).append(connection)
                    self._idle_count += 1
                    connection = None
            if connection is not None:
                connection.close()
        finally:
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            idle, self._idle, self._idle_count = self._idle, {}, 0
        for connections in idle.values():
            for connection in connections:
                connection.close()


def body_pieces(response: httpx2.Response, pace=None) -> Iterator[bytes]:
    """A streamed response's body as it arrives, with `pace()` called before each read after the
    first (see rolechat_common.streaming.SocketReader). From this transport, with no content encoding to
    undo, the pieces come straight from its body stream: httpx's layers of generators above it
    (raw, decoded, chunked to size, bound to the response) do nothing for such a body and cost
    about 3 µs of CPU per streamed token. Closing the response still closes the body."""
    body = response.extensions.get(BODY_EXTENSION)
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if body is None or encoding not in ("", "identity"):
        return _paced(response.iter_bytes(), pace)
    body.pace = pace
    return iter(body)


def _paced(pieces: Iterator[bytes], pace) -> Iterator[bytes]:
    for piece in pieces:
        yield piece
        if pace is not None:
            pace()


def _key(url: httpx2.URL) -> tuple:
    """(scheme, host, port): the connections that can serve a URL."""
    scheme = url.scheme
    if scheme not in ("http", "https"):
        raise httpx2.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
    return scheme, url.raw_host.decode("ascii"), url.port or (443 if scheme == "https" else 80)


def _request_bytes(request: httpx2.Request) -> bytes:
    method, target = request.method.encode("ascii"), request.url.raw_path
    head = [b"%s %s HTTP/1.1\r\n" % (method, target)]
    head.extend(b"%s: %s\r\n" % (name, value) for name, value in request.headers.raw)
    # A CR or LF in a header (say, a key read from a file with its newline) would end the head
    # early and send the rest as something else.
    if any(_FORBIDDEN.search(part) for part in (method, target, *(b"".join(pair) for pair in request.headers.raw))):
        raise httpx2.LocalProtocolError("a request line or header contains CR, LF or NUL")
    head.append(b"\r\n")
    if "transfer-encoding" in request.headers:  # a body of unknown length: sent as chunks
        body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in request.stream if part) + b"0\r\n\r\n"
    else:
        body = request.read()
    return b"".join(head) + body


def _read_head(sock, timeout: float | None, stale_until: float) -> tuple[int, bytes, list, bytes]:
    """The response's status, reason, headers and the body bytes read with them (1xx skipped).
    Raises _Stale for a close before any byte, up to `stale_until` (0 for a new connection)."""
    sock.settimeout(timeout)
    buffer = b""
    heard = False
    informational = 0
    while True:
        end = _HEAD_END.search(buffer)
        if end is None:
            if len(buffer) > MAX_HEAD_BYTES:
                raise httpx2.RemoteProtocolError("the response's headers are too large")
            try:
                data = sock.recv(READ_SIZE)
            except TimeoutError as exc:
                raise httpx2.ReadTimeout(str(exc) or "timed out waiting for the response") from exc
            except OSError as exc:
                if not heard and time.monotonic() < stale_until:
                    raise _Stale() from exc
                raise httpx2.ReadError(str(exc)) from exc
            if not data:
                if not heard and time.monotonic() < stale_until:
                    raise _Stale()
                raise httpx2.RemoteProtocolError("Server disconnected without sending a response.")
            heard = True
            buffer += data
            continue
        head, buffer = buffer[:end.start()], buffer[end.end():]
        lines = [line.rstrip(b"\r") for line in head.split(b"\n")]
        version, _, status_and_reason = lines[0].partition(b" ")
        status_text, _, reason = status_and_reason.partition(b" ")
        if not version.startswith(b"HTTP/1.") or len(status_text) != 3 or not status_text.isdigit():
            raise httpx2.RemoteProtocolError("malformed status line in the response")
        status = int(status_text)
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise httpx2.RemoteProtocolError("malformed header line in the response")
            headers.append((name, value.strip()))
        if 100 <= status < 200 and status != 101:
            informational += 1
            if informational > MAX_INFORMATIONAL:
                raise httpx2.RemoteProtocolError("too many informational responses")
            continue  # informational: the real answer follows
        if version != b"HTTP/1.1":
            headers.append((b"connection", b"close"))  # HTTP/1.0: no reuse
        return status, reason, headers, buffer


def _framing(method: str, status: int, headers: list) -> tuple[int | None, bool, bool]:
    """(Content-Length or None, chunked?, may the connection be reused?)"""
    values: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(value.lower())
    keep_alive = not any(b"close" in v for v in values.get(b"connection", ()))
    if method == "HEAD" or status in (204, 304) or status == 101:
        return 0, False, keep_alive and status != 101
    encodings = b",".join(values.get(b"transfer-encoding", ()))
    if encodings:
        if encodings.split(b",")[-1].strip() != b"chunked":
            return None, False, False  # read to the close
        return None, True, keep_alive
    lengths = {v.strip() for v in values.get(b"content-length", ())}
    if lengths:
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise httpx2.RemoteProtocolError("malformed Content-Length in the response")
        return int(next(iter(lengths))), False, keep_alive
    return None, False, False


class _Body(httpx2.SyncByteStream):
    """The response body, decoded from its framing; each read's worth is one piece."""

    def __init__(self, transport: HTTP11Transport, connection: _Connection, request: httpx2.Request,
                 buffered: bytes, length: int | None, chunked: bool, keep_alive: bool):
        self._transport, self._connection, self._request = transport, connection, request
        self._buffered, self._length, self._chunked, self._keep_alive = buffered, length, chunked, keep_alive
        self._complete = length == 0  # nothing to read (HEAD, 204, 304): reusable unread
        self._leftover = buffered if length == 0 else b""
        self._closed = False
        self.pace = None  # see body_pieces

    def __iter__(self) -> Iterator[bytes]:
        # The read timeout as it is now: a caller may lift it once the headers are in (chat does,
        # and watches the stream's silence itself).
        timeout = (self._request.extensions.get("timeout") or {}).get("read")
        sock = self._connection.sock
        if sock.gettimeout() != timeout:
            sock.settimeout(timeout)
        reader, pace = self._connection.reader, self.pace
        wait_first = timeout is None and monkey.is_module_patched("socket")  # pays off on gevent's sockets
        if wait_first or pace is not None:
            def recv(size: int) -> bytes:
                return reader.recv(size, wait_first=wait_first, pace=pace)
        else:
            recv = sock.recv
        try:
            if self._chunked:
                yield from self._chunks(recv)
            elif self._length is not None:
                yield from self._sized(recv)
            else:
                yield from self._to_close(recv)
            self._complete = True
        except TimeoutError as exc:
            raise httpx2.ReadTimeout(str(exc) or "timed out reading the response") from exc
        except OSError as exc:
            raise httpx2.ReadError(str(exc)) from exc

    def _sized(self, recv) -> Iterator[bytes]:
        left = self._length
        data, self._buffered = self._buffered, b""
        if len(data) > left:
            data, self._leftover = data[:left], data[left:]
        while True:
            if data:
                left -= len(data)
                yield data
            if left <= 0:
                return
            data = recv(min(READ_SIZE, left))
            if not data:
                raise httpx2.RemoteProtocolError("peer closed connection without sending complete message body")

    def _to_close(self, recv) -> Iterator[bytes]:
        self._keep_alive = False
        data, self._buffered = self._buffered, b""
        while True:
            if data:
                yield data
            data = recv(READ_SIZE)
            if not data:
                return

    def _chunks(self, recv) -> Iterator[bytes]:
        buffered, self._buffered = self._buffered, b""
        try:
            self._leftover = yield from chunked.decode(buffered, lambda: recv(READ_SIZE))
        except chunked.IncompleteBody as exc:
            raise httpx2.RemoteProtocolError(f"peer closed connection without sending complete message body ({exc})")
        except chunked.MalformedBody as exc:
            raise httpx2.RemoteProtocolError(f"malformed chunked body: {exc}") from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        reusable = self._complete and self._keep_alive and not self._leftover
        self._transport._release(self._connection, reusable)
