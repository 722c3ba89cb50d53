"""The routing tests' Valhalla: tiles built once a session, a service per test that asks for one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from support.street_grid import ORIGIN
from support.valhalla import Valhalla, build_tiles, open_valhalla, require_valhalla, write_slope_tile


@pytest.fixture(scope="session")
def valhalla_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The config of the test network's tiles, built on the session's first use (pytest-trio runs
    async fixtures per test only, so this one runs its own short trio.run)."""
    require_valhalla()
    return trio.run(build_tiles, tmp_path_factory.mktemp("valhalla"))


@pytest.fixture
async def valhalla(valhalla_config: Path) -> AsyncIterator[Valhalla]:
    async with open_valhalla(valhalla_config) as service:
        yield service


@pytest.fixture(scope="session")
def elevation_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of SRTM tiles for Valhalla: one tile of a known slope under the street grid."""
    directory = tmp_path_factory.mktemp("elevation")
    write_slope_tile(directory, *ORIGIN)
    return directory


@pytest.fixture
async def valhalla_with_heights(valhalla_config: Path, elevation_dir: Path) -> AsyncIterator[Valhalla]:
    """The test network's Valhalla with elevation data (``additional_data.elevation``)."""
    overrides = {"additional_data": {"elevation": str(elevation_dir)}}
    async with open_valhalla(valhalla_config, overrides=overrides) as service:
        yield service
