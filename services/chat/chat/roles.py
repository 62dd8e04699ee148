"""Roles (built-in presets and the user's own, with role memory), the model list, fine-tuned
model registration and publishing. Memory stores; chat validates and applies the budgets."""
from __future__ import annotations

import logging
from dataclasses import replace
from urllib.parse import quote

import openai
from flask import Blueprint, current_app, g, request

from rolechat_common.ids import FINE_TUNED_MODEL_ID, PIN_ID, ROLE_ID
from rolechat_common.logs import log
from rolechat_common.web import ApiError, json_body, string_field

from . import presets as preset_mod
from .context import Budget, budget_for, fixed_tokens
from .tokens import Counter
from .upstream import error_facts

logger = logging.getLogger("rolechat.chat.roles")
bp = Blueprint("chat_roles", __name__, url_prefix="/api")
MAX_NAME_CHARS = 100
MAX_LABEL_CHARS = 200
MAX_ANSWER_LIMIT = 200_000
ROLE_FIELDS = {"name", "instructions", "model", "temperature", "max_answer_tokens"}
ADMINS = "admins"


def _config():
    return current_app.config["CHAT"]


def _memory():
    return current_app.extensions["chat.memory"]


def _catalog():
    return current_app.extensions["chat.catalog"]


def _presets() -> dict:
    return current_app.extensions["chat.presets"]


def _language() -> str:
    return preset_mod.language(request.headers.get("Accept-Language"))


def _call(method: str, path: str, body: dict | None = None, with_status: bool = False):
    return _memory().call(method, path, g.identity, request_id=g.request_id, body=body, with_status=with_status)


def registered_models() -> list[dict]:
    """The caller's registered fine-tuned models and the ones published to everyone."""
    return _call("GET", "/api/registered-models").get("models") or []


def resolve_model(model_id: str | None) -> str:
    return _catalog().resolve(model_id, registered_models)


def budget(model: str, max_answer_tokens: int | None = None) -> Budget:
    result = budget_for(model, _catalog().entry(model), _config())
    if max_answer_tokens:
        result = replace(result, answer_tokens=max(1, min(result.answer_tokens, max_answer_tokens)))
    return result


def check_pins_budget(model: str, instructions: str, pins: list[dict], what: str) -> None:
    """Role text + role pins + conversation pins must fit the pins share of the model's budget."""
    b = budget(model)
    counter = Counter(b.tokenizer)
    role, pinned = fixed_tokens(counter, instructions, pins)
    allowance = b.pins_allowance(_config().pins_max_share)
    if role + pinned > allowance:
        raise ApiError(400, "pins_over_budget",
                       f"{what} would take about {role + pinned} tokens, more than the {allowance} allowed for the "
                       f"role and pins with {model} ({round(_config().pins_max_share * 100)}% of what it can "
                       "read); shorten the role or unpin something first.")


def role_settings(role_id: str) -> dict:
    """A role as a turn uses it: instructions, pins, model, temperature, max_answer_tokens.

    Raises 404 not_found for a role the caller does not have (or another user's)."""
    preset = _presets().get(role_id)
    if preset is not None:
        data = preset.to_json(_language())
        data["pins"] = []
        return data
    if not ROLE_ID.match(role_id):
        raise ApiError(404, "not_found", "No such role.")
    role = _call("GET", f"/api/roles/{role_id}")
    role["builtin"] = False
    return role


def _builtin_read_only(role_id: str) -> None:
    if role_id in _presets():
        raise ApiError(403, "builtin_read_only",
                       "Built-in roles cannot be changed; create your own role (POST /api/roles) from its "
                       "instructions instead.")


def _role_id(role_id: str) -> str:
    if role_id not in _presets() and not ROLE_ID.match(role_id):
        raise ApiError(404, "not_found", "No such role.")
    return role_id


