"""One turn of a conversation: the prompt, the streamed answer, and storing how it ended.

A producer greenlet reads the model's stream through the SDK and puts what it hears on a queue.
It reads the SDK's raw response and parses each `data:` line itself: building the SDK's typed
chunk objects costs more CPU than everything else in a relayed token (and under the SDK, chat's
own HTTP/1.1 transport, chat.http11, reads the body). Once the first delta is out, it reads only
on the process's ticks (chat.pacing: every SSE_COALESCE_MS, longer while the process is
overloaded), so the deltas of a tick go out as one event and every hop handles fewer, larger
writes, all streams' at the same moments. The response generator hears the queue through
chat.feed: everything queued goes out as one event, a heartbeat comment whenever the stream has
been quiet for SSE_HEARTBEAT_SECONDS, and the model is given up on when it has been silent for
UPSTREAM_READ_TIMEOUT_SECONDS. A watcher raises ClientGone into the producer the moment the client closes its connection, so the
upstream call stops at once and the partial answer is stored as `interrupted`. Whatever happens,
exactly one assistant message is stored, and the stream ends with exactly one `done` or `error`
event (unless nobody is left to read it).
"""
from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import gevent
import gevent.queue
import httpx2
import openai
import orjson

from rolechat_common import identity as ident
from rolechat_common.logs import log
from rolechat_common.streaming import HEARTBEAT, ClientGone, sse, stop, watch_disconnect
from rolechat_common.web import ApiError

from . import feed, http11, pacing, summaries
from .config import Config
from .context import Assembly, Budget
from .feed import BEAT, DELTA, DRAINED, END, ERROR, EXIT, GONE, TIME_UP, UpstreamSilent
from .memory import MemoryClient, MemoryFailure
from .upstream import describe_error, error_facts

logger = logging.getLogger("rolechat.chat.turns")

END_GRACE_SECONDS = 0.5  # how long, past a finished answer's last events, its producer may read on (finishing)


@dataclass
class Turn:
    conversation_id: str
    model: str
    messages: list[dict]
    user_message: dict
    who: ident.Identity
    request_id: str
    max_tokens: int = 1024
    context: dict | None = None         # the assembled context's token breakdown
    budget: Budget | None = None
    assembly: Assembly | None = None
    summary: dict | None = None         # the stored summary when the turn began
    parts: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    usage: dict | None = None
    finish_reason: str | None = None
    role_id: str = ""                   # the role that answers ("" for free-form instructions)
    request_options: dict = field(default_factory=dict)  # e.g. the role's temperature
    price: object = None                # (prompt_tokens, completion_tokens) -> USD, from the catalog
    heard_at: float | None = None       # when the model's stream last sent a line (None: no headers yet)
    silenced: bool = False              # the stream was given up for its silence

    @property
    def content(self) -> str:
        return "".join(self.parts)


class UpstreamStreamError(openai.APIError):
    """The provider reported an error inside the stream (an `error` object instead of a chunk)."""

    def __init__(self):
        super().__init__("error event in the stream", request=None, body=None)


def read_chunks(pieces: Iterator[bytes], turn: Turn | None = None) -> Iterator[dict]:
    """The chat.completion.chunk objects of an OpenAI-style SSE body, up to `data: [DONE]`.

    `pieces` is the body as it arrives; lines are split here, in bytes, and each `data:` line's
    JSON decoded as it is (the SDK's own line and text decoding cost more than the rest)."""
    partial = b""
    for piece in itertools.chain(pieces, (b"\n",)):  # the newline ends a last line left unterminated
        if turn is not None:
            turn.heard_at = time.monotonic()
        if partial:
            piece, partial = partial + piece, b""
        lines = piece.splitlines()
        if lines and piece[-1:] not in (b"\n", b"\r"):
            partial = lines.pop()  # the rest of this line is in the next piece
        for line in lines:
            if not line.startswith(b"data:"):
                continue  # blank separators, comments, `event:` lines
            data = line[5:].strip()
            if data == b"[DONE]":
                return
            chunk = orjson.loads(data)  # one per token: 0.6 µs against 2.6 for json
            if not isinstance(chunk, dict) or chunk.get("error"):
                raise UpstreamStreamError()
            yield chunk


