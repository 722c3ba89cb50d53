"""``reading.round5`` is ``round(value, 5)`` bit for bit (the sign of a zero included): for
positions with 0 to 9 decimals as agents write them, for halfway and near-halfway values, for
the floats next to 5-decimal ones, for
floats of every magnitude and bit pattern, infinities and NaN. Pure code: ``round`` is the
witness."""

from __future__ import annotations

import math
import struct

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mapsrv.mcp.tools.reading import round5


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


decimals = st.builds(
    lambda whole, places: round(whole / 10**9, places),
    st.integers(min_value=-180 * 10**9, max_value=180 * 10**9),
    st.integers(min_value=0, max_value=9),
)
near_halfway = st.builds(
    lambda k, nudge: k / 100000.0 + nudge,
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([5e-6, -5e-6, 4.999999e-6, 5.000001e-6, 1e-12, -1e-12, 0.0]),
)
# the float next to a 5-decimal one: many of these scale to a whole number too (-51.322720000000004)
neighbours = st.builds(
    lambda k, up: math.nextafter(k / 100000.0, math.inf if up else -math.inf),
    st.integers(min_value=-18_000_000, max_value=18_000_000),
    st.booleans(),
)
any_float = st.floats(allow_nan=True, allow_infinity=True) | st.builds(
    lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0],
    st.integers(min_value=0, max_value=2**64 - 1),
)


@settings(max_examples=5000)
@given(decimals | near_halfway | neighbours | any_float)
@example(38.72)
@example(-51.322720000000004)
@example(85.05545000000001)
@example(-0.0)
@example(0.000015)
@example(1e-05)
@example(2.675)
@example(123456789.123455)
@example(math.inf)
def test_the_same_float_as_round(value: float) -> None:
    expected = round(value, 5)
    got = round5(value)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert _bits(got) == _bits(expected), (value, got, expected)
