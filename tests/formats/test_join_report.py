"""What a joined table's answer says, read with the real outlines (mapsrv.places.boundaries): the
nearest name is looked for for the first ``_NEAR_LOOKUPS`` unmatched values only (each looks
through every name), the rest listed without one; rows on one outline with the same time are
stacked, with different times not."""

from __future__ import annotations

import itertools
import string

from mapsrv.core.model import Limits
from mapsrv.formats import Imported, read_file
from mapsrv.formats.join import _NEAR_LOOKUPS
from mapsrv.places.boundaries import find_boundary, nearest_boundary


def joined(table: str) -> Imported:
    return read_file(
        table.encode(), "csv", Limits(), join="countries", find=find_boundary, near=nearest_boundary
    )


def test_the_nearest_name_is_looked_for_for_so_many_values_and_no_more() -> None:
    typos = [
        f"Germany {a}{b}"
        for a, b in itertools.islice(itertools.product(string.ascii_lowercase, repeat=2), 60)
    ]
    imported = joined("country,value\nFrance,1\n" + "".join(f"{t},{n}\n" for n, t in enumerate(typos)))
    texts = [text for _, text in imported.unresolved]
    assert len(texts) == 60
    assert all(t.endswith("(not a country; nearest: Germany)") for t in texts[:_NEAR_LOOKUPS]), texts[:3]
    assert all(t.endswith("(not a country)") for t in texts[_NEAR_LOOKUPS:]), texts[-3:]


def test_rows_on_one_outline_are_stacked_only_at_one_time() -> None:
    series = joined("country,year,value\nFR,2000,1\nFrance,2001,2\nFRA,2001,3\nSpain,2000,4\n")
    assert series.stacked == (("France", (3, 4), ("France", "FRA")),)
    untimed = joined("country,value\nFR,1\nSpain,2\nFrance,3\n")
    assert untimed.stacked == (("France", (2, 4), ("FR", "France")),)
