"""Server-Sent Events and noticing, within milliseconds, that the client has gone away.

A stream that only writes when the model speaks would notice a vanished client only at its next
write; a model can be silent for a long time. So each stream has the event loop watch the
client's socket: when it becomes readable, an empty peek means the client closed it.
"""
from __future__ import annotations

import math
import socket
import time

import gevent
import orjson

HEARTBEAT = b": keep-alive\n\n"


class ClientGone(Exception):
    """Raised into the greenlet serving a stream when its client disconnects."""


def sse(event: str, data: dict) -> bytes:
    # orjson: an event is encoded for every tick of every stream (0.06 µs against 1.5 for json).
    return b"event: %s\ndata: %s\n\n" % (event.encode(), orjson.dumps(data))


def watch_disconnect(environ: dict, target: gevent.Greenlet | None = None) -> "DisconnectWatch | None":
    """Raise ClientGone in `target` (default: the calling greenlet) once the client disconnects.

    Returns the watch, which the caller must `stop` when the response ends. Outside gunicorn
    (Flask's test client has no socket) there is nothing to watch and None is returned.
    """
    client = environ.get("gunicorn.socket")
    if client is None:
        return None
    return DisconnectWatch(client, target or gevent.getcurrent())


def _throw_unless_stopped(watch, target: gevent.Greenlet, exc: BaseException) -> None:
    """Raise `exc` in `target` on the event loop's next turn, unless `watch` has been stopped by
    then: a kill queued just before the response ended must not land in the server's next
    request on the same connection (Greenlet.kill cannot be taken back once queued)."""
    def fire():
        if not watch.stopped and not target.dead:
            target.throw(exc)
    gevent.get_hub().loop.run_callback(fire)


class DisconnectWatch:
    """An event-loop watcher on the client's socket, not a greenlet blocked reading it: an open
    stream keeps no extra stack. Only when the socket becomes readable does a greenlet look: an
    empty peek means the client closed it (data would be a pipelined request: left alone)."""

    def __init__(self, client, target: gevent.Greenlet):
        self._client, self._target = client, target
        self._checker: gevent.Greenlet | None = None
        self.stopped = False
        self._io = gevent.get_hub().loop.io(client.fileno(), 1)  # 1: readable
        self._io.start(self._readable)

    def _readable(self) -> None:  # runs in the event loop: must not block
        self._io.stop()
        self._checker = gevent.spawn(self._check)

    def _check(self) -> None:
        try:
            peeked = self._client.recv(1, socket.MSG_PEEK)
        except OSError:
            peeked = b""
        if not peeked:  # EOF or reset: the client is gone
            _throw_unless_stopped(self, self._target, ClientGone())

    def stop(self) -> None:
        """Stop watching, and wait for a look under way: the server reads the next keep-alive
        request from the same socket right after the response."""
        if self.stopped:
            return
        self.stopped = True
        self._io.stop()
        self._io.close()
        if self._checker is not None:
            self._checker.kill(block=True, timeout=1)


def stop(watcher: DisconnectWatch | None) -> None:
    if watcher is not None:
        watcher.stop()


class SourceSilent(Exception):
    """Raised into the greenlet relaying a stream when its source has sent nothing for too long."""


class SilenceLimit:
    """A read timeout for a whole relayed stream: one timer that looks a few times per limit,
    instead of a socket timeout, which arms and cancels a timer on every read (a large share of
    the CPU a relay spends per token). Call `heard()` whenever the source speaks, `pause()` while
    the relay is not reading (writing to its own client), `stop()` at the end.
    """

    def __init__(self, seconds: float, target: gevent.Greenlet | None = None):
        self.seconds = seconds
        self.target = target or gevent.getcurrent()
        self.last = time.monotonic()
        self.stopped = False
        period = max(seconds / 4, 0.01)
        self._timer = gevent.get_hub().loop.timer(period, period)
        self._timer.start(self._check)

    def heard(self) -> None:
        self.last = time.monotonic()

    def pause(self) -> None:
        self.last = math.inf

    def _check(self) -> None:
        if time.monotonic() - self.last >= self.seconds:
            self._timer.stop()
            _throw_unless_stopped(self, self.target, SourceSilent())

    def stop(self) -> None:
        self.stopped = True
        self._timer.stop()
        self._timer.close()


class SocketReader:
    """Reads a stream from a socket as it arrives, cheaply per read (chat's reads of the model, the
    relay's reads of the next hop). Once a read has emptied the socket, the next one waits on the
    event loop for bytes before reading (`wait_first`, for gevent's sockets without a timeout): a
    streamed token seldom waits in the socket, and reading first fails (EAGAIN, an exception in
    gevent) and then waits anyway, at a system call and about 2.5 µs of CPU per read. `pace()`, if
    given, is called before a read that follows an emptying one and says whether it waited (for
    chat.pacing's next tick): then bytes have likely come meanwhile and are read at once. Bytes a
    TLS socket has decrypted and not yet handed out are read without waiting."""

    __slots__ = ("sock", "_pending", "_readable", "emptied")

    def __init__(self, sock):
        self.sock = sock
        self._pending = getattr(sock, "pending", None)
        self._readable = None   # an event-loop watcher for "bytes have arrived", made on first use
        self.emptied = True     # the last read took everything the socket had

    def pending(self) -> bool:
        return self._pending is not None and bool(self._pending())

    def recv(self, size: int, *, wait_first: bool = True, pace=None) -> bytes:
        if pace is not None and self.emptied and pace():  # after a full read: the rest at once
            self.emptied = False
        if wait_first and self.emptied and not self.pending():
            hub = gevent.get_hub()
            if self._readable is None:
                self._readable = hub.loop.io(self.sock.fileno(), 1)  # 1: readable
            hub.wait(self._readable)
        data = self.sock.recv(size)
        self.emptied = len(data) < size
        return data

    def close(self) -> None:
        """Stop watching the socket (before it is closed: its descriptor may be reused)."""
        if self._readable is not None:
            self._readable.close()
            self._readable = None
