"""``mapsrv.core.content_coding`` undoes gzip, deflate and identity stacks, however the body is cut
into reads, a step of at most 64 KiB at a time; every layer, from the wire's bytes to the body, is
held to the cap; other codings, too many codings, a stream cut short and bytes that are not what
the header says are refused with a message naming them."""

from __future__ import annotations

import gzip
import re
import zlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.bombs import GIB, bomb

from mapsrv.core.content_coding import STEP, Decoding
from mapsrv.errors import InvalidInput, PayloadTooLarge


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


PACK = {
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "deflate": zlib.compress,  # zlib-wrapped, as RFC 9110 has it
    "raw": raw_deflate,  # served as "deflate" by some servers
    "identity": lambda data: data,
}


def decoded(decoding: Decoding, body: bytes, cuts: list[int]) -> list[bytes]:
    pieces, start = [], 0
    for cut in [*sorted(cuts), len(body)]:
        pieces += decoding.feed(body[start:cut])
        start = max(start, cut)
    decoding.end()
    return pieces


@settings(max_examples=300, deadline=None)  # 300 KB through 3 codings can pass 200 ms on a busy machine
@given(
    st.binary(max_size=3000) | st.integers(0, 300_000).map(bytes),
    st.lists(st.sampled_from(sorted(PACK)), max_size=3),
    st.lists(st.integers(0, 4000), max_size=6),
)
# A step's worth and one byte, deflated to 80 bytes: zlib takes them all in the first step and
# still holds the last byte of output, which was once left there ("body ends inside its stream").
@example(bytes(STEP + 1), ["raw"], [])
@example(bytes(3 * STEP), ["gzip", "deflate"], [40])
def test_a_stack_of_codings_decodes_whatever_the_reads(
    data: bytes, stack: list[str], cuts: list[int]
) -> None:
    body = data
    for coding in stack:
        body = PACK[coding](body)
    header = ", ".join("deflate" if c == "raw" else c for c in stack)
    pieces = decoded(Decoding(header, 2**20), body, cuts)
    assert b"".join(pieces) == data
    if set(stack) - {"identity"}:
        assert all(len(piece) <= STEP for piece in pieces)


@pytest.mark.parametrize("coding", ["gzip", "gzip, gzip", "gzip, gzip, gzip", "deflate, deflate"])
def test_every_layer_is_held_to_the_cap_a_step_at_a_time(coding: str) -> None:
    body = bomb(coding, GIB)
    decoding = Decoding(coding, 2**20)
    made = 0
    with pytest.raises(PayloadTooLarge, match=r"body must be at most 1048576 bytes, got more than \d+"):
        for start in range(0, len(body), STEP):
            for piece in decoding.feed(body[start : start + STEP]):
                assert len(piece) <= STEP
                made += len(piece)
    assert made <= 2**20


def test_a_layer_that_decodes_to_nothing_is_held_to_the_cap_too() -> None:
    """20 MB of empty deflate blocks (5 bytes each, RFC 1951 section 3.2.4) decode to no byte of
    the body, but undoing them costs the CPU of 20 MB: the layer is cut at the cap all the same."""
    empty_blocks = b"\x00\x00\x00\xff\xff" * 4_000_000 + b"\x03\x00"
    inner = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + empty_blocks + bytes(8)  # crc 0, size 0
    assert gzip.decompress(inner) == b""
    body = gzip.compress(inner)
    with pytest.raises(PayloadTooLarge, match="at most 1048576 bytes"):
        decoded(Decoding("gzip, gzip", 2**20), body, [])


def test_the_wire_is_held_to_the_cap_too() -> None:
    decoding = Decoding("gzip", 100, lambda size: PayloadTooLarge(f"at most 100, got {size}"))
    with pytest.raises(PayloadTooLarge, match="at most 100, got 101"):
        list(decoding.feed(bytes(101)))


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, br", "aes128gcm"])
def test_other_codings_are_refused_by_name(coding: str) -> None:
    named = coding.rsplit(", ", 1)[-1]
    with pytest.raises(InvalidInput, match=f"must be gzip, deflate or identity, got '{named}'"):
        Decoding(coding, 2**20)


def test_at_most_three_codings() -> None:
    assert Decoding("gzip, identity, gzip, identity, gzip", 10)
    with pytest.raises(
        InvalidInput, match=re.escape("at most 3 codings, got 4 ('gzip, gzip, deflate, gzip')")
    ):
        Decoding("gzip, gzip, deflate, gzip", 10)


def test_a_stream_cut_short_or_not_as_said_is_refused() -> None:
    packed = gzip.compress(b"x" * 1000)
    with pytest.raises(InvalidInput, match="body ends inside its gzip stream"):
        decoded(Decoding("gzip", 2**20), packed[:-4], [])
    with pytest.raises(InvalidInput, match="body ends inside its deflate stream"):
        decoded(Decoding("deflate", 2**20), b"x", [])
    with pytest.raises(InvalidInput, match="body is not deflate as its content encoding says"):
        decoded(Decoding("deflate", 2**20), b"\xff" * 40, [])
    assert decoded(Decoding("gzip, deflate", 2**20), b"", []) == []  # an empty body is empty
