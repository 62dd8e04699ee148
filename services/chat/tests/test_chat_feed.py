"""What a stream's response generator hears from its producer (chat.feed.listen): deltas coalesced,
beats while quiet, the time limit and a drain on time, a silent model given up on, and no timer
left behind."""
from __future__ import annotations

import time
from types import SimpleNamespace

import gevent
import gevent.queue
import pytest

from chat import feed
from rolechat_common import shutdown


def settings(heartbeat=10.0, read_timeout=300.0, max_stream=900.0):
    return SimpleNamespace(sse_heartbeat_seconds=heartbeat, upstream_read_timeout_seconds=read_timeout,
                           max_stream_seconds=max_stream)


def a_turn(heard_at=None):
    return SimpleNamespace(started=time.monotonic(), heard_at=heard_at, silenced=False)


def idle_producer():
    return gevent.spawn(gevent.sleep, 60)


@pytest.fixture(autouse=True)
def fresh_loop_clock():
    """The event loop keeps its own idea of the time, refreshed as it runs; after other tests that
    did not run it, a timer set now (spawn_later) would fire seconds early."""
    gevent.get_hub().loop.update_now()


@pytest.fixture
def producer():
    greenlet = idle_producer()
    yield greenlet
    greenlet.kill()


def timed(hearing, count):
    """The first `count` items heard, each with the seconds since the call."""
    started, heard = time.monotonic(), []
    for item in hearing:
        heard.append((round(time.monotonic() - started, 3), item))
        if len(heard) == count:
            break
    return heard


def test_deltas_queued_together_are_heard_as_one_and_the_outcome_ends_it(producer):
    queue = gevent.queue.Queue()
    for text in ("Hel", "lo", " there"):
        queue.put((feed.DELTA, text))
    queue.put((feed.END,))
    queue.put((feed.DELTA, "never heard"))
    assert list(feed.listen(queue, producer, a_turn(), settings())) == [(feed.DELTA, "Hello there"), (feed.END,)]


def test_a_beat_comes_each_heartbeat_interval_of_quiet_and_a_delta_puts_it_off(producer):
    queue = gevent.queue.Queue()
    hearing = feed.listen(queue, producer, a_turn(), settings(heartbeat=0.2))
    gevent.spawn_later(0.5, queue.put, (feed.DELTA, "x"))
    heard = timed(hearing, 4)
    hearing.close()
    kinds = [item[0] for _, item in heard]
    assert kinds == [feed.BEAT, feed.BEAT, feed.DELTA, feed.BEAT], heard
    at = [seconds for seconds, _ in heard]
    # (the times are the test's, taken just after each item: a few ms either way)
    assert 0.195 <= at[0] < 0.35 and 0.395 <= at[1] < 0.55, "every 0.2 s of quiet, a look (1/8) late at most"
    assert 0.195 <= at[3] - at[2] < 0.35, "the delta started the interval again"


@pytest.mark.parametrize("max_stream", [0.005, 0.3])
def test_the_time_limit_ends_the_stream_on_time_even_between_looks(producer, max_stream):
    queue = gevent.queue.Queue()
    heard = timed(feed.listen(queue, producer, a_turn(), settings(max_stream=max_stream)), 1)
    (seconds, item), = heard
    assert item == (feed.TIME_UP,)
    assert max_stream - 0.002 <= seconds < max_stream + 0.1, "the looks are a second apart here, yet on time"


def test_a_drain_ends_the_stream_by_the_workers_deadline(producer, monkeypatch):
    queue = gevent.queue.Queue()
    hearing = feed.listen(queue, producer, a_turn(), settings(heartbeat=0.4))  # a look every 0.05 s
    drain = gevent.spawn_later(0.05, lambda: monkeypatch.setattr(shutdown, "_deadline", time.monotonic() + 0.25))
    (seconds, item), = timed(hearing, 1)
    assert item == (feed.DRAINED,) and 0.3 <= seconds < 0.4, "noticed at the next look, then ended on time"
    assert drain.successful()


def test_a_model_silent_for_the_read_timeout_is_given_up_once():
    queue = gevent.queue.Queue()
    kills = []

    def reading():  # takes its time to report, as a producer closing its stream may
        while True:
            try:
                gevent.sleep(60)
            except feed.UpstreamSilent:
                kills.append(time.monotonic())
                if len(kills) == 1:
                    gevent.spawn_later(0.3, queue.put, (feed.ERROR, "upstream_timeout", "silent"))

    producer = gevent.spawn(reading)
    turn = a_turn(heard_at=time.monotonic())
    started = time.monotonic()
    heard = [item for item in feed.listen(queue, producer, turn, settings(heartbeat=10, read_timeout=0.2))]
    producer.kill()
    assert heard == [(feed.ERROR, "upstream_timeout", "silent")]
    assert len(kills) == 1, "stopped once, though it took 0.3 s more to end"
    assert 0.2 <= kills[0] - started < 0.3 and turn.silenced


def test_no_silence_limit_while_the_headers_are_awaited(producer):
    queue = gevent.queue.Queue()
    turn = a_turn(heard_at=None)  # the SDK's own timeout covers the wait for the headers
    hearing = feed.listen(queue, producer, turn, settings(heartbeat=0.1, read_timeout=0.1))
    assert [item for _, item in timed(hearing, 3)] == [(feed.BEAT,)] * 3
    hearing.close()
    assert not producer.dead and not turn.silenced


def test_nothing_more_is_queued_once_the_stream_stopped_listening(producer):
    queue = gevent.queue.Queue()
    hearing = feed.listen(queue, producer, a_turn(), settings(heartbeat=0.05, max_stream=0.2))
    assert next(hearing) == (feed.BEAT,)
    hearing.close()
    gevent.sleep(0.3)  # past more beats and the time limit
    assert queue.qsize() == 0


def test_a_beat_never_waits_behind_deltas_still_to_be_sent(producer):
    """A slow client: the stream is still writing when the interval passes; what is queued goes
    out next, as one event, and no beat is slipped in between."""
    queue = gevent.queue.Queue()
    hearing = feed.listen(queue, producer, a_turn(), settings(heartbeat=0.1))
    queue.put((feed.DELTA, "a"))
    assert next(hearing) == (feed.DELTA, "a")
    queue.put((feed.DELTA, "b"))
    gevent.sleep(0.35)  # writing "a" to a slow client, past three intervals
    queue.put((feed.DELTA, "c"))
    assert next(hearing) == (feed.DELTA, "bc")
    hearing.close()


def test_closing_while_the_end_is_near_leaves_no_timer(producer):
    queue = gevent.queue.Queue()
    hearing = feed.listen(queue, producer, a_turn(), settings(heartbeat=10, max_stream=0.3))
    gevent.spawn_later(0.25, queue.put, (feed.DELTA, "x"))  # within the last look: the one-shot timer is set
    assert next(hearing) == (feed.DELTA, "x")
    hearing.close()
    gevent.sleep(0.2)  # past the time limit
    assert queue.qsize() == 0
