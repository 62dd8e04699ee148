"""The coalescing interval follows the event loop's lag (chat.pacing): the configured interval
while the process keeps up, longer while it falls behind, and back again."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from chat.pacing import LoopLag, Ticks

BASE, CEILING = 0.025, 0.25


def test_a_loop_that_keeps_up_keeps_the_configured_interval():
    lag = LoopLag()
    assert lag.interval(BASE, CEILING) == BASE
    for late_by in [0.001, 0.004, -0.002, 0.003] * 50:  # the usual lateness of a busy, coping loop
        lag.note(late_by)
    assert lag.interval(BASE, CEILING) == BASE


def test_the_interval_grows_with_the_lag_up_to_its_ceiling_and_comes_back():
    lag = LoopLag()
    for _ in range(200):
        lag.note(0.030)
    assert lag.interval(BASE, CEILING) == pytest.approx(BASE + 4 * (0.030 - 0.005), rel=0.01)
    for _ in range(200):
        lag.note(0.5)
    assert lag.interval(BASE, CEILING) == CEILING
    assert lag.interval(BASE, 0.0) == BASE  # a ceiling below the interval never shortens it
    for _ in range(300):
        lag.note(0.001)
    assert lag.interval(BASE, CEILING) == BASE


OVERLOAD = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, time
    import gevent
    from chat import pacing

    def stream(waits):
        for _ in range(waits):  # as a stream waits for its next flush
            wake_at = time.monotonic() + 0.025
            gevent.sleep(wake_at - time.monotonic())
            pacing.LAG.note(time.monotonic() - wake_at)

    def hog(until):  # work that holds the loop 40 ms at a time, as a saturated worker's streams do
        while time.monotonic() < until:
            started = time.monotonic()
            while time.monotonic() - started < 0.04:
                pass
            gevent.sleep(0.001)  # a timer: sleep(0) would starve every timer in the loop

    gevent.joinall([gevent.spawn(stream, 40) for _ in range(5)])
    calm = pacing.LAG.interval(0.025, 0.25)
    hogs = [gevent.spawn(hog, time.monotonic() + 3.0) for _ in range(3)]
    gevent.joinall([gevent.spawn(stream, 20) for _ in range(5)])
    loaded = pacing.LAG.interval(0.025, 0.25)
    gevent.joinall(hogs)
    gevent.joinall([gevent.spawn(stream, 80) for _ in range(5)])
    print(json.dumps({"calm": calm, "loaded": loaded, "after": pacing.LAG.interval(0.025, 0.25)}))
""")


def test_under_gevent_a_hogged_loop_lengthens_the_interval_and_a_calm_one_restores_it():
    done = subprocess.run([sys.executable, "-c", OVERLOAD], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["calm"] < 0.035, result
    assert result["loaded"] > 0.1, result
    assert result["after"] < 0.035, result


def test_ticks_wait_only_once_begun_and_every_stream_wakes_on_the_same_multiples_of_the_interval():
    now = [100.003]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 6))
        now[0] += seconds

    first = Ticks(0.025, 0.25, clock=lambda: now[0], sleep=sleep)
    assert first() is False and slept == []  # before the first delta: reads at once
    first.begin()
    assert first() is True
    assert slept == [0.022] and round(now[0], 6) == 100.025
    now[0] = 100.031  # another stream, at another moment of the same tick
    second = Ticks(0.025, 0.25, clock=lambda: now[0], sleep=sleep)
    second.begin()
    assert second() is True
    assert slept[-1] == 0.019 and round(now[0], 6) == 100.05  # the same next tick as every stream's
    first.end()  # the answer is complete: its last bytes are read at once
    assert first() is False and len(slept) == 2
    off = Ticks(0.0, 0.0, clock=lambda: now[0], sleep=sleep)
    off.begin()
    assert off() is False and len(slept) == 2  # SSE_COALESCE_MS=0: every read at once


def test_ticks_keep_their_phase_and_a_longer_interval_is_a_whole_multiple_of_the_base(monkeypatch):
    from chat import pacing

    now = [200.001]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    phases = {round(pacing.Ticks.for_stream(0.03, 0.3).phase, 6) for _ in range(6)}
    assert phases == {0.0, 0.01, 0.02}  # new streams take the offsets in turn
    ticks = Ticks(0.03, 0.3, phase=0.01, clock=lambda: now[0], sleep=sleep)
    ticks.begin()
    ticks()
    assert round(now[0], 6) == 200.02  # the next multiple of 30 ms (200.01), 10 ms on
    lagging = LoopLag()
    lagging.seconds = 0.019  # an interval of 30 + 4 * 14 = 86 ms: rounded to 90, three base ticks
    monkeypatch.setattr(pacing, "LAG", lagging)
    ticks()
    assert round(now[0], 6) == 200.08  # (200.08 - 0.01) is a multiple of 90 ms
