"""Per-user request rates, per-IP limits on routes without sign-in, concurrent stream slots
(real Redis, stand-in chat and memory)."""
from __future__ import annotations

from dataclasses import replace

import pytest
import redis

from rolechat_common.limits import Allowance, LimitPolicy

CID = "c_" + "L" * 22
TIGHT = LimitPolicy(default=Allowance(rate_limit_per_minute=3, concurrent_streams=1, daily_tokens=1000),
                    groups={"admins": {"rate_limit_per_minute": None, "concurrent_streams": None}},
                    anonymous_rate_limit_per_minute=2)


@pytest.fixture
def tight(make_app):
    return make_app(limits=TIGHT).test_client()


def as_user(tokens, sub: str, groups: list[str] | None = None) -> dict:
    return {"x-amzn-oidc-data": tokens(sub=sub, username=sub[:8], cognito__groups=groups)}


def assert_429(response, code: str) -> int:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.json["error"]["code"] == code
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert str(retry_after) in response.json["error"]["message"]
    return retry_after


def test_a_user_over_the_rate_gets_429_with_retry_after_and_others_are_untouched(tight, tokens, memory):
    alice = as_user(tokens, "aaaaaaaa-0000-4000-8000-000000000001")
    for _ in range(3):
        assert tight.get("/api/conversations", headers=alice).status_code == 200
    assert_429(tight.get("/api/conversations", headers=alice), "rate_limited")
    assert len(memory.received) == 3, "the refused request never reached memory"
    assert "3 per minute" in tight.get("/api/me", headers=alice).json["error"]["message"]

    bob = as_user(tokens, "bbbbbbbb-0000-4000-8000-000000000002")
    assert tight.get("/api/conversations", headers=bob).status_code == 200


def test_a_group_can_be_unlimited(tight, tokens):
    admin = as_user(tokens, "cccccccc-0000-4000-8000-000000000003", ["admins"])
    assert all(tight.get("/api/me", headers=admin).status_code == 200 for _ in range(10))


