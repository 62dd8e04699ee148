"""Reading Server-Sent Events in tests: whole bodies, or incrementally from a live response."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass
class Event:
    kind: str            # "delta", "done", "error", or "comment"
    data: dict | str


def _parse_block(block: str) -> Event | None:
    kind, data, comment = "message", [], None
    for line in block.split("\n"):
        if line.startswith(":"):
            comment = line[1:].strip()
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        return Event(kind, json.loads("\n".join(data)))
    return Event("comment", comment) if comment is not None else None


def iter_sse(chunks: Iterable[bytes]) -> Iterator[Event]:
    """Events as they complete, from a stream of byte chunks split anywhere."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode()
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            event = _parse_block(block)
            if event:
                yield event


def parse_sse(body: bytes) -> list[Event]:
    return list(iter_sse([body + b"\n\n"]))
