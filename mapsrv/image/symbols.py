"""A marker's symbol on the map image, as the page shows it in its badge: letters and digits in
Roboto when Roboto has every character, an emoji in colour from the system's emoji font when
Roboto lacks one and that font has them all, else nothing (issue 76). A symbol that cannot be
drawn is never an empty box: its marker is drawn as one without a symbol (a pin, or a dot of
its colour) and the caption says why, once.

No emoji font can ship with mapsrv (every file in its repository is its own; the free emoji
fonts are OFL), so the server looks for an installed one (Debian's fonts-noto-color-emoji,
which the Dockerfile installs) the first time an image needs one, in the image worker: first in
the usual places (``EMOJI_FONTS``), then by asking fontconfig (``FC_MATCH``) for a font whose
family says "Emoji". Each emoji is drawn once per size from the font's 109 px bitmaps and kept,
scaled down, in a small cache."""

from __future__ import annotations

import shutil
import subprocess
import threading
from functools import cache, lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

from mapsrv.core import Feature
from mapsrv.image.text import centered_text, font, shown

__all__ = ["EMOJI_FONTS", "FC_MATCH", "NO_EMOJI_FONT", "draw_symbol", "drawable", "emoji_font"]

EMOJI_FONTS = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",  # Debian and Ubuntu: fonts-noto-color-emoji
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",  # Arch (noto-fonts-emoji) and Alpine (font-noto-emoji)
)
FC_MATCH = "fc-match"  # fontconfig's command, asked when none of EMOJI_FONTS is there
NO_EMOJI_FONT = "no emoji font on this server (install fonts-noto-color-emoji)"
STRIKE = 109  # px: the one size of Noto Color Emoji's bitmaps (a CBDT font loads at no other)
SYMBOL_FONT = 12  # px, a symbol's letters
GLYPHS = 256  # emoji images kept, one per emoji and size
CHECKED = 4096  # characters whose glyphs were looked up, kept per font
MISSING = "\U0010fffd"  # a private use character no font maps: what a font draws for one it lacks

_finding = threading.Lock()


def emoji_font() -> str | None:
    """The path of the system's colour emoji font, or None; looked for once (per setting)."""
    with _finding:  # two image workers starting at once look once
        return _found(EMOJI_FONTS, FC_MATCH)


@cache
def _found(places: tuple[str, ...], fc_match: str) -> str | None:
    found = next((path for path in places if _draws_in_colour(path)), None)
    if found is not None or (command := shutil.which(fc_match)) is None:
        return found
    try:
        answer = subprocess.run(
            [command, "-f", "%{family}\n%{file}", "emoji:color=true"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    family, _, path = answer.partition("\n")
    # fc-match answers its best match, whatever it is: DejaVu Sans where no emoji font is
    return path if "emoji" in family.lower() and _draws_in_colour(path) else None


def _draws_in_colour(path: str) -> bool:
    """Whether the font at ``path`` loads at the bitmaps' size and draws a smile in colour."""
    try:
        smile = _emoji(path, "\U0001f600", 16)
    except OSError:  # no such file, not a font, or no strike of that size
        return False
    rgb = np.asarray(smile.convert("RGB"), dtype=np.int16)
    return bool((rgb.max(axis=2) - rgb.min(axis=2) > 40).any())  # not grey: a colour font's


@cache
def _face(path: str) -> ImageFont.FreeTypeFont:
    """The emoji font, laid out by libraqm when Pillow has it: a flag or a family (emoji joined
    by zero-width joiners) then draws as the one emoji it is, not as its parts side by side."""
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    return ImageFont.truetype(path, STRIKE, layout_engine=engine)


@lru_cache(maxsize=GLYPHS)
def _emoji(path: str, text: str, width: int) -> Image.Image:
    """``text`` in the emoji font's colours, scaled down to ``width`` px (height in proportion)."""
    face = _face(path)
    x0, y0, x1, y1 = (round(v) for v in face.getbbox(text))
    big = Image.new("RGBA", (max(1, x1 - x0), max(1, y1 - y0)))
    ImageDraw.Draw(big).text((-x0, -y0), text, font=face, embedded_color=True)
    height = max(1, round(width * big.height / big.width))
    return big.resize((width, height), Image.Resampling.LANCZOS)


@lru_cache(maxsize=CHECKED)
def _has(face: ImageFont.FreeTypeFont, character: str) -> bool:
    """Whether ``face`` has a glyph for ``character``: it draws it otherwise than the glyph it
    draws for a character it lacks (.notdef: Roboto's box, Noto's blank)."""
    return _look(face, character) != _look(face, MISSING)


def _look(face: ImageFont.FreeTypeFont, character: str) -> tuple[object, ...]:
    mask = face.getmask(character)
    return face.getbbox(character), face.getlength(character), mask.size, bytes(mask)


def _how(text: str) -> str | None:
    """How a symbol is drawn: "text" (Roboto), "emoji" (the emoji font), or None (it cannot)."""
    if all(_has(font(SYMBOL_FONT), c) for c in shown(text)):
        return "text"
    path = emoji_font()
    if path is not None and all(_has(_face(path), c) for c in text):
        return "emoji"
    return None


def _emoji_width(text: str) -> int:
    """As the page: its badge's font is 13 px, 10 for more than one character (render.css
    .mapsrv-symbol-long), and an emoji is an em and a quarter wide."""
    return 16 if len(text) == 1 else 12


def drawable(chosen: list[Feature]) -> tuple[list[Feature], str]:
    """The features as their symbols can be drawn: a marker whose symbol cannot be drawn loses
    it (it is drawn as a marker without one); and what the caption says of them, or ""."""
    lost: dict[str, str] = {}  # feature id -> its symbol
    for feature in chosen:
        if feature.type == "marker":
            for key, value in feature.style:  # a plain loop: a thousand markers in 0.1 ms
                if key == "symbol" and value and _how(str(value)) is None:
                    lost[feature.id] = str(value)
    if not lost:
        return chosen, ""
    out = [_without_symbol(f) if f.id in lost else f for f in chosen]
    if emoji_font() is None:
        why = NO_EMOJI_FONT
    else:
        why = "no font on this server has " + ", ".join(repr(s) for s in dict.fromkeys(lost.values()))
    return out, f"{len(lost)} marker symbol{'s' * (len(lost) > 1)} shown in the page only: {why}"


def _without_symbol(feature: Feature) -> Feature:
    style = tuple((key, value) for key, value in feature.style if key != "symbol")
    return Feature(**{**vars(feature), "style": style})


def draw_symbol(image: Image.Image, draw: ImageDraw.ImageDraw, x: float, y: float, symbol: str) -> None:
    """A symbol ``drawable`` kept, centred on (``x``, ``y``): letters in white, an emoji in colour."""
    path = emoji_font() if _how(symbol) == "emoji" else None
    if path is None:
        centered_text(draw, x, y, shown(symbol)[:3], font(SYMBOL_FONT), "#ffffff")
        return
    glyph = _emoji(path, symbol, _emoji_width(symbol))
    image.alpha_composite(glyph, (round(x - glyph.width / 2), round(y - glyph.height / 2)))
