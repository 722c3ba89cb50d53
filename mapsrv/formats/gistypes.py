"""A GIS table's column type for its values (``gisout``): booleans, 64-bit integers, reals,
dates (text that is all ``YYYY-MM-DD``), else text, and why a column is text when its values are
not (they mix kinds, an integer is past 64 bits, a number past what a Shapefile's ``.dbf`` holds,
a value is an array or object); in a GeoParquet, arrays and objects as Arrow lists and structs
when one type gives every value back as it was."""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

__all__ = ["MAX_DBF_DIGITS", "MAX_DBF_REAL", "column_of", "type_of"]

MAX_DBF_DIGITS = 18  # characters of an integer GDAL reads back from a .dbf as an integer
MAX_DBF_REAL = 1e20  # a real past this may come back changed from a .dbf (seen from 3.4e23)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def type_of(
    values: Sequence[Any], dates: bool, shapefile: bool, nested: bool = False
) -> tuple[pa.DataType, str]:
    """The column type for ``values``, and why it is text when they are not all text (they mix
    kinds, an integer is past 64 bits, a number past a Shapefile's, a value is nested), else "".
    With ``nested`` (a GeoParquet), arrays and objects are Arrow lists and structs when one type
    holds them all exactly."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.string(), ""
    if kinds == {bool}:
        return pa.bool_(), ""
    if kinds & {dict, list}:
        found = _nested_type(values) if nested and kinds <= {dict, list} else None
        return (pa.string(), "nested") if found is None else (found, "")
    wide = int in kinds and not all(-(2**63) <= v < 2**63 for v in values if type(v) is int)
    if kinds <= {int, float} and not wide and shapefile and not _in_dbf(values):
        return pa.string(), "dbf"
    if kinds == {int} and not wide:
        return pa.int64(), ""
    if kinds <= {int, float} and not wide:
        return pa.float64(), ""
    if kinds <= {int, float}:  # a double would change its digits: an identifier, kept whole as text
        return pa.string(), "wide"
    if kinds == {str}:
        dated = dates and all(_DATE.fullmatch(v) for v in values if v is not None)
        return (pa.date32() if dated and _valid_dates(values) else pa.string()), ""
    return pa.string(), "mixed"


def _nested_type(values: Sequence[Any]) -> pa.DataType | None:
    """The Arrow list or struct type that holds ``values`` (arrays, or objects) and gives them
    back as they are (objects of other keys would come back with each other's as nulls), or
    None."""
    try:
        column = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    if not _writable(column.type) or column.to_pylist() != list(values):
        return None
    return column.type


def _writable(kind: pa.DataType) -> bool:
    """Whether Parquet holds ``kind``: a struct of no fields it cannot."""
    if pa.types.is_struct(kind):
        return kind.num_fields > 0 and all(_writable(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _writable(kind.value_type)
    return True


def _in_dbf(values: Sequence[Any]) -> bool:
    """Whether a Shapefile's fields hold these numbers: GDAL reads an integer of more than 18
    characters back as a real, and writes a real past about 1e23 cut (1e25 as 1e23)."""
    return all(
        len(str(v)) <= MAX_DBF_DIGITS if type(v) is int else not math.isfinite(v) or abs(v) < MAX_DBF_REAL
        for v in values
        if v is not None
    )


def _valid_dates(values: Sequence[Any]) -> bool:
    try:
        for v in values:
            if v is not None:
                datetime.date.fromisoformat(v)
    except ValueError:
        return False
    return True


def column_of(values: list[Any], kind: pa.DataType) -> pa.Array:
    if pa.types.is_date32(kind):
        return pa.array([None if v is None else datetime.date.fromisoformat(v) for v in values], kind)
    return pa.array(values, kind)
