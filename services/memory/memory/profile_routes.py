"""Memory's API for roles and their pins, registered models and usage (chat validates first)."""
from __future__ import annotations

import re

from flask import Blueprint, current_app, g, request

from rolechat_common.ids import PIN_ID, ROLE_ID
from rolechat_common.limits import seconds_until_utc_midnight
from rolechat_common.web import ApiError, error_response, json_body, string_field

from .profile_store import ProfileStore
from .usage import TurnUsage, tokens_today_key
from .store import NotFound

bp = Blueprint("memory_profile", __name__, url_prefix="/api")
MODEL_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,200}$")
MAX_NAME_CHARS = 100
MAX_LABEL_CHARS = 200
ADMINS = "admins"


def _profile() -> ProfileStore:
    return current_app.extensions["memory.profile"]


def _user() -> str:
    return g.identity.user_id


def _role_id(rid: str) -> str:
    if not ROLE_ID.match(rid):
        raise NotFound
    return rid


@bp.errorhandler(NotFound)
def _not_found(_exc):
    return error_response(404, "not_found", "No such role or model.")


def _role_fields(data: dict, creating: bool) -> dict:
    config = current_app.config["MEMORY"]
    fields = {
        "name": string_field(data, "name", max_chars=MAX_NAME_CHARS, required=creating, allow_empty=False),
        "instructions": string_field(data, "instructions", max_chars=config.max_instructions_chars),
        "model": string_field(data, "model", max_chars=200),
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    if "temperature" in data:
        value = data["temperature"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0 <= value <= 2):
            raise ApiError(400, "invalid_field", "'temperature' must be a number from 0 to 2, or null.")
        fields["temperature"] = value
    if "max_answer_tokens" in data:
        value = data["max_answer_tokens"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ApiError(400, "invalid_field", "'max_answer_tokens' must be a positive integer, or null.")
        fields["max_answer_tokens"] = value
    return fields


@bp.get("/roles")
def list_roles():
    return {"roles": _profile().list_roles(_user())}


@bp.post("/roles")
def create_role():
    config = current_app.config["MEMORY"]
    return _profile().create_role(_user(), _role_fields(json_body(), True), config.max_roles_per_user), 201


@bp.get("/roles/<rid>")
def get_role(rid: str):
    role = _profile().get_role(_user(), _role_id(rid))
    role["pins"] = _profile().list_role_pins(_user(), rid)
    return role


@bp.patch("/roles/<rid>")
def update_role(rid: str):
    return _profile().update_role(_user(), _role_id(rid), _role_fields(json_body(), False))


@bp.delete("/roles/<rid>")
def delete_role(rid: str):
    _profile().delete_role(_user(), _role_id(rid))
    return "", 204


@bp.get("/roles/<rid>/pins")
def list_role_pins(rid: str):
    return {"pins": _profile().list_role_pins(_user(), _role_id(rid))}


@bp.post("/roles/<rid>/pins")
def add_role_pin(rid: str):
    config = current_app.config["MEMORY"]
    data = json_body()
    unknown = set(data) - {"text"}
    if unknown:
        raise ApiError(400, "invalid_field", f"Unknown field '{sorted(unknown)[0]}'; send 'text'.")
    text = string_field(data, "text", max_chars=config.max_pin_chars, required=True, allow_empty=False)
    return _profile().add_role_pin(_user(), _role_id(rid), text, config.max_pins_per_role, config.max_pin_chars), 201


@bp.delete("/roles/<rid>/pins/<pin_id>")
def delete_role_pin(rid: str, pin_id: str):
    if not PIN_ID.match(pin_id):
        raise NotFound
    _profile().delete_role_pin(_user(), _role_id(rid), pin_id)
    return "", 204


# --- registered (fine-tuned) models ---------------------------------------------------------------
def _model_id(model_id: str) -> str:
    if not MODEL_ID.match(model_id):
        raise NotFound
    return model_id


@bp.get("/registered-models")
def list_models():
    return {"models": _profile().list_models(_user())}


@bp.post("/registered-models")
def register_model():
    config = current_app.config["MEMORY"]
    data = json_body()
    model_id = string_field(data, "id", max_chars=200, required=True, allow_empty=False)
    if not MODEL_ID.match(model_id):
        raise ApiError(400, "invalid_field", "'id' is not a model id.")
    label = string_field(data, "label", max_chars=MAX_LABEL_CHARS) or ""
    return _profile().register_model(_user(), model_id, label, config.max_models_per_user), 201


@bp.get("/registered-models/<path:model_id>")
def get_model(model_id: str):
    return _profile().visible_model(_user(), _model_id(model_id))


@bp.patch("/registered-models/<path:model_id>")
def share_model(model_id: str):
    if ADMINS not in (g.identity.groups or ()):
        raise ApiError(403, "forbidden", "Only an administrator can publish a model to everyone.")
    data = json_body()
    shared = data.get("shared")
    if not isinstance(shared, bool):
        raise ApiError(400, "invalid_field", "'shared' must be true or false.")
    return _profile().share_model(_user(), _model_id(model_id), shared)


@bp.delete("/registered-models/<path:model_id>")
def unregister_model(model_id: str):
    _profile().unregister_model(_user(), _model_id(model_id))
    return "", 204


# --- usage ---------------------------------------------------------------------------------------
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "cost_usd")
MAX_TURN_COST_USD = 1_000_000


def turn_usage(data: dict, counts: dict) -> TurnUsage:
    """One turn's usage, checked: the model named in `data`, the tokens and cost in `counts`.

    POST /api/usage sends all of them in one object; an answer stored with its usage names the
    model in the message and the rest in its `usage` (routes.append_message). Both accept exactly
    what this accepts.
    """
    model = string_field(data, "model", max_chars=200, required=True, allow_empty=False)
    tokens = []
    for name in ("prompt_tokens", "completion_tokens"):
        value = counts.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000_000:
            raise ApiError(400, "invalid_field", f"'{name}' must be a non-negative integer.")
        tokens.append(value)
    cost = counts.get("cost_usd")
    # The range also refuses NaN and Infinity (a JSON body may hold them), and sums Redis's float
    # counter could overflow.
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float))
                             or not 0 <= cost <= MAX_TURN_COST_USD):
        raise ApiError(400, "invalid_field",
                       f"'cost_usd' must be a number from 0 to {MAX_TURN_COST_USD:,}, or null.")
    return TurnUsage(model, tokens[0], tokens[1], None if cost is None else float(cost))


