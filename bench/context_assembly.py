"""Context assembly time for conversations of different lengths.

Starts a private Redis and the memory service (gunicorn, as in production), stores conversations
of 10, 1,000 and 10,000 messages, and times what chat does before each turn: read the context
source from memory, read older pages while they fit, count tokens and assemble the prompt for a
model with a 4,096-token window. Assembly reads only what can be sent, so its time should stay
flat however long the unsent history grows.

    .venv/bin/python bench/context_assembly.py [--sizes 10,1000,10000] [--repeat 30] [--out bench/results]

Writes context_assembly.json and context_assembly.md under --out.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from chat.config import CatalogModel, Config  # noqa: E402
from chat.context import FIRST_PAGE, assemble, budget_for  # noqa: E402
from chat.memory import MemoryClient  # noqa: E402
from memory.store import Store  # noqa: E402
from rolechat_common import identity  # noqa: E402
from tests.support.processes import TEST_SECRET, RedisServer, Service  # noqa: E402

MODEL = "bench-model"
WINDOW = 4096


def seed(store: Store, user: str, size: int) -> str:
    cid = store.create_conversation(user, {"instructions": "You are a patient programming teacher.",
                                           "model": MODEL})["id"]
    keys = store._keys(user, cid)
    with store.redis.pipeline(transaction=False) as pipe:
        for i in range(size):
            mid = f"m_{i:022d}"
            pipe.hset(keys["msgs"], mid, json.dumps({
                "id": mid, "role": "user" if i % 2 == 0 else "assistant", "status": "complete", "model": "",
                "content": f"Message {i}: a loop repeats a block of code while a condition holds; day {i // 2}.",
                "created_at": "2025-01-01T00:00:00.000Z"}))
            pipe.rpush(keys["order"], mid)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
    store.add_pin(user, cid, "The student uses Python 3.12.", None, 50, 32000)
    return cid


def run(sizes: list[int], repeat: int, out: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        server = RedisServer(work / "redis", work / "logs").start()
        service = Service("memory-bench", "memory:create_app()", {
            "REDIS_URL": server.url, "INTERNAL_IDENTITY_SECRET": TEST_SECRET}, work / "logs")
        try:
            service.start()
            store = Store(redis.Redis.from_url(server.url, decode_responses=True), max_conversations=1000,
                          max_messages=100_000)
            config = Config(memory_url=service.url, identity_secret=TEST_SECRET, openai_api_key="unused",
                            model_catalog=(CatalogModel(MODEL, MODEL, context_window=WINDOW, tokenizer="o200k_base"),),
                            max_answer_tokens=512)
            budget = budget_for(MODEL, config.model_catalog[0], config)
            memory = MemoryClient(service.url, TEST_SECRET)
            who = identity.Identity("bench-user", "bench")
            rows = []
            for size in sizes:
                cid = seed(store, who.user_id, size)
                timings, assembly = [], None
                for i in range(repeat + 2):
                    started = time.perf_counter()
                    source = memory.context_source(who, cid, request_id=f"bench{i:08d}", limit=FIRST_PAGE)
                    assembly = assemble(
                        source, "How do I write a loop?", budget, config,
                        lambda before, limit: memory.message_page(who, cid, before=before, limit=limit,
                                                                  request_id="bench-page"))
                    if i >= 2:  # two warm-up rounds
                        timings.append((time.perf_counter() - started) * 1000)
                rows.append({
                    "messages": size, "median_ms": round(statistics.median(timings), 3),
                    "p95_ms": round(sorted(timings)[max(0, int(len(timings) * 0.95) - 1)], 3),
                    "messages_read": assembly.messages_read, "pages_read": assembly.pages_read,
                    "messages_sent": assembly.breakdown["messages_sent"],
                    "omitted_messages": assembly.breakdown["omitted_messages"],
                    "prompt_tokens": assembly.breakdown["used"]})
            memory.http.clear()
        finally:
            service.stop()
            server.stop()
    result = {"benchmark": "context_assembly", "window": WINDOW, "budget": budget.prompt, "repeat": repeat,
              "tokenizer": budget.tokenizer, "results": rows}
    out.mkdir(parents=True, exist_ok=True)
    (out / "context_assembly.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Context assembly time", "",
             f"Model window {WINDOW} tokens (prompt budget {budget.prompt}), tokenizer {budget.tokenizer}, "
             f"{repeat} runs each.", "",
             "| messages stored | median ms | p95 ms | messages read | pages | messages sent | left out |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['messages']} | {r['median_ms']} | {r['p95_ms']} | {r['messages_read']} | {r['pages_read']} | "
              f"{r['messages_sent']} | {r['omitted_messages']} |" for r in rows]
    (out / "context_assembly.md").write_text("\n".join(lines) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    result = run(sizes, max(1, args.repeat), Path(args.out))
    print((Path(args.out) / "context_assembly.md").read_text())
    return 0 if result["results"] else 1


if __name__ == "__main__":
    sys.exit(main())
