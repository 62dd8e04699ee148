"""An answer stored together with its turn's usage: counted in the same step as the answer, only
when the answer is stored, by the same rules as POST /api/usage, and never part of the message
(real Redis)."""
from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest
import redis

from memory import create_app
from rolechat_common.limits import Allowance, LimitPolicy
from tests.support.memory_api import create, post

USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "cost_usd": 0.25}
NOTHING = {"prompt_tokens": 0, "completion_tokens": 0, "turns": 0, "cost_usd": 0.0}


def answer(client, who, cid, question: dict | None = None, **fields):
    body = {"role": "assistant", "content": "an answer", "model": "gpt-4o-mini", **fields}
    if question is not None:
        body["answers"] = question["id"]
    return client.post(f"/api/conversations/{cid}/messages", json=body, headers=who)


def usage_of(client, who) -> dict:
    return client.get("/api/usage", headers=who).get_json()


def contents(client, who, cid) -> list[str]:
    return [m["content"] for m in client.get(f"/api/conversations/{cid}", headers=who).get_json()["messages"]]


def test_an_answer_with_its_usage_counts_it_as_post_usage_would(client, alice, bob):
    cid = create(client, alice)
    question = post(client, alice, cid, "user", "q")
    response = answer(client, alice, cid, question, usage=USAGE)
    assert response.status_code == 201, response.get_json()
    usage = usage_of(client, alice)
    assert usage["total"] == {"prompt_tokens": 120, "completion_tokens": 30, "turns": 1, "cost_usd": 0.25}
    assert [m["model"] for m in usage["models"]] == ["gpt-4o-mini"], "counted under the message's model"
    assert usage["limits"]["tokens_used_today"] == 150
    # exactly what the separate call counts
    assert client.post("/api/usage", json={"model": "gpt-4o-mini", **USAGE}, headers=bob).status_code == 204
    assert {k: v for k, v in usage_of(client, bob).items() if k != "limits"} == \
        {k: v for k, v in usage.items() if k != "limits"}


def test_the_usage_is_not_part_of_the_message(client, alice, redis_url):
    cid = create(client, alice)
    question = post(client, alice, cid, "user", "q")
    stored = answer(client, alice, cid, question, usage=USAGE).get_json()
    assert stored.pop("usage_counted") is True  # a word to the caller, not part of the message
    assert set(stored) == {"id", "role", "content", "model", "status", "created_at"}
    assert "usage_counted" not in answer(client, alice, cid).get_json()  # no usage sent, no word
    listed = client.get(f"/api/conversations/{cid}", headers=alice).get_json()["messages"]
    assert listed[-2] == stored
    assert client.get(f"/api/conversations/{cid}/messages/{stored['id']}", headers=alice).get_json() == stored
    raw = redis.Redis.from_url(redis_url, decode_responses=True).hget(f"rc:{{alice-id}}:c:{cid}:msgs", stored["id"])
    assert "usage" not in json.loads(raw) and "tokens" not in raw


def test_an_answer_without_a_question_or_a_cost_counts_its_tokens(client, alice):
    cid = create(client, alice)
    response = answer(client, alice, cid, usage={"prompt_tokens": 7, "completion_tokens": 5, "cost_usd": None})
    assert response.status_code == 201, response.get_json()
    response = answer(client, alice, cid, usage={"prompt_tokens": 1, "completion_tokens": 2}, status="interrupted")
    assert response.status_code == 201, response.get_json()
    assert usage_of(client, alice)["total"] == {"prompt_tokens": 8, "completion_tokens": 7, "turns": 2,
                                                "cost_usd": 0.0}
    assert contents(client, alice, cid) == ["an answer", "an answer"]


def test_an_answer_without_usage_counts_nothing(client, alice):
    cid = create(client, alice)
    question = post(client, alice, cid, "user", "q")
    assert answer(client, alice, cid, question).status_code == 201
    assert answer(client, alice, cid, usage=None).status_code == 201
    assert usage_of(client, alice)["total"] == NOTHING


