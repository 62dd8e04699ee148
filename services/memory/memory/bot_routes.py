"""Memory's API for published bots: the owner's bots and API keys, visitors' conversations,
the public page, and what chat and the auth-proxy need (runtime, usage, key verification).

Who may call what:
  /api/bots...                 the signed-in owner (never a visitor, an API key or a service)
  /api/public/bots...          anyone (visitors' conversations: not API-key callers)
  /internal/bots/<slug>/...    chat, acting for a visitor or an API-key caller (issuer `chat` only)
  /internal/bot-keys/verify    the auth-proxy's own service identity (issuer `auth-proxy` only)
  /internal/bot-keys/self      chat, acting for an API-key caller
"""
from __future__ import annotations

import logging
import re

from flask import Blueprint, current_app, g, request

from rolechat_common import identity as ident
from rolechat_common.ids import BOT_SLUG, CONVERSATION_ID, KEY_ID, ROLE_ID
from rolechat_common.logs import log
from rolechat_common.web import ApiError, error_response, json_body, string_field

from .bot_store import KEY_PREFIX, BotStore, InvalidKey, RoleNotFound, SlugTaken
from .store import NotFound

logger = logging.getLogger("rolechat.memory.bots")
bp = Blueprint("memory_bots", __name__)
RESERVED_SLUGS = frozenset({
    "api", "admin", "b", "v1", "static", "login", "logout", "assets", "bots", "bot", "public", "internal",
    "local", "me", "new", "settings", "healthz", "readyz", "metrics", "openapi", "docs", "help", "app",
})
RAW_KEY = re.compile(r"^" + KEY_PREFIX + r"[A-Za-z0-9_-]{43}$")
NOT_OWNERS = frozenset({"visitor", "api-key", "service"})
MAX_KEY_NAME_CHARS = 100
MAX_TOKEN_BUDGET = 10_000_000_000
MAX_USAGE_TOKENS = 100_000_000
MAX_TRANSCRIPTS = 200
AUTH_PROXY = "auth-proxy"


def _bots() -> BotStore:
    bots = current_app.extensions.get("memory.bots")
    if bots is None:
        bots = BotStore(current_app.extensions["memory.store"].redis, current_app.extensions["memory.store"],
                        current_app.extensions["memory.profile"])
        current_app.extensions["memory.bots"] = bots
    return bots


@bp.errorhandler(NotFound)
def _not_found(_exc):
    return error_response(404, "not_found", "No such bot.")


@bp.errorhandler(RoleNotFound)
def _role_not_found(_exc):
    return error_response(404, "role_not_found", "No such role among yours; publish one of your own roles.")


@bp.errorhandler(SlugTaken)
def _slug_taken(_exc):
    return error_response(409, "slug_taken", "This address is already taken; choose another slug.")


# --- who is calling ---------------------------------------------------------------------------------
def _groups() -> set[str]:
    return set(g.identity.groups or ())


def _owner() -> str:
    """The signed-in person managing their bots; visitors, API keys and services are refused."""
    if _groups() & NOT_OWNERS:
        raise ApiError(403, "forbidden", "Only a signed-in person can manage bots.")
    return g.identity.user_id


def caller_key_id() -> str | None:
    """The key id of an API-key caller, else None.

    The auth-proxy names an API-key caller `k_<key id>`; key ids themselves begin with `k_`, so
    both `k_<22 characters>` and `k_k_<22 characters>` name the same key.
    """
    if "api-key" not in _groups():
        return None
    user_id = g.identity.user_id
    if user_id.startswith("k_k_"):
        user_id = user_id[2:]
    if not KEY_ID.match(user_id):
        raise ApiError(403, "forbidden", "Unrecognised API-key identity.")
    return user_id


def _issued_by(issuer: str) -> None:
    """The internal identity on this request was minted by `issuer` (not merely by someone trusted)."""
    secret = current_app.config["MEMORY"].identity_secret
    try:
        ident.verify(request.headers.get(ident.IDENTITY_HEADER), secret, (issuer,))
    except ident.InvalidIdentity:
        raise ApiError(403, "forbidden", "This endpoint is internal.") from None


def _slug(slug: str) -> str:
    if not BOT_SLUG.match(slug):
        raise NotFound
    return slug


def _conversation_id(cid: str) -> str:
    if not CONVERSATION_ID.match(cid):
        raise ApiError(404, "not_found", "No such conversation.")
    return cid


def _conversation_missing(_exc=None):
    return ApiError(404, "not_found", "No such conversation.")


