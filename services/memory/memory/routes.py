"""HTTP API of the memory service. Every handler works inside g.identity's namespace."""
from __future__ import annotations

import json
import re

from flask import Blueprint, Response, current_app, g, request, stream_with_context

from rolechat_common.ids import CONVERSATION_ID, MESSAGE_ID, PIN_ID
from rolechat_common.web import ApiError, error_response, json_body, string_field

from .profile_routes import USAGE_FIELDS, daily_quota, enforce_daily_quota, quota_exceeded, turn_usage
from .store import AUTHORS, STATUSES, InvalidPin, MessageNotFound, NotFound, QuestionGone, QuotaReached, Store
from .usage import TurnUsage

bp = Blueprint("memory", __name__, url_prefix="/api")
MAX_TITLE_CHARS = 200
MAX_MODEL_CHARS = 200
MAX_ERROR_CHARS = 500


def _store() -> Store:
    return current_app.extensions["memory.store"]


def _user() -> str:
    return g.identity.user_id


def _conversation_id(cid: str) -> str:
    if not CONVERSATION_ID.match(cid):
        raise NotFound
    return cid


def _conversation_fields(data: dict) -> dict:
    config = current_app.config["MEMORY"]
    return {
        "instructions": string_field(data, "instructions", max_chars=config.max_instructions_chars),
        "model": string_field(data, "model", max_chars=MAX_MODEL_CHARS),
        "title": string_field(data, "title", max_chars=MAX_TITLE_CHARS),
        "role_id": string_field(data, "role_id", max_chars=64),
    }


@bp.errorhandler(NotFound)
def _not_found(_exc):
    return error_response(404, "not_found", "No such conversation.")


@bp.errorhandler(MessageNotFound)
def _message_not_found(_exc):
    return error_response(404, "message_not_found", "No such question in this conversation; reload it and try again.")


@bp.errorhandler(QuestionGone)
def _question_gone(_exc):
    return error_response(409, "question_replaced", "The question this answers was replaced; the answer is not kept.")


@bp.get("/conversations")
def list_conversations():
    query = request.args.get("q")
    if query is None:
        return {"conversations": _store().list_conversations(_user())}
    query = query.strip()
    if not query or len(query) > MAX_QUERY_CHARS:
        raise ApiError(400, "invalid_parameter", f"'q' must be 1 to {MAX_QUERY_CHARS} characters of text.")
    config = current_app.config["MEMORY"]
    return {"conversations": _store().search(
        _user(), query, max_conversations=config.search_max_conversations,
        messages_per_conversation=config.search_messages_per_conversation, max_results=MAX_SEARCH_RESULTS)}


@bp.post("/conversations")
def create_conversation():
    conversation = _store().create_conversation(_user(), _conversation_fields(json_body(required=False)))
    conversation["messages"] = []
    return conversation, 201


@bp.get("/conversations/<cid>")
def get_conversation(cid: str):
    last = request.args.get("last")
    if last is not None and (not (last.isascii() and last.isdigit()) or int(last) < 1):
        raise ApiError(400, "invalid_parameter", "'last' must be a positive integer.")
    return _store().get_conversation(_user(), _conversation_id(cid), int(last) if last else None)


@bp.patch("/conversations/<cid>")
def update_conversation(cid: str):
    fields = _conversation_fields(json_body())
    return _store().update_conversation(_user(), _conversation_id(cid), fields)


@bp.delete("/conversations/<cid>")
def delete_conversation(cid: str):
    _store().delete_conversation(_user(), _conversation_id(cid))
    return "", 204


