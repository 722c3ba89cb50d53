"""Vector tiles (Mapbox Vector Tile 2.1, a PMTiles archive's ``mvt``) drawn for ``map_image``, as
the page draws them (``static/archives.js``): each source layer in one colour from its name (the
same FNV-1a hash into the same palette), polygons filled at half opacity and outlined, lines
stroked, points as dots. Decoded here from the spec: protobuf varints and length-delimited
fields, and geometry commands (MoveTo, LineTo, ClosePath) with zigzag deltas. Sans-IO: bytes in,
a 256-pixel RGBA tile out; a tile that does not decode raises ValueError (it is left out)."""

from __future__ import annotations

from PIL import Image, ImageDraw

__all__ = ["PALETTE", "draw_vector_tile", "layer_color"]

SIZE = 256
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79",
)  # fmt: skip
FILL_ALPHA = 128  # archives.js's 0.5
POINT, LINE, POLYGON = 1, 2, 3

Part = list[tuple[float, float]]


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


def _geometry(data: bytes, span: tuple[int, int]) -> list[Part]:
    parts: list[Part] = []
    x = y = 0
    at, end = span
    part: Part | None = None
    while at < end:
        command, at = _varint(data, at, end)
        kind, count = command & 7, command >> 3
        if kind == 7:  # ClosePath
            if part:
                part.append(part[0])
            continue
        if kind not in (1, 2):
            raise ValueError(f"mvt: command {kind} is not in the spec")
        for _ in range(count):
            dx, at = _varint(data, at, end)
            dy, at = _varint(data, at, end)
            x += (dx >> 1) ^ -(dx & 1)
            y += (dy >> 1) ^ -(dy & 1)
            if kind == 1 or part is None:
                part = []
                parts.append(part)
            part.append((x, y))
    return parts


def _draw_layer(
    draw: ImageDraw.ImageDraw, data: bytes, span: tuple[int, int], scale: int, shift: tuple[int, int]
) -> None:
    name, extent, features = "", 4096, []
    for number, value in _fields(data, *span):
        if number == 1 and isinstance(value, tuple):
            name = data[value[0] : value[1]].decode("utf-8", "replace")
        elif number == 2 and isinstance(value, tuple):
            features.append(value)
        elif number == 5 and isinstance(value, int) and value > 0:
            extent = value
    color = layer_color(name)
    k = SIZE * scale / extent
    for span_ in features:
        kind, parts = 0, []
        for number, value in _fields(data, *span_):
            if number == 3 and isinstance(value, int):
                kind = value
            elif number == 4 and isinstance(value, tuple):
                parts = _geometry(data, value)
        xy = [[(px * k - shift[0], py * k - shift[1]) for px, py in part] for part in parts]
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
    for number, value in _fields(data, 0, len(data)):
        if number == 3 and isinstance(value, tuple):
            _draw_layer(draw, data, value, scale, shift)
    return tile
