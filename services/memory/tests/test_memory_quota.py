"""Daily token quotas: counted from recorded usage, enforced when a new question arrives, shown in
GET /api/usage (real Redis)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from memory import create_app
from rolechat_common import identity
from rolechat_common.limits import Allowance, LimitPolicy

from .conftest import SECRET

POLICY = LimitPolicy(default=Allowance(daily_tokens=100), groups={"admins": {"daily_tokens": None}})


def as_member(user: str, *groups: str) -> dict:
    token = identity.mint(identity.Identity(user, user, tuple(groups)), SECRET, identity.ISSUER_AUTH_PROXY)
    return {identity.IDENTITY_HEADER: token}


@pytest.fixture
def client(config):
    return create_app(replace(config, limits=POLICY)).test_client()


def spend(client, headers, prompt: int, completion: int) -> None:
    response = client.post("/api/usage", json={"model": "gpt-4o-mini", "prompt_tokens": prompt,
                                               "completion_tokens": completion}, headers=headers)
    assert response.status_code == 204


def ask(client, headers, cid: str, text: str = "a question"):
    return client.post(f"/api/conversations/{cid}/messages", json={"role": "user", "content": text}, headers=headers)


def test_questions_stop_at_the_quota_and_the_answer_in_flight_is_still_stored(client):
    carol = as_member("carol-id")
    cid = client.post("/api/conversations", json={}, headers=carol).json["id"]
    spend(client, carol, 60, 39)
    assert ask(client, carol, cid).status_code == 201, "99 of 100 tokens: one more question is allowed"
    spend(client, carol, 0, 1)

    refused = ask(client, carol, cid, "one more")
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "quota_exceeded"
    assert "100 tokens" in refused.json["error"]["message"]
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 86400
    answer = client.post(f"/api/conversations/{cid}/messages", headers=carol,
                         json={"role": "assistant", "content": "the answer that was already streaming"})
    assert answer.status_code == 201
    stored = client.get(f"/api/conversations/{cid}", headers=carol).json["messages"]
    assert [m["content"] for m in stored] == ["a question", "the answer that was already streaming"]

    usage = client.get("/api/usage", headers=carol).json
    assert usage["limits"]["daily_tokens"] == 100
    assert usage["limits"]["tokens_used_today"] == 100
    assert usage["limits"]["tokens_remaining_today"] == 0
    assert abs(usage["limits"]["resets_in_seconds"] - retry_after) <= 2


def test_quotas_are_per_user_and_a_group_can_be_unlimited(client):
    dave, erin = as_member("dave-id"), as_member("erin-id", "admins")
    spend(client, dave, 500, 500)
    spend(client, erin, 500, 500)
    cid = client.post("/api/conversations", json={}, headers=erin).json["id"]
    assert ask(client, erin, cid).status_code == 201
    assert client.get("/api/usage", headers=erin).json["limits"]["tokens_remaining_today"] is None
    frank = as_member("frank-id")
    cid = client.post("/api/conversations", json={}, headers=frank).json["id"]
    assert ask(client, frank, cid).status_code == 201
    assert client.get("/api/usage", headers=frank).json["limits"]["tokens_remaining_today"] == 100


def test_non_ascii_digits_in_numbers_are_a_400_not_a_crash(client):
    carol = as_member("carol-id")
    for query in ("days=²", "days=١٢"):
        response = client.get(f"/api/usage?{query}", headers=carol)
        assert response.status_code == 400 and response.json["error"]["code"] == "invalid_parameter"
