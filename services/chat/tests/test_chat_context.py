"""Token counting, budgets and context assembly (pure functions) and the pin budget through chat."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chat.config import CatalogModel, Config
from chat.context import PINS_HEADER, SUMMARY_HEADER, assemble, budget_for
from chat.tokens import Counter, estimate, known_limits
from rolechat_common.config import ConfigError
from rolechat_common.web import ApiError

BASE = Config(memory_url="http://127.0.0.1:1", identity_secret="s" * 40, openai_api_key="k")


def test_known_tokenizers_count_exactly_and_others_conservatively():
    assert Counter("o200k_base").text("hello world") == 2
    assert Counter("cl100k_base").text("Hello, world!") == 4
    assert Counter("bytes/3").text("abcdefg") == estimate("abcdefg") == 3
    assert known_limits("ft:gpt-4o-mini-2024-07-18:acme:x:1").context_window == 128_000
    assert known_limits("smollm2-135m-instruct").context_window == 2048
    assert known_limits("something-else", 5000).tokenizer == "bytes/3"


def test_budget_is_window_minus_answer_minus_margin():
    budget = budget_for("m", CatalogModel("m", "m", context_window=1000, max_output_tokens=100), BASE)
    assert (budget.window, budget.answer_tokens, budget.margin) == (1000, 100, 50)
    assert budget.prompt == 850
    assert budget_for("smollm2-135m-instruct", None, replace(BASE, max_answer_tokens=512)).prompt == 2048 - 512 - 103


def page_source(n, **more):
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "word " * 20,
                 "status": "complete"} for i in range(n)]
    return messages, {"instructions": "role", "pins": [{"text": "pinned fact"}], "total": n, "start": n - 5,
                      "messages": messages[-5:], **more}


def test_assembly_keeps_role_pins_summary_and_newest_within_budget():
    messages, source = page_source(400, summary={"text": "earlier things", "upto": 100})
    reads = []

    def fetch(before, limit):
        reads.append((before, limit))
        start = max(0, before - limit)
        return {"start": start, "messages": messages[start:before]}

    budget = budget_for("m", CatalogModel("m", "m", context_window=1000, max_output_tokens=100), BASE)
    assembly = assemble(source, "newest question", budget, BASE, fetch)
    sent = assembly.messages
    assert sent[0] == {"role": "system", "content": "role"}
    assert sent[1]["content"].startswith(PINS_HEADER) and "pinned fact" in sent[1]["content"]
    assert sent[2]["content"].startswith(SUMMARY_HEADER)
    assert sent[-1] == {"role": "user", "content": "newest question"}
    assert sent[-2]["content"].startswith("turn 399")
    assert assembly.breakdown["used"] <= budget.prompt
    assert assembly.dropped == assembly.breakdown["omitted_messages"] > 300
    assert sum(limit for _, limit in reads) < 200, "only pages near the end are read"


def test_a_message_that_cannot_fit_is_refused_before_anything_is_stored():
    _, source = page_source(2)
    budget = budget_for("m", CatalogModel("m", "m", context_window=300, max_output_tokens=100), BASE)
    with pytest.raises(ApiError) as caught:
        assemble(source, "word " * 400, budget, BASE, lambda b, l: {"start": 0, "messages": []})
    assert caught.value.status == 413 and caught.value.code == "context_too_long"


def test_context_settings_are_read_and_checked():
    env = {"MEMORY_URL": "http://m:1", "INTERNAL_IDENTITY_SECRET": "s" * 40, "OPENAI_API_KEY": "k"}
    config = Config.from_env({**env, "CONTEXT_SUMMARIES": "off", "PINS_MAX_SHARE": "0.25",
                              "MODEL_CATALOG": '[{"id": "a", "context_window": 2048, "tokenizer": "cl100k_base"}]'})
    assert config.context_summaries is False and config.pins_max_share == 0.25
    assert config.model_catalog[0].context_window == 2048
    for name, value in (("CONTEXT_SUMMARIES", "maybe"), ("PINS_MAX_SHARE", "2"),
                        ("MODEL_CATALOG", '[{"id": "a", "context_window": "big"}]'),
                        ("MODEL_CATALOG", '[{"id": "a", "tokenizer": "gpt2"}]')):
        with pytest.raises(ConfigError, match=name):
            Config.from_env({**env, name: value})


def test_pins_over_the_budget_are_refused_through_chat(make_app, who, user_id, memory, upstream):
    client = make_app(model_catalog=(CatalogModel("gpt-4o-mini", "m", context_window=600, max_output_tokens=100),),
                      default_model="gpt-4o-mini").test_client()
    cid = client.post("/api/conversations", json={}, headers=who).get_json()["id"]
    ok = client.post(f"/api/conversations/{cid}/pins", json={"text": "short note"}, headers=who)
    assert ok.status_code == 201
    refused = client.post(f"/api/conversations/{cid}/pins", json={"text": "word " * 400}, headers=who)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "pins_over_budget"
    assert "left" in refused.get_json()["error"]["message"]
    events = client.post(f"/api/conversations/{cid}/messages", json={"content": "hi"}, headers=who).get_data()
    assert b"short note" in str(upstream.completion_requests()[-1]).encode() and b"event: done" in events
