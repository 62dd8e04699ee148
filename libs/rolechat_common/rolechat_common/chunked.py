"""Decoding an HTTP/1.1 chunked body as it arrives, at little cost per read.

A streamed answer arrives as many small chunks; HTTP libraries hand each one up through several
layers of Python. This decoder works on whole reads: everything one read brought (any number of
chunks, or part of one) comes out as one piece, found with a few bytes operations. Chat reads the
model's stream with it (chat.http11).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Generator

MAX_LINE_BYTES = 4096  # a chunk's size line, with any extensions, or one trailer line
_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")
_PLAIN_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,15})\r\n")  # what every sender here writes


class MalformedBody(ValueError):
    """The body is not valid chunked encoding."""


class IncompleteBody(ValueError):
    """The connection closed before the body's last chunk."""


def decode(buffered: bytes, read: Callable[[], bytes]) -> Generator[bytes, None, bytes]:
    """Yield the body's data, one piece per read; return the bytes read past the body's end.

    `buffered` is what was already read after the headers; `read()` returns the next bytes from
    the connection (b"" at its close).
    """
    buffer, pos = buffered, 0
    left = 0          # data bytes still to come in the current chunk
    state = "size"    # size line → data → CRLF → size line ... → trailer lines up to an empty one
    while True:
        pieces, error = [], None   # the data before a malformed part is still handed up, then the error
        while True:
            if state == "size":
                # Whole chunks with a plain size line, the usual read: one match and two slices each.
                end = len(buffer)
                while (head := _PLAIN_SIZE_LINE.match(buffer, pos)) is not None:
                    start = head.end()
                    size = int(head.group(1), 16)
                    if not size or start + size + 2 > end or buffer[start + size:start + size + 2] != b"\r\n":
                        break  # the last chunk, a chunk not all here, or one to be refused: the general way
                    pieces.append(buffer[start:start + size])
                    pos = start + size + 2
            if state == "data":
                take = min(left, len(buffer) - pos)
                if take:
                    pieces.append(buffer[pos:pos + take])
                    pos, left = pos + take, left - take
                if left:
                    break
                state = "crlf"
            if state == "crlf":
                if len(buffer) - pos < 2:
                    break
                if buffer[pos:pos + 2] != b"\r\n":
                    error = MalformedBody("no CRLF after a chunk's data")
                    break
                pos, state = pos + 2, "size"
            newline = buffer.find(b"\n", pos)
            if newline < 0:
                if len(buffer) - pos > MAX_LINE_BYTES:
                    error = MalformedBody("a chunk size or trailer line is too long")
                break
            line, pos = buffer[pos:newline].rstrip(b"\r"), newline + 1
            if state == "size":
                size = line.split(b";", 1)[0].strip()
                if not _SIZE.fullmatch(size):
                    error = MalformedBody("a chunk size is not a hexadecimal number")
                    break
                left = int(size, 16)
                state = "data" if left else "trailer"
            elif not line:  # the empty line after the last chunk (and any trailers): the end
                if pieces:
                    yield b"".join(pieces)
                return buffer[pos:]
        if pieces:
            yield b"".join(pieces)
        if error is not None:
            raise error
        buffer, pos = buffer[pos:], 0
        data = read()
        if not data:
            raise IncompleteBody("the connection closed before the body's last chunk")
        buffer += data
