"""How names are compared: one folding for the index and for queries alike."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "region_words", "to_ascii"]

# Letters NFKD does not decompose into a base letter and a mark.
_LETTERS = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th",
     "Þ": "Th", "ı": "i", "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ß": "ss", "ħ": "h", "Ħ": "H",
     "‘": "'", "’": "'", "ʼ": "'", "ʻ": "'", "`": "'", "´": "'"}
)  # fmt: skip
# Regular expressions, not str.translate with a dict: translate is ~3 us per non-ASCII name,
# which made the index build take seconds. The marks GeoNames' names use are all in the BMP.
_LETTER = re.compile("[" + "".join(chr(c) for c in _LETTERS) + "]")
_MARK = re.compile(
    "[" + "".join(chr(c) for c in range(0x300, 0x10000) if unicodedata.combining(chr(c))) + "]"
)
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—_./,;:()]+")


_REGION_WORDS = re.compile(
    r"^(?:(?:the )?(?:state|province|region|canton|county) of (?P<of>.+)|(?P<named>.+?) (?:state|province))$",
    re.IGNORECASE,
)


def region_words(text: str) -> str | None:
    """The region a name says it means in words: ``"New York State"``, ``"State of Washington"``,
    ``"the Province of Ontario"`` give ``"New York"``, ``"Washington"``, ``"Ontario"``; else None."""
    found = _REGION_WORDS.match(" ".join(text.split()))
    return (found["of"] or found["named"]) if found else None


def _letter(match: re.Match[str]) -> str:
    return str(_LETTERS[ord(match.group())])


def to_ascii(name: str) -> str:
    """``"São Paulo"`` gives ``"Sao Paulo"``, ``"Łódź"`` gives ``"Lodz"``; other scripts are kept."""
    if name.isascii():
        return name
    return _MARK.sub("", unicodedata.normalize("NFKD", _LETTER.sub(_letter, name)))


def fold(name: str) -> str:
    """The key a name is looked up by: accents, case, apostrophes and punctuation folded away.

    ``fold("Xi'an") == fold("XIAN")`` (any apostrophe), ``fold("Köln") == "koln"``,
    ``fold("Mbuji-Mayi") == "mbuji mayi"``.
    """
    if name.isalpha() and name.isascii():
        return name.lower()  # most names: one plain word, and this is 10x faster
    return _SEPARATORS.sub(" ", to_ascii(name).casefold().replace("'", "").replace("`", "")).strip()
