"""The OpenAI-compatible API of published bots: `GET /v1/models`, `POST /v1/chat/completions`.

Callers are programs holding a bot's API key. The auth-proxy verifies the key and forwards the
request with the internal identity `k_<key id>` (group `api-key`). The bot's slug is the model
name; the bot's instructions and role memory are sent before the caller's own messages; the
answer comes from the bot's model through the same upstream clients and stream reader as every
other turn. Nothing is stored but the tokens used, counted for the bot's daily budget and the key's
monthly quota. Errors have OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`) and
statuses, so OpenAI's SDKs raise their usual exceptions.
"""
from __future__ import annotations

import json
import logging
import secrets
import string
import time
from collections.abc import Iterator

import gevent
import openai
from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from rolechat_common.logs import log
from rolechat_common.streaming import HEARTBEAT
from rolechat_common.web import ApiError, json_body

from . import bots
from .context import pins_text
from .feed import BEAT, DELTA, DRAINED, END, ERROR, EXIT, TIME_UP
from .memory import MemoryClient, MemoryFailure
from .tokens import REPLY_PRIMING_TOKENS, Counter
from .turns import Reading, Turn
from .upstream import describe_error, error_facts

logger = logging.getLogger("rolechat.chat.openai_compat")
bp = Blueprint("chat_openai", __name__, url_prefix="/v1")
CALLER_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MAX_MESSAGES = 1000
_ID_ALPHABET = string.ascii_letters + string.digits


class OpenAIError(Exception):
    """An error in OpenAI's shape."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param
        self.headers = headers or {}


def _error_response(exc: OpenAIError) -> Response:
    response = current_app.json.response({"error": {"message": exc.message, "type": exc.type, "param": exc.param,
                                                    "code": exc.code}})
    response.status_code = exc.status
    for name, value in exc.headers.items():
        response.headers[name] = value
    return response


def _type_for(status: int) -> str:
    if status == 401:
        return "invalid_request_error"
    if status == 429:
        return "rate_limit_exceeded"
    return "server_error" if status >= 500 else "invalid_request_error"


@bp.errorhandler(OpenAIError)
def _openai_error(exc: OpenAIError):
    return _error_response(exc)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return _error_response(OpenAIError(exc.status, exc.message, _type_for(exc.status), exc.code, headers=exc.headers))


@bp.errorhandler(MemoryFailure)
def _memory_failure(exc: MemoryFailure):
    message = str((exc.body.get("error") or {}).get("message") or "The request could not be completed.")
    headers = {"Retry-After": exc.retry_after} if exc.retry_after else {}
    return _error_response(OpenAIError(exc.status, message, _type_for(exc.status), exc.code, headers=headers))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    status = exc.code or 500
    messages = {413: "The request body is too large.", 405: "Method not allowed.", 400: "Bad request."}
    return _error_response(OpenAIError(status, messages.get(status, exc.description or "Request failed."),
                                       _type_for(status)))


def _memory() -> MemoryClient:
    return current_app.extensions["chat.memory"]


def _key_caller() -> None:
    if "api-key" not in (g.identity.groups or ()):
        raise OpenAIError(401, "This API takes a bot's API key: send it as 'Authorization: Bearer rck_...'.",
                          code="invalid_api_key")


def _model_not_found(model: str) -> OpenAIError:
    return OpenAIError(404, f"The model '{model}' does not exist or you do not have access to it. Use your "
                            "bot's slug (GET /v1/models lists it).", code="model_not_found", param="model")


def _model_object(slug: str, created: int) -> dict:
    return {"id": slug, "object": "model", "created": created, "owned_by": "rolechat"}


def _own_bot() -> dict | None:
    """The runtime of the calling key's bot, or None when it is not published (or gone)."""
    try:
        key = _memory().bot_key(g.identity, request_id=g.request_id)
    except MemoryFailure as exc:
        if exc.status == 404:
            raise OpenAIError(401, "This API key has been revoked.", code="invalid_api_key") from None
        raise
    try:
        return bots.runtime(key["slug"])
    except bots.BotUnavailable:
        return None


@bp.get("/models")
def list_models():
    _key_caller()
    bot = _own_bot()
    return {"object": "list", "data": [_model_object(bot["slug"], bot["created"])] if bot else []}


