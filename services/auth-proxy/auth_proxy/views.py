"""The public API's single entry point: authenticate, then answer or forward by the routing table."""
from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, current_app, g, request

from rolechat_common import identity as ident
from rolechat_common import proxy
from rolechat_common.limits import Decision, Limiter, LimitsUnavailable
from rolechat_common.logs import log
from rolechat_common.web import ApiError, error_response, read_body

from . import callers, routing
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


def _limiter() -> Limiter:
    return current_app.extensions["auth_proxy.limiter"]


def _within(decision, message: str, code: str = "rate_limited", **fields) -> None:
    """Raise the 429 for a refused decision. `decision` is a callable, so a Redis outage can be
    caught here: limits then stay off (logged) rather than taking the whole API down with them.
    `message` is formatted with the decision's retry_after and `fields`."""
    try:
        outcome: Decision = decision()
    except LimitsUnavailable as exc:
        log(logger, logging.WARNING, "limits unavailable; request allowed", error=str(exc))
        return
    if not outcome.allowed:
        raise ApiError(429, code, message.format(retry_after=outcome.retry_after, **fields),
                       {"Retry-After": str(outcome.retry_after)})


def _client_subject() -> str:
    return f"ip:{request.remote_addr or 'unknown'}"


def _authenticate_counting_failures(config: Config) -> ident.Identity:
    """The caller; failed sign-ins count against the IP."""
    try:
        return authenticate()
    except ApiError:
        limit = config.limits.anonymous_rate_limit_per_minute
        _within(lambda: _limiter().hit(_client_subject(), limit),
                "Too many failed sign-ins from your address; try again in {retry_after} seconds.")
        raise


USER_RATE_MESSAGE = "Too many requests: the limit is {limit} per minute. Try again in {retry_after} seconds."
VISITOR_RATE_MESSAGE = "You are sending messages too quickly; try again in {retry_after} seconds."
KEY_RATE_MESSAGE = "Rate limit reached: {limit} requests per minute for this key. Try again in {retry_after} seconds."
STREAMS_MESSAGE = ("You already have {limit} answers streaming; wait for one to finish "
                   "(try again in {retry_after} seconds).")


def _count_request(config: Config, rate_message: str, *, stream: bool) -> str:
    """Count the request against the caller's rate limit and, for a streamed answer, hold one of
    their concurrent stream slots, both in one round trip to Redis. Returns the lease to give back
    ('' if none)."""
    allowance = config.limits.for_groups(g.identity.groups)
    rate_limit, stream_limit = allowance.rate_limit_per_minute, allowance.concurrent_streams
    if not stream:
        _within(lambda: _limiter().hit(g.identity.user_id, rate_limit), rate_message, limit=rate_limit)
        return ""
    held = {"slot": Decision(True), "lease": ""}  # stays so when Redis is away (_within lets it pass)

    def counted() -> Decision:  # the rate's decision; the slot's, from the same call, is checked next
        rate, held["slot"], held["lease"] = _limiter().hit_and_acquire_stream(
            g.identity.user_id, rate_limit, stream_limit, config.stream_lease_seconds)
        return rate
    _within(counted, rate_message, limit=rate_limit)
    _within(lambda: held["slot"], STREAMS_MESSAGE, code="too_many_streams", limit=stream_limit)
    return held["lease"]


def _release(limiter: Limiter, user_id: str, lease: str) -> None:
    try:
        limiter.release_stream(user_id, lease)
    except LimitsUnavailable:
        pass  # the lease expires on its own


def _give_back_when_done(response: Response, release) -> None:
    """Run `release` when the answer ends, however it ends. A relayed stream is passed straight to
    the server (which then never calls the response's own close hooks), so it is wrapped."""
    if response.direct_passthrough:
        response.response = _ReleasingBody(response.response, release)
    else:
        response.call_on_close(release)