def produce(queue: gevent.queue.Queue, client: openai.OpenAI, turn: Turn, max_tokens: int,
            ticks: pacing.Ticks | None = None) -> None:
    """Read the model's stream and put deltas, then exactly one END, ERROR or GONE, on the queue;
    after the first delta, read on `ticks` only."""
    stream = None
    heard = False
    try:
        # Errors before the stream starts (HTTP status, connection) still raise the SDK's
        # exceptions here, after its retries.
        # The messages go in `extra_body`, which the SDK sends as given: they are plain JSON
        # already, and its type-driven transform of `messages` costs about 0.1 ms of CPU per
        # message (5 ms for a 40-message history) before every call.
        stream = client.chat.completions.with_streaming_response.create(
            model=turn.model, messages=[], extra_body={"messages": turn.messages}, stream=True,
            max_tokens=max_tokens, stream_options={"include_usage": True}, **turn.request_options).__enter__()
        # The SDK waited for the headers with the read timeout (and retried). The body is read
        # without one: a timeout on every read costs a timer per token, about a quarter of the
        # CPU of reading the stream. stream_turn enforces the same limit on silence instead.
        request = stream.http_response.request
        request.extensions["timeout"] = {**request.extensions.get("timeout", {}), "read": None}
        turn.heard_at = time.monotonic()
        finish_reason = None
        body = http11.body_pieces(stream.http_response, ticks)
        for chunk in read_chunks(body, turn):
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                turn.usage = {"prompt_tokens": usage.get("prompt_tokens"),
                              "completion_tokens": usage.get("completion_tokens")}
            for choice in chunk.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    if not heard and ticks is not None:
                        ticks.begin()
                    heard = True
                    queue.put((DELTA, text))
                if choice.get("finish_reason"):
                    finish_reason = choice["finish_reason"]
        if finish_reason is None:  # the stream ended without saying it was finished: it was cut
            log(logger, logging.WARNING, "upstream stream ended early", conversation=turn.conversation_id,
                model=turn.model)
            queue.put((ERROR, "upstream_error",
                       "The model's answer broke off before it was finished; try again."))
        else:
            turn.finish_reason = finish_reason
            queue.put((END,))
            if ticks is not None:
                ticks.end()
            _read_to_the_end(body)
    except ClientGone:
        queue.put((GONE,))
    except UpstreamSilent:
        log(logger, logging.WARNING, "upstream stream went silent", conversation=turn.conversation_id,
            model=turn.model)
        queue.put((ERROR, *describe_error(openai.APITimeoutError.__new__(openai.APITimeoutError), partial=heard)))
    except httpx2.HTTPError as exc:  # the raw stream broke: as the SDK would have reported it
        kind = openai.APITimeoutError if isinstance(exc, httpx2.TimeoutException) else openai.APIConnectionError
        log(logger, logging.WARNING, "upstream stream broke", conversation=turn.conversation_id,
            model=turn.model, error=type(exc).__name__)
        queue.put((ERROR, *describe_error(kind.__new__(kind), partial=heard)))  # an instance for its type only
    except openai.OpenAIError as exc:
        log(logger, logging.WARNING, "upstream call failed", conversation=turn.conversation_id,
            model=turn.model, **error_facts(exc))
        queue.put((ERROR, *describe_error(exc, partial=heard)))
    except ValueError:  # a line that is not JSON: the provider is not speaking the protocol
        log(logger, logging.WARNING, "upstream sent a malformed chunk", conversation=turn.conversation_id,
            model=turn.model)
        queue.put((ERROR, "upstream_error", "The model provider sent a malformed answer; try again."))
    except Exception:  # noqa: BLE001 - the person must get an error event, not a hang
        logger.exception("unexpected error while reading the model's answer")
        queue.put((ERROR, *describe_error(RuntimeError(), partial=heard)))
    finally:
        if stream is not None:
            try:
                stream.close()  # closes the HTTP response: the upstream sees the connection go
            except Exception:  # noqa: BLE001 - closing must not mask what happened
                pass


def ticks(config: Config) -> pacing.Ticks:
    """The pace of one answer's reads of the model (chat.pacing)."""
    return pacing.Ticks.for_stream(config.sse_coalesce_seconds, config.sse_coalesce_max_seconds)


def _read_to_the_end(body: Iterator[bytes]) -> None:
    """Read what follows `data: [DONE]` (the body's end, normally in the same packet), so the
    connection goes back to the pool: a response closed with bytes unread closes its connection,
    and the next turn would pay for a new one (with a real provider, a TLS handshake)."""
    try:
        for _ in body:
            pass
    except Exception:  # noqa: BLE001 - the answer is complete; at worst the connection is not kept
        pass


