"""The words of the offline index: what is indexed for an entry, and the FTS5 query for a text.

Both sides go through :func:`mapsrv.places.text.fold` (accents, case, "ø", "ß" and punctuation
folded), so FTS5's tokenizer only splits words. A person's text never reaches FTS5 as syntax: it
is cut into words of letters and digits, and each is quoted ("AND", "NEAR", "*" are words or
nothing).
"""

from __future__ import annotations

import re
from typing import Any

from mapsrv.places.text import fold

__all__ = ["address_text", "category_words", "fts_query", "index_words", "population", "query_words"]

_WORD = re.compile(r"[^\W_]+")
_DIGITS = re.compile(r"\d+")
# English words for categories whose value is not the word people search with
SYNONYMS = {
    "pharmacy": "chemist drugstore",
    "cafe": "coffee",
    "fuel": "petrol gas station",
    "atm": "cash machine",
    "toilets": "toilet wc restroom",
    "place_of_worship": "church mosque temple",
    "viewpoint": "view lookout",
    "supermarket": "groceries",
    "bureau_de_change": "exchange",
    "doctors": "doctor",
    "dentist": "dental",
    "hospital": "clinic",
    "bank": "money",
    "bus_station": "bus",
    "station": "train railway",
    "hotel": "lodging",
    "fast_food": "takeaway",
    "pub": "bar",
}


def index_words(*texts: str) -> str:
    return " ".join(fold(t) for t in texts if t)


def category_words(category: str, english: bool = False) -> str:
    """``"amenity=pharmacy"`` gives ``"amenity pharmacy chemist drugstore"``; with ``english`` a
    label for a poi without a name: ``"pharmacy"``."""
    key, _, value = category.partition("=")
    if english:
        return value.replace("_", " ")
    return " ".join((fold(key), fold(value), SYNONYMS.get(value, "")))


def address_text(tags: Any) -> str:
    """``"Rua Augusta 24, 1100-053 Lisboa"`` from addr:* tags; "" without a number and a street."""
    number = tags.get("addr:housenumber", "")
    street = tags.get("addr:street", "") or tags.get("addr:place", "")
    if not number or not street:
        return ""
    town = " ".join(t for t in (tags.get("addr:postcode", ""), tags.get("addr:city", "")) if t)
    return f"{street} {number}, {town}" if town else f"{street} {number}"


def population(raw: str) -> int:
    """``"545796"``, ``"545 796"`` and ``"545,796"`` give 545796; anything else 0."""
    digits = "".join(_DIGITS.findall(raw.split(";")[0]))
    return int(digits) if digits and len(digits) < 11 else 0


def query_words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def fts_query(words: list[str], prefix: bool = True) -> str:
    """Every word must match, the last as a prefix (search as you type): ``"rua" "augusta" "2"*``."""
    quoted = [f'"{w}"' for w in words]
    if prefix and quoted:
        quoted[-1] += "*"
    return " ".join(quoted)
