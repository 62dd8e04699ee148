"""The summary of older turns: written by the model, stored in memory, refreshed now and then.

After a turn whose context had to leave older messages out, chat asks the model (one
non-streamed call) to fold the messages that fell out of the window since the last summary into
it. That happens when none is stored yet, or when SUMMARY_REFRESH_MESSAGES more messages have
fallen out since, never on every turn. It runs after the answer has been sent; a failure is
logged and changes nothing else (the next eligible turn tries again).

Bounded work: only the newest messages that fell out, as many as fit in one summarising request,
are read (page by page, backwards from the window's edge).
"""
from __future__ import annotations

import logging
import threading

import openai

from rolechat_common import identity as ident
from rolechat_common.logs import log

from .context import MAX_PAGE, Budget, usable
from .memory import MemoryClient
from .tokens import Counter
from .upstream import error_facts

logger = logging.getLogger("rolechat.chat.summaries")

INSTRUCTION = (
    "You maintain the running summary of a long conversation between a user and an assistant. "
    "Merge the summary so far with the newer messages into one updated summary. Keep facts, names, "
    "numbers, decisions, preferences and open questions; drop small talk. Write it in the language "
    "of the conversation, as plain prose or short bullet points, at most {words} words. Answer with "
    "the summary only.")
SUMMARY_TIMEOUT_SECONDS = 120.0

_running: set[tuple[str, str]] = set()
_running_lock = threading.Lock()


def due(dropped: int, summary_upto: int, every: int) -> bool:
    """Whether a (new) summary should be written after this turn."""
    if dropped <= 0:
        return False
    if summary_upto <= 0:
        return True
    return dropped - summary_upto >= every


def refresh(*, client: openai.OpenAI, memory: MemoryClient, who: ident.Identity, cid: str, request_id: str,
            budget: Budget, upto: int, previous: dict | None) -> bool:
    """Summarise messages [previous upto, upto) into the stored summary. Never raises."""
    key = (who.user_id, cid)
    with _running_lock:
        if key in _running:
            return False
        _running.add(key)
    try:
        return _refresh(client, memory, who, cid, request_id, budget, upto, previous)
    except Exception as exc:  # noqa: BLE001 - a summary must never disturb anything else
        log(logger, logging.WARNING, "summary failed", conversation=cid, error=type(exc).__name__,
            **(error_facts(exc) if isinstance(exc, openai.OpenAIError) else {}))
        return False
    finally:
        with _running_lock:
            _running.discard(key)


def _refresh(client, memory, who, cid, request_id, budget: Budget, upto: int, previous: dict | None) -> bool:
    counter = Counter(budget.tokenizer)
    previous_text = (previous or {}).get("text") or ""
    since = int((previous or {}).get("upto") or 0)
    limit = budget.summary_tokens
    room = budget.prompt - limit - counter.message(INSTRUCTION) - counter.message(previous_text) - 64
    lines: list[str] = []
    before = upto
    while before > since and room > 0:
        page = memory.message_page(who, cid, before=before, limit=min(MAX_PAGE, before - since), request_id=request_id)
        messages, start = page.get("messages") or [], int(page.get("start") or 0)
        if not messages:
            break
        for message in reversed(messages):
            if not usable(message):
                continue
            line = f"{'User' if message['role'] == 'user' else 'Assistant'}: {message['content']}"
            cost = counter.text(line) + 1
            if cost > room:
                room = 0
                break
            lines.append(line)
            room -= cost
        before = start
    if not lines and not previous_text:
        return False
    prompt = (f"Summary so far:\n{previous_text or '(none yet)'}\n\n"
              "Newer messages, oldest first:\n" + "\n\n".join(reversed(lines)))
    response = client.with_options(timeout=SUMMARY_TIMEOUT_SECONDS, max_retries=1).chat.completions.create(
        model=budget.model, max_tokens=limit, stream=False,
        messages=[{"role": "system", "content": INSTRUCTION.format(words=max(20, limit * 2 // 3))},
                  {"role": "user", "content": prompt}])
    text = (response.choices[0].message.content or "").strip() if response.choices else ""
    if not text:
        log(logger, logging.WARNING, "summary came back empty", conversation=cid)
        return False
    result = memory.put_summary(who, cid, {"text": text, "upto": upto, "model": budget.model},
                                request_id=request_id)
    log(logger, logging.INFO, "summary stored", conversation=cid, upto=upto, stored=result.get("stored"),
        messages=len(lines), tokens=counter.text(text))
    return bool(result.get("stored"))