BAD_COUNTS = [
    {"prompt_tokens": -1, "completion_tokens": 0},
    {"prompt_tokens": 1.5, "completion_tokens": 0},
    {"prompt_tokens": True, "completion_tokens": 0},
    {"prompt_tokens": "3", "completion_tokens": 0},
    {"prompt_tokens": 100_000_001, "completion_tokens": 0},
    {"completion_tokens": 4},
    {"prompt_tokens": 3, "completion_tokens": 4, "cost_usd": -0.01},
    {"prompt_tokens": 3, "completion_tokens": 4, "cost_usd": "0.1"},
    {"prompt_tokens": 3, "completion_tokens": 4, "cost_usd": 1e12},  # past any turn's cost; sums could overflow
]


@pytest.mark.parametrize("bad", BAD_COUNTS)
def test_counts_post_usage_refuses_are_refused_with_the_answer(client, alice, bad):
    cid = create(client, alice)
    question = post(client, alice, cid, "user", "q")
    response = answer(client, alice, cid, question, usage=bad)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_usage"
    assert contents(client, alice, cid) == ["q"], "nothing stored"
    assert usage_of(client, alice)["total"] == NOTHING
    separate = client.post("/api/usage", json={"model": "gpt-4o-mini", **bad}, headers=alice)
    assert separate.status_code == 400, "the same rules as POST /api/usage"


@pytest.mark.parametrize("fields", [
    {"usage": [120, 30]},
    {"usage": {**USAGE, "model": "other"}},                       # its model is the message's
    {"usage": USAGE, "model": None},                              # no model to count it under
    {"usage": USAGE, "model": ""},
])
def test_usage_that_cannot_be_counted_is_refused_with_its_answer(client, alice, fields):
    cid = create(client, alice)
    question = post(client, alice, cid, "user", "q")
    body = {"role": "assistant", "content": "an answer", "model": "gpt-4o-mini", "answers": question["id"], **fields}
    response = client.post(f"/api/conversations/{cid}/messages", json=body, headers=alice)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_usage"
    assert "usage" in response.get_json()["error"]["message"]
    assert contents(client, alice, cid) == ["q"] and usage_of(client, alice)["total"] == NOTHING


@pytest.mark.parametrize("cost", ["NaN", "Infinity", "-Infinity"])
def test_a_cost_that_is_not_a_json_number_is_refused_with_its_answer(client, alice, cost):
    cid = create(client, alice)
    question = post(client, alice, cid, "user", "q")
    body = ('{"role": "assistant", "content": "an answer", "model": "gpt-4o-mini", "answers": "%s", '
            '"usage": {"prompt_tokens": 1, "completion_tokens": 1, "cost_usd": %s}}' % (question["id"], cost))
    response = client.post(f"/api/conversations/{cid}/messages", data=body,  # Python's json would read these
                           content_type="application/json", headers=alice)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert contents(client, alice, cid) == ["q"] and usage_of(client, alice)["total"] == NOTHING


def test_a_question_cannot_carry_usage(client, alice):
    cid = create(client, alice)
    response = client.post(f"/api/conversations/{cid}/messages", headers=alice,
                           json={"role": "user", "content": "q", "model": "gpt-4o-mini", "usage": USAGE})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_usage"
    assert contents(client, alice, cid) == [] and usage_of(client, alice)["total"] == NOTHING


def test_post_usage_refuses_a_cost_redis_cannot_add(client, alice):
    for cost in ("NaN", "Infinity", "1e999"):  # not JSON numbers, or none a double holds
        body = '{"model": "m", "prompt_tokens": 1, "completion_tokens": 1, "cost_usd": %s}' % cost
        response = client.post("/api/usage", data=body, content_type="application/json", headers=alice)
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"
    assert usage_of(client, alice)["total"] == NOTHING


