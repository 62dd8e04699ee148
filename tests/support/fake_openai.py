"""A fake OpenAI-compatible upstream: the chat completions and models API, steerable over HTTP.

Run it as a process (`python -m tests.support.fake_openai --port 8099 --api-key sk-...`), or
start one on a free port from a test with `start_fake_openai()`. It speaks the parts of the
OpenAI API that rolechat uses, in the wire format OpenAI uses:

- `GET /v1/models`, `GET /v1/models/{id}`
- `POST /v1/chat/completions`, streaming (`data: {chat.completion.chunk}` lines, an optional usage
  chunk when `stream_options.include_usage` is true, then `data: [DONE]`) and non-streaming
- `Authorization: Bearer <key>` checked against the expected key; OpenAI's error shape otherwise.

Tests in another process steer it under `/_control/`:

- `GET|POST /_control/config`  read / change the behaviour (see `DEFAULTS` for the settings)
- `POST /_control/next`        one-shot settings for the next chat completion (a FIFO of them)
- `POST /_control/reset`       back to the defaults; forget recorded requests and streams
- `GET|DELETE /_control/requests`  every request received: method, path, JSON body, authorized
- `GET /_control/streams`      every streamed answer: tokens sent, finished, cut, and `cancelled`
                               when the client closed the connection mid-stream
- `GET /_control/health`

A client that goes away is noticed at once: a watcher waits for the connection's socket to
become readable (an empty peek means the peer closed it), and every wait between tokens wakes
up as soon as that happens.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import secrets
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import gevent
import gevent.event
from gevent.pywsgi import WSGIHandler, WSGIServer

DEFAULT_API_KEY = "sk-fake-upstream-test-key"
DEFAULT_MODELS = ["gpt-4o-mini", "gpt-4o", "ft:gpt-4o-mini-2024-07-18:acme:support:Ab12Cd34"]
MAX_RECORDS = 10_000

DEFAULTS: dict = {
    "api_key": DEFAULT_API_KEY,   # expected bearer key; None accepts any non-empty key
    "models": DEFAULT_MODELS,     # ids listed by /v1/models
    "strict_models": False,       # True: a completion for a model not listed → 404 model_not_found
    "answer": None,               # scripted answer text; None → an echo of the last user message
    "tokens": None,               # answer length in tokens (cycles the answer's tokens)
    "response_delay": 0.0,        # seconds before the response headers
    "first_token_delay": 0.0,     # seconds after the headers before the first chunk
    "token_delay": 0.0,           # seconds between content chunks
    "fail_status": None,          # e.g. 429 or 500: answer with this error instead
    "fail_count": None,           # fail only this many completions, then behave (None: all)
    "fail_message": None,         # overrides the OpenAI-like error message
    "retry_after_ms": None,       # sent as `retry-after-ms` on failures (the SDK honours it)
    "models_fail_status": None,   # make GET /v1/models fail with this status
    "cut_after": None,            # close the connection after this many content tokens
    "stall_after": None,          # fall silent (connection open) for `stall_seconds` after this many tokens
    "stall_seconds": 60.0,
    "end_delay": 0.0,             # seconds between `data: [DONE]` and the end of the body
}

_STATUS_TEXT = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized", 403: "403 Forbidden",
                404: "404 Not Found", 405: "405 Method Not Allowed", 409: "409 Conflict",
                422: "422 Unprocessable Entity", 429: "429 Too Many Requests",
                500: "500 Internal Server Error", 502: "502 Bad Gateway", 503: "503 Service Unavailable",
                504: "504 Gateway Timeout"}
_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory",
          "Country, region, or territory not supported."),
    404: ("invalid_request_error", "model_not_found",
          "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded",
          "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None,
          "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
_TOKEN = re.compile(r"\s*\S+")
_WORD = re.compile(r"\w+|[^\w\s]")


def _status_line(status: int) -> str:
    return _STATUS_TEXT.get(status, f"{status} Status")


def _openai_error(status: int, message: str | None = None, code: str | None = None,
                  param: str | None = None) -> dict:
    kind, default_code, default_message = _ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, "Request failed."))
    return {"error": {"message": message or default_message, "type": kind, "param": param,
                      "code": code if code is not None else default_code}}


def _completion_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "chatcmpl-" + "".join(secrets.choice(alphabet) for _ in range(29))


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def count_tokens(text: str) -> int:
    return len(_WORD.findall(text))


def answer_tokens(body: dict, settings: dict) -> list[str]:
    """The answer, split into tokens that join back into the text (each keeps its leading space)."""
    text = settings.get("answer")
    if text is None:
        last_user = ""
        for message in body.get("messages", []):
            if isinstance(message, dict) and message.get("role") == "user":
                last_user = _text_of(message.get("content"))
        snippet = " ".join(last_user.split())[:200]
        text = f'You said: "{snippet}". This is the fake upstream answering, token by token, with a short and fixed reply for tests.'
    tokens = _TOKEN.findall(text) or [text]
    wanted = settings.get("tokens")
    if wanted is not None:
        base = tokens or ["token"]
        tokens = []
        for i in range(int(wanted)):
            token = base[i % len(base)]
            if i and not token[:1].isspace():
                token = " " + token
            tokens.append(token)
    return tokens


class _Handler(WSGIHandler):
    """Puts the client socket into the environ, so a stream can watch it and cut it."""

    def get_environ(self):
        environ = super().get_environ()
        environ["fake_openai.socket"] = self.socket
        return environ


class FakeOpenAIApp:
    def __init__(self, api_key: str | None = DEFAULT_API_KEY):
        self.initial = {**DEFAULTS, "api_key": api_key}
        self.settings = dict(self.initial)
        self.once: collections.deque[dict] = collections.deque()
        self.requests: collections.deque[dict] = collections.deque(maxlen=MAX_RECORDS)
        self.streams: collections.deque[dict] = collections.deque(maxlen=MAX_RECORDS)
        self.failures = 0
        self.counter = 0

    # --- WSGI plumbing -------------------------------------------------------------------
    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        raw = self._read_body(environ)
        if path.startswith("/_control/"):
            status, payload = self._control(method, path, raw)
            return self._json(start_response, status, payload)
        return self._api(environ, start_response, method, path, raw)

    @staticmethod
    def _read_body(environ) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > 0:
            return environ["wsgi.input"].read(length)
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return environ["wsgi.input"].read()
        return b""

    @staticmethod
    def _json(start_response, status: int, payload, headers: list | None = None):
        data = json.dumps(payload).encode()
        start_response(_status_line(status), [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(data)))] + (headers or []))
        return [data]

    # --- control API ---------------------------------------------------------------------
    def _control(self, method: str, path: str, raw: bytes):
        name = path[len("/_control/"):].strip("/")
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return 400, {"error": "body must be JSON"}
        if name == "health":
            return 200, {"status": "ok"}
        if name == "config" and method == "GET":
            return 200, self.settings
        if name == "config" and method == "POST":
            unknown = set(body) - set(DEFAULTS)
            if unknown:
                return 400, {"error": f"unknown settings: {sorted(unknown)}"}
            self.settings.update(body)
            if "fail_status" in body or "fail_count" in body:
                self.failures = 0
            return 200, self.settings
        if name == "next" and method == "POST":
            unknown = set(body) - set(DEFAULTS)
            if unknown:
                return 400, {"error": f"unknown settings: {sorted(unknown)}"}
            self.once.append(body)
            return 200, {"queued": len(self.once)}
        if name == "reset" and method == "POST":
            self.settings = dict(self.initial)
            self.once.clear()
            self.requests.clear()
            self.streams.clear()
            self.failures = 0
            return 200, self.settings
        if name == "requests" and method == "GET":
            return 200, {"requests": list(self.requests)}
        if name == "requests" and method == "DELETE":
            self.requests.clear()
            return 200, {"requests": []}
        if name == "streams" and method == "GET":
            return 200, {"streams": list(self.streams)}
        return 404, {"error": f"no control endpoint {method} {path}"}

    # --- the OpenAI API --------------------------------------------------------------------
    def _api(self, environ, start_response, method: str, path: str, raw: bytes):
        self.counter += 1
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = {"index": self.counter, "method": method, "path": path, "body": body,
                  "authorized": False, "at": time.time(),
                  "request_id": environ.get("HTTP_X_REQUEST_ID"),
                  "client_port": environ.get("REMOTE_PORT")}  # the same port: the same kept-alive connection
        self.requests.append(record)

        auth = environ.get("HTTP_AUTHORIZATION", "")
        expected = self.settings.get("api_key")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return self._json(start_response, 401, _openai_error(
                401, "You didn't provide an API key. You need to provide your API key in an Authorization "
                     "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", code=None))
        if expected is not None and not secrets.compare_digest(auth[7:].strip().encode(), expected.encode()):
            return self._json(start_response, 401, _openai_error(401))
        record["authorized"] = True

        if path == "/v1/models" and method == "GET":
            if self.settings.get("models_fail_status"):
                status = int(self.settings["models_fail_status"])
                return self._json(start_response, status, _openai_error(status))
            return self._json(start_response, 200, {"object": "list", "data": [
                self._model(m) for m in self.settings["models"]]})
        if path.startswith("/v1/models/") and method == "GET":
            model = path[len("/v1/models/"):]
            if model in self.settings["models"]:
                return self._json(start_response, 200, self._model(model))
            return self._json(start_response, 404, _openai_error(
                404, f"The model '{model}' does not exist", param="model"))
        if path == "/v1/chat/completions" and method == "POST":
            return self._completion(environ, start_response, record, raw)
        return self._json(start_response, 404, _openai_error(
            404, f"Invalid URL ({method} {path})", code=None))

    @staticmethod
    def _model(model_id: str) -> dict:
        return {"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": "fake-openai"}

    def _completion(self, environ, start_response, record: dict, raw: bytes):
        body = record["body"]
        if not isinstance(body, dict):
            return self._json(start_response, 400, _openai_error(
                400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                     "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
                     "sent was not valid JSON.)", code=None))
        if not isinstance(body.get("model"), str) or not body["model"]:
            return self._json(start_response, 400, _openai_error(
                400, "you must provide a model parameter", code=None))
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._json(start_response, 400, _openai_error(
                400, "[] is too short - 'messages'" if messages == [] else "'messages' is a required property",
                code="empty_array" if messages == [] else None, param="messages"))
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in (
                    "system", "developer", "user", "assistant", "tool", "function"):
                return self._json(start_response, 400, _openai_error(
                    400, "Invalid value for 'messages': each message needs a valid 'role'.", param="messages"))

        settings = dict(self.settings)
        once = self.once.popleft() if self.once else {}
        settings.update(once)
        model = body["model"]
        if settings.get("strict_models") and model not in settings["models"]:
            return self._json(start_response, 404, _openai_error(
                404, f"The model `{model}` does not exist or you do not have access to it.", param=None))

        if settings.get("response_delay"):
            gevent.sleep(float(settings["response_delay"]))
        fail = settings.get("fail_status")
        one_shot = "fail_status" in once  # a one-shot failure ignores the fail_count budget
        if fail and (one_shot or settings.get("fail_count") is None or self.failures < int(settings["fail_count"])):
            if not one_shot:
                self.failures += 1
            headers = []
            if settings.get("retry_after_ms") is not None:
                headers.append(("retry-after-ms", str(settings["retry_after_ms"])))
            return self._json(start_response, int(fail), _openai_error(int(fail), settings.get("fail_message")),
                              headers)

        tokens = answer_tokens(body, settings)
        finish_reason = "stop"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and limit > 0 and len(tokens) > limit:
            tokens, finish_reason = tokens[:limit], "length"
        prompt_tokens = sum(count_tokens(_text_of(m.get("content"))) + 4 for m in messages) + 3
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(tokens),
                 "total_tokens": prompt_tokens + len(tokens),
                 "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                               "accepted_prediction_tokens": 0,
                                               "rejected_prediction_tokens": 0}}
        completion_id, created = _completion_id(), int(time.time())
        headers = [("x-request-id", "req_" + secrets.token_hex(16)), ("openai-processing-ms", "1")]

        if not body.get("stream"):
            if settings.get("first_token_delay"):
                gevent.sleep(float(settings["first_token_delay"]))
            return self._json(start_response, 200, {
                "id": completion_id, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(tokens),
                                                     "refusal": None, "annotations": []},
                             "logprobs": None, "finish_reason": finish_reason}],
                "usage": usage, "service_tier": "default", "system_fingerprint": "fp_fake0001"}, headers)

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        stream = {"id": completion_id, "request_index": record["index"], "model": model,
                  "started_at": time.time(), "ended_at": None, "tokens_planned": len(tokens),
                  "tokens_sent": 0, "finished": False, "cancelled": False, "cut": False}
        self.streams.append(stream)
        write = start_response("200 OK", [("Content-Type", "text/event-stream; charset=utf-8"),
                                          ("Cache-Control", "no-cache")] + headers)
        return self._stream(environ, write, stream, settings, tokens, finish_reason, usage, include_usage, created)

    def _stream(self, environ, write, stream: dict, settings: dict, tokens: list[str], finish_reason: str,
                usage: dict, include_usage: bool, created: int):
        sock = environ.get("fake_openai.socket")
        gone = gevent.event.Event()
        watcher = gevent.spawn(self._watch, sock, gone) if sock is not None else None

        def chunk(choices: list, **more) -> bytes:
            payload = {"id": stream["id"], "object": "chat.completion.chunk", "created": created,
                       "model": stream["model"], "service_tier": "default", "system_fingerprint": "fp_fake0001",
                       "choices": choices, **more}
            if include_usage and "usage" not in payload:
                payload["usage"] = None
            return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

        def delta(content: dict, finish: str | None = None) -> bytes:
            return chunk([{"index": 0, "delta": content, "logprobs": None, "finish_reason": finish}])

        def pause(seconds: float) -> bool:
            """Wait, waking at once if the client goes; False when it has gone."""
            if seconds > 0:
                gone.wait(seconds)
            return not gone.is_set()

        def cut() -> None:
            stream["cut"] = True
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        cut_after = None if settings.get("cut_after") is None else int(settings["cut_after"])
        token_delay = float(settings.get("token_delay") or 0)
        try:
            write(b"")  # the headers go out now; the first chunk follows after first_token_delay
            if not pause(float(settings.get("first_token_delay") or 0)):
                stream["cancelled"] = True
                return
            yield delta({"role": "assistant", "content": "", "refusal": None})
            if cut_after is not None and cut_after <= 0:
                cut()
                return
            for i, token in enumerate(tokens):
                if not pause(token_delay if i else 0):
                    stream["cancelled"] = True
                    return
                yield delta({"content": token})
                stream["tokens_sent"] = i + 1  # resumed: the server wrote the chunk
                if settings.get("stall_after") is not None and i + 1 == int(settings["stall_after"]):
                    if not pause(float(settings.get("stall_seconds") or 0)):
                        stream["cancelled"] = True
                        return
                if cut_after is not None and i + 1 >= cut_after:
                    cut()
                    return
            yield delta({}, finish_reason)
            if include_usage:
                yield chunk([], usage=usage)
            yield b"data: [DONE]\n\n"
            stream["finished"] = True
            if settings.get("end_delay"):  # the server writes the body's end when this generator returns
                gevent.sleep(float(settings["end_delay"]))
        except GeneratorExit:  # the server could not write: the client is gone
            stream["cancelled"] = not stream["finished"]
            raise
        except OSError:  # writing the headers failed
            stream["cancelled"] = True
        finally:
            stream["ended_at"] = time.time()
            if watcher is not None:
                watcher.kill(block=True, timeout=1)  # before the handler reads this socket again

    @staticmethod
    def _watch(sock, gone: gevent.event.Event) -> None:
        try:
            peeked = sock.recv(1, socket.MSG_PEEK)
        except OSError:
            peeked = b""
        if not peeked:
            gone.set()


def serve(host: str, port: int, api_key: str | None, **settings) -> None:
    app = FakeOpenAIApp(api_key)
    app.initial.update(settings)
    app.settings = dict(app.initial)
    server = WSGIServer((host, port), app, handler_class=_Handler, log=None, backlog=2048)
    server.init_socket()
    bound = server.socket.getsockname()[1]
    print(f"fake-openai listening on http://{host}:{bound}/v1", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible upstream for tests and benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--api-key", default=os.environ.get("FAKE_OPENAI_API_KEY", DEFAULT_API_KEY),
                        help="the expected bearer key; '*' accepts any non-empty key")
    parser.add_argument("--answer", help="scripted answer text (default: an echo of the last user message)")
    parser.add_argument("--tokens", type=int, help="answer length in tokens")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds before the first chunk")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--models", help="comma-separated model ids for /v1/models")
    args = parser.parse_args(argv)
    settings = {"answer": args.answer, "tokens": args.tokens, "first_token_delay": args.first_token_delay,
                "token_delay": args.token_delay}
    if args.models:
        settings["models"] = [m.strip() for m in args.models.split(",") if m.strip()]
    serve(args.host, args.port, None if args.api_key == "*" else args.api_key, **settings)
    return 0


# --- starting one from a test --------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy


class FakeOpenAI:
    """A running fake upstream process and its control API."""

    def __init__(self, proc: subprocess.Popen, url: str, api_key: str | None):
        self.proc, self.url, self.api_key = proc, url, api_key

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def _call(self, method: str, name: str, payload: dict | None = None):
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.url}/_control/{name}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with _DIRECT.open(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"fake upstream control {method} {name}: {exc.code} {exc.read()!r}") from None

    def configure(self, **settings) -> dict:
        return self._call("POST", "config", settings)

    def next(self, **settings) -> dict:
        """Settings for the next chat completion only (queued, first in first out)."""
        return self._call("POST", "next", settings)

    def reset(self) -> dict:
        return self._call("POST", "reset", {})

    def config(self) -> dict:
        return self._call("GET", "config")

    def requests(self, path: str | None = None) -> list[dict]:
        records = self._call("GET", "requests")["requests"]
        return [r for r in records if path is None or r["path"] == path]

    def completion_requests(self) -> list[dict]:
        """Bodies of the chat completion requests received, oldest first."""
        return [r["body"] for r in self.requests("/v1/chat/completions")]

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def streams(self) -> list[dict]:
        return self._call("GET", "streams")["streams"]

    def wait_for_stream(self, predicate, timeout: float = 5.0, interval: float = 0.05) -> dict:
        """The first stream record that satisfies predicate, polling until timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for stream in self.streams():
                if predicate(stream):
                    return stream
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no stream matched within {timeout}s: {self.streams()}")
            time.sleep(interval)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> "FakeOpenAI":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_fake_openai(api_key: str | None = DEFAULT_API_KEY, *, port: int = 0, log_path: str | Path | None = None,
                      timeout: float = 15.0, **settings) -> FakeOpenAI:
    """Start the fake upstream as a child process (port 0: a free one) and wait until it answers."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.fake_openai", "--port", str(port),
             "--api-key", "*" if api_key is None else api_key],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=log, start_new_session=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    finally:
        if log_path:
            log.close()
    ready = _first_line(proc, timeout)
    match = re.search(r"(http://\S+)/v1", ready)
    if not match:
        proc.kill()
        raise RuntimeError(f"fake upstream did not start (said {ready!r})")
    fake = FakeOpenAI(proc, match.group(1), api_key)
    if settings:
        fake.configure(**settings)
    return fake


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The child's first stdout line, waiting at most `timeout` seconds."""
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            proc.kill()
            raise TimeoutError(f"fake upstream did not start within {timeout}s")
    return proc.stdout.readline().decode(errors="replace")


if __name__ == "__main__":
    sys.exit(main())
