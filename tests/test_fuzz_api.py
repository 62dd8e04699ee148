"""Schemathesis against the OpenAPI document, through the real auth-proxy and services:
positive and negative data, with and without a valid identity. No 5xx, nothing that contradicts
the document."""
from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from auth_proxy import load_openapi
from local_edge import alb_token
from local_edge.keys import load_or_create
from tests.support.stack import ALB_ARN, COGNITO_CLIENT_ID, COGNITO_ISSUER

# Every answer must be one the document describes. (Schemathesis's negative-data check is left out:
# unknown query parameters are ignored by design, and over-long fields get 413, not 400.)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


API = schemathesis.openapi.from_dict(load_openapi())
API.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


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


@API.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_signed_in_callers_never_see_a_server_error(case, stack, alb_header, fake):
    case.call_and_validate(base_url=stack.url("auth-proxy"), headers=alb_header(), checks=CHECKS, timeout=30)


@API.parametrize()
@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_anonymous_callers_get_401_or_a_public_answer(case, stack):
    response = case.call(base_url=stack.url("auth-proxy"), timeout=30)
    if case.operation.path == "/api/openapi.json":
        assert response.status_code in (200, 405), case.as_curl_command()
    else:
        assert response.status_code in (401, 404, 405, 413), (case.operation.path, response.status_code)
