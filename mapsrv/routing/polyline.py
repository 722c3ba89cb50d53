"""Encoded polylines (Google's format, as Valhalla writes route shapes: precision 6)."""

from __future__ import annotations

from mapsrv.core.model import LatLon

__all__ = ["decode"]


def decode(text: str, precision: int = 6) -> list[LatLon]:
    """The ``(lat, lon)`` points of an encoded polyline. Each value is a zig-zag varint of 5-bit
    chunks offset by 63, the delta from the previous point's, scaled by ``10**precision``."""
    scale = 10.0**precision
    points: list[LatLon] = []
    values = [0, 0]
    index, end = 0, len(text)
    while index < end:
        for axis in (0, 1):
            shift = result = 0
            while True:
                if index >= end:
                    raise ValueError(f"encoded polyline ends inside a value at character {index}")
                chunk = ord(text[index]) - 63
                index += 1
                if not 0 <= chunk < 64:
                    raise ValueError(f"encoded polyline has {text[index - 1]!r} at character {index - 1}")
                result |= (chunk & 0x1F) << shift
                shift += 5
                if chunk < 0x20:
                    break
            values[axis] += ~(result >> 1) if result & 1 else result >> 1
        points.append((values[0] / scale, values[1] / scale))
    return points
