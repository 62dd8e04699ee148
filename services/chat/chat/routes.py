"""The chat service's HTTP API (behind the auth-proxy): models, conversation settings, turns."""
from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Blueprint, Response, current_app, g, request

from rolechat_common.ids import CONVERSATION_ID, MESSAGE_ID
from rolechat_common.web import ApiError, json_body, string_field

from .catalog import ModelCatalog
from .config import MAX_MODEL_ID_CHARS, Config
from .memory import MemoryClient
from .context import FIRST_PAGE, Budget, assemble, budget_for, fixed_tokens
from .memory import MemoryFailure
from .tokens import Counter
from .turns import Turn, stream_turn
from . import roles

bp = Blueprint("chat", __name__, url_prefix="/api")
MAX_TITLE_CHARS = 200
MAX_PIN_CHARS = 32000


def _config() -> Config:
    return current_app.config["CHAT"]


def _memory() -> MemoryClient:
    return current_app.extensions["chat.memory"]


def _catalog() -> ModelCatalog:
    return current_app.extensions["chat.catalog"]


def _conversation_id(cid: str) -> str:
    if not CONVERSATION_ID.match(cid):  # memory would say the same; no need to ask it
        raise ApiError(404, "not_found", "No such conversation.")
    return cid


def _conversation_fields(data: dict, *, creating: bool) -> dict:
    config = _config()
    fields = {
        "instructions": string_field(data, "instructions", max_chars=config.max_instructions_chars),
        "title": string_field(data, "title", max_chars=MAX_TITLE_CHARS),
    }
    model = string_field(data, "model", max_chars=MAX_MODEL_ID_CHARS)
    role_id = string_field(data, "role_id", max_chars=64)
    if role_id:
        role = roles.role_settings(role_id)
        fields["role_id"] = role_id
        if model is None and role.get("model"):
            model = role["model"]
    elif role_id == "" or (role_id is None and "role_id" in data):
        fields["role_id"] = ""  # back to free-form instructions
    if model is not None or creating:
        fields["model"] = roles.resolve_model(model)
    return {k: v for k, v in fields.items() if v is not None}


def _effective(source: dict) -> tuple[str, list[dict], dict | None]:
    """The instructions and pins a turn sends (the role's, then the conversation's), and the role."""
    pins = list(source.get("pins") or [])
    role_id = source.get("role_id") or ""
    if not role_id:
        return source.get("instructions") or "", pins, None
    try:
        role = roles.role_settings(role_id)
    except (ApiError, MemoryFailure) as exc:
        if getattr(exc, "status", None) != 404:
            raise
        return source.get("instructions") or "", pins, None  # the role was deleted: free-form again
    return role.get("instructions") or "", list(role.get("pins") or []) + pins, role


@bp.post("/conversations")
def create_conversation():
    fields = _conversation_fields(json_body(required=False), creating=True)
    status, conversation = _memory().create_conversation(g.identity, fields, request_id=g.request_id)
    return conversation, status


def _budget(model: str) -> Budget:
    return budget_for(model, _catalog().entry(model), _config())


def _pins_room(budget: Budget, instructions: str, pins: list[dict]) -> tuple[int, int, int]:
    """(tokens role + pins take, tokens they may take, tokens still free) for this model."""
    counter = Counter(budget.tokenizer)
    role, pinned = fixed_tokens(counter, instructions, pins)
    allowance = budget.pins_allowance(_config().pins_max_share)
    return role + pinned, allowance, max(0, allowance - role - pinned)


@bp.patch("/conversations/<cid>")
def update_conversation(cid: str):
    fields = _conversation_fields(json_body(), creating=False)
    if "instructions" in fields or "model" in fields or "role_id" in fields:  # role + pins must still fit
        source = _memory().context_source(g.identity, _conversation_id(cid), request_id=g.request_id, limit=1)
        model = fields.get("model") or roles.resolve_model(source.get("model") or None)
        merged = {**source, **{k: v for k, v in fields.items() if k in ("instructions", "role_id")}}
        instructions, pins, _ = _effective(merged)
        budget = _budget(model)
        used, allowance, _ = _pins_room(budget, instructions, pins)
        if used > allowance:
            raise ApiError(400, "pins_over_budget",
                           f"The role and pins would take about {used} tokens, more than the {allowance} "
                           f"allowed for them with {model} ({round(_config().pins_max_share * 100)}% of what "
                           "it can read); shorten the role or unpin something first.")
    status, conversation = _memory().update_conversation(g.identity, _conversation_id(cid), fields,
                                                         request_id=g.request_id)
    return conversation, status


