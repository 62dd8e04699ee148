"""The public API's single entry point: authenticate, then answer or forward by the routing table."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, g, request

from rolechat_common import identity as ident
from rolechat_common import proxy
from rolechat_common.logs import log
from rolechat_common.web import ApiError, error_response, read_body

from . import routing
from .alb import HEADER as ALB_HEADER
from .alb import AlbVerifier, Unauthenticated
from .cognito import CognitoAccessTokens
from .config import Config

logger = logging.getLogger("rolechat.auth")
bp = Blueprint("auth_proxy", __name__)

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Request headers the services may see. Everything else (cookies, the ALB's headers, any
# X-Rolechat-* a client made up) stays here; the identity is always freshly minted.
FORWARDED_HEADERS = ("Content-Type", "Accept", "Accept-Language", "Last-Event-ID")


def _config() -> Config:
    return current_app.config["AUTH_PROXY"]


def authenticate() -> ident.Identity:
    """The caller: the browser session the ALB vouches for in `x-amzn-oidc-data` when that header
    is present, otherwise an API client's Cognito access token sent as `Authorization: Bearer`."""
    verifier: AlbVerifier = current_app.extensions["auth_proxy.verifier"]
    access_tokens: CognitoAccessTokens | None = current_app.extensions["auth_proxy.access_tokens"]
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    try:
        if ALB_HEADER not in request.headers and scheme.lower() == "bearer":
            if access_tokens is None:
                raise Unauthenticated("bearer tokens are not accepted here")
            return access_tokens.verify(bearer.strip())
        return verifier.verify(request.headers.get(ALB_HEADER))
    except Unauthenticated as exc:  # the reason names what failed, never the token's content
        log(logger, logging.WARNING, "authentication refused", reason=str(exc), path=request.path)
        raise ApiError(401, "unauthorized", "Sign in to continue.") from None


def me():
    return g.identity.to_json()


def openapi_document():
    return Response(current_app.extensions["auth_proxy.openapi"], mimetype="application/json",
                    headers={"Cache-Control": "no-cache"})


SELF_HANDLERS = {
    ("GET", "/api/me"): me,
    ("GET", "/api/openapi.json"): openapi_document,
}


@bp.route("/api", defaults={"rest": ""}, methods=METHODS, provide_automatic_options=False)
@bp.route("/api/<path:rest>", methods=METHODS, provide_automatic_options=False)
def api(rest: str):
    config = _config()
    found = routing.resolve(request.method, request.path)
    if found is None:
        allowed = routing.allowed_methods(request.path)
        if allowed:
            return error_response(405, "method_not_allowed", f"Use {', '.join(allowed)} here.",
                                  {"Allow": ", ".join(allowed)})
        return error_response(404, "not_found", "Not found.")
    route, params = found
    if request.content_length is not None and request.content_length > config.max_body_bytes:
        raise ApiError(413, "too_large", f"The request body is larger than {config.max_body_bytes} bytes.")
    if route.auth:
        g.identity = authenticate()
    if route.target == routing.SELF:
        return SELF_HANDLERS[(route.method, route.path)]()

    body = read_body(config.max_body_bytes) or None
    headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
    headers[ident.REQUEST_ID_HEADER] = g.request_id
    headers[ident.IDENTITY_HEADER] = ident.mint(g.identity, config.identity_secret, ident.ISSUER_AUTH_PROXY,
                                                request_id=g.request_id)
    base = config.chat_url if route.target == routing.CHAT else config.memory_url
    url = route.url(base, params)
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return proxy.forward(current_app.extensions["auth_proxy.http"], route.method, url, headers,
                                           body, request.environ, read_timeout=config.proxy_read_timeout_seconds)
