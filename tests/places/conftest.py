"""The places tests' Nominatim: support/place_extract.py's Lisbon imported once a session (~8 s),
served per test that asks for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from support.nominatim import (
    Imported,
    Nominatim,
    drop_database,
    import_extract,
    open_nominatim,
    require_nominatim,
)
from support.place_extract import write_place_extract


@pytest.fixture(scope="session")
def lisbon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    """The Lisbon extract in a Nominatim database of its own, imported once a session (~8 s) and
    dropped at its end."""
    require_nominatim()
    workdir = tmp_path_factory.mktemp("nominatim")
    facts = write_place_extract(workdir / "lisbon.osm.pbf")
    database = import_extract(workdir / "lisbon.osm.pbf", workdir)
    try:
        yield Imported(database, facts)
    finally:
        drop_database(database.name)


@pytest.fixture
async def nominatim(lisbon: Imported) -> AsyncIterator[Nominatim]:
    async with open_nominatim(lisbon.database) as service:
        yield service