def test_routes_without_sign_in_are_limited_per_client_ip(tight):
    first, second = {"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "198.51.100.8"}
    assert tight.get("/api/openapi.json", headers=first).status_code == 200
    assert tight.get("/api/openapi.json", headers=first).status_code == 200
    assert_429(tight.get("/api/openapi.json", headers=first), "rate_limited")
    assert tight.get("/api/openapi.json", headers=second).status_code == 200


def test_only_the_trusted_proxies_forwarded_for_entry_counts(tight):
    # A client can prepend any address it likes; the ALB's own entry (the last) is the one used.
    for forged in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        response = tight.get("/api/openapi.json", headers={"X-Forwarded-For": f"{forged}, 198.51.100.9"})
    assert_429(response, "rate_limited")


def test_failed_sign_ins_count_against_the_address(tight, tokens):
    bad = {"x-amzn-oidc-data": tokens() + "x", "X-Forwarded-For": "198.51.100.10"}
    assert tight.get("/api/me", headers=bad).status_code == 401
    assert tight.get("/api/me", headers=bad).status_code == 401
    assert_429(tight.get("/api/me", headers=bad), "rate_limited")


def test_one_stream_slot_is_held_until_the_answer_ends(make_app, tokens, chat):
    tight = make_app(limits=replace(TIGHT, default=replace(TIGHT.default, rate_limit_per_minute=100))).test_client()
    alice = as_user(tokens, "dddddddd-0000-4000-8000-000000000004")
    first = tight.post(f"/api/conversations/{CID}/messages?slow=1", json={"content": "hi"}, headers=alice,
                       buffered=False)
    assert first.status_code == 200
    assert_429(tight.post(f"/api/conversations/{CID}/messages", json={"content": "again"}, headers=alice),
               "too_many_streams")
    assert tight.get("/api/conversations", headers=alice).status_code == 200, "other requests still pass"
    first.close()  # the client leaves mid-answer: the slot is given back
    second = tight.post(f"/api/conversations/{CID}/messages", json={"content": "again"}, headers=alice)
    assert second.status_code == 200 and second.get_data().endswith(b"event: done\ndata: {\"message\":{}}\n\n")
    third = tight.post(f"/api/conversations/{CID}/messages", json={"content": "once more"}, headers=alice)
    assert third.status_code == 200, "a finished answer gave its slot back"


def test_leases_of_a_dead_process_expire(redis_url):
    from rolechat_common.limits import Limiter

    limiter = Limiter(redis.Redis.from_url(redis_url, decode_responses=True))
    held, lease = limiter.acquire_stream("user-x", 1, lease_seconds=1)
    assert held.allowed and lease
    refused, _ = limiter.acquire_stream("user-x", 1, lease_seconds=1)
    assert not refused.allowed and refused.retry_after == 1
    limiter.client.zadd("rc:{user-x}:streams", {lease: 0})  # as if its lease had run out
    again, _ = limiter.acquire_stream("user-x", 1, lease_seconds=1)
    assert again.allowed


def test_a_stream_is_counted_and_given_its_slot_in_one_round_trip(make_app, tokens, chat, redis_url):
    client = make_app(limits=replace(TIGHT, default=replace(TIGHT.default, rate_limit_per_minute=100))).test_client()
    alice = as_user(tokens, "ffffffff-0000-4000-8000-000000000006")
    store = redis.Redis.from_url(redis_url, decode_responses=True)
    client.post(f"/api/conversations/{CID}/messages", json={"content": "hi"}, headers=alice).close()
    store.config_resetstat()  # the script is loaded by now (its first use loads it: two calls more)
    answer = client.post(f"/api/conversations/{CID}/messages?slow=1", json={"content": "hi"}, headers=alice,
                         buffered=False)
    assert answer.status_code == 200
    calls = {name: stats["calls"] for name, stats in store.info("commandstats").items()}
    assert calls.get("cmdstat_evalsha", 0) + calls.get("cmdstat_eval", 0) == 1, calls
    counted = [int(store.get(key)) for key in store.scan_iter("rc:{ffffffff-0000-4000-8000-000000000006}:rate:*")]
    assert sum(counted) == 2, "both requests were counted against the rate"
    leases = store.zrange("rc:{ffffffff-0000-4000-8000-000000000006}:streams", 0, -1)
    assert len(leases) == 1, "the stream holds its slot"
    answer.close()
    assert store.zcard("rc:{ffffffff-0000-4000-8000-000000000006}:streams") == 0, "and gives it back"


def test_a_stream_refused_by_the_rate_holds_no_slot_and_one_refused_a_slot_still_counts(redis_url):
    from rolechat_common.limits import Limiter

    limiter = Limiter(redis.Redis.from_url(redis_url, decode_responses=True))
    rate, slot, lease = limiter.hit_and_acquire_stream("user-y", 1, 1, lease_seconds=30)
    assert rate.allowed and rate.remaining == 0 and slot.allowed and lease
    refused_rate, untried, no_lease = limiter.hit_and_acquire_stream("user-y", 1, 5, lease_seconds=30)
    assert not refused_rate.allowed and untried.allowed and no_lease == ""
    assert limiter.client.zcard("rc:{user-y}:streams") == 1, "the refused request took no slot"

    hour = 3600  # a window no run of this test straddles
    limiter.hit_and_acquire_stream("user-z", 10, 1, lease_seconds=30, window=hour)
    rate, refused_slot, no_lease = limiter.hit_and_acquire_stream("user-z", 10, 1, lease_seconds=30, window=hour)
    assert rate.allowed and rate.remaining == 8, "both requests were counted"
    assert not refused_slot.allowed and 1 <= refused_slot.retry_after <= 5 and no_lease == ""
    # Unlimited on either side: the other limit alone.
    assert limiter.hit_and_acquire_stream("user-z", None, 1, lease_seconds=30, window=hour)[1].allowed is False
    assert limiter.hit_and_acquire_stream("user-z", 10, None, lease_seconds=30, window=hour)[0].remaining == 7


def test_with_redis_unreachable_limits_step_aside_and_the_api_still_answers(make_app, tokens, signed_in):
    with socket_closed_port() as port:
        client = make_app(limits=TIGHT, redis_url=f"redis://127.0.0.1:{port}/0").test_client()
        assert all(client.get("/api/me", headers=signed_in).status_code == 200 for _ in range(5))


def test_a_slot_taken_for_a_request_that_then_fails_is_given_back(make_app, tokens, chat):
    import io

    tight = make_app(limits=replace(TIGHT, default=replace(TIGHT.default, rate_limit_per_minute=100))).test_client()
    alice = as_user(tokens, "eeeeeeee-0000-4000-8000-000000000007")
    # A chunked body (no Content-Length) past the size limit: found too large only as it is read,
    # after the stream slot was taken.
    big = tight.post(f"/api/conversations/{CID}/messages", headers={**alice, "Transfer-Encoding": "chunked"},
                     input_stream=io.BytesIO(b"x" * 5000), environ_overrides={"wsgi.input_terminated": True})
    assert big.status_code == 413, big.get_data(as_text=True)
    answer = tight.post(f"/api/conversations/{CID}/messages", json={"content": "hi"}, headers=alice)
    assert answer.status_code == 200, "the one slot is free again"


def test_with_redis_unreachable_a_streamed_answer_still_goes_through(make_app, tokens, chat):
    with socket_closed_port() as port:
        client = make_app(limits=TIGHT, redis_url=f"redis://127.0.0.1:{port}/0").test_client()
        alice = as_user(tokens, "99999999-0000-4000-8000-000000000009")
        for _ in range(2):  # beyond the one stream slot and within nothing: limits step aside
            answer = client.post(f"/api/conversations/{CID}/messages", json={"content": "hi"}, headers=alice)
            assert answer.status_code == 200 and answer.get_data().endswith(b"event: done\ndata: {\"message\":{}}\n\n")


def socket_closed_port():
    import contextlib
    import socket

    @contextlib.contextmanager
    def closed():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            yield s.getsockname()[1]  # bound, never listening: connections are refused
    return closed()


def test_a_cluster_that_is_down_at_start_and_later_leaves_the_api_answering(make_app, signed_in):
    with socket_closed_port() as port:
        # A cluster client connects when it is made: the proxy must still start, and answer.
        client = make_app(limits=TIGHT, redis_url=f"redis://127.0.0.1:{port}/0", redis_cluster=True).test_client()
        assert [client.get("/api/me", headers=signed_in).status_code for _ in range(5)] == [200] * 5


def test_an_error_reshaped_for_the_openai_api_still_gives_back_its_stream_slot(make_app, chat, monkeypatch):
    from auth_proxy import callers
    from rolechat_common.identity import Identity

    key_caller = Identity("k_" + "K" * 22, "api-key", ("api-key",))
    monkeypatch.setattr(callers, "api_key_caller", lambda *args: key_caller)
    one_stream = replace(TIGHT, default=replace(TIGHT.default, rate_limit_per_minute=100, concurrent_streams=1))
    client = make_app(limits=one_stream).test_client()
    body = {"model": "tea-shop", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(3):  # chat is stopping: 503 in its own shape, reshaped into OpenAI's
        response = client.post("/v1/chat/completions?fail=restarting", json=body)
        assert response.status_code == 503 and response.json["error"]["type"] == "server_error"
    assert client.post("/v1/chat/completions", json=body).status_code != 429, "no slot was left held"
