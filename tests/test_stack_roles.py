"""Roles and models through the whole stack: presets, your own roles with role memory, switching
roles, fine-tuned ids, a catalog entry with its own endpoint and key, and usage totals."""
from __future__ import annotations

import json

import pytest

from tests.support.fake_openai import _text_of, count_tokens, start_fake_openai
from tests.support.sse import parse_sse
from tests.support.stack import Stack

FT = "ft:gpt-4o-mini-2024-07-18:acme:support:Ab12Cd34"
OTHER_KEY = "sk-second-endpoint-key-never-logged"
PRICE_IN, PRICE_OUT = 0.15, 0.60


@pytest.fixture(scope="module")
def other_upstream(tmp_path_factory):
    fake = start_fake_openai(api_key=OTHER_KEY, log_path=tmp_path_factory.mktemp("fake2") / "fake.log")
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def roles_stack(tmp_path_factory, fake_upstream, other_upstream):
    catalog = {"default": "gpt-4o-mini", "models": [
        {"id": "gpt-4o-mini", "label": "GPT-4o mini", "input_price": PRICE_IN, "output_price": PRICE_OUT},
        {"id": "gpt-4o", "label": "GPT-4o"},
        {"id": "local-llama", "label": "Llama on our server", "base_url": other_upstream.base_url,
         "api_key_env": "SECOND_ENDPOINT_KEY", "context_window": 8192}]}
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(json.dumps(catalog))
    running = Stack(tmp_path_factory.mktemp("roles-stack"), fake_upstream.base_url,
                    chat_env={"MODEL_CATALOG_FILE": str(path), "SECOND_ENDPOINT_KEY": OTHER_KEY}).start()
    yield running
    running.stop()


@pytest.fixture
def other(other_upstream):
    other_upstream.reset()
    return other_upstream


def send(session, base: str, cid: str, content: str) -> dict:
    response = session.post(f"{base}/api/conversations/{cid}/messages", json={"content": content}, timeout=60)
    assert response.status_code == 200, response.text
    events = [e for e in parse_sse(response.content) if e.kind != "comment"]
    assert events[-1].kind == "done", events
    return events[-1].data