# --- fields --------------------------------------------------------------------------------------
def _bot_fields(data: dict, creating: bool) -> dict:
    config = current_app.config["MEMORY"]
    allowed = {"role_id", "greeting", "suggestions", "daily_token_budget"} | ({"slug"} if creating else {"published"})
    unknown = set(data) - allowed
    if unknown:
        raise ApiError(400, "invalid_field", f"Unknown field '{sorted(unknown)[0]}'; a bot has "
                                             + ", ".join(sorted(allowed)) + ".")
    fields: dict = {}
    role_id = string_field(data, "role_id", max_chars=64, required=creating, allow_empty=False)
    if role_id is not None:
        if not ROLE_ID.match(role_id):
            raise RoleNotFound
        fields["role_id"] = role_id
    greeting = string_field(data, "greeting", max_chars=config.max_greeting_chars)
    if greeting is not None:
        fields["greeting"] = greeting.strip()
    if "suggestions" in data:
        suggestions = data["suggestions"]
        if suggestions is None:
            suggestions = []
        if (not isinstance(suggestions, list) or len(suggestions) > config.max_suggestions
                or not all(isinstance(s, str) and s.strip() for s in suggestions)):
            raise ApiError(400, "invalid_field", f"'suggestions' must be a list of at most {config.max_suggestions} "
                                                 "non-empty strings.")
        if any(len(s) > config.max_suggestion_chars for s in suggestions):
            raise ApiError(413, "too_long", f"Each suggestion holds at most {config.max_suggestion_chars} characters.")
        fields["suggestions"] = [s.strip() for s in suggestions]
    if "daily_token_budget" in data:
        fields["daily_token_budget"] = _optional_count(data, "daily_token_budget", MAX_TOKEN_BUDGET)
    if "published" in data:
        if not isinstance(data["published"], bool):
            raise ApiError(400, "invalid_field", "'published' must be true or false.")
        fields["published"] = data["published"]
    return fields