@bp.post("/conversations/<cid>/messages")
def post_message(cid: str):
    config = _config()
    data = json_body()
    content = string_field(data, "content", max_chars=config.max_message_chars, required=True, allow_empty=False)
    # Edit and resend / regenerate: this user message and everything after it give way to `content`.
    replaces = string_field(data, "replaces", max_chars=64)
    cid = _conversation_id(cid)
    memory = _memory()
    if replaces is not None and not MESSAGE_ID.match(replaces):
        memory.context_source(g.identity, cid, request_id=g.request_id, limit=1)  # an unknown conversation: 404
        raise ApiError(404, "message_not_found", "No such question in this conversation; reload it and try again.")
    # With `replaces`, the history as it will be after the cut (and no summary covering removed messages).
    source = memory.context_source(g.identity, cid, request_id=g.request_id, limit=FIRST_PAGE, replacing=replaces)
    model = roles.resolve_model(source.get("model") or None)
    instructions, pins, role = _effective(source)
    source = {**source, "instructions": instructions, "pins": pins}
    budget = roles.budget(model, (role or {}).get("max_answer_tokens"))
    options = {}
    if role and role.get("temperature") is not None:
        options["temperature"] = role["temperature"]
    return stream_answer(cid, content, source, model, budget, role_id=(source.get("role_id") if role else "") or "",
                         options=options, replaces=replaces)


def stream_answer(cid: str, content: str, source: dict, model: str, budget: Budget, *, role_id: str = "",
                  options: dict | None = None, replaces: str | None = None,
                  wrap: Callable[[Iterator[bytes], Turn], Iterator[bytes]] | None = None) -> Response:
    """One turn of conversation `cid` (a signed-in user's or a bot visitor's), streamed: the context
    assembled from `source` within `budget`, the question stored before the model is asked, then
    the answer as Server-Sent Events. `wrap` sees the body and the turn (a bot counts its tokens)."""
    config, memory = _config(), _memory()
    entry = _catalog().entry(model)

    def older(before: int, limit: int) -> dict:
        return memory.message_page(g.identity, cid, before=before, limit=limit, request_id=g.request_id)

    assembly = assemble(source, content, budget, config, older)
    # Stored before the model is asked: a question the API accepted is never lost. With `replaces`,
    # every check has passed: only now does the old tail go, in the same step that stores the question.
    question = {"role": "user", "content": content, **({"replaces": replaces} if replaces is not None else {})}
    user_message = memory.append_message(g.identity, cid, question, request_id=g.request_id)
    user_message.pop("replaced", None)
    turn = Turn(conversation_id=cid, model=model, messages=assembly.messages, user_message=user_message,
                who=g.identity, request_id=g.request_id, max_tokens=budget.answer_tokens,
                context=assembly.breakdown, budget=budget, assembly=assembly, summary=source.get("summary"),
                role_id=role_id, request_options=options or {}, price=entry.cost if entry is not None else None)
    client = current_app.extensions["chat.upstream"].client_for(entry)
    body = stream_turn(turn, client=client, memory=memory, config=config, environ=request.environ,
                       spawn=current_app.extensions["chat.spawn"])
    return Response(wrap(body, turn) if wrap else body, status=200, mimetype="text/event-stream",
                    direct_passthrough=True, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.post("/conversations/<cid>/pins")
def add_pin(cid: str):
    """Pin a message, an excerpt of one, or a note, if role + pins still fit the model's share."""
    data = json_body()
    unknown = set(data) - {"text", "message_id"}
    if unknown:
        raise ApiError(400, "invalid_field", f"Unknown field '{sorted(unknown)[0]}'; send 'message_id' and/or 'text'.")
    text = string_field(data, "text", max_chars=MAX_PIN_CHARS, allow_empty=False)
    message_id = string_field(data, "message_id", max_chars=64)
    if text is None and message_id is None:
        raise ApiError(400, "missing_field", "Send 'message_id' (a message), 'message_id' and 'text' (an excerpt), "
                                             "or 'text' (a note).")
    cid = _conversation_id(cid)
    memory = _memory()
    source = memory.context_source(g.identity, cid, request_id=g.request_id, limit=1)
    pinned = text
    if message_id is not None:
        if not MESSAGE_ID.match(message_id):
            raise ApiError(404, "message_not_found", "No such message in this conversation.")
        try:
            message = memory.get_message(g.identity, cid, message_id, request_id=g.request_id)
        except MemoryFailure as exc:
            if exc.status == 404:
                raise ApiError(404, "message_not_found", "No such message in this conversation.") from None
            raise
        content = message.get("content") or ""
        if text is not None and text not in content:
            raise ApiError(400, "invalid_excerpt",
                           "'text' must be an excerpt of the message: copy it exactly from the message.")
        pinned = text if text is not None else content
    model = roles.resolve_model(source.get("model") or None)
    budget = _budget(model)
    instructions, pins, _ = _effective(source)
    before, allowance, room = _pins_room(budget, instructions, pins)
    after, _, _ = _pins_room(budget, instructions, pins + [{"text": pinned}])
    if after > allowance:
        raise ApiError(400, "pins_over_budget",
                       f"This pin needs about {after - before} tokens but only {room} are left: the role and "
                       f"pins may take {allowance} tokens with {model} ({round(_config().pins_max_share * 100)}% "
                       "of what it can read). Unpin something or pin a shorter excerpt.")
    fields = {"text": text} if message_id is None else {"message_id": message_id, **({"text": text} if text else {})}
    status, pin = memory.add_pin(g.identity, cid, fields, request_id=g.request_id)
    return pin, status
