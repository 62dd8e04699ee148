"""The coalescing interval follows the event loop's lag (chat.pacing): the configured interval
while the process keeps up, longer while it falls behind, and back again."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from chat.pacing import LoopLag

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
