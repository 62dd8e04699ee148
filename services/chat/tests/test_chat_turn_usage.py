"""A turn's usage reaches memory with its answer, in one request; only an answer that could not be
stored has its usage counted on its own (POST /api/usage). Memory and the upstream are real
processes; what memory was asked is read from memory's own access log."""
from __future__ import annotations

import json
import uuid

import pytest
import requests

from chat.config import CatalogModel
from chat.memory import MemoryClient
from chat.turns import Turn, _store
from rolechat_common import identity
from tests.support.fake_openai import count_tokens
from tests.support.processes import TEST_SECRET

PRICE_IN, PRICE_OUT = 0.15, 0.6
CATALOG = (CatalogModel("gpt-4o-mini", "mini", input_price=PRICE_IN, output_price=PRICE_OUT),)


def memory_requests(memory_service, request_id: str) -> list[tuple[str, str, int]]:
    """(method, path, status) of every request memory logged under this request id."""
    found = []
    for line in memory_service.log_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # gunicorn's own lines
        if isinstance(entry, dict) and entry.get("msg") == "request" and entry.get("request_id") == request_id:
            found.append((entry["method"], entry["path"], entry["status"]))
    return found


def reported(upstream) -> tuple[int, int]:
    """The prompt and answer tokens the fake upstream reported for its streams (its counting rule)."""
    prompt = completion = 0
    for body, stream in zip(upstream.completion_requests(), upstream.streams(), strict=True):
        prompt += sum(count_tokens(m["content"]) + 4 for m in body["messages"]) + 3
        completion += stream["tokens_sent"]
    return prompt, completion


def usage_of(memory_service, who: dict) -> dict:
    return requests.get(f"{memory_service.url}/api/usage", headers=who, timeout=5).json()["total"]


def new_request_id() -> str:
    return "usage-" + uuid.uuid4().hex


@pytest.fixture
def priced(make_app):
    return make_app(model_catalog=CATALOG).test_client()


def test_a_turn_stores_its_answer_and_usage_in_one_request(priced, who, upstream, memory_service, parse_sse):
    cid = priced.post("/api/conversations", json={}, headers=who).get_json()["id"]
    rid = new_request_id()
    body = priced.post(f"/api/conversations/{cid}/messages", json={"content": "How do loops work?"},
                       headers={**who, "X-Request-Id": rid}).get_data()
    done = [e for e in parse_sse(body) if e.kind == "done"]
    assert len(done) == 1 and "usage" not in done[0].data["message"]

    prompt, completion = reported(upstream)
    assert prompt > 0 and completion > 0
    total = usage_of(memory_service, who)
    assert (total["prompt_tokens"], total["completion_tokens"], total["turns"]) == (prompt, completion, 1)
    assert total["cost_usd"] == pytest.approx((prompt * PRICE_IN + completion * PRICE_OUT) / 1e6, rel=1e-6)

    asked = memory_requests(memory_service, rid)
    messages = f"/api/conversations/{cid}/messages"
    assert [r for r in asked if r[0] == "POST"] == [("POST", messages, 201), ("POST", messages, 201)], \
        "the question, then the answer with its usage; no separate POST /api/usage"


def test_an_answer_whose_question_was_replaced_still_has_its_usage_counted(priced, who, user_id, upstream, memory,
                                                                          memory_service, parse_sse):
    """Stop, then Regenerate at once: the first answer is not kept, but its tokens were spent."""
    cid = priced.post("/api/conversations", json={}, headers=who).get_json()["id"]
    upstream.configure(answer="one two three four five six", token_delay=0.3)  # time to replace the question
    rid = new_request_id()
    response = priced.post(f"/api/conversations/{cid}/messages", json={"content": "first"},
                           headers={**who, "X-Request-Id": rid}, buffered=False)
    chunks = iter(response.response)
    first = b""
    while b"event: delta" not in first:
        first += next(chunks)
    [question] = memory.messages(user_id, cid)
    replaced = requests.post(f"{memory_service.url}/api/conversations/{cid}/messages", headers=who, timeout=5,
                             json={"role": "user", "content": "second", "replaces": question["id"]})
    assert replaced.status_code == 201
    events = parse_sse(first + b"".join(chunks))
    response.close()

    assert events[-1].kind == "error" and events[-1].data["code"] == "storage_unavailable"
    assert [m["content"] for m in memory.messages(user_id, cid)] == ["second"], "the late answer is not kept"
    prompt, completion = reported(upstream)
    assert completion == 6
    total = usage_of(memory_service, who)
    assert (total["prompt_tokens"], total["completion_tokens"], total["turns"]) == (prompt, completion, 1)
    assert total["cost_usd"] == pytest.approx((prompt * PRICE_IN + completion * PRICE_OUT) / 1e6, rel=1e-6)
    messages = f"/api/conversations/{cid}/messages"
    assert [r for r in memory_requests(memory_service, rid) if r[0] == "POST"] == [
        ("POST", messages, 201), ("POST", messages, 409), ("POST", "/api/usage", 204)]


