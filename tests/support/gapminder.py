"""A real statistical table for tests: Gapminder's countries by life expectancy, population and
GDP per head, every five years from 1952 to 2007 (1,704 rows, 142 countries), as plotly ships it
(``plotly/package_data/datasets/gapminder.csv.gz``, from the Gapminder Foundation's data, CC BY).
Its country names are the World Bank's spellings ("Korea, Rep.", "Hong Kong, China", "West Bank
and Gaza", "Congo, Dem. Rep.") and its ``iso_alpha`` column codes both Koreas KOR: a table as
people find them, not one written to match mapsrv."""

from __future__ import annotations

import csv
import functools
import gzip
import importlib.resources
import io
from collections.abc import Iterable

__all__ = ["COLUMNS", "gapminder_csv", "gapminder_rows"]

COLUMNS = ("country", "continent", "year", "lifeExp", "pop", "gdpPercap", "iso_alpha", "iso_num")


@functools.cache
def gapminder_rows() -> tuple[dict[str, str], ...]:
    """Every row, as text, in the file's order."""
    data = importlib.resources.files("plotly") / "package_data" / "datasets" / "gapminder.csv.gz"
    text = gzip.decompress(data.read_bytes()).decode("utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))


def gapminder_csv(
    countries: Iterable[str] | None = None,
    years: Iterable[int] | None = None,
    columns: Iterable[str] = COLUMNS,
) -> str:
    """The rows of these ``countries`` (as the table spells them) and ``years`` (all when None),
    with these columns, as a CSV file's text."""
    wanted = set(countries) if countries is not None else None
    when = {str(y) for y in years} if years is not None else None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(columns)
    writer.writerow(names)
    for row in gapminder_rows():
        if (wanted is None or row["country"] in wanted) and (when is None or row["year"] in when):
            writer.writerow([row[c] for c in names])
    return out.getvalue()