@bp.post("/conversations/<cid>/messages")
def append_message(cid: str):
    config = current_app.config["MEMORY"]
    data = json_body()
    role = data.get("role")
    if role not in AUTHORS:
        raise ApiError(400, "invalid_field", "'role' must be 'user' or 'assistant'.")
    status = data.get("status", "complete")
    if status not in STATUSES:
        raise ApiError(400, "invalid_field", "'status' must be one of " + ", ".join(STATUSES) + ".")
    content = string_field(data, "content", max_chars=config.max_content_chars, required=True)
    if role == "user" and not content.strip():
        raise ApiError(400, "invalid_field", "'content' must not be empty.")
    # Edit and resend, regenerate: this user message and every one after it give way to the new one.
    replaces = string_field(data, "replaces", max_chars=64)
    if replaces is not None and role != "user":
        raise ApiError(400, "invalid_field", "'replaces' goes with a user message only.")
    # An answer names its question: it is stored only while that question is still there.
    answers = string_field(data, "answers", max_chars=64)
    if answers is not None and role != "assistant":
        raise ApiError(400, "invalid_field", "'answers' goes with an assistant message only.")
    if role == "user" and replaces is not None:
        enforce_daily_quota()  # a new question is where spending starts; a refused one changes nothing
    message = {
        "role": role, "content": content, "status": status,
        "model": string_field(data, "model", max_chars=MAX_MODEL_CHARS),
        "error": string_field(data, "error", max_chars=MAX_ERROR_CHARS),
        "role_id": string_field(data, "role_id", max_chars=64),
    }
    context = data.get("context")
    if context is not None:
        if role != "assistant" or not isinstance(context, dict) or len(json.dumps(context)) > MAX_CONTEXT_JSON:
            raise ApiError(400, "invalid_field", "'context' must be a small object, on assistant messages only.")
        message["context"] = context
    if answers is not None:
        message["answers"] = answers
    usage = _answer_usage(data, role)
    if replaces is not None:
        return _store().replace_from(_user(), _conversation_id(cid), replaces, message), 201
    # A new question is checked against the daily quota in the same step that stores it.
    quota = daily_quota() if role == "user" else None
    try:
        stored = _store().append_message(_user(), _conversation_id(cid), message, usage, quota=quota)
    except QuotaReached:
        raise quota_exceeded(quota[1]) from None
    # Says the usage was counted (not part of the message): a caller that finds no such word, as from a
    # memory older than answers carrying their usage, records the usage on its own.
    return ({**stored, "usage_counted": True} if usage is not None else stored), 201


def _answer_usage(data: dict, role: str) -> TurnUsage | None:
    """An answer's `usage` (its tokens and cost), counted under the message's `model` when, and
    only when, the answer is stored; the same rules as POST /api/usage."""
    usage = data.get("usage")
    if usage is None:
        return None
    if role != "assistant" or not isinstance(usage, dict) or set(usage) - set(USAGE_FIELDS):
        raise ApiError(400, "invalid_usage", "'usage' must be an object of 'prompt_tokens', 'completion_tokens' "
                                             "and 'cost_usd', on assistant messages only.")
    try:
        return turn_usage(data, usage)
    except ApiError as exc:  # a code of its own: the caller may store the answer without it
        raise ApiError(400, "invalid_usage", f"'usage' cannot be counted: {exc.message}") from None


# --- pins, summary, context, search, export ------------------------------------------------------
MAX_QUERY_CHARS = 200
MAX_SEARCH_RESULTS = 50
MAX_PAGE = 500
MAX_CONTEXT_JSON = 4096
EXPORT_FORMATS = ("md", "json")


@bp.errorhandler(InvalidPin)
def _invalid_pin(exc):
    return error_response(400, "invalid_excerpt", str(exc))