def test_a_turn_without_a_usage_report_counts_nothing(client, who, user_id, upstream, memory, memory_service):
    upstream.configure(answer="one two three four", cut_after=2)  # the stream breaks before its usage report
    cid = client.post("/api/conversations", json={}, headers=who).get_json()["id"]
    rid = new_request_id()
    client.post(f"/api/conversations/{cid}/messages", json={"content": "hi"},
                headers={**who, "X-Request-Id": rid}).get_data()
    assert memory.messages(user_id, cid)[-1]["status"] == "failed", "the partial answer is kept"
    assert usage_of(memory_service, who)["turns"] == 0
    assert ("POST", "/api/usage") not in [r[:2] for r in memory_requests(memory_service, rid)]


@pytest.mark.parametrize("prompt_tokens", [-5, 10**20])  # 10**20: past what orjson writes (64 bits)
def test_an_answer_is_kept_when_memory_cannot_count_the_reported_usage(config, user_id, memory, memory_service,
                                                                       headers_for, prompt_tokens):
    """A provider reporting nonsense tokens must not cost the user the answer."""
    who = identity.Identity(user_id, user_id)
    client = MemoryClient(config.memory_url, TEST_SECRET)
    cid = memory.create(user_id)["id"]
    question = client.append_message(who, cid, {"role": "user", "content": "q"}, request_id=new_request_id())
    turn = Turn(conversation_id=cid, model="gpt-4o-mini", messages=[], user_message=question, who=who,
                request_id=new_request_id(), usage={"prompt_tokens": prompt_tokens, "completion_tokens": 3})
    turn.parts.append("the answer")
    stored = _store(turn, client, config, "complete", None)
    assert stored is not None and stored["content"] == "the answer"
    assert [m["content"] for m in memory.messages(user_id, cid)] == ["q", "the answer"]
    assert usage_of(memory_service, headers_for(user_id))["turns"] == 0
    client.http.clear()


class OlderMemoryClient(MemoryClient):
    """Memory as a version from before answers carried their usage answers: the answer is stored,
    its usage dropped (unknown fields are), and no word that it was counted."""

    def append_message(self, who, cid, message, **options):
        return super().append_message(who, cid, {k: v for k, v in message.items() if k != "usage"}, **options)


@pytest.mark.parametrize("client_class", [MemoryClient, OlderMemoryClient])
def test_the_usage_is_counted_once_whichever_memory_stores_the_answer(config, user_id, memory, memory_service,
                                                                      headers_for, client_class):
    """Mid-upgrade, a new chat may store its answer through an older memory: the usage is then
    recorded on its own; with a current memory, only with the answer."""
    who = identity.Identity(user_id, user_id)
    client = client_class(config.memory_url, TEST_SECRET)
    cid = memory.create(user_id)["id"]
    question = client.append_message(who, cid, {"role": "user", "content": "q"}, request_id=new_request_id())
    turn = Turn(conversation_id=cid, model="gpt-4o-mini", messages=[], user_message=question, who=who,
                request_id=new_request_id(), usage={"prompt_tokens": 11, "completion_tokens": 7})
    turn.parts.append("the answer")
    stored = _store(turn, client, config, "complete", None)
    assert stored is not None and "usage_counted" not in stored
    usage = usage_of(memory_service, headers_for(user_id))
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["turns"]) == (11, 7, 1)
    client.http.clear()