def _optional_count(data: dict, name: str, maximum: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ApiError(400, "invalid_field", f"'{name}' must be a positive integer (at most {maximum}), or null.")
    return value


def _new_slug(data: dict) -> str:
    slug = string_field(data, "slug", max_chars=40, required=True, allow_empty=False)
    if not BOT_SLUG.match(slug):
        raise ApiError(400, "invalid_slug", "'slug' must be 3 to 40 lowercase letters, digits or hyphens, "
                                            "starting and ending with a letter or digit.")
    if slug in RESERVED_SLUGS:
        raise ApiError(400, "invalid_slug", f"'{slug}' is reserved; choose another slug.")
    return slug


# --- the owner's bots ----------------------------------------------------------------------------
@bp.get("/api/bots")
def list_bots():
    return {"bots": _bots().list_bots(_owner())}


@bp.post("/api/bots")
def create_bot():
    owner = _owner()
    data = json_body()
    fields = _bot_fields(data, creating=True)
    slug = _new_slug(data)
    bot = _bots().create_bot(owner, slug, fields, current_app.config["MEMORY"].max_bots_per_user,
                             owner_groups=g.identity.groups)
    log_bot("bot published", slug)
    return bot, 201


@bp.get("/api/bots/<slug>")
def get_bot(slug: str):
    return _bots().get_bot(_owner(), _slug(slug))


@bp.patch("/api/bots/<slug>")
def update_bot(slug: str):
    owner = _owner()
    return _bots().update_bot(owner, _slug(slug), _bot_fields(json_body(), creating=False),
                              owner_groups=g.identity.groups)


@bp.delete("/api/bots/<slug>")
def delete_bot(slug: str):
    _bots().delete_bot(_owner(), _slug(slug))
    log_bot("bot deleted", slug)
    return "", 204


@bp.post("/api/bots/<slug>/keys")
def create_key(slug: str):
    owner = _owner()
    data = json_body(required=False)
    unknown = set(data) - {"name", "monthly_token_quota"}
    if unknown:
        raise ApiError(400, "invalid_field", f"Unknown field '{sorted(unknown)[0]}'; send 'name' and optionally "
                                             "'monthly_token_quota'.")
    name = (string_field(data, "name", max_chars=MAX_KEY_NAME_CHARS) or "").strip()
    quota = _optional_count(data, "monthly_token_quota", MAX_TOKEN_BUDGET)
    key = _bots().create_key(owner, _slug(slug), name, quota, current_app.config["MEMORY"].max_keys_per_bot)
    log_bot("bot key created", slug, key_id=key["id"])
    return key, 201


@bp.get("/api/bots/<slug>/keys")
def list_keys(slug: str):
    return {"keys": _bots().list_keys(_owner(), _slug(slug))}


@bp.delete("/api/bots/<slug>/keys/<key_id>")
def delete_key(slug: str, key_id: str):
    owner = _owner()
    if not KEY_ID.match(key_id):
        raise ApiError(404, "not_found", "No such key.")
    try:
        _bots().delete_key(owner, _slug(slug), key_id)
    except NotFound:
        _bots().get_bot(owner, slug)  # 404 "No such bot." first
        raise ApiError(404, "not_found", "No such key.") from None
    log_bot("bot key revoked", slug, key_id=key_id)
    return "", 204


@bp.get("/api/bots/<slug>/usage")
def bot_usage(slug: str):
    return _bots().usage(_owner(), _slug(slug))


@bp.get("/api/bots/<slug>/conversations")
def list_transcripts(slug: str):
    owner = _owner()
    raw = request.args.get("limit", "50")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TRANSCRIPTS:
        raise ApiError(400, "invalid_parameter", f"'limit' must be an integer from 1 to {MAX_TRANSCRIPTS}.")
    return {"conversations": _bots().transcripts(owner, _slug(slug), int(raw))}


@bp.get("/api/bots/<slug>/conversations/<cid>")
def get_transcript(slug: str, cid: str):
    owner = _owner()
    slug, cid = _slug(slug), _conversation_id(cid)
    try:
        return _bots().transcript(owner, slug, cid)
    except NotFound:
        _bots().get_bot(owner, slug)  # 404 "No such bot." first
        raise _conversation_missing() from None


# --- the public page -------------------------------------------------------------------------------
@bp.get("/api/public/bots/<slug>")
def public_bot(slug: str):
    return _bots().public_bot(_slug(slug))


def _visitor() -> str:
    if caller_key_id() is not None:
        raise ApiError(403, "forbidden", "API keys talk to a bot through /v1/chat/completions.")
    return g.identity.user_id


@bp.post("/api/public/bots/<slug>/conversations")
def create_visitor_conversation(slug: str):
    visitor = _visitor()
    return _bots().create_visitor_conversation(visitor, _slug(slug)), 201


@bp.get("/api/public/bots/<slug>/conversations/<cid>")
def get_visitor_conversation(slug: str, cid: str):
    visitor = _visitor()
    slug, cid = _slug(slug), _conversation_id(cid)
    try:
        return _bots().visitor_conversation(visitor, slug, cid)
    except NotFound:
        raise _conversation_missing() from None


# --- for chat and the auth-proxy --------------------------------------------------------------------
@bp.get("/internal/bots/<slug>/runtime")
def runtime(slug: str):
    """What chat needs to answer as the bot; `?conversation=<id>`: also check that the caller's
    conversation belongs to this bot (404 otherwise)."""
    _issued_by(ident.ISSUER_CHAT)
    key_id = caller_key_id()
    cid = request.args.get("conversation")
    if cid is not None:
        if key_id is not None:
            raise ApiError(403, "forbidden", "API keys have no conversations here.")
        cid = _conversation_id(cid)
    return _bots().runtime(_slug(slug), key_id=key_id, visitor=g.identity.user_id, conversation=cid,
                           limits=current_app.config["MEMORY"].limits)


@bp.post("/internal/bots/<slug>/usage")
def record_usage(slug: str):
    _issued_by(ident.ISSUER_CHAT)
    data = json_body()
    counts = []
    for name in ("prompt_tokens", "completion_tokens"):
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_USAGE_TOKENS:
            raise ApiError(400, "invalid_field", f"'{name}' must be a non-negative integer.")
        counts.append(value)
    key_id = caller_key_id()
    sent_key = string_field(data, "key_id", max_chars=64)
    if sent_key is not None and sent_key != key_id:
        raise ApiError(403, "forbidden", "'key_id' must be the calling key's own.")
    cid = string_field(data, "conversation_id", max_chars=64)
    if cid is not None and (key_id is not None or not CONVERSATION_ID.match(cid)):
        raise ApiError(400, "invalid_field", "'conversation_id' must be the visitor's conversation id.")
    _bots().record_usage(_slug(slug), counts[0], counts[1], key_id=key_id, conversation=cid)
    return "", 204


@bp.post("/internal/bot-keys/verify")
def verify_key():
    _issued_by(ident.ISSUER_AUTH_PROXY)
    if g.identity.user_id != AUTH_PROXY or "service" not in _groups():
        raise ApiError(403, "forbidden", "Only the auth-proxy verifies API keys.")
    data = json_body()
    raw = data.get("key")
    try:
        if not isinstance(raw, str) or not RAW_KEY.match(raw):
            raise InvalidKey
        return _bots().verify_key(raw)
    except InvalidKey:
        raise ApiError(401, "invalid_key", "Invalid or revoked API key.") from None


@bp.get("/internal/bot-keys/self")
def key_self():
    """The bot an API-key caller's key belongs to: {"key_id", "slug"}."""
    _issued_by(ident.ISSUER_CHAT)
    key_id = caller_key_id()
    if key_id is None:
        raise ApiError(403, "forbidden", "Only an API-key caller has a key.")
    found = _bots().key_owner(key_id)
    return {"key_id": key_id, "slug": found["slug"]}


def log_bot(message: str, slug: str, **fields) -> None:
    log(logger, logging.INFO, message, slug=slug, **fields)