class Reading:
    """The model's answer being read for one stream (browser turns and /v1 alike): the producer,
    the watch on the client, and what the stream hears of them (chat.feed.listen). Iterate it for
    what is heard; every way out goes through `halt` or `finish`."""

    def __init__(self, turn: Turn, client: openai.OpenAI, config: Config, environ: dict):
        queue: gevent.queue.Queue = gevent.queue.Queue()
        self.producer = gevent.spawn(produce, queue, client, turn, turn.max_tokens, ticks(config))
        self.producer.link(lambda _: queue.put((EXIT,)))
        self.watcher = watch_disconnect(environ, self.producer)
        self.heard = feed.listen(queue, self.producer, turn, config)

    def __iter__(self) -> Iterator[tuple]:
        return self.heard

    def halt(self) -> None:
        """Stop at once: hearing (its timer first, so it cannot stop the producer too), the watch
        on the client and the model's stream."""
        self.heard.close()
        _halt(self.producer, self.watcher)

    def finish(self, tail: Iterator[bytes]) -> Iterator[bytes]:
        """`tail`, for an answer the model finished, while its body is read to the end (finishing)."""
        self.heard.close()
        return finishing(self.producer, self.watcher, tail)


def stream_turn(turn: Turn, *, client: openai.OpenAI, memory: MemoryClient, config: Config,
                environ: dict, spawn=gevent.spawn) -> Iterator[bytes]:
    """The text/event-stream body of one turn."""
    reading = Reading(turn, client, config, environ)
    outcome: tuple = (GONE,)
    try:
        yield HEARTBEAT  # the response headers go out now, not when the model first speaks
        for item in reading:
            kind = item[0]
            if kind == DELTA:
                if turn.first_token_at is None:
                    turn.first_token_at = time.monotonic()
                turn.parts.append(item[1])
                yield sse("delta", {"content": item[1]})
            elif kind == BEAT:
                yield HEARTBEAT
            else:
                outcome = item
                break
    except (GeneratorExit, gevent.GreenletExit):  # the client has gone, or the worker is stopping
        reading.halt()
        _store(turn, memory, config, "interrupted", None)
        raise
    except BaseException:  # never leave the model's stream or the disconnect watch running
        reading.halt()
        raise

    kind = outcome[0]
    if kind == END:
        yield from reading.finish(_complete(turn, client, memory, config, spawn))
        return
    reading.halt()
    if kind == ERROR:
        _store(turn, memory, config, "failed", outcome[1])
        yield sse("error", {"code": outcome[1], "message": outcome[2]})
    elif kind == TIME_UP:
        _store(turn, memory, config, "interrupted", "time_limit")
        yield sse("error", {"code": "time_limit",
                            "message": f"The answer was stopped after {config.max_stream_seconds:g} seconds, "
                                       "the longest one answer may take."})
    elif kind == DRAINED:
        _store(turn, memory, config, "interrupted", "restarting")
        yield sse("error", {"code": "restarting",
                            "message": "The service is restarting; the part of the answer shown was kept. "
                                       "Send your message again in a moment."})
    else:  # GONE, or the producer ended without a word: the client left
        _store(turn, memory, config, "interrupted", None)


def _complete(turn: Turn, client: openai.OpenAI, memory: MemoryClient, config: Config, spawn) -> Iterator[bytes]:
    """The end of an answer the model finished: stored as complete, then `done` (or the error)."""
    stored = _store(turn, memory, config, "complete", None)
    if stored is None:
        yield sse("error", {"code": "storage_unavailable",
                            "message": "The answer could not be saved; try again shortly."})
        return
    done = {"message": stored, "user_message": turn.user_message}
    if turn.context:
        done["context"] = turn.context
    yield sse("done", done)
    _maybe_summarise(turn, client, memory, config, spawn)


def _maybe_summarise(turn: Turn, client: openai.OpenAI, memory: MemoryClient, config: Config, spawn) -> None:
    """After a turn that left older messages out: refresh the stored summary, in the background."""
    assembly, budget = turn.assembly, turn.budget
    if not config.context_summaries or assembly is None or budget is None:
        return
    if not summaries.due(assembly.dropped, assembly.summary_upto, config.summary_refresh_messages):
        return
    try:
        spawn(summaries.refresh, client=client, memory=memory, who=turn.who, cid=turn.conversation_id,
              request_id=turn.request_id, budget=budget, upto=assembly.dropped, previous=turn.summary)
    except Exception:  # noqa: BLE001 - never disturb the turn
        logger.exception("could not start the summary")


def _halt(producer: gevent.Greenlet, watcher: gevent.Greenlet | None) -> None:
    """Stop watching the client and stop the upstream call (the producer closes the SDK stream)."""
    stop(watcher)
    if not producer.dead:
        producer.kill(block=True, timeout=2)