@bp.get("/models/<path:model>")
def get_model(model: str):
    _key_caller()
    bot = _own_bot()
    if not bot or bot["slug"] != model:
        raise _model_not_found(model)
    return _model_object(bot["slug"], bot["created"])


# --- chat completions ---------------------------------------------------------------------------
def _invalid(message: str, param: str | None = None, code: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, code=code, param=param)


def _text(content, index: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise _invalid(f"messages[{index}].content: only text parts are supported.",
                               f"messages[{index}].content")
            parts.append(part["text"])
        return "".join(parts)
    raise _invalid(f"messages[{index}].content must be a string or a list of text parts.", f"messages[{index}].content")


def _caller_messages(value) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise _invalid("'messages' must be a non-empty list of messages.", "messages")
    if len(value) > MAX_MESSAGES:
        raise _invalid(f"'messages' holds at most {MAX_MESSAGES} messages.", "messages")
    messages = []
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str) \
                or message["role"] not in CALLER_ROLES:
            raise _invalid(f"messages[{i}].role must be one of 'system', 'developer', 'user' or 'assistant'.",
                           f"messages[{i}].role")
        messages.append({"role": CALLER_ROLES[message["role"]], "content": _text(message.get("content"), i)})
    if messages[-1]["role"] == "assistant":
        raise _invalid("The last message must come from the user (or the system).", "messages")
    return messages


def _optional_number(data: dict, name: str, low: float, high: float, integer: bool = False):
    value = data.get(name)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise _invalid(f"'{name}' must be {kind} from {low:g} to {high:g}.", name)
    return value


@bp.post("/chat/completions")
def chat_completions():
    _key_caller()
    config = current_app.config["CHAT"]
    data = json_body()
    slug = data.get("model")
    if not isinstance(slug, str) or not slug:
        raise _invalid("'model' is required: your bot's slug.", "model")
    messages = _caller_messages(data.get("messages"))
    stream = data.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise _invalid("'stream' must be true or false.", "stream")
    options = data.get("stream_options") or {}
    if not isinstance(options, dict):
        raise _invalid("'stream_options' must be an object.", "stream_options")
    if data.get("n") not in (None, 1):
        raise _invalid("Only one choice per request is supported ('n': 1).", "n")
    temperature = _optional_number(data, "temperature", 0, 2)
    wanted = _optional_number(data, "max_completion_tokens", 1, 10_000_000, integer=True)
    if wanted is None:
        wanted = _optional_number(data, "max_tokens", 1, 10_000_000, integer=True)

    try:
        bot = bots.runtime(slug)
    except bots.BotUnavailable:
        raise _model_not_found(slug) from None
    spent_out = bots.exhausted(bot)
    if spent_out is not None:
        what, wait = spent_out
        message = ("This bot has used up its tokens for today; try again after midnight (UTC)." if what == "bot"
                   else "This API key has used up its tokens for this month.")
        raise OpenAIError(429, message, "tokens", "rate_limit_exceeded" if what == "bot" else "insufficient_quota",
                          headers={"Retry-After": str(wait), "x-should-retry": "false"})

    model = bots.model_for(bot)
    budget = bots.budget_for_bot(bot, model)
    answer_tokens = min(wanted or budget.answer_tokens, budget.answer_tokens)
    prompt: list[dict] = []
    if (bot.get("instructions") or "").strip():
        prompt.append({"role": "system", "content": bot["instructions"]})
    pins = bots.bot_pins(bot)
    if pins:
        prompt.append({"role": "system", "content": pins_text(pins)})
    prompt.extend(messages)
    counter = Counter(budget.tokenizer)
    needed = sum(counter.message(m["content"]) for m in prompt) + REPLY_PRIMING_TOKENS
    room = budget.window - answer_tokens - budget.margin
    if needed > room:
        raise _invalid(f"The messages take about {needed} tokens with the bot's instructions, more than the {room} "
                       "this bot can read with room for its answer; send fewer or shorter messages.",
                       "messages", "context_length_exceeded")

    memory = _memory()
    entry = current_app.extensions["chat.catalog"].entry(model)
    client = current_app.extensions["chat.upstream"].client_for(entry)
    turn = Turn(conversation_id=f"bot:{slug}", model=model, messages=prompt, user_message={}, who=g.identity,
                request_id=g.request_id, max_tokens=answer_tokens, budget=budget,
                request_options=bots.request_options(bot, temperature))
    if stream:
        body = _stream(turn, client, slug, memory, config, bool(options.get("include_usage")), request.environ)
        return Response(body, status=200, mimetype="text/event-stream", direct_passthrough=True,
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    return _complete(turn, client, slug, memory)


def _completion_id() -> str:
    return "chatcmpl-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(29))


def _upstream_failure(exc: Exception) -> OpenAIError:
    code, message = describe_error(exc)
    status = 504 if code == "upstream_timeout" else 502
    return OpenAIError(status, message, "server_error", code)


def _usage_json(turn: Turn) -> dict:
    prompt, completion = bots.spent(turn) or (0, 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _complete(turn: Turn, client: openai.OpenAI, slug: str, memory: MemoryClient):
    try:
        completion = client.chat.completions.create(model=turn.model, messages=turn.messages, stream=False,
                                                    max_tokens=turn.max_tokens, **turn.request_options)
    except openai.OpenAIError as exc:
        log(logger, logging.WARNING, "upstream call failed", slug=slug, model=turn.model, **error_facts(exc))
        raise _upstream_failure(exc) from None
    choice = completion.choices[0] if completion.choices else None
    turn.parts.append((choice.message.content if choice and choice.message else None) or "")
    turn.finish_reason = (choice.finish_reason if choice else None) or "stop"
    if completion.usage is not None:
        turn.usage = {"prompt_tokens": completion.usage.prompt_tokens,
                      "completion_tokens": completion.usage.completion_tokens}
    bots.record_usage(turn, slug, memory)
    return {"id": _completion_id(), "object": "chat.completion", "created": int(time.time()), "model": slug,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": turn.content, "refusal": None},
                         "logprobs": None, "finish_reason": turn.finish_reason}],
            "usage": _usage_json(turn)}


