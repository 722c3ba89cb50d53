"""The words of the offline index: what is indexed for an entry, and the FTS5 query for a text.

Both sides go through :func:`mapsrv.places.text.fold` (accents, case, "ø", "ß" and punctuation
folded), so FTS5's tokenizer only splits words. A word of a query matches in its own form or its
English singular ("cafés" finds the cafés: ``forms``); a category is asked by its OSM key=value,
its value, a synonym or either's plural ("coffee", "chemists": ``match_categories``). A person's
text never reaches FTS5 as syntax: it is cut into words of letters and digits, and each is
quoted ("AND", "NEAR", "*" are words or nothing).
"""

from __future__ import annotations

import re
from typing import Any

from mapsrv.places.text import fold

__all__ = [
    "address_text",
    "category_words",
    "describe_categories",
    "forms",
    "fts_query",
    "index_words",
    "match_categories",
    "population",
    "query_words",
]

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


def forms(word: str) -> tuple[str, ...]:
    """A folded word and its English singular when it reads as a plural: ``"cafes"`` gives
    ``("cafes", "cafe")``, ``"pharmacies"`` ``("pharmacies", "pharmacy")``, ``"churches"``
    ``("churches", "church")``; a word that does not, itself alone."""
    if len(word) > 4 and word.endswith("ies"):
        return (word, word[:-3] + "y")
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return (word, word[:-2])
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return (word, word[:-1])
    return (word,)


def fts_query(words: list[str], prefix: bool = True) -> str:
    """Every word must match, in any of its forms, the last as a prefix (search as you type):
    ``"rua" AND "augusta" AND "2"*``; ``("cafes"* OR "cafe"*)`` (FTS5 wants AND written out
    beside a group)."""
    terms = []
    for i, word in enumerate(words):
        star = "*" if prefix and i == len(words) - 1 else ""
        quoted = [f'"{w}"{star}' for w in forms(word)]
        terms.append(quoted[0] if len(quoted) == 1 else f"({' OR '.join(quoted)})")
    return " AND ".join(terms)


def match_categories(asked: str, categories: list[str]) -> list[str]:
    """The categories of ``categories`` (OSM key=value) that ``asked`` names: itself
    ("amenity=cafe"), its value ("cafe", "fast food"), a synonym ("coffee", "chemist"), or the
    plural of either ("cafés", "chemists")."""
    asked = asked.strip().lower()
    if "=" in asked:
        return [asked] if asked in categories else []
    words = query_words(asked)
    if not words:
        return []
    singular = "_".join(forms(w)[-1] for w in words)
    whole = {"_".join(words), singular}
    found = []
    for category in categories:
        value = category.partition("=")[2]
        if value in whole or (len(words) == 1 and whole & set(SYNONYMS.get(value, "").split())):
            found.append(category)
    return found


def describe_categories(counted: list[tuple[str, int]], most: int = 20) -> str:
    """``"cafe (coffee; 12), pharmacy (chemist, drugstore; 5)"``: the commonest ``most``
    categories, each by the value to ask it by, its synonyms and how many there are."""
    by_value: dict[str, int] = {}
    for category, n in counted:
        value = category.partition("=")[2]
        by_value[value] = by_value.get(value, 0) + n
    ranked = sorted(by_value.items(), key=lambda item: (-item[1], item[0]))
    parts = []
    for value, n in ranked[:most]:
        also = ", ".join(SYNONYMS.get(value, "").split())
        parts.append(f"{value} ({also + '; ' if also else ''}{n})")
    more = f" and {len(ranked) - most} more" if len(ranked) > most else ""
    return ", ".join(parts) + more