def finishing(producer: gevent.Greenlet, watcher: gevent.Greenlet | None, tail: Iterator[bytes]) -> Iterator[bytes]:
    """`tail`, the last events of an answer the model finished (and the work before them), while the
    producer reads the model's body to its end; then the producer is halted, after END_GRACE_SECONDS
    at most. The body's last bytes (after `data: [DONE]`) often come in a packet of their own:
    stopped before it, the producer closed the connection instead of keeping it for the next turn
    (seen under load)."""
    stop(watcher)
    try:
        yield from tail
    finally:
        producer.join(timeout=END_GRACE_SECONDS)
        _halt(producer, watcher)


def _store(turn: Turn, memory: MemoryClient, config: Config, status: str, error: str | None) -> dict | None:
    """Store the assistant's message as it ended, with the turn's usage (memory counts it in the same
    step); never raises (the stream must still end cleanly)."""
    spent = _spent(turn)
    message = _answer(turn, status, error)
    stored, refused = _append(turn, memory, {**message, "usage": spent} if spent else message, status)
    counted = bool(stored is not None and stored.pop("usage_counted", False))
    now = time.monotonic()
    log(logger, logging.INFO, "turn", conversation=turn.conversation_id, model=turn.model, status=status,
        error=error, chars=len(turn.content), stored=stored is not None, finish_reason=turn.finish_reason,
        first_token_ms=None if turn.first_token_at is None else round((turn.first_token_at - turn.started) * 1000),
        ms=round((now - turn.started) * 1000), **(turn.usage or {}))
    # Refused: the usage went nowhere with the answer, but the tokens were spent all the same.
    # Stored but not counted: a memory that does not know answers carry their usage (mid-upgrade).
    if spent and (refused or (stored is not None and not counted)):
        _record_usage(turn, memory, spent)
    return stored


def _answer(turn: Turn, status: str, error: str | None) -> dict:
    message = {"role": "assistant", "content": turn.content, "model": turn.model, "status": status}
    if turn.user_message.get("id"):  # kept only while its question is (not after an edit replaced it)
        message["answers"] = turn.user_message["id"]
    if turn.role_id:
        message["role_id"] = turn.role_id
    if turn.context:
        message["context"] = turn.context
    if error:
        message["error"] = error
    return message


def _append(turn: Turn, memory: MemoryClient, message: dict, status: str) -> tuple[dict | None, bool]:
    """(the stored answer or None, whether memory refused it); never raises.

    Refused is memory's definite no (a 4xx: nothing was stored, usage included). When memory could
    not be reached or failed itself, the answer and its usage may have been stored all the same, so
    they count as not refused: counting the usage again could count it twice."""
    try:
        return memory.append_message(turn.who, turn.conversation_id, message, request_id=turn.request_id,
                                     patient=True), False
    except MemoryFailure as exc:
        if exc.code == "invalid_usage" and "usage" in message:  # the provider's report, not the answer, is amiss
            log(logger, logging.WARNING, "could not record usage", conversation=turn.conversation_id,
                reason=exc.code)
            return _append(turn, memory, {k: v for k, v in message.items() if k != "usage"}, status)
        if exc.code == "question_replaced":  # edited or regenerated meanwhile: this answer is not kept
            log(logger, logging.INFO, "answer dropped: its question was replaced", conversation=turn.conversation_id)
        else:
            log(logger, logging.ERROR, "could not store the answer", conversation=turn.conversation_id,
                status=status, reason=exc.code)
        return None, 400 <= exc.status < 500
    except ApiError as exc:
        log(logger, logging.ERROR, "could not store the answer", conversation=turn.conversation_id,
            status=status, reason=exc.code)
    except Exception:  # noqa: BLE001
        logger.exception("could not store the answer")
    return None, False


def _spent(turn: Turn) -> dict | None:
    """Tokens of this turn (the stream's usage report) and their cost, as memory counts them; None
    when the provider reported none (or nothing countable). Never raises."""
    usage = turn.usage
    if not usage:
        return None
    try:
        prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        cost = turn.price(prompt, completion) if callable(turn.price) else None
    except Exception as exc:  # noqa: BLE001 - accounting must not disturb the answer
        log(logger, logging.WARNING, "could not record usage", conversation=turn.conversation_id,
            reason=type(exc).__name__)
        return None
    return {"prompt_tokens": prompt, "completion_tokens": completion, "cost_usd": cost}


def _record_usage(turn: Turn, memory: MemoryClient, spent: dict) -> None:
    """Count the turn's usage on its own, for an answer that could not be stored; never raises."""
    try:
        memory.call("POST", "/api/usage", turn.who, request_id=turn.request_id, body={"model": turn.model, **spent})
    except Exception as exc:  # noqa: BLE001 - accounting must not disturb the answer
        log(logger, logging.WARNING, "could not record usage", conversation=turn.conversation_id,
            reason=getattr(exc, "code", type(exc).__name__))
