"""House numbers in the offline index: a search for "Kaivokatu 1" is answered with number 1 or
not at all. Its last word is a prefix (search as you type), so "1" also matches 12 and 18: those
are other buildings, and are dropped. When the street is there and the number is not, the answer
says so and names the street's nearest numbers (``MissingNumber``), never another building
silently. An address is a row of kind ``address`` ("Rua Augusta 24") or any row whose address
text starts with its street and number (a shop's, a named building's).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from mapsrv.places.model import PlaceNotFound
from mapsrv.places.offline_words import query_words

__all__ = [
    "OFFERED",
    "MissingNumber",
    "address_words",
    "asked_number",
    "nearest_numbers",
    "number_of",
    "street_of",
]

OFFERED = 4  # numbers offered for one that is missing
_NUMBER = re.compile(r"\d+[a-z]?")


class MissingNumber(PlaceNotFound):
    """A street the index has, without the number asked: its nearest numbers are the suggestions."""

    def __init__(self, query: str, street: str, number: str, numbers: Sequence[str]) -> None:
        offered = [f"{street} {n}" for n in numbers]
        super().__init__(query, offered, f" ({street} has no number {number} in the index)")


def asked_number(words: Sequence[str], street: Sequence[str] = ()) -> str | None:
    """The house number a search's words ask for: the first word that is one and is not part of
    the street's name ("Rua 25 de Abril 10" asks 10); None when no word is one."""
    for word in words:
        if _NUMBER.fullmatch(word) and word not in street:
            return word
    return None


def address_words(row: tuple[Any, ...]) -> str:
    """The text a row's street and number are read from: an address row's name, else the part of
    its address before the first comma ("Mannerheimintie 5")."""
    return str(row[2]) if row[1] == "address" else str(row[5]).partition(",")[0]


def number_of(row: tuple[Any, ...]) -> str | None:
    """The house number of a row with an address ("Rua Augusta 24": "24"), folded; else None."""
    words = query_words(address_words(row))
    return words[-1] if len(words) > 1 and _NUMBER.fullmatch(words[-1]) else None


def street_of(row: tuple[Any, ...]) -> str:
    """The street of a row with an address, as written ("Rua Augusta")."""
    return address_words(row).rsplit(" ", 1)[0]


def nearest_numbers(numbers: Iterable[str], asked: str) -> list[str]:
    """Up to ``OFFERED`` of ``numbers``, nearest to ``asked`` first (by their digits)."""
    target = int(re.match(r"\d+", asked).group()) if asked[:1].isdigit() else 0  # type: ignore[union-attr]

    def away(n: str) -> tuple[int, str]:
        digits = re.match(r"\d+", n)
        return (abs(int(digits.group()) - target) if digits else 1 << 30, n)

    return sorted(set(numbers), key=away)[:OFFERED]