def _role_fields(data: dict, *, creating: bool) -> dict:
    unknown = set(data) - ROLE_FIELDS
    if unknown:
        raise ApiError(400, "invalid_field", f"Unknown field '{sorted(unknown)[0]}'; a role has "
                                             + ", ".join(sorted(ROLE_FIELDS)) + ".")
    fields = {
        "name": string_field(data, "name", max_chars=MAX_NAME_CHARS, required=creating, allow_empty=False),
        "instructions": string_field(data, "instructions", max_chars=_config().max_instructions_chars),
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    if "model" in data:
        model = string_field(data, "model", max_chars=200)
        fields["model"] = resolve_model(model) if model else ""
    if "temperature" in data:
        value = data["temperature"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2):
            raise ApiError(400, "invalid_field", "'temperature' must be a number from 0 to 2, or null.")
        fields["temperature"] = value
    if "max_answer_tokens" in data:
        value = data["max_answer_tokens"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 1 <= value <= MAX_ANSWER_LIMIT):
            raise ApiError(400, "invalid_field",
                           f"'max_answer_tokens' must be an integer from 1 to {MAX_ANSWER_LIMIT}, or null.")
        fields["max_answer_tokens"] = value
    return fields


def _role_model(role: dict) -> str:
    try:
        return resolve_model(role.get("model") or None)
    except ApiError:
        return resolve_model(None)


# --- roles ---------------------------------------------------------------------------------------
@bp.get("/roles")
def list_roles():
    lang = _language()
    own = _call("GET", "/api/roles").get("roles") or []
    roles = [p.to_json(lang) for p in _presets().values()] + [{**r, "builtin": False} for r in own]
    return {"roles": roles, "language": lang}


@bp.post("/roles")
def create_role():
    fields = _role_fields(json_body(), creating=True)
    check_pins_budget(_role_model(fields), fields.get("instructions") or "", [], "The role")
    status, role = _call("POST", "/api/roles", fields, with_status=True)
    return {**role, "builtin": False, "pins": []}, status


@bp.get("/roles/<role_id>")
def get_role(role_id: str):
    return role_settings(_role_id(role_id))


@bp.patch("/roles/<role_id>")
def update_role(role_id: str):
    _builtin_read_only(_role_id(role_id))
    fields = _role_fields(json_body(), creating=False)
    current = role_settings(role_id)
    merged = {**current, **fields}
    check_pins_budget(_role_model(merged), merged.get("instructions") or "", current.get("pins") or [], "The role")
    role = _call("PATCH", f"/api/roles/{role_id}", fields)
    return {**role, "builtin": False, "pins": current.get("pins") or []}


@bp.delete("/roles/<role_id>")
def delete_role(role_id: str):
    _builtin_read_only(_role_id(role_id))
    _call("DELETE", f"/api/roles/{role_id}")
    return "", 204


@bp.get("/roles/<role_id>/pins")
def list_role_pins(role_id: str):
    return {"pins": role_settings(_role_id(role_id)).get("pins") or []}


@bp.post("/roles/<role_id>/pins")
def add_role_pin(role_id: str):
    _builtin_read_only(_role_id(role_id))
    data = json_body()
    unknown = set(data) - {"text"}
    if unknown:
        raise ApiError(400, "invalid_field", f"Unknown field '{sorted(unknown)[0]}'; send 'text'.")
    text = string_field(data, "text", max_chars=32000, required=True, allow_empty=False)
    role = role_settings(role_id)
    pins = (role.get("pins") or []) + [{"text": text}]
    check_pins_budget(_role_model(role), role.get("instructions") or "", pins, "The role and its pins")
    status, pin = _call("POST", f"/api/roles/{role_id}/pins", {"text": text}, with_status=True)
    return pin, status


@bp.delete("/roles/<role_id>/pins/<pin_id>")
def delete_role_pin(role_id: str, pin_id: str):
    _builtin_read_only(_role_id(role_id))
    if not PIN_ID.match(pin_id):
        raise ApiError(404, "not_found", "No such pin.")
    _call("DELETE", f"/api/roles/{role_id}/pins/{pin_id}")
    return "", 204


# --- models --------------------------------------------------------------------------------------
def _model_json(model, registered: dict) -> dict:
    b = budget(model.id)
    data = model.to_json()
    data.update(context_window=b.window, max_answer_tokens=b.answer_tokens,
                shared=registered.get(model.id, {}).get("shared", model.id not in registered),
                registered=model.id in registered)
    return data


@bp.get("/models")
def list_models():
    registered = registered_models()
    models, default = _catalog().available(registered)
    by_id = {m["id"]: m for m in registered}
    return {"models": [_model_json(m, by_id) for m in models], "default": default}


def _is_admin() -> bool:
    return ADMINS in (g.identity.groups or ())


def _fine_tuned_id(model_id: str | None) -> str:
    if not model_id or len(model_id) > 200 or not FINE_TUNED_MODEL_ID.match(model_id):
        raise ApiError(400, "invalid_field", "'id' must be a fine-tuned model id such as "
                                             "'ft:gpt-4o-mini-2024-07-18:my-org:support:AbC123'.")
    return model_id


@bp.post("/models")
def register_model():
    data = json_body()
    unknown = set(data) - {"id", "label"}
    if unknown:
        raise ApiError(400, "invalid_field", f"Unknown field '{sorted(unknown)[0]}'; send 'id' and optionally 'label'.")
    model_id = _fine_tuned_id(string_field(data, "id", max_chars=200, required=True))
    label = string_field(data, "label", max_chars=MAX_LABEL_CHARS)
    client = current_app.extensions["chat.upstream"].client.with_options(timeout=10.0, max_retries=1)
    try:
        client.models.retrieve(model_id)
    except openai.NotFoundError as exc:
        reason = _provider_reason(exc) or f"The model '{model_id}' does not exist."
        raise ApiError(422, "model_not_found", f"The model provider does not know this model: {reason}") from None
    except openai.APIStatusError as exc:
        log(logger, logging.WARNING, "model check failed", **error_facts(exc))
        if 400 <= exc.status_code < 500 and exc.status_code not in (401, 429):
            raise ApiError(422, "model_not_available",
                           f"The model provider refused this model (HTTP {exc.status_code}).") from None
        raise ApiError(502, "upstream_error", "The model provider could not check this model; try again.") from None
    except openai.OpenAIError as exc:
        log(logger, logging.WARNING, "model check failed", **error_facts(exc))
        raise ApiError(502, "upstream_error", "The model provider could not check this model; try again.") from None
    status, model = _call("POST", "/api/registered-models", {"id": model_id, "label": label or ""}, with_status=True)
    return model, status


def _provider_reason(exc: openai.APIStatusError) -> str | None:
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") if "message" in body else (body.get("error") or {}).get("message")
    if isinstance(message, str) and message.strip():
        return message.strip()[:300]
    return None


def _registered_path(model_id: str) -> str:
    if not FINE_TUNED_MODEL_ID.match(model_id) or len(model_id) > 200:
        raise ApiError(404, "not_found", "No such model.")
    return "/api/registered-models/" + quote(model_id, safe=":")


@bp.patch("/models/<model_id>")
def share_model(model_id: str):
    path = _registered_path(model_id)
    data = json_body()
    if set(data) != {"shared"} or not isinstance(data.get("shared"), bool):
        raise ApiError(400, "invalid_field", "Send {\"shared\": true} to publish the model to everyone, "
                                             "{\"shared\": false} to withdraw it.")
    _call("GET", path)  # 404 for a model the caller cannot see, before saying anything about rights
    if not _is_admin():
        raise ApiError(403, "forbidden", "Only an administrator (group 'admins') can publish a model to everyone.")
    return _call("PATCH", path, data)


@bp.delete("/models/<model_id>")
def unregister_model(model_id: str):
    _call("DELETE", _registered_path(model_id))
    return "", 204


@bp.get("/models/provider")
def provider_models():
    if not _is_admin():
        raise ApiError(403, "forbidden", "Only an administrator (group 'admins') can list the provider's models.")
    flag = request.args.get("fine_tuned", "1")
    if flag not in ("0", "1"):
        raise ApiError(400, "invalid_parameter", "'fine_tuned' must be 0 or 1.")
    client = current_app.extensions["chat.upstream"].client.with_options(timeout=10.0, max_retries=1)
    try:
        ids = sorted({m.id for m in client.models.list().data if isinstance(getattr(m, "id", None), str)})
    except openai.OpenAIError as exc:
        log(logger, logging.WARNING, "could not list the provider's models", **error_facts(exc))
        raise ApiError(502, "upstream_error", "The model provider did not list its models; try again.") from None
    if flag == "1":
        ids = [i for i in ids if i.startswith("ft:")]
    return {"models": [{"id": i} for i in ids]}
