"""How often a stream sends its deltas: SSE_COALESCE_MS, longer while this process is overloaded.

Every event costs each hop a read, a write and a wake-up, whatever it carries. While the worker
keeps up, deltas go out at most every SSE_COALESCE_MS (25 ms: tokens look live). When it falls
behind, a fixed interval spends what CPU there is on sending many small events to the streams
already running, and new questions wait for their first token (measured at 1,000 streams on two
cores: 12 s at 25 ms, 3 s at 150 ms). So the interval grows with the event loop's lag, up to
SSE_COALESCE_MAX_MS, and shrinks back as the lag goes. The lag is read from the streams' own
waits: a stream that sleeps until its next tick notes how late it woke. No timer of its own.

Once an answer has begun, its stream reads the model on this process's ticks, the multiples of
the interval on the monotonic clock (Ticks): the streams of a process read, and so send, at the
same few moments, so each hop wakes a few times per tick for all of them instead of once per token
of each (on two cores at 200 streams, three runs back to back: 118-121 -> 100-108 µs of CPU per
relayed token in all, with the relay's own reading in rolechat_common.proxy). A longer interval is
a whole multiple of the base one, so that streams stay in step as it changes. Streams take turns
among PHASES offsets of the tick: were they all due at one instant, each stream's place in the
burst, and so the time between its events, would vary by the burst's length (token gap p99 over the
model's: +12 ms with one phase, +8 ms with three). A tick that finds nothing waits for the next
bytes, which are read as they come (a model slower than the ticks is read token by token).
"""
from __future__ import annotations

import itertools
import time

import gevent

PHASES = 3                 # offsets of the tick that streams take in turn (see above)
LAG_FREE_SECONDS = 0.005   # lateness normal on a busy but coping loop: no effect
LAG_WEIGHT = 4.0           # each second of lag beyond that adds this many seconds to the interval
SMOOTHING = 0.05           # weight of each new sample in the running average


class LoopLag:
    """A running average of how late this process's streams wake from their waits."""

    def __init__(self):
        self.seconds = 0.0

    def note(self, late_by: float) -> None:
        self.seconds += SMOOTHING * (max(late_by, 0.0) - self.seconds)

    def interval(self, base: float, ceiling: float) -> float:
        """The coalescing interval now: `base`, plus a share of the lag beyond the normal."""
        extra = LAG_WEIGHT * max(self.seconds - LAG_FREE_SECONDS, 0.0)
        return min(base + extra, max(ceiling, base))


LAG = LoopLag()  # one per process: the event loop is the process's


_streams = itertools.count()  # streams paced so far in this process: their turn among the phases


class Ticks:
    """Waits until the process's next tick, for one stream, once `begin` has been called (the first
    token goes out as soon as it comes). Calling the instance waits and says whether it did."""

    @classmethod
    def for_stream(cls, base: float, ceiling: float) -> "Ticks":
        """A new stream's ticks, on the next of the PHASES offsets in turn."""
        return cls(base, ceiling, phase=next(_streams) % PHASES * base / PHASES)

    def __init__(self, base: float, ceiling: float, *, phase: float = 0.0, clock=time.monotonic,
                 sleep=gevent.sleep):
        self.base, self.ceiling, self.phase = base, ceiling, phase
        self.begun = False
        self._clock, self._sleep = clock, sleep

    def begin(self) -> None:
        self.begun = True

    def end(self) -> None:
        """The answer is in: the body's last bytes are read at once."""
        self.begun = False

    def __call__(self) -> bool:
        if not self.begun:
            return False
        tick = LAG.interval(self.base, self.ceiling)
        if tick <= 0:
            return False
        # Whole multiples of the base interval: every tick of a longer one is also a tick of the
        # base, so streams stay in step while the interval changes with the lag.
        if self.base > 0:
            most = max(1, int(self.ceiling / self.base + 1e-9))  # never past SSE_COALESCE_MAX_MS
            tick = self.base * max(1, min(round(tick / self.base), most))
        now = self._clock()
        wake_at = ((now - self.phase) // tick + 1) * tick + self.phase
        self._sleep(wake_at - now)
        # How late the wake-up came. (Noted after the tick's deltas were sent instead, the burst of
        # a phase counted as lag: at C = 200 the interval doubled and the token gap p99 rose from
        # 30 to 43 ms, for no gain at C = 1000.)
        LAG.note(self._clock() - wake_at)
        return True