def test_a_refused_answer_counts_nothing(client, alice):
    cid = create(client, alice)
    question = post(client, alice, cid, "user", "q")
    cut = client.post(f"/api/conversations/{cid}/messages", headers=alice,
                      json={"role": "user", "content": "q again", "replaces": question["id"]})
    assert cut.status_code == 201
    late = answer(client, alice, cid, question, usage=USAGE)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "question_replaced"
    gone = answer(client, alice, "c_" + "Q" * 22, question, usage=USAGE)
    assert gone.status_code == 404
    assert contents(client, alice, cid) == ["q again"]
    assert usage_of(client, alice)["total"] == NOTHING


def test_an_answer_past_the_message_limit_counts_nothing(client, alice, config):
    cid = create(client, alice)
    for i in range(config.max_messages_per_conversation):
        post(client, alice, cid, "user", f"q{i}")
    response = answer(client, alice, cid, usage=USAGE)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "limit_reached"
    assert usage_of(client, alice)["total"] == NOTHING


def test_an_answer_with_its_usage_is_stored_in_one_round_trip(client, alice, redis_url):
    cid = create(client, alice)
    assert answer(client, alice, cid, post(client, alice, cid, "user", "q0"), usage=USAGE).status_code == 201
    question = post(client, alice, cid, "user", "q")
    store = redis.Redis.from_url(redis_url)
    store.config_resetstat()  # the script is loaded by now (its first use loads it: two calls more)
    assert answer(client, alice, cid, question, usage=USAGE).status_code == 201
    calls = {name: stats["calls"] for name, stats in store.info("commandstats").items()}
    # The script's own commands count too; a round trip before it would show as MULTI (the check).
    assert calls.get("cmdstat_evalsha", 0) + calls.get("cmdstat_eval", 0) == 1 and "cmdstat_multi" not in calls, calls
    assert contents(client, alice, cid) == ["q0", "an answer", "q", "an answer"]


def test_a_question_is_checked_against_the_quota_and_stored_in_one_round_trip(client, alice, redis_url):
    cid = create(client, alice)
    post(client, alice, cid, "user", "q0")
    store = redis.Redis.from_url(redis_url)
    store.config_resetstat()
    post(client, alice, cid, "user", "q1")
    calls = {name: stats["calls"] for name, stats in store.info("commandstats").items()}
    assert calls.get("cmdstat_evalsha", 0) == 1 and calls.get("cmdstat_get", 0) == 1, calls  # the quota, in the script
    assert "cmdstat_multi" not in calls, calls
    conversation = client.get(f"/api/conversations/{cid}", headers=alice).get_json()
    assert conversation["title"] == "q0", "a title is given once, by the first question"


def test_the_usage_counted_with_an_answer_counts_against_the_daily_quota(config, alice):
    client = create_app(replace(config, limits=LimitPolicy(default=Allowance(daily_tokens=150)))).test_client()
    cid = create(client, alice)
    question = post(client, alice, cid, "user", "q")
    assert answer(client, alice, cid, question, usage=USAGE).status_code == 201
    refused = client.post(f"/api/conversations/{cid}/messages", json={"role": "user", "content": "more"},
                          headers=alice)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "quota_exceeded"


def test_an_answer_and_its_usage_are_one_step_on_a_cluster(cluster_url, config, headers_for):
    """The answer's keys and the usage counters share the user's hash tag: one slot, one script."""
    client = create_app(replace(config, redis_url=cluster_url, redis_cluster=True)).test_client()
    alice = headers_for(f"alice-usage-{uuid.uuid4().hex}")  # the cluster is shared by the session's tests
    cid = create(client, alice)
    question = post(client, alice, cid, "user", "q")
    response = answer(client, alice, cid, question, usage=USAGE)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert answer(client, alice, cid, usage={"prompt_tokens": 1, "completion_tokens": 1}).status_code == 201
    assert client.post("/api/usage", json={"model": "m", "prompt_tokens": 2, "completion_tokens": 3},
                       headers=alice).status_code == 204
    assert usage_of(client, alice)["total"] == {"prompt_tokens": 123, "completion_tokens": 34, "turns": 3,
                                                "cost_usd": 0.25}
    assert contents(client, alice, cid) == ["q", "an answer", "an answer"]