def _positive_arg(name: str, default: int | None, maximum: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise ApiError(400, "invalid_parameter", f"'{name}' must be an integer from 1 to {maximum}.")
    return int(raw)


@bp.get("/conversations/<cid>/pins")
def list_pins(cid: str):
    return {"pins": _store().list_pins(_user(), _conversation_id(cid))}


@bp.post("/conversations/<cid>/pins")
def add_pin(cid: str):
    """Chat calls this after checking the pin fits the model's budget; memory checks the rest."""
    config = current_app.config["MEMORY"]
    data = json_body()
    unknown = set(data) - {"text", "message_id"}
    if unknown:
        raise ApiError(400, "invalid_field", f"Unknown field '{sorted(unknown)[0]}'; send 'message_id' and/or 'text'.")
    text = string_field(data, "text", max_chars=config.max_pin_chars, allow_empty=False)
    message_id = string_field(data, "message_id", max_chars=64)
    if text is None and message_id is None:
        raise ApiError(400, "missing_field", "Send 'message_id' (a message), 'message_id' and 'text' (an excerpt), "
                                             "or 'text' (a note).")
    cid = _conversation_id(cid)
    if message_id is not None and not MESSAGE_ID.match(message_id):
        raise ApiError(404, "message_not_found", "No such message in this conversation.")
    try:
        pin = _store().add_pin(_user(), cid, text, message_id, config.max_pins_per_conversation,
                               config.max_pin_chars)
    except NotFound:
        if message_id is not None and _store().redis.exists(_store()._keys(_user(), cid)["conv"]):
            raise ApiError(404, "message_not_found", "No such message in this conversation.") from None
        raise
    return pin, 201


@bp.delete("/conversations/<cid>/pins/<pin_id>")
def delete_pin(cid: str, pin_id: str):
    cid = _conversation_id(cid)
    if not PIN_ID.match(pin_id):
        raise NotFound
    _store().delete_pin(_user(), cid, pin_id)
    return "", 204


@bp.get("/conversations/<cid>/messages/<mid>")
def get_message(cid: str, mid: str):
    cid = _conversation_id(cid)
    if not MESSAGE_ID.match(mid):
        raise NotFound
    return _store().get_message(_user(), cid, mid)


@bp.get("/conversations/<cid>/messages")
def message_page(cid: str):
    """A page of messages ending just before index `before` (default: the newest), oldest first."""
    cid = _conversation_id(cid)
    before = request.args.get("before")
    if before is not None and not (before.isascii() and before.isdigit()):
        raise ApiError(400, "invalid_parameter", "'before' must be a message index (an integer ≥ 0).")
    limit = _positive_arg("limit", 100, MAX_PAGE)
    return _store().message_page(_user(), cid, before=int(before) if before is not None else None, limit=limit)


@bp.get("/conversations/<cid>/context-source")
def context_source(cid: str):
    """Settings, pins, summary and the newest `limit` messages; older pages via /messages?before=.
    `replacing=<message id>`: as it will be after that user message and the ones after it are cut."""
    limit = _positive_arg("limit", 50, MAX_PAGE)
    replacing = request.args.get("replacing")
    if replacing is not None and not MESSAGE_ID.match(replacing):
        _store().context_source(_user(), _conversation_id(cid), 1)  # an unknown conversation is still a 404
        raise MessageNotFound
    return _store().context_source(_user(), _conversation_id(cid), limit, replacing)


@bp.put("/conversations/<cid>/summary")
def put_summary(cid: str):
    config = current_app.config["MEMORY"]
    data = json_body()
    text = string_field(data, "text", max_chars=config.max_content_chars, required=True, allow_empty=False)
    upto = data.get("upto")
    if not isinstance(upto, int) or isinstance(upto, bool) or upto < 0:
        raise ApiError(400, "invalid_field", "'upto' must be the number of messages the summary covers.")
    model = string_field(data, "model", max_chars=MAX_MODEL_CHARS) or ""
    stored, summary = _store().put_summary(_user(), _conversation_id(cid), text, upto, model)
    return {"stored": stored, "summary": summary}, 200


@bp.get("/conversations/<cid>/context")
def get_context(cid: str):
    """The last assembled context's token breakdown, and what the stored summary covers."""
    context, summary = _store().get_context(_user(), _conversation_id(cid))
    body = dict(context or {})
    body["assembled"] = context is not None
    body["summarized_messages"] = int(summary["upto"]) if summary else 0
    body["summary_text"] = summary["text"] if summary else None
    body["summary_updated_at"] = summary["updated_at"] if summary else None
    return body


@bp.get("/conversations/<cid>/export")
def export_conversation(cid: str):
    fmt = request.args.get("format", "md")
    if fmt not in EXPORT_FORMATS:
        raise ApiError(400, "invalid_parameter", "'format' must be 'md' or 'json'.")
    store, user, cid = _store(), _user(), _conversation_id(cid)
    conversation = store.get_conversation(user, cid, last=1)  # 404 first; the messages stream below
    conversation.pop("messages", None)
    pins = store.list_pins(user, cid)
    name = _filename(conversation["title"] or cid)
    if fmt == "json":
        body = _export_json(conversation, pins, store.iter_messages(user, cid))
        mimetype = "application/json"
    else:
        body = _export_markdown(conversation, pins, store.iter_messages(user, cid))
        mimetype = "text/markdown"
    return Response(stream_with_context(body), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"',
                             "Cache-Control": "no-store"})


def _filename(title: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-.")[:60]
    return slug or "conversation"


def _export_json(conversation: dict, pins: list[dict], messages):
    head = json.dumps(conversation, ensure_ascii=False)[:-1]
    yield head + ', "pins": ' + json.dumps(pins, ensure_ascii=False) + ', "messages": ['
    for i, message in enumerate(messages):
        yield ("," if i else "") + json.dumps(message, ensure_ascii=False)
    yield "]}"


def _export_markdown(conversation: dict, pins: list[dict], messages):
    yield f"# {conversation['title'] or 'Conversation'}\n\n"
    yield f"- Model: {conversation['model'] or '(default)'}\n- Started: {conversation['created_at']}\n\n"
    if conversation["instructions"]:
        yield "## Role\n\n" + _quote(conversation["instructions"]) + "\n\n"
    if pins:
        yield "## Pinned\n\n"
        for pin in pins:
            yield _quote(pin["text"]) + "\n\n"
    yield "## Messages\n\n"
    for message in messages:
        who = "You" if message.get("role") == "user" else "Assistant"
        status = "" if message.get("status", "complete") == "complete" else f" ({message['status']})"
        yield f"### {who}{status} · {message.get('created_at', '')}\n\n{message.get('content', '')}\n\n"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.split("\n"))