def create(session, base: str, **fields) -> dict:
    response = session.post(f"{base}/api/conversations", json=fields, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def systems(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "system"]


def streamed(fake) -> list[dict]:
    return [b for b in fake.completion_requests() if b.get("stream")]


def test_a_preset_reaches_the_model_in_the_callers_language(roles_stack, fake):
    alice = roles_stack.login("roles-alice")
    base = roles_stack.edge
    roles = alice.get(f"{base}/api/roles", headers={"Accept-Language": "ja"}, timeout=10).json()["roles"]
    translator = next(r for r in roles if r["id"] == "preset-translator-ja-en")
    assert translator["builtin"] and translator["name"] == "日英翻訳者"
    conversation = create(alice, base, role_id="preset-translator-ja-en")
    alice.headers["Accept-Language"] = "ja-JP,ja;q=0.9"  # a built-in role speaks the caller's language
    done = send(alice, base, conversation["id"], "おはようございます")
    assert done["message"]["role_id"] == "preset-translator-ja-en" and done["message"]["model"] == "gpt-4o-mini"
    assert systems(streamed(fake)[-1])[0] == translator["instructions"]
    assert streamed(fake)[-1]["temperature"] == 0.2
    for method in ("PATCH", "DELETE"):
        response = alice.request(method, f"{base}/api/roles/preset-translator-ja-en", json={"name": "x"}, timeout=10)
        assert response.status_code == 403 and response.json()["error"]["code"] == "builtin_read_only"


def test_own_role_with_memory_and_switching_mid_conversation(roles_stack, fake):
    alice = roles_stack.login("roles-alice")
    base = roles_stack.edge
    role = alice.post(f"{base}/api/roles", json={"name": "Tea shop", "instructions": "You run a tea shop in Kyoto.",
                                                 "temperature": 0.7, "max_answer_tokens": 50}, timeout=10)
    assert role.status_code == 201, role.text
    rid = role.json()["id"]
    pin = alice.post(f"{base}/api/roles/{rid}/pins", json={"text": "Closed on Mondays."}, timeout=10)
    assert pin.status_code == 201, pin.text
    conversation = create(alice, base, instructions="You are terse.")
    send(alice, base, conversation["id"], "Hello")
    assert systems(streamed(fake)[-1]) == ["You are terse."]

    switched = alice.patch(f"{base}/api/conversations/{conversation['id']}", json={"role_id": rid}, timeout=10)
    assert switched.status_code == 200 and switched.json()["role_id"] == rid
    note = alice.post(f"{base}/api/conversations/{conversation['id']}/pins", json={"text": "I like sencha."}, timeout=10)
    assert note.status_code == 201
    done = send(alice, base, conversation["id"], "Are you open today?")
    body = streamed(fake)[-1]
    assert systems(body)[0] == "You run a tea shop in Kyoto."
    assert "Closed on Mondays." in systems(body)[1] and "I like sencha." in systems(body)[1]
    assert body["temperature"] == 0.7 and body["max_tokens"] == 50
    assert done["message"]["role_id"] == rid

    alice.patch(f"{base}/api/conversations/{conversation['id']}", json={"role_id": "preset-code-reviewer"}, timeout=10)
    send(alice, base, conversation["id"], "Review this: print(1)")
    assert "code reviewer" in systems(streamed(fake)[-1])[0]
    messages = alice.get(f"{base}/api/conversations/{conversation['id']}", timeout=10).json()["messages"]
    assert [m.get("role_id", "") for m in messages if m["role"] == "assistant"] == ["", rid, "preset-code-reviewer"]

    bob = roles_stack.login("roles-bob")
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/pins")):
        response = bob.request(method, f"{base}/api/roles/{rid}{path}", json={"name": "x"}, timeout=10)
        assert response.status_code == 404, (method, path, response.text)
    assert rid not in [r["id"] for r in bob.get(f"{base}/api/roles", timeout=10).json()["roles"]]


def test_fine_tuned_models_are_checked_registered_and_sent_exactly(roles_stack, fake):
    alice = roles_stack.login("ft-alice")
    base = roles_stack.edge
    unknown = alice.post(f"{base}/api/models", json={"id": "ft:gpt-4o-mini:acme:gone:zz9"}, timeout=10)
    assert unknown.status_code == 422 and "does not exist" in unknown.json()["error"]["message"]
    assert alice.post(f"{base}/api/conversations", json={"model": FT}, timeout=10).status_code == 400
    registered = alice.post(f"{base}/api/models", json={"id": FT, "label": "Support bot"}, timeout=10)
    assert registered.status_code == 201, registered.text
    models = alice.get(f"{base}/api/models", timeout=10).json()["models"]
    mine = next(m for m in models if m["id"] == FT)
    assert mine["fine_tuned"] and mine["context_window"] == 128_000 and mine["label"] == "Support bot"
    conversation = create(alice, base, model=FT)
    send(alice, base, conversation["id"], "Hi")
    assert streamed(fake)[-1]["model"] == FT

    bob = roles_stack.login("ft-bob")
    assert FT not in [m["id"] for m in bob.get(f"{base}/api/models", timeout=10).json()["models"]]
    assert bob.post(f"{base}/api/conversations", json={"model": FT}, timeout=10).status_code == 400
    assert bob.patch(f"{base}/api/models/{FT}", json={"shared": True}, timeout=10).status_code == 404
    assert bob.delete(f"{base}/api/models/{FT}", timeout=10).status_code == 404
    assert alice.patch(f"{base}/api/models/{FT}", json={"shared": True}, timeout=10).status_code == 403
    assert alice.get(f"{base}/api/models/provider", timeout=10).status_code == 403


def test_catalog_entry_with_its_own_endpoint_and_key(roles_stack, fake, other):
    alice = roles_stack.login("endpoint-alice")
    base = roles_stack.edge
    conversation = create(alice, base, model="local-llama")
    done = send(alice, base, conversation["id"], "Which server answers?")
    assert done["message"]["model"] == "local-llama"
    requests_there = other.requests("/v1/chat/completions")
    assert len(requests_there) == 1 and requests_there[0]["authorized"], "sent there, with that endpoint's key"
    assert requests_there[0]["body"]["model"] == "local-llama"
    assert fake.requests("/v1/chat/completions") == [], "not to the default provider"
    assert OTHER_KEY not in roles_stack.logs()


def test_usage_totals_match_what_the_upstream_reported(roles_stack, fake):
    carol = roles_stack.login("usage-carol")
    base = roles_stack.edge
    conversation = create(carol, base)
    for text in ("one question", "another, longer question about tea"):
        send(carol, base, conversation["id"], text)
    prompt = completion = 0
    for body, stream in zip(streamed(fake), fake.streams()):
        prompt += sum(count_tokens(_text_of(m.get("content"))) + 4 for m in body["messages"]) + 3
        completion += stream["tokens_sent"]
    usage = carol.get(f"{base}/api/usage", timeout=10).json()
    assert usage["total"]["turns"] == 2
    assert usage["total"]["prompt_tokens"] == prompt and usage["total"]["completion_tokens"] == completion
    assert usage["total"]["cost_usd"] == pytest.approx((prompt * PRICE_IN + completion * PRICE_OUT) / 1e6)
    assert [m["model"] for m in usage["models"]] == ["gpt-4o-mini"]
    assert usage["days"][0]["models"][0]["prompt_tokens"] == prompt
    assert roles_stack.login("usage-dave").get(f"{base}/api/usage", timeout=10).json()["total"]["turns"] == 0
