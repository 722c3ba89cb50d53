"""The ``import`` tool's base64, decoded a slice at a time (each call holds the interpreter):
the same bytes as ``base64.b64decode(..., validate=True)`` in one call, and the same refusals,
on generated inputs, the slices cut small."""

from __future__ import annotations

import base64
import binascii
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from mapsrv.mcp.tools import files

B64 = st.text(alphabet="AB01+/=!\n ", max_size=80)  # padding, bad characters and spaces anywhere
# files' base64 run together (padding inside), with more padding after
JOINED = st.builds(
    lambda parts, pad: "".join(base64.b64encode(p).decode() for p in parts) + "=" * pad,
    st.lists(st.binary(max_size=10), max_size=5),
    st.integers(0, 3),
)


def _one_call(text: str) -> bytes | type[Exception]:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return binascii.Error


def _sliced(text: str) -> bytes | type[Exception]:
    try:
        return files._b64decode(text)
    except binascii.Error:
        return binascii.Error


@settings(max_examples=1000)
@given(st.binary(max_size=60), B64 | JOINED, st.sampled_from([4, 8, 12]))
def test_sliced_base64_is_the_one_calls(data: bytes, text: str, slice_: int) -> None:
    with mock.patch.object(files, "_B64_SLICE", slice_):
        encoded = base64.b64encode(data).decode()
        assert _sliced(encoded) == data
        assert _sliced(text) == _one_call(text), text
