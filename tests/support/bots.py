"""Published bots through a running stack: a role published under a slug, an API key for it, and
the official `openai` SDK pointed at the stack's /v1 with that key."""
from __future__ import annotations

import openai
import requests

INSTRUCTIONS = "You run a tea shop in Kyoto. Answer as the shop."


def publish(stack, owner: requests.Session, slug: str, **fields) -> dict:
    role = owner.post(f"{stack.edge}/api/roles", json={"name": f"Shop {slug}", "instructions": INSTRUCTIONS},
                      timeout=10)
    assert role.status_code == 201, role.text
    bot = owner.post(f"{stack.edge}/api/bots", timeout=10, json={
        "role_id": role.json()["id"], "slug": slug, "greeting": "Welcome to our tea shop!",
        "suggestions": ["Which tea for a cold day?"], **fields})
    assert bot.status_code == 201, bot.text
    return bot.json()


def new_key(stack, owner: requests.Session, slug: str) -> dict:
    created = owner.post(f"{stack.edge}/api/bots/{slug}/keys", json={"name": "website"}, timeout=10)
    assert created.status_code == 201, created.text
    return created.json()


def sdk(stack, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.edge}/v1", api_key=key, max_retries=0, timeout=30)