def _stream(turn: Turn, client: openai.OpenAI, slug: str, memory: MemoryClient, config, include_usage: bool,
            environ: dict) -> Iterator[bytes]:
    """OpenAI chunk SSE: a role chunk, content chunks, the finish chunk, [usage], `data: [DONE]`.

    The same producer as the browser's turns reads the model, on the same ticks (chat.pacing): the
    deltas of a tick go out as one chunk. A `: keep-alive` comment goes out whenever the model is
    silent (SDKs skip comments); the client leaving stops the upstream call."""
    completion_id, created = _completion_id(), int(time.time())

    def chunk(choices: list, **more) -> bytes:
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": slug,
                   "choices": choices, **more}
        if include_usage and "usage" not in payload:
            payload["usage"] = None
        return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"

    def delta(content: dict, finish: str | None = None) -> bytes:
        return chunk([{"index": 0, "delta": content, "logprobs": None, "finish_reason": finish}])

    def last_chunks(finish_reason: str) -> Iterator[bytes]:
        yield delta({}, finish_reason)
        if include_usage:
            yield chunk([], usage=_usage_json(turn))
        yield b"data: [DONE]\n\n"

    def finished() -> Iterator[bytes]:  # the model's answer is whole
        bots.record_usage(turn, slug, memory)
        yield from last_chunks(turn.finish_reason)

    reading = Reading(turn, client, config, environ)
    outcome: tuple = (EXIT,)
    try:
        yield delta({"role": "assistant", "content": ""})
        for item in reading:
            kind = item[0]
            if kind == DELTA:
                turn.parts.append(item[1])
                yield delta({"content": item[1]})
            elif kind == BEAT:
                yield HEARTBEAT
            else:
                outcome = item
                break
    except (GeneratorExit, gevent.GreenletExit):  # the client has gone, or the worker is stopping
        reading.halt()
        bots.record_usage(turn, slug, memory)
        raise
    except BaseException:  # never leave the model's stream or the disconnect watch running
        reading.halt()
        raise
    if outcome[0] == DRAINED:
        outcome = (ERROR, "restarting", "The service is restarting; send the request again in a moment.")
    kind = outcome[0]
    if kind == END:
        yield from reading.finish(finished())
        return
    reading.halt()
    bots.record_usage(turn, slug, memory)
    if kind == ERROR:
        yield b"data: " + json.dumps({"error": {"message": outcome[2], "type": "server_error", "param": None,
                                                "code": outcome[1]}}).encode() + b"\n\n"
    elif kind == TIME_UP:
        yield from last_chunks("length")
    # otherwise the producer ended without a word: nothing more to send
