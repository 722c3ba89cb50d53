"""Encoded polylines, as Valhalla writes route shapes (precision 6) and Google documents them."""

from __future__ import annotations

import pytest

from mapsrv.routing.polyline import decode


def encode(points: list[tuple[float, float]], precision: int = 6) -> str:
    """The reference encoding, written from the format's description, to round-trip against."""
    out, last = [], (0, 0)
    for lat, lon in points:
        here = (round(lat * 10**precision), round(lon * 10**precision))
        for value in (here[0] - last[0], here[1] - last[1]):
            value = ~(value << 1) if value < 0 else value << 1
            while value >= 0x20:
                out.append(chr((0x20 | (value & 0x1F)) + 63))
                value >>= 5
            out.append(chr(value + 63))
        last = here
    return "".join(out)


def test_googles_documented_example_at_precision_5() -> None:
    assert decode("_p~iF~ps|U_ulLnnqC_mqNvxq`@", 5) == [(38.5, -120.2), (40.7, -120.95), (43.252, -126.453)]


def test_round_trip_at_precision_6_across_the_antimeridian_and_poles() -> None:
    points = [(38.7071, -9.1355), (38.7071, -9.1355), (-89.999999, 179.999999), (89.5, -179.5), (0.0, 0.0)]
    assert decode(encode(points)) == points
    assert decode("") == []


@pytest.mark.parametrize("broken", ["_p~iF~ps|", "_p~iF~ps|U_", " ", "_p~iF\x7f"])
def test_a_broken_shape_is_a_value_error_not_garbage(broken: str) -> None:
    with pytest.raises(ValueError, match="encoded polyline"):
        decode(broken)
