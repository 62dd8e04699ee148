"""Published bots through the whole stack (local edge → auth-proxy → chat/memory, real Redis, the
fake OpenAI upstream): the owner publishes a role, visitors chat without signing in, programs use
the official `openai` SDK with the bot's API key."""
from __future__ import annotations

import openai
import pytest
import requests

from tests.support.bots import INSTRUCTIONS, new_key, publish, sdk
from tests.support.sse import parse_sse


@pytest.fixture(scope="module")
def owner(stack):
    return stack.login("bot-owner")


@pytest.fixture(scope="module")
def shop(stack, owner):
    return publish(stack, owner, "tea-shop")


def test_the_openai_sdk_works_unchanged_with_a_bot_key(stack, owner, shop, fake):
    key = new_key(stack, owner, "tea-shop")
    assert key["key"].startswith("rck_")
    assert key["key"] not in owner.get(f"{stack.edge}/api/bots/tea-shop/keys", timeout=5).text, "shown once only"
    client = sdk(stack, key["key"])
    assert [m.id for m in client.models.list().data] == ["tea-shop"]

    fake.configure(answer="Try a roasted hojicha.")
    answer = client.chat.completions.create(model="tea-shop", messages=[{"role": "user", "content": "Cold day?"}])
    assert answer.choices[0].message.content == "Try a roasted hojicha."
    assert answer.usage.total_tokens > 0
    sent = fake.completion_requests()[-1]["messages"]
    assert sent[0]["role"] == "system" and INSTRUCTIONS in sent[0]["content"], "instructions applied server-side"
    assert sent[-1] == {"role": "user", "content": "Cold day?"}

    stream = client.chat.completions.create(model="tea-shop", stream=True,
                                            messages=[{"role": "user", "content": "And in summer?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Try a roasted hojicha."


def test_revoked_unknown_and_foreign_keys_are_refused_in_openais_shape(stack, owner, shop):
    key = new_key(stack, owner, "tea-shop")
    other_owner = stack.login("other-bot-owner")
    publish(stack, other_owner, "book-shop")
    foreign = sdk(stack, new_key(stack, other_owner, "book-shop")["key"])
    with pytest.raises(openai.NotFoundError) as missing:
        foreign.chat.completions.create(model="tea-shop", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.body["code"] == "model_not_found"

    assert owner.delete(f"{stack.edge}/api/bots/tea-shop/keys/{key['id']}", timeout=5).status_code == 204
    for bad in (key["key"], "rck_" + "x" * 43, "sk-not-ours"):
        with pytest.raises(openai.AuthenticationError) as refused:
            sdk(stack, bad).models.list()
        assert refused.value.body["code"] == "invalid_api_key"
        assert refused.value.body["type"] == "invalid_request_error"


def test_visitors_chat_without_signing_in_and_only_see_their_own_conversation(stack, owner, shop, fake):
    visitor = requests.Session()
    page = visitor.get(f"{stack.edge}/api/public/bots/tea-shop", timeout=5)
    assert page.status_code == 200
    assert page.json() == {"slug": "tea-shop", "name": "Shop tea-shop", "greeting": "Welcome to our tea shop!",
                           "suggestions": ["Which tea for a cold day?"]}
    assert "rolechat_visitor" in visitor.cookies.get_dict()
    cid = visitor.post(f"{stack.edge}/api/public/bots/tea-shop/conversations", timeout=5).json()["id"]
    fake.configure(answer="Genmaicha warms you up.")
    turn = visitor.post(f"{stack.edge}/api/public/bots/tea-shop/conversations/{cid}/messages",
                        json={"content": "Which tea for a cold day?"}, timeout=30)
    assert turn.status_code == 200 and parse_sse(turn.content)[-1].kind == "done"
    mine = visitor.get(f"{stack.edge}/api/public/bots/tea-shop/conversations/{cid}", timeout=5).json()
    assert [m["content"] for m in mine["messages"]] == ["Which tea for a cold day?", "Genmaicha warms you up."]

    stranger = requests.Session()
    assert stranger.get(f"{stack.edge}/api/public/bots/tea-shop/conversations/{cid}", timeout=5).status_code == 404
    forged = requests.get(f"{stack.edge}/api/public/bots/tea-shop/conversations/{cid}", timeout=5,
                          cookies={"rolechat_visitor": visitor.cookies["rolechat_visitor"][:-2] + "xx"})
    assert forged.status_code == 404, "a tampered cookie is a new visitor"
    assert requests.get(f"{stack.edge}/api/conversations", timeout=5).status_code == 401, "visitors stay outside"

    transcripts = owner.get(f"{stack.edge}/api/bots/tea-shop/conversations", timeout=5).json()["conversations"]
    assert cid in [c["id"] for c in transcripts]
    assert stack.login("not-the-owner").get(f"{stack.edge}/api/bots/tea-shop/conversations",
                                              timeout=5).status_code == 404


def test_a_spent_daily_budget_gets_a_polite_429_on_the_page_and_the_api(stack, owner, fake):
    publish(stack, owner, "tiny-budget", daily_token_budget=10)
    key = new_key(stack, owner, "tiny-budget")["key"]
    visitor = requests.Session()
    cid = visitor.post(f"{stack.edge}/api/public/bots/tiny-budget/conversations", timeout=5).json()["id"]
    fake.configure(tokens=30)
    first = visitor.post(f"{stack.edge}/api/public/bots/tiny-budget/conversations/{cid}/messages",
                         json={"content": "hello"}, timeout=30)
    assert parse_sse(first.content)[-1].kind == "done"
    spent = visitor.post(f"{stack.edge}/api/public/bots/tiny-budget/conversations/{cid}/messages",
                         json={"content": "again"}, timeout=30)
    assert spent.status_code == 429
    assert spent.json()["error"]["code"] == "bot_budget_exhausted"
    assert int(spent.headers["Retry-After"]) >= 1
    with pytest.raises(openai.RateLimitError) as limited:
        sdk(stack, key).chat.completions.create(model="tiny-budget", messages=[{"role": "user", "content": "hi"}])
    assert int(limited.value.response.headers["Retry-After"]) >= 1
