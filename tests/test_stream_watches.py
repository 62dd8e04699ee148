"""The per-stream watches of rolechat_common.streaming, on gevent's real event loop: a read timeout
for a whole relayed stream (SilenceLimit) that is paused while the relay writes, and that never
fires once stopped, even when it was about to."""
from __future__ import annotations

import time

import gevent
import pytest

from rolechat_common.streaming import SilenceLimit, SourceSilent


def run(body) -> tuple[str, float]:
    """Run `body` in a greenlet; (how it ended, seconds it took)."""
    started = time.monotonic()

    def target():
        try:
            body()
        except SourceSilent:
            return "silent"
        return "finished"
    return gevent.spawn(target).get(timeout=10), time.monotonic() - started


def test_silence_past_the_limit_is_raised_in_the_relaying_greenlet():
    def body():
        SilenceLimit(0.2)
        gevent.sleep(2)
    outcome, took = run(body)
    assert outcome == "silent" and 0.2 <= took < 0.6


def test_hearing_from_the_source_keeps_the_stream_going():
    def body():
        limit = SilenceLimit(0.2)
        for _ in range(10):
            gevent.sleep(0.05)
            limit.heard()
        limit.stop()
    assert run(body)[0] == "finished"


def test_time_spent_writing_to_the_client_is_not_silence():
    def body():
        limit = SilenceLimit(0.2)
        limit.pause()
        gevent.sleep(0.6)  # a slow client: the relay is writing, not reading
        limit.heard()
        gevent.sleep(2)
    outcome, took = run(body)
    assert outcome == "silent" and 0.8 <= took < 1.2


@pytest.mark.parametrize("stop_first", [True, False])
def test_a_limit_stopped_just_after_it_ran_out_raises_nothing(stop_first):
    def body():
        limit = SilenceLimit(60)
        limit.last = time.monotonic() - 61
        limit._check()  # the timer's look: the limit has run out, the raise is on its way
        if stop_first:
            limit.stop()  # the stream ended in the same turn of the loop
        gevent.sleep(0.2)
    assert run(body)[0] == ("finished" if stop_first else "silent")
