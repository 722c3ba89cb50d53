"""Text as values and values as text, for what carries no types: a CSV's cells and a KML's
untyped ExtendedData. The rule is one, and it is decided per column (all of a CSV column's
cells, all of a KML document's values of one name), never per cell.

A column is numbers only when every non-empty cell in it is a plain decimal: an optional sign,
digits without a leading zero (``0`` and ``0.5`` are numbers, ``007`` is a code), and an
optional fraction after a point, or after a comma in a table whose delimiter is ``;`` or tab
(``1,5``: European spreadsheets write decimals so, and never use the comma for thousands
there). Anything else is text and makes the whole column text: ``0E0``, ``1E2`` and ``00R`` (airport
codes, not 0 and 100), ``.5``, ``1,500`` in a comma-separated file, ``nan``, and one code among
numbers makes them all codes, so each value comes back in every export as it was written. A
whole number of more than 15 digits and a fraction a double cannot hold as written are text
too: those are identifiers, and a float would change their digits.

Written back, a number is a plain decimal (never an exponent: ``1e-05`` would read back as
text) and a boolean ``true`` or ``false``; a nested object or array is its compact JSON text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from mapsrv.core.json_bytes import dumps_text

__all__ = ["MAX_DIGITS", "cell_text", "is_numeric", "json_text", "number", "typed"]

MAX_DIGITS = 15  # a double holds every decimal of up to 15 significant digits exactly
_PLAIN = re.compile(r"[-+]?(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_PLAIN_OR_COMMA = re.compile(r"[-+]?(0|[1-9][0-9]*)(?:[.,]([0-9]+))?")


def number(text: str, comma: bool = False) -> int | float | None:
    """The number a plain decimal spells (``comma``: a decimal comma too), else None."""
    found = (_PLAIN_OR_COMMA if comma else _PLAIN).fullmatch(text)
    if found is None:
        return None
    whole, fraction = found.groups()
    if fraction is None:
        return int(text) if len(whole) <= MAX_DIGITS else None
    decimal = text.replace(",", ".")
    value = float(decimal)
    if len(whole) + len(fraction) > MAX_DIGITS and Decimal(repr(value)) != Decimal(decimal):
        return None
    return value


def is_numeric(cells: Iterable[str], comma: bool = False) -> bool:
    """Whether a column of ``cells`` (stripped) is numbers: it has one, and every non-empty
    cell is a plain decimal."""
    seen = False
    for cell in cells:
        if cell:
            if number(cell, comma) is None:
                return False
            seen = True
    return seen


def typed(text: str, numeric: bool, comma: bool = False) -> Any:
    """A cell's value: its number in a column of numbers, else its text as it is."""
    if numeric:
        value = number(text, comma)
        if value is not None:
            return value
    return text


def json_text(value: Any) -> str:
    """A nested value (an object or array) as compact JSON text, as a cell or a text field holds it."""
    return dumps_text(value)


def cell_text(value: Any) -> str:
    """A scalar value as a cell that reads back as the same value (``typed``): text as it
    is, ``true``/``false``, a number as a plain decimal with every digit, nothing for null;
    a nested value as its JSON text (``json_text``)."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        if "e" in text:
            text = format(Decimal(text), "f")
            text = text if "." in text else text + ".0"
        return text
    return str(value)
