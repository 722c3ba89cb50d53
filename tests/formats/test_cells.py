"""Text cells as values: a plain decimal is a number, every other spelling is text, a column is
numbers only when all of it is, and every number mapsrv writes reads back as itself."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapsrv.formats.cells import cell_text, is_numeric, number, typed


@pytest.mark.parametrize(
    ("text", "value"),
    [("42", 42), ("-7", -7), ("+5", 5), ("0", 0), ("0.5", 0.5), ("-0.25", -0.25), ("-99", -99),
     ("123456789012345", 123456789012345), ("46.54750000000001", 46.54750000000001),
     # codes, not numbers: leading zeros, letters, exponent shapes (airport idents among them)
     ("007", None), ("00R", None), ("0E0", None), ("1E2", None), ("1e3", None), ("00.5", None),
     (".5", None), ("5.", None), ("1,5", None), ("1 000", None), ("4 km", None), ("nan", None),
     ("inf", None), ("", None), ("'-99", None),
     # more digits than a double holds as written: identifiers
     ("12345678901234567890", None), ("0.1234567890123456789", None)],
)  # fmt: skip
def test_a_cell_is_a_number_only_when_it_is_a_plain_decimal(text: str, value: object) -> None:
    found = number(text)
    assert found == value and type(found) is type(value)


@pytest.mark.parametrize(
    ("text", "value"), [("1,5", 1.5), ("48,85", 48.85), ("1.5", 1.5), ("-0,25", -0.25), ("1.234,5", None)]
)
def test_with_a_semicolon_or_tab_delimiter_a_decimal_comma_is_a_number(text: str, value: object) -> None:
    assert number(text, comma=True) == value


@pytest.mark.parametrize(
    ("column", "numeric"),
    [
        (["3571", "3089", "", "2073"], True),
        (["-99", "5", "0.5"], True),
        (["00R", "0E0", "1E2"], False),
        (["42", "0", "007"], False),  # one code makes the column codes
        (["5", "'-99"], False),  # a formula guard marks text
        (["", ""], False),
    ],
)
def test_a_column_is_numbers_only_when_all_of_it_is(column: list[str], numeric: bool) -> None:
    assert is_numeric(column) is numeric
    assert [typed(cell, numeric) for cell in column] == (
        [number(cell) if cell else "" for cell in column] if numeric else column
    )


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_float_written_reads_back_as_itself(value: float) -> None:
    back = number(cell_text(value))
    assert back == value and type(back) is float and "e" not in cell_text(value)


@given(st.integers(-(10**15) + 1, 10**15 - 1))
def test_every_whole_number_written_reads_back_as_itself(value: int) -> None:
    back = number(cell_text(value))
    assert back == value and type(back) is int
