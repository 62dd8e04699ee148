"""Token counting and context windows: what a model can read, and how much a text costs.

Token counts use the model's own tokenizer where it is known: OpenAI's `o200k_base` (GPT-4o,
GPT-4.1, GPT-5, o-series) and `cl100k_base` (GPT-4, GPT-3.5). Their encodings ship inside the
`bpe-openai` package (a tiktoken-compatible tokenizer), so nothing is downloaded at run time.
For any other model, or if that package is missing, a conservative estimate is used: one token
per 3 bytes of UTF-8, rounded up (BPE tokenizers of chat models average about 4 bytes per token
on English text, so this over-counts, leaving room rather than overflowing).

Every message also costs MESSAGE_OVERHEAD_TOKENS (the chat format's role markers), and every
request REPLY_PRIMING_TOKENS.
"""
from __future__ import annotations

import logging
import math
import threading
import warnings
from dataclasses import dataclass

from rolechat_common.logs import log

logger = logging.getLogger("rolechat.chat.tokens")

MESSAGE_OVERHEAD_TOKENS = 4
REPLY_PRIMING_TOKENS = 3
FALLBACK_BYTES_PER_TOKEN = 3
ENCODINGS = ("o200k_base", "cl100k_base")
FALLBACK = "bytes/3"
TOKENIZERS = ENCODINGS + (FALLBACK,)
DEFAULT_CONTEXT_WINDOW = 4096

# Known model families, matched by id prefix (longest first; a fine-tuned `ft:<base>:...` id uses
# its base model's entry): (prefix, context window, maximum answer tokens, tokenizer).
KNOWN_MODELS: tuple[tuple[str, int, int, str], ...] = (
    ("gpt-5", 400_000, 128_000, "o200k_base"),
    ("gpt-4.1", 1_047_576, 32_768, "o200k_base"),
    ("gpt-4o", 128_000, 16_384, "o200k_base"),
    ("chatgpt-4o", 128_000, 16_384, "o200k_base"),
    ("o4-mini", 200_000, 100_000, "o200k_base"),
    ("o3", 200_000, 100_000, "o200k_base"),
    ("o1-mini", 128_000, 65_536, "o200k_base"),
    ("o1", 200_000, 100_000, "o200k_base"),
    ("gpt-4-turbo", 128_000, 4_096, "cl100k_base"),
    ("gpt-4-1106", 128_000, 4_096, "cl100k_base"),
    ("gpt-4-0125", 128_000, 4_096, "cl100k_base"),
    ("gpt-4-32k", 32_768, 4_096, "cl100k_base"),
    ("gpt-4", 8_192, 4_096, "cl100k_base"),
    ("gpt-3.5-turbo", 16_385, 4_096, "cl100k_base"),
    ("smollm2", 2_048, 2_048, FALLBACK),
)


@dataclass(frozen=True)
class ModelLimits:
    context_window: int
    max_output_tokens: int | None
    tokenizer: str


def base_model(model_id: str) -> str:
    """`ft:gpt-4o-mini-2024-07-18:acme:support:abc` → `gpt-4o-mini-2024-07-18`."""
    if model_id.startswith("ft:"):
        parts = model_id.split(":")
        if len(parts) > 1 and parts[1]:
            return parts[1]
    return model_id


def known_limits(model_id: str, default_window: int = DEFAULT_CONTEXT_WINDOW) -> ModelLimits:
    name = base_model(model_id).lower()
    name = name.rsplit("/", 1)[-1]  # "openai/gpt-4o" style ids of some compatible servers
    for prefix, window, output, tokenizer in sorted(KNOWN_MODELS, key=lambda k: -len(k[0])):
        if name.startswith(prefix):
            return ModelLimits(window, output, tokenizer)
    return ModelLimits(default_window, None, FALLBACK)


_encodings: dict = {}
_lock = threading.Lock()
_missing_logged = False


def _encoding(name: str):
    """The bundled encoding, loaded once per process; None when it cannot be had."""
    global _missing_logged
    if name in _encodings:
        return _encodings[name]
    with _lock:
        if name not in _encodings:
            try:
                import bpe_openai

                with warnings.catch_warnings():  # the package reads its bundled data the older way
                    warnings.simplefilter("ignore", DeprecationWarning)
                    _encodings[name] = bpe_openai.get_encoding(name)
            except Exception as exc:  # noqa: BLE001 - fall back to the estimate, loudly once
                _encodings[name] = None
                if not _missing_logged:
                    _missing_logged = True
                    log(logger, logging.WARNING, "tokenizer unavailable; counting conservatively",
                        tokenizer=name, error=type(exc).__name__)
    return _encodings[name]


def estimate(text: str) -> int:
    return math.ceil(len(text.encode("utf-8", "replace")) / FALLBACK_BYTES_PER_TOKEN)


class Counter:
    """Counts tokens of texts and chat messages for one tokenizer."""

    def __init__(self, tokenizer: str):
        self.encoding = _encoding(tokenizer) if tokenizer in ENCODINGS else None
        self.name = tokenizer if self.encoding is not None else FALLBACK

    def text(self, text: str) -> int:
        if not text:
            return 0
        if self.encoding is not None and len(text) < 900_000:
            try:
                return len(self.encoding.encode_ordinary(text))
            except Exception:  # noqa: BLE001 - an odd input must not fail the turn
                pass
        return estimate(text)

    def message(self, content: str) -> int:
        return self.text(content) + MESSAGE_OVERHEAD_TOKENS
