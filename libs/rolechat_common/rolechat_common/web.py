"""Flask plumbing every service shares: errors, request ids, identity, health, metrics."""
from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from flask import Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from werkzeug.exceptions import HTTPException

from . import identity as ident
from . import shutdown
from .logs import log

logger = logging.getLogger("rolechat.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
OPEN_PATHS = ("/healthz", "/readyz", "/metrics")

_ERROR_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    422: "unprocessable", 429: "rate_limited", 502: "bad_gateway", 503: "unavailable",
    504: "upstream_timeout",
}


class ApiError(Exception):
    """An error the caller should see, with a stable machine code and a human message."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class FastJSONProvider(DefaultJSONProvider):
    """Flask's JSON (request bodies, returned dicts, jsonify) through orjson: the small JSON
    requests and answers the services exchange several times per turn spent a sixth of memory's
    CPU in the json module. Output is compact UTF-8 in insertion order; types orjson does not know
    go through Flask's own conversions (dates as HTTP dates, Decimal, UUID, `__html__`), and what
    it cannot write at all (a lone surrogate, an integer past 64 bits) Flask's own provider writes.

    Bodies are read as RFC 8259 JSON: UTF-8 (a leading byte order mark is ignored), and NaN,
    Infinity or a lone surrogate make a body invalid (400 invalid_json), as they are not JSON."""

    _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return self.dump_bytes(obj).decode()

    def dump_bytes(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=DefaultJSONProvider.default, option=self._OPTIONS)
        except orjson.JSONEncodeError:
            return super().dumps(obj, separators=(",", ":")).encode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if s[:1] == "\ufeff":
            s = s[1:]
        elif s[:3] == b"\xef\xbb\xbf":
            s = s[3:]
        return orjson.loads(s)  # its JSONDecodeError is a ValueError: Flask's get_json reports it as ever

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self.dump_bytes(obj) + b"\n", mimetype=self.mimetype)


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def json_body(required: bool = True) -> dict:
    """The request's JSON object, or a 400/415 that says what is wrong."""
    if not request.data and not required:
        return {}
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return data


def read_body(limit: int) -> bytes:
    """The request body, or 413 once it passes `limit` bytes.

    Flask's MAX_CONTENT_LENGTH only sees a declared Content-Length; a chunked body has none, so
    the limit is also enforced while reading.
    """
    chunks, total = [], 0
    while True:
        chunk = request.stream.read(min(65536, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise ApiError(413, "too_large", f"The request body is larger than {limit} bytes.")


def string_field(data: dict, name: str, *, max_chars: int, required: bool = False,
                 allow_empty: bool = True) -> str | None:
    """A string field of a JSON body, checked for type and length."""
    if name not in data or data[name] is None:
        if required:
            raise ApiError(400, "missing_field", f"'{name}' is required.")
        return None
    value = data[name]
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"'{name}' must be a string.")
    if not allow_empty and not value.strip():
        raise ApiError(400, "invalid_field", f"'{name}' must not be empty.")
    if len(value) > max_chars:
        raise ApiError(413, "too_long", f"'{name}' is longer than {max_chars} characters.")
    return value


def install(app: Flask, service: str, *, identity_secret: str | None,
            allowed_issuers: tuple[str, ...] = (), ready: Callable[[], Iterable[str]] | None = None) -> None:
    """Wire errors, request ids, access logs, /healthz, /readyz, /metrics and the identity guard.

    With identity_secret set, every request outside OPEN_PATHS must carry a valid internal
    identity; the verified one is in g.identity.
    """
    app.json = FastJSONProvider(app)
    registry = CollectorRegistry()
    requests_total = Counter("http_requests_total", "Requests handled", ["method", "status"], registry=registry)
    latency = Histogram("http_request_seconds", "Time to the response headers", ["method"], registry=registry)

    @app.before_request
    def _begin():
        g.started = time.perf_counter()
        rid = request.headers.get(ident.REQUEST_ID_HEADER, "")
        g.request_id = rid if _REQUEST_ID.match(rid) else secrets.token_hex(8)
        g.identity = None
        if shutdown.deadline() is not None and request.path not in OPEN_PATHS:
            # Stopping: requests still arriving on kept-alive connections go elsewhere.
            return error_response(503, "restarting", "The service is restarting; try again in a moment.",
                                  {"Retry-After": "1", "Connection": "close"})
        if identity_secret is None or request.path in OPEN_PATHS:
            return None
        try:
            g.identity = ident.verify(request.headers.get(ident.IDENTITY_HEADER), identity_secret, allowed_issuers)
        except ident.InvalidIdentity as exc:
            log(logger, logging.WARNING, "identity refused", reason=str(exc), path=request.path)
            return error_response(401, "unauthorized", "Missing or invalid internal identity.")
        return None

    @app.after_request
    def _finish(response: Response):
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        response.headers[ident.REQUEST_ID_HEADER] = g.get("request_id", "")
        if request.path not in OPEN_PATHS:
            requests_total.labels(request.method, str(response.status_code)).inc()
            latency.labels(request.method).observe(elapsed)
            user = g.get("identity")
            log(logger, logging.INFO, "request", method=request.method, path=request.path,
                status=response.status_code, ms=round(elapsed * 1000, 1),
                user=user.user_id if user else None)
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        messages = {404: "Not found.", 405: "Method not allowed.",
                    413: "The request body is too large.", 400: "Bad request."}
        return error_response(status, _ERROR_CODES.get(status, "error"), messages.get(status, exc.description or ""))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        logger.exception("unhandled error")
        return error_response(500, "internal", "Something went wrong on our side; try again.")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "service": service}

    @app.get("/readyz")
    def readyz():
        problems = list(ready()) if ready else []
        if problems:
            return error_response(503, "not_ready", "; ".join(problems))
        return {"status": "ready", "service": service}

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
