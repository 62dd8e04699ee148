"""Limits through the whole stack (local edge → auth-proxy → chat → memory, real Redis): a
user's concurrent streams, daily token quota and request rate, each refused with 429 and
`Retry-After`, and what is left shown in GET /api/usage."""
from __future__ import annotations

import threading

import pytest
import requests

from tests.support.sse import parse_sse
from tests.support.stack import Stack

LIMITS = {"MAX_CONCURRENT_STREAMS": "1", "DAILY_TOKEN_QUOTA": "60", "RATE_LIMIT_PER_MINUTE": "40"}


@pytest.fixture(scope="module")
def tight_stack(tmp_path_factory, fake_upstream):
    running = Stack(tmp_path_factory.mktemp("limits-stack"), fake_upstream.base_url,
                    proxy_env=LIMITS, memory_env=LIMITS).start()
    yield running
    running.stop()


def new_conversation(session, stack) -> str:
    response = session.post(f"{stack.edge}/api/conversations", json={}, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_second_answer_at_once_waits_for_the_first(tight_stack, fake):
    session = tight_stack.login("streams-user")
    first_cid, second_cid = new_conversation(session, tight_stack), new_conversation(session, tight_stack)
    fake.configure(answer="one two three four", token_delay=0.4)
    opened = session.post(f"{tight_stack.edge}/api/conversations/{first_cid}/messages", json={"content": "slowly"},
                          stream=True, timeout=30)
    assert opened.status_code == 200
    refused = session.post(f"{tight_stack.edge}/api/conversations/{second_cid}/messages", json={"content": "now"},
                           timeout=10)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_streams"
    assert int(refused.headers["Retry-After"]) >= 1
    assert parse_sse(opened.content)[-1].kind == "done", "the first answer was not disturbed"
    fake.reset()
    again = session.post(f"{tight_stack.edge}/api/conversations/{second_cid}/messages", json={"content": "now"},
                         timeout=30)
    assert again.status_code == 200 and parse_sse(again.content)[-1].kind == "done"
    kept = session.get(f"{tight_stack.edge}/api/conversations/{second_cid}", timeout=5).json()["messages"]
    assert [m["content"] for m in kept if m["role"] == "user"] == ["now"], "the refused question was not stored"


def test_the_daily_quota_refuses_new_questions_and_usage_shows_what_is_left(tight_stack, fake):
    session = tight_stack.login("quota-user")
    cid = new_conversation(session, tight_stack)
    before = session.get(f"{tight_stack.edge}/api/usage", timeout=5).json()["limits"]
    assert before["daily_tokens"] == 60 and before["tokens_remaining_today"] == 60
    fake.configure(tokens=80)
    answered = session.post(f"{tight_stack.edge}/api/conversations/{cid}/messages", json={"content": "tell me"},
                            timeout=30)
    assert parse_sse(answered.content)[-1].kind == "done", "the answer that crosses the quota still finishes"
    fake.reset()
    fake.clear_requests()
    refused = session.post(f"{tight_stack.edge}/api/conversations/{cid}/messages", json={"content": "more"},
                           timeout=10)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert 1 <= int(refused.headers["Retry-After"]) <= 86400
    after = session.get(f"{tight_stack.edge}/api/usage", timeout=5).json()["limits"]
    assert after["tokens_used_today"] >= 80 and after["tokens_remaining_today"] == 0
    assert fake.completion_requests() == [], "the refused question never reached the model"


def test_a_burst_over_the_rate_gets_429_and_other_users_carry_on(tight_stack):
    hasty, calm = tight_stack.login("hasty-user"), tight_stack.login("calm-user")
    statuses: list[int] = []
    lock = threading.Lock()

    def burst():
        for _ in range(15):
            status = hasty.get(f"{tight_stack.edge}/api/me", timeout=5).status_code
            with lock:
                statuses.append(status)
    threads = [threading.Thread(target=burst) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) <= 40 and statuses.count(429) >= 5, statuses
    assert set(statuses) <= {200, 429}
    limited = hasty.get(f"{tight_stack.edge}/api/me", timeout=5)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert calm.get(f"{tight_stack.edge}/api/me", timeout=5).status_code == 200


def test_a_published_bot_spends_its_owners_daily_quota_and_stops_with_it(tight_stack, fake):
    import openai

    owner = tight_stack.login("bot-quota-owner")
    role = owner.post(f"{tight_stack.edge}/api/roles", json={"name": "Shop", "instructions": "Sell tea."}, timeout=5)
    bot = owner.post(f"{tight_stack.edge}/api/bots", json={"role_id": role.json()["id"], "slug": "no-budget-shop"},
                     timeout=5)
    assert bot.status_code == 201 and bot.json()["daily_token_budget"] is None
    key = owner.post(f"{tight_stack.edge}/api/bots/no-budget-shop/keys", json={}, timeout=5).json()["key"]
    visitor = requests.Session()
    cid = visitor.post(f"{tight_stack.edge}/api/public/bots/no-budget-shop/conversations", timeout=5).json()["id"]
    fake.configure(tokens=80)
    turn = visitor.post(f"{tight_stack.edge}/api/public/bots/no-budget-shop/conversations/{cid}/messages",
                        json={"content": "hello"}, timeout=30)
    assert parse_sse(turn.content)[-1].kind == "done"
    usage = owner.get(f"{tight_stack.edge}/api/usage", timeout=5).json()
    assert usage["limits"]["tokens_used_today"] >= 80 and usage["limits"]["tokens_remaining_today"] == 0
    assert "bot:no-budget-shop" in [m["model"] for m in usage["models"]], "the owner sees what the bot spent"

    fake.reset()
    fake.clear_requests()
    refused = visitor.post(f"{tight_stack.edge}/api/public/bots/no-budget-shop/conversations/{cid}/messages",
                           json={"content": "again"}, timeout=10)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    client = openai.OpenAI(base_url=f"{tight_stack.edge}/v1", api_key=key, max_retries=0, timeout=10)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="no-budget-shop", messages=[{"role": "user", "content": "hi"}])
    assert fake.completion_requests() == [], "no model call once the owner's quota is spent"
