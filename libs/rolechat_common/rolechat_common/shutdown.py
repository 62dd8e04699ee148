"""When this worker must have finished its streams by, once it has been told to stop.

gunicorn's master kills a worker outright when `graceful_timeout` runs out after SIGTERM; a stream
still open then would end with no final event and nothing saved. So the worker notes, on SIGTERM,
a deadline a little before that, and long streams end themselves cleanly by it (see chat's turns).
"""
from __future__ import annotations

import time

_deadline: float | None = None


def begin(grace_seconds: float) -> None:
    """Start draining: streams should be finished `grace_seconds` from now, less a margin."""
    global _deadline
    margin = min(15.0, grace_seconds / 3)
    if _deadline is None:
        _deadline = time.monotonic() + max(grace_seconds - margin, 0.0)


def deadline() -> float | None:
    """The monotonic time by which open streams must end, or None while not draining."""
    return _deadline
