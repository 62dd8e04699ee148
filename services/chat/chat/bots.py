"""Published bots: turns on a bot's public page, answered as the bot.

A visitor's conversation is an ordinary conversation in the visitor's own namespace (memory keeps
which bot it belongs to). Each turn sends the bot's role instructions and role memory (pins) with
the visitor's history, through the same prompt assembly and streaming as every other turn, and
then counts the tokens against the bot's daily budget. A bot that has used up its budget answers
429 before anything is stored or sent to the model.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Blueprint, current_app, g

from rolechat_common.ids import BOT_SLUG, CONVERSATION_ID
from rolechat_common.logs import log
from rolechat_common.web import ApiError, json_body, string_field

from . import roles
from .context import FIRST_PAGE, Budget
from .memory import MemoryClient, MemoryFailure
from .tokens import Counter
from .routes import stream_answer
from .turns import Turn

logger = logging.getLogger("rolechat.chat.bots")
bp = Blueprint("chat_bots", __name__, url_prefix="/api/public/bots")


def _memory() -> MemoryClient:
    return current_app.extensions["chat.memory"]


class BotUnavailable(Exception):
    """Memory does not offer this bot to this caller (unknown, unpublished, or another bot's key)."""


def runtime(slug: str, conversation: str | None = None) -> dict:
    """What answering as the bot needs, as memory gives it for the calling visitor or API key."""
    if not BOT_SLUG.match(slug):
        raise BotUnavailable
    try:
        return _memory().bot_runtime(g.identity, slug, request_id=g.request_id, conversation=conversation)
    except MemoryFailure as exc:
        if exc.status == 404:
            raise BotUnavailable from None
        raise


def exhausted(data: dict) -> tuple[str, int] | None:
    """(what ran out, seconds until it is refilled) when the bot's or the key's allowance is spent."""
    if data.get("budget_exhausted"):
        return "bot", int(data.get("retry_after") or 1)
    key = data.get("key") or {}
    if key.get("quota_exhausted"):
        return "key", int(key.get("retry_after") or 1)
    return None


def model_for(data: dict) -> str:
    """The bot's model: its role's, when the catalog has it or the owner registered it; else the default."""
    catalog = current_app.extensions["chat.catalog"]
    model = data.get("model") or None
    try:
        return catalog.resolve(model, lambda: [{"id": model}] if data.get("model_registered") else [])
    except ApiError as exc:
        if exc.code != "unknown_model":
            raise
        log(logger, logging.WARNING, "bot model no longer offered; using the default", slug=data.get("slug"))
        return catalog.resolve(None)


def budget_for_bot(data: dict, model: str) -> Budget:
    return roles.budget(model, data.get("max_answer_tokens"))


def bot_pins(data: dict) -> list[dict]:
    return [{"text": text} for text in data.get("pins") or [] if isinstance(text, str) and text]


def request_options(data: dict, temperature: float | None = None) -> dict:
    value = temperature if temperature is not None else data.get("temperature")
    return {} if value is None else {"temperature": value}


def spent(turn: Turn) -> tuple[int, int] | None:
    """(prompt, answer) tokens of a turn: the model's own report, else an estimate from what was sent
    and heard; None when nothing was heard and nothing reported (the model never answered)."""
    usage = turn.usage or {}
    if usage.get("prompt_tokens") is not None or usage.get("completion_tokens") is not None:
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    if not turn.content:
        return None
    counter = Counter(turn.budget.tokenizer if turn.budget else "bytes/3")
    prompt = sum(counter.message(m.get("content") or "") for m in turn.messages)
    return prompt, counter.text(turn.content)


def record_usage(turn: Turn, slug: str, memory: MemoryClient, conversation: str | None = None) -> None:
    """Count a turn's tokens for the bot (and the calling key); never raises. Runs after the
    response has begun, outside the request: everything it needs is passed in."""
    tokens = spent(turn)
    if tokens is None:
        return
    body = {"prompt_tokens": tokens[0], "completion_tokens": tokens[1]}
    if conversation:
        body["conversation_id"] = conversation
    try:
        memory.record_bot_usage(turn.who, slug, body, request_id=turn.request_id)
    except Exception as exc:  # noqa: BLE001 - accounting must not disturb the answer
        log(logger, logging.WARNING, "could not record bot usage", slug=slug,
            reason=getattr(exc, "code", type(exc).__name__))


def _counted(body: Iterator[bytes], turn: Turn, slug: str, memory: MemoryClient, cid: str) -> Iterator[bytes]:
    """The turn's stream; when it ends, however it ends, its tokens count for the bot."""
    try:
        yield from body
    finally:
        record_usage(turn, slug, memory, cid)


@bp.post("/<slug>/conversations/<cid>/messages")
def post_message(slug: str, cid: str):
    config = current_app.config["CHAT"]
    if "api-key" in (g.identity.groups or ()):
        raise ApiError(403, "forbidden", "API keys talk to a bot through /v1/chat/completions.")
    data = json_body()
    content = string_field(data, "content", max_chars=config.max_message_chars, required=True, allow_empty=False)
    if not CONVERSATION_ID.match(cid):
        raise ApiError(404, "not_found", "No such conversation.")
    try:
        bot = runtime(slug, conversation=cid)
    except BotUnavailable:
        raise ApiError(404, "not_found", "No such bot, or no such conversation with it.") from None
    spent_out = exhausted(bot)
    if spent_out is not None:
        raise ApiError(429, "bot_budget_exhausted",
                       "This bot has answered all the questions it can for today. Please come back after "
                       "midnight (UTC); we are sorry for the wait.", {"Retry-After": str(spent_out[1])})
    memory = _memory()
    model = model_for(bot)
    source = memory.context_source(g.identity, cid, request_id=g.request_id, limit=FIRST_PAGE)
    source = {**source, "instructions": bot.get("instructions") or "", "pins": bot_pins(bot)}
    return stream_answer(cid, content, source, model, budget_for_bot(bot, model), options=request_options(bot),
                         wrap=lambda body, turn: _counted(body, turn, slug, memory, cid))
