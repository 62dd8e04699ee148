"""The context sent to the model: role, pins, summary and recent turns, within the model's window.

Order of the messages sent:
  1. the role (the conversation's instructions), as a system message;
  2. the pins, all of them, in one clearly marked system message;
  3. when older turns no longer fit, the stored summary of them, as a system message;
  4. as many recent turns as fit, newest kept, ending with the new user message (always sent).

Budget (tokens the prompt may take) = context window − answer tokens − margin, where
  answer tokens = min(MAX_ANSWER_TOKENS, the model's maximum answer, half the window), and
  margin = CONTEXT_MARGIN_TOKENS, or 5% of the window (at least 32, at most 2048).
Role + pins may take at most PINS_MAX_SHARE (50%) of the budget: a pin past that is refused.

History is read from memory page by page from the newest message backwards and reading stops at
the first message that does not fit, so the work done does not grow with the unsent history.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rolechat_common.web import ApiError

from .config import CatalogModel, Config
from .tokens import REPLY_PRIMING_TOKENS, Counter, ModelLimits, known_limits

HISTORY_ROLES = ("user", "assistant")
HISTORY_STATUSES = ("complete", "interrupted")
FIRST_PAGE = 50
MAX_PAGE = 500

PINS_HEADER = ("Pinned by the user. Keep every item below in mind for the whole conversation, "
               "however long it grows:")
SUMMARY_HEADER = ("Summary of the earlier part of this conversation (those messages are no longer "
                  "shown in full):")


@dataclass(frozen=True)
class Budget:
    model: str
    window: int
    answer_tokens: int
    margin: int
    tokenizer: str

    @property
    def prompt(self) -> int:
        return self.window - self.answer_tokens - self.margin

    def pins_allowance(self, share: float) -> int:
        return math.floor(self.prompt * share)

    @property
    def summary_tokens(self) -> int:
        return max(32, min(1024, self.prompt // 5))


def budget_for(model: str, entry: CatalogModel | None, config: Config) -> Budget:
    known: ModelLimits = known_limits(model, config.default_context_window)
    window = (entry.context_window if entry and entry.context_window else None) or known.context_window
    output = (entry.max_output_tokens if entry and entry.max_output_tokens else None) or known.max_output_tokens
    tokenizer = (entry.tokenizer if entry and entry.tokenizer else None) or known.tokenizer
    answer = min(config.max_answer_tokens, output or config.max_answer_tokens, window // 2)
    if config.context_margin_tokens is not None:
        margin = min(config.context_margin_tokens, window // 4)
    else:
        margin = max(32, min(2048, math.ceil(window * 0.05)))
    return Budget(model, window, max(1, answer), margin, Counter(tokenizer).name)


def pins_text(pins: list[dict]) -> str:
    items = [f"{i}. {pin['text']}" for i, pin in enumerate(pins, 1) if pin.get("text")]
    return PINS_HEADER + "\n\n" + "\n\n".join(items) if items else ""


def summary_text(summary: dict | None) -> str:
    text = (summary or {}).get("text") or ""
    return SUMMARY_HEADER + "\n\n" + text if text.strip() else ""


def fixed_tokens(counter: Counter, instructions: str, pins: list[dict]) -> tuple[int, int]:
    role = counter.message(instructions) if instructions.strip() else 0
    text = pins_text(pins)
    return role, (counter.message(text) if text else 0)


@dataclass
class Assembly:
    messages: list[dict]
    breakdown: dict
    total: int                 # messages stored before this turn
    first_sent: int            # index of the oldest stored message sent (== total when none)
    dropped: int               # stored messages left out for lack of room
    summary_upto: int          # how many messages the stored summary covers (0: none)
    pages_read: int = 0
    messages_read: int = 0
    extra: dict = field(default_factory=dict)


def usable(message: dict) -> bool:
    return (message.get("role") in HISTORY_ROLES and message.get("status", "complete") in HISTORY_STATUSES
            and isinstance(message.get("content"), str) and bool(message["content"]))


def assemble(source: dict, content: str, budget: Budget, config: Config,
             fetch_page: Callable[[int, int], dict]) -> Assembly:
    """The messages for the model and their token breakdown.

    `source` is memory's context-source answer (settings, pins, summary, the newest messages with
    `start` and `total`); `fetch_page(before, limit)` returns older pages. Raises 413 when role,
    pins and the new message alone do not fit.
    """
    counter = Counter(budget.tokenizer)
    instructions = source.get("instructions") or ""
    pins = source.get("pins") or []
    role_tokens, pins_tokens = fixed_tokens(counter, instructions, pins)
    new_tokens = counter.message(content)
    fixed = role_tokens + pins_tokens + new_tokens + REPLY_PRIMING_TOKENS
    if fixed > budget.prompt:
        raise ApiError(413, "context_too_long",
                       f"The role, the pins and this message take about {fixed} tokens, more than the "
                       f"{budget.prompt} this model can read with room for its answer; shorten the message "
                       "or unpin something.")
    room = budget.prompt - fixed

    # Newest first, stop at the first message that does not fit: read only what can be sent.
    total = int(source.get("total") or 0)
    page, start = list(source.get("messages") or []), int(source.get("start") or 0)
    chosen: list[tuple[dict, int]] = []
    used = chars = 0
    first_sent = total
    pages, read = 1, len(page)
    size = max(FIRST_PAGE, len(page))
    full = False
    max_messages = config.max_history_messages
    while True:
        for offset in range(len(page) - 1, -1, -1):
            message = page[offset]
            if not usable(message):
                first_sent = start + offset
                continue
            cost = counter.message(message["content"])
            over_cap = ((max_messages is not None and len(chosen) >= max_messages)
                        or (config.max_history_chars is not None
                            and chars + len(message["content"]) > config.max_history_chars))
            if used + cost > room or over_cap:
                full = True
                break
            chosen.append((message, cost, start + offset))
            used += cost
            chars += len(message["content"])
            first_sent = start + offset
        if full or start <= 0:
            break
        size = min(MAX_PAGE, size * 2)
        older = fetch_page(start, size)
        page, start = list(older.get("messages") or []), int(older.get("start") or 0)
        pages, read = pages + 1, read + len(page)
        if not page:
            break
    if not full:
        first_sent = 0 if start <= 0 else first_sent

    summary = source.get("summary") if config.context_summaries else None
    summary_upto = int((summary or {}).get("upto") or 0)
    summary_message = ""
    summary_tokens = 0
    if full and first_sent > 0:
        text = summary_text(summary)
        if text:
            cost = counter.message(text)
            while chosen and used + cost > room:  # make room by dropping the oldest chosen turns
                _, message_cost, _ = chosen.pop()
                used -= message_cost
            if used + cost <= room:
                summary_message, summary_tokens = text, cost
            first_sent = chosen[-1][2] if chosen else total
    dropped = first_sent if full else 0

    messages: list[dict] = []
    if instructions.strip():
        messages.append({"role": "system", "content": instructions})
    if pins:
        messages.append({"role": "system", "content": pins_text(pins)})
    if summary_message:
        messages.append({"role": "system", "content": summary_message})
    messages.extend({"role": m["role"], "content": m["content"]} for m, _, _ in reversed(chosen))
    messages.append({"role": "user", "content": content})

    history = used + new_tokens
    breakdown = {
        "model": budget.model, "tokenizer": budget.tokenizer, "window": budget.window,
        "max_answer_tokens": budget.answer_tokens, "margin": budget.margin, "budget": budget.prompt,
        "role": role_tokens, "pins": pins_tokens, "summary": summary_tokens, "history": history,
        "used": role_tokens + pins_tokens + summary_tokens + history + REPLY_PRIMING_TOKENS,
        "pins_count": len(pins), "messages_sent": len(chosen) + 1, "omitted_messages": dropped,
        "summarized_messages": summary_upto if summary_message else 0,
        "assembled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return Assembly(messages, breakdown, total, first_sent, dropped, summary_upto, pages, read)
