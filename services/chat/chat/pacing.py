"""How often a stream sends its deltas: SSE_COALESCE_MS, longer while this process is overloaded.

Every event costs each hop a read, a write and a wake-up, whatever it carries. While the worker
keeps up, deltas go out at most every SSE_COALESCE_MS (25 ms: tokens look live). When it falls
behind, a fixed interval spends what CPU there is on sending many small events to the streams
already running, and new questions wait for their first token (measured at 1,000 streams on two
cores: 12 s at 25 ms, 3 s at 150 ms). So the interval grows with the event loop's lag, up to
SSE_COALESCE_MAX_MS, and shrinks back as the lag goes.

The lag is read from the streams' own waits: a stream that sleeps until its next flush notes how
late it woke. No timer of its own.
"""
from __future__ import annotations

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
