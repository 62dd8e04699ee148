"""Schemathesis against the OpenAPI document, through the real auth-proxy and services:
positive and negative data, with and without a valid identity, as a published bot's anonymous
visitor and with a bot's API key. No 5xx, nothing that contradicts the document."""
from __future__ import annotations

import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from auth_proxy import load_openapi
from auth_proxy.routing import API_KEY, ROUTES, VISITOR
from local_edge import alb_token
from local_edge.keys import load_or_create
from tests.support.stack import ALB_ARN, COGNITO_CLIENT_ID, COGNITO_ISSUER

# Every answer must be one the document describes. (Schemathesis's negative-data check is left out:
# unknown query parameters are ignored by design, and over-long fields get 413, not 400.)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


API = schemathesis.openapi.from_dict(load_openapi())
API.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
VISITOR_PATHS = {route.path for route in ROUTES if route.auth == VISITOR}
API_KEY_PATHS = {route.path for route in ROUTES if route.auth == API_KEY}
VISITOR_API = API.include(lambda ctx: ctx.operation.path in VISITOR_PATHS)
API_KEY_API = API.include(lambda ctx: ctx.operation.path in API_KEY_PATHS)
BOT_SLUG = "fuzz-bot"


@pytest.fixture(scope="module")
def alb_header(stack):
    key = load_or_create(stack.workdir / "edge")

    def sign(user: str = "fuzz-user") -> dict:
        exp = int(time.time()) + 120
        header = alb_token.alb_header(kid=key.kid, issuer=COGNITO_ISSUER, client_id=COGNITO_CLIENT_ID,
                                      signer=ALB_ARN, exp=exp)
        payload = alb_token.alb_payload(sub=user, username=user, email=f"{user}@example.com",
                                        issuer=COGNITO_ISSUER, exp=exp)
        return {"x-amzn-oidc-data": alb_token.sign(header, payload, key.private_key)}
    return sign


@pytest.fixture(scope="module")
def bot(stack, alb_header):
    """A published bot, one visitor's cookie and conversation with it, and one of its API keys."""
    base, owner = stack.url("auth-proxy"), alb_header("fuzz-bot-owner")
    role = requests.post(f"{base}/api/roles", headers=owner, timeout=10,
                         json={"name": "Fuzz shop", "instructions": "You run a shop."})
    assert role.status_code == 201, role.text
    created = requests.post(f"{base}/api/bots", headers=alb_header("fuzz-bot-owner"), timeout=10, json={
        "role_id": role.json()["id"], "slug": BOT_SLUG, "greeting": "Welcome!", "suggestions": ["Open today?"]})
    assert created.status_code == 201, created.text
    key = requests.post(f"{base}/api/bots/{BOT_SLUG}/keys", headers=alb_header("fuzz-bot-owner"), timeout=10,
                        json={"name": "fuzz"})
    assert key.status_code == 201, key.text
    visitor = requests.post(f"{base}/api/public/bots/{BOT_SLUG}/conversations", timeout=10)
    assert visitor.status_code == 201, visitor.text
    return {"key": key.json()["key"], "conversation": visitor.json()["id"],
            "cookie": visitor.cookies["rolechat_visitor"]}


@API.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_signed_in_callers_never_see_a_server_error(case, stack, alb_header, fake):
    case.call_and_validate(base_url=stack.url("auth-proxy"), headers=alb_header(), checks=CHECKS, timeout=30)


@API.exclude(lambda ctx: ctx.operation.path in VISITOR_PATHS).parametrize()
@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_anonymous_callers_get_401_or_a_public_answer(case, stack):
    response = case.call(base_url=stack.url("auth-proxy"), timeout=30)
    if case.operation.path == "/api/openapi.json":
        assert response.status_code in (200, 405), case.as_curl_command()
    else:
        assert response.status_code in (401, 404, 405, 413), (case.operation.path, response.status_code)


@VISITOR_API.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_visitors_of_a_published_bot_never_see_a_server_error(case, stack, bot, fake):
    """Anonymous, known only by the visitor cookie, on a real bot and the visitor's own conversation
    (other slugs and ids are fuzzed by the signed-in test, which these routes ignore)."""
    case.path_parameters["slug"] = BOT_SLUG
    if "id" in case.path_parameters:
        case.path_parameters["id"] = bot["conversation"]
    case.call_and_validate(base_url=stack.url("auth-proxy"), headers={"Cookie": f"rolechat_visitor={bot['cookie']}"},
                           checks=CHECKS, timeout=30)


@API_KEY_API.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_api_key_callers_never_see_a_server_error(case, stack, bot, fake):
    """With a valid key: the bot's own slug as the model name half of the time, anything else otherwise."""
    slug = case.path_parameters.get("slug") or (case.body.get("model") if isinstance(case.body, dict) else None)
    if isinstance(slug, str) and slug[:1] in "0123456789abcdefghijklm":
        if "slug" in case.path_parameters:
            case.path_parameters["slug"] = BOT_SLUG
        else:
            case.body["model"] = BOT_SLUG
    case.call_and_validate(base_url=stack.url("auth-proxy"), headers={"Authorization": f"Bearer {bot['key']}"},
                           checks=CHECKS, timeout=30)
