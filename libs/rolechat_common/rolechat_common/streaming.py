"""Server-Sent Events and noticing, within milliseconds, that the client has gone away.

A stream that only writes when the model speaks would notice a vanished client only at its next
write; a model can be silent for a long time. So each stream gets a watcher greenlet that waits
for the client's socket to become readable: an empty peek means the client closed it.
"""
from __future__ import annotations

import json
import socket
import time

import gevent

HEARTBEAT = b": keep-alive\n\n"


class ClientGone(Exception):
    """Raised into the greenlet serving a stream when its client disconnects."""


def sse(event: str, data: dict) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


def watch_disconnect(environ: dict, target: gevent.Greenlet | None = None) -> gevent.Greenlet | None:
    """Raise ClientGone in `target` (default: the calling greenlet) once the client disconnects.

    Returns the watcher, which the caller must kill when the response ends. Outside gunicorn
    (Flask's test client has no socket) there is nothing to watch and None is returned.
    """
    client = environ.get("gunicorn.socket")
    if client is None:
        return None
    target = target or gevent.getcurrent()

    def watch():
        try:
            peeked = client.recv(1, socket.MSG_PEEK)
        except OSError:
            peeked = b""
        if not peeked:  # EOF or reset: the client is gone. Data would be a pipelined request.
            target.kill(ClientGone(), block=False)

    return gevent.spawn(watch)


def stop(watcher: gevent.Greenlet | None) -> None:
    """End the watcher and wait for it: the server reads the next keep-alive request from the
    same socket right after the response, and two greenlets may not read one socket."""
    if watcher is not None:
        watcher.kill(block=True, timeout=1)


class SourceSilent(Exception):
    """Raised into the greenlet relaying a stream when its source has sent nothing for too long."""


class SilenceLimit:
    """A read timeout for a whole relayed stream: one timer that looks a few times per limit,
    instead of a socket timeout, which arms and cancels a timer on every read (a large share of
    the CPU a relay spends per token). Call `heard()` whenever the source speaks; `stop()` at the end.
    """

    def __init__(self, seconds: float, target: gevent.Greenlet | None = None):
        self.seconds = seconds
        self.target = target or gevent.getcurrent()
        self.last = time.monotonic()
        period = max(seconds / 4, 0.01)
        self._timer = gevent.get_hub().loop.timer(period, period)
        self._timer.start(self._check)

    def heard(self) -> None:
        self.last = time.monotonic()

    def _check(self) -> None:
        if time.monotonic() - self.last >= self.seconds:
            self.stop()
            self.target.kill(SourceSilent(), block=False)

    def stop(self) -> None:
        self._timer.stop()
        self._timer.close()
