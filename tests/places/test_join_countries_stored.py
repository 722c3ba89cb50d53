"""The countries a table joins to and a name finds, read per question from the places file
(issue 78): every country's outline as stored equals the one decoded from the shipped 1:50m file,
each is found by its names and codes as decoded, and nothing of them is read until asked."""

from __future__ import annotations

import subprocess
import sys

from mapsrv.places import boundaries
from mapsrv.places.index import gazetteer


def test_every_stored_country_is_the_decoded_one_and_found_by_its_names_and_codes() -> None:
    index = gazetteer()
    outlines, keys = boundaries.country_joins(index.country_names, index.countries)
    assert len(outlines) > 230
    for key, outline in outlines.items():
        assert boundaries._country(key) == outline, key  # code, name and every point
    for text, key in keys.items():
        found = boundaries.find_country(text)
        assert found == outlines.get(key, "no outline at 1:50m"), text  # Bonaire has none
    assert [c.name for c in boundaries.country_outlines()] == [o.name for o in outlines.values()]


def test_a_name_is_found_without_reading_every_country() -> None:
    """A fresh process finds Portugal, and a region's name that is no country, reading one
    country's outline and none: the 1:50m file is never decoded in a server."""
    script = (
        "from mapsrv.places import boundaries, world\n"
        "assert boundaries.find_country('Portugal').code == 'PT'\n"
        "assert boundaries.find_country('Texas') == 'not a country'\n"
        "print(boundaries._country.cache_info().currsize, world.countries.cache_info().currsize)\n"
    )
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["1", "0"], done.stdout