class _ReleasingBody:
    """A response body that runs `release` once: at its end, or when the server closes it (the
    client left), even before the first chunk was asked for."""

    def __init__(self, body, release):
        self._body, self._release, self._released = body, release, False

    def __iter__(self):
        try:
            yield from self._body
        finally:
            self.close()

    def close(self):
        if self._released:
            return
        self._released = True
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            self._release()


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
    return _handle()


@bp.route("/v1/<path:rest>", methods=METHODS, provide_automatic_options=False)
def openai_compatible(rest: str):
    """The OpenAI-compatible API of published bots: errors in OpenAI's own shape."""
    try:
        response = _handle()
    except ApiError as exc:
        return openai_error(exc.status, exc.code, exc.message, exc.headers)
    if response.status_code >= 400 and response.mimetype == "application/json" and not response.is_streamed:
        error = (response.get_json(silent=True) or {}).get("error") or {}
        if "type" not in error:  # ours (routing, limits, a stopping service), not chat's: reshape it
            response.close()  # gives back its stream slot, which the new response knows nothing of
            return openai_error(response.status_code, str(error.get("code", "error")), str(error.get("message", "")),
                                {k: v for k, v in response.headers.items() if k in ("Retry-After", "Allow")})
    return response


def _handle():
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
    new_visitor_cookie = None
    rate_message = None
    if route.auth == routing.USER:
        g.identity, rate_message = _authenticate_counting_failures(config), USER_RATE_MESSAGE
    elif route.auth == routing.VISITOR:
        (g.identity, new_visitor_cookie), rate_message = _visitor_within_limits(config), VISITOR_RATE_MESSAGE
    elif route.auth == routing.API_KEY:
        g.identity, rate_message = _api_key_caller(config), KEY_RATE_MESSAGE
    else:
        _within_address_limit(config, "Too many requests from your address; try again in {retry_after} seconds.")
    lease = _count_request(config, rate_message, stream=route.stream) if rate_message else ""
    limiter = _limiter()
    try:
        if route.target == routing.SELF:
            response = SELF_HANDLERS[(route.method, route.path)]()
        else:
            response = _forward(config, route, params)
    except BaseException:
        if lease:
            _release(limiter, g.identity.user_id, lease)
        raise
    if lease:
        user_id = g.identity.user_id
        _give_back_when_done(response, lambda: _release(limiter, user_id, lease))
    if new_visitor_cookie:
        callers.set_visitor_cookie(response, new_visitor_cookie)
    return response


def _forward(config: Config, route: routing.Route, params: dict) -> Response:
    """The request, as the caller it now names, to the service the route belongs to."""
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


def _within_address_limit(config: Config, message: str) -> None:
    limit = config.limits.anonymous_rate_limit_per_minute
    _within(lambda: _limiter().hit(_client_subject(), limit), message)


def _visitor_within_limits(config: Config):
    """A bot page's visitor, counted per address here and per visitor by _count_request (a new
    cookie per request must not escape the limit)."""
    who, new_cookie = callers.visitor(config)
    _within_address_limit(config, VISITOR_RATE_MESSAGE)
    return who, new_cookie


def _api_key_caller(config: Config) -> ident.Identity:
    try:
        return callers.api_key_caller(config, current_app.extensions["auth_proxy.http"], callers.bearer_key(),
                                      g.request_id)
    except callers.MemoryUnavailable:
        raise ApiError(503, "unavailable", "The service is temporarily unavailable; try again shortly.",
                       {"Retry-After": "2"}) from None
    except callers.KeyRefused as exc:
        log(logger, logging.WARNING, "authentication refused", reason=f"api key: {exc}", path=request.path)
        _within_address_limit(config, "Too many failed requests from your address; try again in {retry_after} "
                                      "seconds.")
        raise ApiError(401, "invalid_api_key", "Incorrect API key provided.") from None


OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
                404: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
                429: "requests"}


def openai_error(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    if code == "rate_limited":
        code = "rate_limit_exceeded"
    body = {"error": {"message": message, "type": OPENAI_TYPES.get(status, "server_error"), "param": None,
                      "code": code}}
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers or {})
