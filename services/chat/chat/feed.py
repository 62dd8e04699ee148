"""What a turn's response generator hears from the producer that reads the model (chat.turns):
the deltas, coalesced; a beat whenever the stream has sent nothing for SSE_HEARTBEAT_SECONDS; then
exactly one outcome.

The generator waits on the producer's queue without a timeout. A wait with one (for heartbeats
and the time limits) creates, arms and cancels a gevent Timeout for every event of every stream:
a hand-off costs 6.8 µs with it, 3.9 without, measured on its own (at C = 200 the whole stack's
figure stays within its noise). Instead, one timer per stream (Alarm) looks a few times per
heartbeat interval, from the event loop: it queues a beat when
the stream has been quiet for the interval, stops the producer when the model has been silent for
UPSTREAM_READ_TIMEOUT_SECONDS, and ends the stream at MAX_STREAM_SECONDS, or by the drain deadline
once the worker is stopping (noticed at the next look, at most a second later; the deadline is a
third of GRACEFUL_TIMEOUT_SECONDS, up to 15 s, before the worker is killed). Either end comes on
time: within a period of it, a one-shot timer takes over.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import gevent
import gevent.queue

from rolechat_common import shutdown

logger = logging.getLogger("rolechat.chat.feed")

# What the producer puts on the queue.
DELTA, END, ERROR, GONE, EXIT = "delta", "end", "error", "gone", "exit"
# What the alarm puts there.
BEAT = "beat"          # the stream has sent nothing for SSE_HEARTBEAT_SECONDS
TIME_UP = "time_up"    # the stream reached MAX_STREAM_SECONDS
DRAINED = "drained"    # the service is stopping and the stream must end now

LOOKS_PER_INTERVAL = 8  # a beat comes at most an eighth of the interval late
MOST_SECONDS_BETWEEN_LOOKS = 1.0


class UpstreamSilent(Exception):
    """Raised into the producer when the model's stream has been silent for the read timeout."""


class Alarm:
    """The one timer of a stream (see the module's docstring). `sent()` notes that the stream has
    just sent something; `stop()` ends the watch (always, in a `finally`)."""

    def __init__(self, queue: gevent.queue.Queue, producer: gevent.Greenlet, turn, config):
        self.queue, self.producer, self.turn = queue, producer, turn
        self.heartbeat = config.sse_heartbeat_seconds
        self.read_timeout = config.upstream_read_timeout_seconds
        self.deadline = turn.started + config.max_stream_seconds
        self.last_sent = time.monotonic()
        self.rang = False
        self.period = min(max(min(self.heartbeat, self.read_timeout) / LOOKS_PER_INTERVAL, 0.01),
                          MOST_SECONDS_BETWEEN_LOOKS)
        self._loop = gevent.get_hub().loop
        self._timer = self._loop.timer(self.period, self.period)
        self._exact = None  # the one-shot timer for an end less than a period away
        self._timer.start(self._look)
        self._look()  # a time limit shorter than one period

    def sent(self) -> None:
        self.last_sent = time.monotonic()

    def _look(self) -> None:  # in the event loop: must not block
        if self.rang:
            return
        try:
            self._check(time.monotonic())
        except Exception:  # noqa: BLE001 - the consumer waits on this timer: it must hear an end
            logger.exception("a stream's alarm failed")
            self._ring(ERROR, "internal", "Something went wrong on our side; try again.")

    def _check(self, now: float) -> None:
        drain_by = shutdown.deadline()
        end_at = self.deadline if drain_by is None else min(self.deadline, drain_by)
        if now >= end_at:
            self._ring(DRAINED if drain_by is not None and drain_by <= self.deadline else TIME_UP)
            return
        if end_at - now < self.period:
            # On time: the event loop's clock may run a little behind, so a timer can come early;
            # it looks again and, if early, sets itself again.
            if self._exact is not None:
                self._exact.close()
            self._exact = self._loop.timer(end_at - now)
            self._exact.start(self._look)
        self._watch_silence(now)
        if now - self.last_sent >= self.heartbeat:
            self.last_sent = now
            if not self.queue.qsize():  # else the consumer is still writing what is queued: no beat needed
                self.queue.put((BEAT,))

    def _watch_silence(self, now: float) -> None:
        """Stop the producer once the model's stream (begun: the SDK's own timeout covers the wait
        for the headers) has been silent for the read timeout; it reports the timeout itself."""
        turn = self.turn
        if turn.heard_at is None or turn.silenced or self.producer.dead:
            return
        if now - turn.heard_at >= self.read_timeout:
            turn.silenced = True  # once: a second kill could land in the producer's own error handling
            self.producer.kill(UpstreamSilent(), block=False)

    def _ring(self, *outcome) -> None:
        self.stop()
        self.queue.put(outcome)

    def stop(self) -> None:
        self.rang = True
        for timer in (self._timer, self._exact):
            if timer is not None:
                timer.close()
        self._exact = None


def listen(queue: gevent.queue.Queue, producer: gevent.Greenlet, turn, config) -> Iterator[tuple]:
    """(DELTA, text) for each run of deltas queued, (BEAT,) for a heartbeat due, and last the outcome:
    (END,), (ERROR, code, message), (GONE,), (EXIT,) if the producer ended without a word,
    (TIME_UP,) or (DRAINED,)."""
    alarm = None
    try:
        alarm = Alarm(queue, producer, turn, config)
        while True:
            item = queue.get()
            kind = item[0]
            if kind == DELTA:
                texts = [item[1]]
                while queue.qsize() and queue.peek_nowait()[0] == DELTA:
                    texts.append(queue.get_nowait()[1])
                alarm.sent()
                yield DELTA, "".join(texts)
            elif kind == BEAT:
                yield item
            else:
                yield item
                return
    finally:
        if alarm is not None:
            alarm.stop()
