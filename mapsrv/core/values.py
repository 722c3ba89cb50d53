"""Checks of single values (numbers, ids, text): the rules every field obeys, with errors that
name the field, the value, the valid range or form and what to do."""

from __future__ import annotations

import math
import re
from typing import Any

from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = ["ID_RE", "check_id", "check_number", "check_text", "number", "shown"]

ID_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


def shown(value: float) -> str:
    """A number as a message shows it: with every digit it has (``180.00000000000006``, where
    ``:g`` would print 180), and a whole one without ``.0``."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def number(name: str, value: Any) -> float:
    """A finite JSON number (not a bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{name} must be a number, got {value!r:.40}; write it as a plain JSON number")
    try:
        out = float(value)
    except OverflowError:
        raise InvalidInput(
            f"{name} must be a finite number, got a {len(str(value))}-digit integer; give degrees or metres"
        ) from None
    if not math.isfinite(out):
        raise InvalidInput(f"{name} must be a finite number, got {out}; give a real value")
    return out


def check_number(name: str, value: Any, low: float, high: float) -> float:
    checked = number(name, value)
    if not low <= checked <= high:
        raise InvalidInput(
            f"{name} must be between {low:g} and {high:g}, got {shown(checked)}; give a value in range"
        )
    return checked


def check_id(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise InvalidInput(
            f"{kind} id must be 1-64 characters of letters, digits and _.:-, got {value!r:.80};"
            " e.g. 'stop-1' (leave a feature id out to get one generated)"
        )
    return value


def check_text(name: str, value: Any, cap: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, got {type(value).__name__} {value!r:.40}; quote it")
    if len(value) > cap:
        raise PayloadTooLarge(
            f"{name} must be at most {cap} characters, got {len(value)}; shorten it"
            + ("" if name == "popup" else " (longer text belongs in the popup)")
        )
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{name} must be valid text, got a lone surrogate in {value!r:.40}; send UTF-8 text"
        ) from None
    return value
