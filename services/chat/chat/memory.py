"""The memory service, over HTTP with pooled keep-alive connections, as the user being served.

Each call carries an internal identity chat mints itself (issuer `chat`, short-lived, so a call at
the end of a long stream still carries a fresh one) and the request id that crosses services.
Memory's own errors (404, limits, ...) reach the caller unchanged; memory out of reach is a 503.
"""
from __future__ import annotations

import json
import logging
from urllib.parse import quote, urlencode

import orjson
import urllib3

from rolechat_common import identity as ident
from rolechat_common.logs import log
from rolechat_common.proxy import pool
from rolechat_common.web import ApiError

logger = logging.getLogger("rolechat.chat.memory")


class MemoryFailure(Exception):
    """Memory answered with an error; the caller gets the same status and JSON body."""

    def __init__(self, status: int, body: dict, retry_after: str | None = None):
        super().__init__(f"memory answered {status}")
        self.status, self.body, self.retry_after = status, body, retry_after

    @property
    def code(self) -> str:
        return str(self.body.get("error", {}).get("code", "error"))


def unavailable() -> ApiError:
    return ApiError(503, "unavailable", "Conversation storage is temporarily unavailable; try again shortly.",
                    {"Retry-After": "2"})


class MemoryClient:
    def __init__(self, base_url: str, secret: str, *, timeout: float = 10.0,
                 http: urllib3.PoolManager | None = None):
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.timeout = urllib3.Timeout(connect=3.0, read=timeout)
        self.http = http or pool()

    # --- the calls chat makes ----------------------------------------------------------------
    def get_conversation(self, who: ident.Identity, cid: str, *, request_id: str, last: int | None = None) -> dict:
        query = f"?{urlencode({'last': last})}" if last else ""
        return self._call("GET", f"/api/conversations/{quote(cid, safe='')}{query}", who, request_id)

    def create_conversation(self, who: ident.Identity, fields: dict, *, request_id: str) -> tuple[int, dict]:
        return self._call("POST", "/api/conversations", who, request_id, fields, with_status=True)

    def update_conversation(self, who: ident.Identity, cid: str, fields: dict, *,
                            request_id: str) -> tuple[int, dict]:
        return self._call("PATCH", f"/api/conversations/{quote(cid, safe='')}", who, request_id, fields,
                          with_status=True)

    def append_message(self, who: ident.Identity, cid: str, message: dict, *, request_id: str,
                       patient: bool = False) -> dict:
        """Store a message. `patient` (the end of a stream, when the answer exists nowhere else) retries
        longer on connection failures and also on 503 while memory's storage is briefly down. An answer
        may carry its turn's `usage`, which memory counts only if, and as, it stores the answer."""
        return self._call("POST", f"/api/conversations/{quote(cid, safe='')}/messages", who, request_id, message,
                          connect_retries=4 if patient else 1, unavailable_retries=2 if patient else 0)

    def context_source(self, who: ident.Identity, cid: str, *, request_id: str, limit: int,
                       replacing: str | None = None) -> dict:
        """Settings, pins, summary and the newest messages; with `replacing` (a user message's id), as
        they will be once that message and everything after it are cut (404 `message_not_found`)."""
        query = {"limit": limit, **({"replacing": replacing} if replacing is not None else {})}
        return self._call("GET", f"/api/conversations/{quote(cid, safe='')}/context-source?{urlencode(query)}",
                          who, request_id)

    def message_page(self, who: ident.Identity, cid: str, *, before: int, limit: int, request_id: str) -> dict:
        query = urlencode({"before": before, "limit": max(1, limit)})
        return self._call("GET", f"/api/conversations/{quote(cid, safe='')}/messages?{query}", who, request_id)

    def get_message(self, who: ident.Identity, cid: str, mid: str, *, request_id: str) -> dict:
        return self._call("GET", f"/api/conversations/{quote(cid, safe='')}/messages/{quote(mid, safe='')}",
                          who, request_id)

    def add_pin(self, who: ident.Identity, cid: str, pin: dict, *, request_id: str) -> tuple[int, dict]:
        return self._call("POST", f"/api/conversations/{quote(cid, safe='')}/pins", who, request_id, pin,
                          with_status=True)

    def put_summary(self, who: ident.Identity, cid: str, summary: dict, *, request_id: str) -> dict:
        return self._call("PUT", f"/api/conversations/{quote(cid, safe='')}/summary", who, request_id, summary)

    # --- published bots ------------------------------------------------------------------------
    def bot_runtime(self, who: ident.Identity, slug: str, *, request_id: str, conversation: str | None = None) -> dict:
        """What answering as the bot needs (instructions, pins, model, budget); 404 for an unknown or
        unpublished bot, another bot's API key, or a conversation that is not the caller's with it."""
        query = f"?{urlencode({'conversation': conversation})}" if conversation else ""
        return self._call("GET", f"/internal/bots/{quote(slug, safe='')}/runtime{query}", who, request_id)

    def record_bot_usage(self, who: ident.Identity, slug: str, usage: dict, *, request_id: str) -> None:
        self._call("POST", f"/internal/bots/{quote(slug, safe='')}/usage", who, request_id, usage)

    def bot_key(self, who: ident.Identity, *, request_id: str) -> dict:
        """{"key_id", "slug"}: the bot the calling API key belongs to."""
        return self._call("GET", "/internal/bot-keys/self", who, request_id)

    def call(self, method: str, path: str, who: ident.Identity, *, request_id: str, body: dict | None = None,
             with_status: bool = False):
        """Any other call to memory (roles, registered models, usage); `path` is already quoted."""
        return self._call(method, path, who, request_id, body, with_status=with_status)

    def healthy(self) -> str | None:
        """None when memory answers its health check, else what went wrong."""
        try:
            response = self.http.request("GET", self.base_url + "/healthz", retries=False, redirect=False,
                                         timeout=urllib3.Timeout(connect=2.0, read=2.0))
        except urllib3.exceptions.HTTPError as exc:
            return f"memory unreachable ({type(exc).__name__})"
        if response.status != 200:
            return f"memory health check answered {response.status}"
        return None

    # --- plumbing ------------------------------------------------------------------------------
    def _call(self, method: str, path: str, who: ident.Identity, request_id: str, body: dict | None = None, *,
              with_status: bool = False, connect_retries: int = 1, unavailable_retries: int = 0):
        token = ident.mint(who, self.secret, ident.ISSUER_CHAT, request_id=request_id)
        headers = {ident.IDENTITY_HEADER: token, ident.REQUEST_ID_HEADER: request_id,
                   "Accept": "application/json"}
        data = None
        if body is not None:
            try:
                data = orjson.dumps(body)
            except orjson.JSONEncodeError:  # a provider's token count past 64 bits: memory refuses it (400)
                data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        # Connection failures happen before the request is sent, so retrying them is safe for any
        # method; a broken read is retried only for GET (POST is not idempotent).
        retries = urllib3.Retry(total=connect_retries + unavailable_retries + 1, connect=connect_retries,
                                read=1 if method == "GET" else 0, status=unavailable_retries, other=0, redirect=0,
                                status_forcelist={503}, allowed_methods=None, respect_retry_after_header=False,
                                backoff_factor=0.25, raise_on_status=False)
        try:
            response = self.http.request(method, self.base_url + path, body=data, headers=headers,
                                         timeout=self.timeout, retries=retries, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            log(logger, logging.WARNING, "memory unreachable", method=method, error=type(exc).__name__)
            raise unavailable() from None
        try:
            payload = orjson.loads(response.data) if response.data else {}
        except ValueError:
            payload = None
        if response.status >= 400:
            if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
                log(logger, logging.WARNING, "memory answered without a JSON error", status=response.status)
                if response.status >= 500:
                    raise unavailable()
                payload = {"error": {"code": "error", "message": "The request could not be completed."}}
            raise MemoryFailure(response.status, payload, response.headers.get("Retry-After"))
        if not isinstance(payload, dict):
            log(logger, logging.WARNING, "memory answered with something that is not a JSON object",
                status=response.status)
            raise unavailable()
        return (response.status, payload) if with_status else payload