@bp.post("/usage")
def record_usage():
    data = json_body()
    usage = turn_usage(data, data)
    _profile().record_usage(_user(), usage.model, usage.prompt_tokens, usage.completion_tokens, usage.cost_usd)
    return "", 204


@bp.get("/usage")
def get_usage():
    raw = request.args.get("days", "30")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 366:
        raise ApiError(400, "invalid_parameter", "'days' must be an integer from 1 to 366.")
    return {**_profile().usage(_user(), int(raw)), "limits": limits_now()}


def limits_now() -> dict:
    """The caller's limits and what is left of today's token quota (None: unlimited)."""
    allowance = current_app.config["MEMORY"].limits.for_groups(g.identity.groups)
    used = _profile().tokens_today(_user())
    daily = allowance.daily_tokens
    return {**allowance.to_json(), "tokens_used_today": used,
            "tokens_remaining_today": None if daily is None else max(0, daily - used),
            "resets_in_seconds": seconds_until_utc_midnight()}


def enforce_daily_quota() -> None:
    """Refuse a new question once today's tokens have reached the quota (the answer that crosses
    it is allowed to finish: a quota never cuts an answer in half)."""
    limits = limits_now()
    if limits["tokens_remaining_today"] == 0:
        raise quota_exceeded(limits["daily_tokens"])


def daily_quota() -> tuple[str, int] | None:
    """(today's token counter, the caller's daily quota), or None without one: for a question
    stored in one step with its quota check (Store.append_message)."""
    daily = current_app.config["MEMORY"].limits.for_groups(g.identity.groups).daily_tokens
    return None if daily is None else (tokens_today_key(_user()), daily)


def quota_exceeded(daily: int) -> ApiError:
    wait = seconds_until_utc_midnight()
    return ApiError(429, "quota_exceeded",
                    f"You have used today's {daily} tokens; the quota renews at midnight UTC "
                    f"(in {wait // 3600} h {wait % 3600 // 60} min).", {"Retry-After": str(wait)})
