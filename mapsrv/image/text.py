"""Text on the map image: the default font at a size (Pillow 10.1's scalable one, no system
fonts needed), centred text, and the attribution in the corner."""

from __future__ import annotations

from functools import cache

from PIL import ImageDraw, ImageFont

from mapsrv.image.projection import ImageView

__all__ = ["LABEL_FONT", "centered_text", "draw_attribution", "font", "line_height"]

LABEL_FONT = 12


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


@cache
def line_height(size: int) -> int:
    _, top, _, bottom = font(size).getbbox("Hgjy")
    return int(bottom - top)


def centered_text(draw: ImageDraw.ImageDraw, x: float, y: float, text: str, font: object, fill: str) -> None:
    draw.text((x, y), text, font=font, fill=fill, anchor="mm")  # type: ignore[arg-type]


def draw_attribution(draw: ImageDraw.ImageDraw, view: ImageView, text: str) -> None:
    face = font(10)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=face)
    w, h = right - left + 8, bottom - top + 6
    box = (view.width - w, view.height - h, view.width, view.height)
    draw.rectangle(box, fill=(255, 255, 255, 200))
    draw.text((box[0] + 4, box[1] + 3 - top), text, font=face, fill="#374151")
