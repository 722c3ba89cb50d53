"""Vector tiles (Mapbox Vector Tile 2.1, a PMTiles archive's ``mvt``) drawn for ``map_image``, as
the page draws them (``static/archives.js``): each source layer in one colour from its name (the
same FNV-1a hash into the same palette), polygons filled at half opacity and outlined, lines
stroked, points as dots. Decoded here from the spec: protobuf varints and length-delimited
fields, geometry commands (MoveTo, LineTo, ClosePath) with zigzag deltas, and (for the street
basemap, ``streets.py``) each feature's tags into its layer's keys and values. Sans-IO: bytes in,
a 256-pixel RGBA tile out; a tile that does not decode raises ValueError (it is left out)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Container
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

__all__ = ["PALETTE", "Feature", "Layer", "decode", "draw_vector_tile", "layer_color"]

SIZE = 256
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79",
)  # fmt: skip
FILL_ALPHA = 128  # archives.js's 0.5
POINT, LINE, POLYGON = 1, 2, 3

Part = list[tuple[float, float]]
Value = str | float | int | bool


@dataclass(frozen=True, slots=True)
class Feature:
    """One feature: its geometry type (POINT, LINE, POLYGON), its parts in tile coordinates (a
    polygon's rings closed, exteriors of positive area, holes negative, as the spec has them),
    and its properties (empty unless asked for)."""

    kind: int
    parts: list[Part]
    properties: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Layer:
    name: str
    extent: int
    features: list[Feature]


def layer_color(name: str) -> tuple[int, int, int]:
    """A source layer's colour: FNV-1a (32 bits) over its UTF-16 code units, into the palette."""
    value = 0x811C9DC5
    raw = name.encode("utf-16-le")
    for i in range(0, len(raw), 2):
        value = ((value ^ int.from_bytes(raw[i : i + 2], "little")) * 0x01000193) & 0xFFFFFFFF
    color = PALETTE[value % len(PALETTE)]
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _varint(data: bytes, at: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= end:
            raise ValueError("mvt: a varint runs past its message")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _fields(data: bytes, start: int, end: int) -> list[tuple[int, int | tuple[int, int]]]:
    """A message's fields: (number, a varint's value or the (start, end) of its bytes)."""
    out: list[tuple[int, int | tuple[int, int]]] = []
    at = start
    while at < end:
        key, at = _varint(data, at, end)
        wire = key & 7
        if wire == 0:
            value, at = _varint(data, at, end)
            out.append((key >> 3, value))
        elif wire == 2:
            length, at = _varint(data, at, end)
            if at + length > end:
                raise ValueError("mvt: a field runs past its message")
            out.append((key >> 3, (at, at + length)))
            at += length
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
        else:
            raise ValueError(f"mvt: wire type {wire} is not in the spec")
    return out


def _varints(data: bytes, start: int, end: int) -> list[int]:
    """A packed run of varints (a geometry's commands, a feature's tags), in one loop: a call
    a varint cost a dense city tile a third of its draw time."""
    out: list[int] = []
    append = out.append
    value = shift = 0
    for byte in data[start:end]:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
        else:
            append(value)
            value = shift = 0
    if shift:
        raise ValueError("mvt: a varint runs past its message")
    return out


def _geometry(
    data: bytes, span: tuple[int, int], k: float = 1.0, shift: tuple[float, float] = (0, 0)
) -> list[Part]:
    """The parts, each point ``k`` times its tile coordinates less ``shift``."""
    ints = _varints(data, *span)
    parts: list[Part] = []
    x = y = 0
    sx, sy = shift
    part: Part | None = None
    i, n = 0, len(ints)
    while i < n:
        command = ints[i]
        kind, count = command & 7, command >> 3
        i += 1
        if kind == 7:  # ClosePath
            if part:
                part.append(part[0])
            continue
        if kind not in (1, 2):
            raise ValueError(f"mvt: command {kind} is not in the spec")
        if i + 2 * count > n:
            raise ValueError("mvt: a geometry command runs past its feature")
        for j in range(i, i + 2 * count, 2):
            dx, dy = ints[j], ints[j + 1]
            x += (dx >> 1) ^ -(dx & 1)
            y += (dy >> 1) ^ -(dy & 1)
            if kind == 1 or part is None:
                part = []
                parts.append(part)
            part.append((x * k - sx, y * k - sy))
        i += 2 * count
    return parts


def _value(data: bytes, start: int, end: int) -> Value | None:
    """A Value message: a string, float, double, int64, uint64, sint64 or bool."""
    out: Value | None = None
    at = start
    while at < end:
        key, at = _varint(data, at, end)
        number, wire = key >> 3, key & 7
        if wire == 2:
            length, at = _varint(data, at, end)
            if at + length > end:
                raise ValueError("mvt: a value runs past its message")
            if number == 1:
                out = data[at : at + length].decode("utf-8", "replace")
            at += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if at + size > end:
                raise ValueError("mvt: a value runs past its message")
            out = struct.unpack_from("<d" if wire == 1 else "<f", data, at)[0]
            at += size
        elif wire == 0:
            raw, at = _varint(data, at, end)
            if number == 4:
                out = raw - (1 << 64) if raw >= 1 << 63 else raw
            elif number == 6:
                out = (raw >> 1) ^ -(raw & 1)
            elif number == 7:
                out = bool(raw)
            else:
                out = raw
        else:
            raise ValueError(f"mvt: wire type {wire} is not in the spec")
    return out


def _tags(
    data: bytes, span: tuple[int, int], keys: list[str], values: list[Value | None]
) -> dict[str, Value]:
    indices = _varints(data, *span)
    out: dict[str, Value] = {}
    for k, v in zip(indices[::2], indices[1::2], strict=False):
        if k >= len(keys) or v >= len(values):
            raise ValueError(f"mvt: tag {k}={v} is past the layer's keys or values")
        value = values[v]
        if value is not None:
            out[keys[k]] = value
    return out


@dataclass(frozen=True, slots=True)
class _Reading:
    """How a tile is read: which layers, whether with properties, in what coordinates, and
    which features are kept (asked before their geometry is decoded, the costly part)."""

    names: Container[str] | None = None
    properties: bool = True
    pixels: float | None = None
    shift: tuple[float, float] = (0, 0)
    keep: Callable[[str, dict[str, Value]], bool] | None = None


def _layer(data: bytes, span: tuple[int, int], reading: _Reading) -> Layer | None:
    name, extent, spans, value_spans = "", 4096, [], []
    keys: list[str] = []
    for number, value in _fields(data, *span):
        if number == 1 and isinstance(value, tuple):
            name = data[value[0] : value[1]].decode("utf-8", "replace")
        elif number == 2 and isinstance(value, tuple):
            spans.append(value)
        elif number == 3 and isinstance(value, tuple):
            keys.append(data[value[0] : value[1]].decode("utf-8", "replace"))
        elif number == 4 and isinstance(value, tuple):
            value_spans.append(value)
        elif number == 5 and isinstance(value, int) and value > 0:
            extent = value
    if reading.names is not None and name not in reading.names:
        return None
    values = [_value(data, *v) for v in value_spans] if reading.properties else []
    k = 1.0 if reading.pixels is None else reading.pixels / extent
    features = []
    for span_ in spans:
        kind, geometry, tags = 0, (0, 0), {}
        for number, value in _fields(data, *span_):
            if number == 3 and isinstance(value, int):
                kind = value
            elif number == 4 and isinstance(value, tuple):
                geometry = value
            elif number == 2 and isinstance(value, tuple) and reading.properties:
                tags = _tags(data, value, keys, values)
        if reading.keep is None or reading.keep(name, tags):
            features.append(Feature(kind, _geometry(data, geometry, k, reading.shift), tags))
    return Layer(name, extent, features)


def decode(
    data: bytes,
    names: Container[str] | None = None,
    *,
    properties: bool = True,
    pixels: float | None = None,
    shift: tuple[float, float] = (0, 0),
    keep: Callable[[str, dict[str, Value]], bool] | None = None,
) -> list[Layer]:
    """The tile's layers (only those ``names`` holds, when given), in the tile's order; with
    ``pixels``, coordinates come as pixels of a tile that many wide, less ``shift``; with
    ``keep``, only the features it keeps (given the layer's name and the feature's properties)."""
    reading = _Reading(names, properties, pixels, shift, keep)
    out = []
    for number, value in _fields(data, 0, len(data)):
        if number == 3 and isinstance(value, tuple):
            layer = _layer(data, value, reading)
            if layer is not None:
                out.append(layer)
    return out


def _draw_layer(draw: ImageDraw.ImageDraw, layer: Layer) -> None:
    color = layer_color(layer.name)
    for feature in layer.features:
        kind, xy = feature.kind, feature.parts
        if kind == POINT:
            for x, y in (p for part in xy for p in part):
                draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=color)
        elif kind == POLYGON:
            for ring in xy:
                if len(ring) >= 3:
                    draw.polygon(ring, fill=(*color, FILL_ALPHA), outline=color)
        elif kind == LINE:
            for line in xy:
                if len(line) >= 2:
                    draw.line(line, fill=color, width=2)


def draw_vector_tile(data: bytes, scale: int = 1, shift: tuple[int, int] = (0, 0)) -> Image.Image:
    """The tile drawn: ``scale`` times larger and moved by ``shift`` pixels past its max zoom."""
    tile = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    for layer in decode(data, properties=False, pixels=SIZE * scale, shift=shift):
        _draw_layer(draw, layer)
    return tile
