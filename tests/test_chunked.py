"""The chunked-body decoder chat reads the model's stream with (rolechat_common.chunked)."""
from __future__ import annotations

import pytest

from rolechat_common import chunked

BODY = (b"5;name=value\r\nhello\r\n"        # a chunk extension
        b"1\r\n \r\n"
        b"A\r\nworld, 0\r\n\r\n"            # data that looks like a size line and an end
        b"0\r\nX-Trailer: yes\r\nX-More: 1\r\n\r\n")
DATA = b"hello world, 0\r\n"
AFTER = b"HTTP/1.1 200 OK\r\n"               # bytes read past the body's end


def decode(pieces: list[bytes]) -> tuple[list[bytes], bytes]:
    """What the decoder yields and returns when the connection delivers `pieces` one read at a time
    (the first one already read with the headers; a read returns b"" only at the close)."""
    reads = iter([piece for piece in pieces[1:] if piece])
    gen = chunked.decode(pieces[0], lambda: next(reads, b""))
    out = []
    while True:
        try:
            out.append(next(gen))
        except StopIteration as end:
            return out, end.value


def test_every_split_into_two_or_three_reads_gives_the_same_data_and_leftover():
    wire = BODY + AFTER
    for i in range(len(wire) + 1):
        for j in range(i, len(wire) + 1, 7):
            out, leftover = decode([wire[:i], wire[i:j], wire[j:]])
            assert b"".join(out) == DATA, (i, j)
            # what was read past the end: the rest of the read in which the body ended
            read_to = next(end for end in (i, j, len(wire)) if end >= len(BODY))
            assert leftover == wire[len(BODY):read_to], (i, j)


def test_everything_one_read_brings_goes_up_in_one_piece():
    out, leftover = decode([BODY + AFTER])
    assert out == [DATA] and leftover == AFTER


def test_data_before_a_malformed_part_is_handed_up_then_the_error():
    gen = chunked.decode(b"5\r\nhello\r\nzz\r\n", lambda: b"")
    assert next(gen) == b"hello"
    with pytest.raises(chunked.MalformedBody, match="hexadecimal"):
        next(gen)


@pytest.mark.parametrize("wire, message", [
    (b"5\r\nhelloXY0\r\n\r\n", "CRLF"),
    (b"-5\r\nhello\r\n0\r\n\r\n", "hexadecimal"),
    (b"0x5\r\nhello\r\n0\r\n\r\n", "hexadecimal"),
    (b"1" * 16 + b"\r\n", "hexadecimal"),     # more than 15 hex digits: no body is that large
    (b"5" + b";x" * 3000, "too long"),        # a size line with no end in sight
])
def test_malformed_bodies_are_refused(wire, message):
    with pytest.raises(chunked.MalformedBody, match=message):
        decode([wire])


def test_a_body_cut_before_its_last_chunk_is_incomplete():
    with pytest.raises(chunked.IncompleteBody):
        decode([b"5\r\nhel", b"lo\r\n"])


def test_a_stream_of_plain_chunks_reads_the_same_however_it_is_split():
    """Many whole chunks in one read (the usual case, taken by the decoder's shortcut) and chunks
    cut anywhere give the same data; sizes in either case of hex, with leading zeros."""
    payloads = [(b"token %d " % i) * (i % 7 + 1) for i in range(30)]
    sizes = [b"%x" % len(p) if i % 3 == 0 else b"%X" % len(p) if i % 3 == 1 else b"00%x" % len(p)
             for i, p in enumerate(payloads)]
    wire = b"".join(size + b"\r\n" + p + b"\r\n" for size, p in zip(sizes, payloads)) + b"0\r\n\r\n"
    for i in range(len(wire) + 1):
        out, leftover = decode([wire[:i], wire[i:]])
        assert b"".join(out) == b"".join(payloads) and leftover == b"", i
