"""A real Valhalla routing engine for tests: ``valhalla_service`` from PyPI's pyvalhalla, in the
Python 3.12 venv scripts/valhalla-env.sh makes at $VALHALLA_HOME (pyvalhalla has no wheel for
mapsrv's 3.11).

``build_tiles`` writes the street network of street_grid.py as OSM (valhalla_network.py, run by
that 3.12) and builds Valhalla's routing tiles from it: a tenth of a second, so a test session
builds them once, in a directory of its own. ``open_valhalla`` serves them on a port, one worker
thread, and stops the service by its PID at the end; a test may kill it midway and open it again
on the same port, as a router that goes down and comes back.
"""

from __future__ import annotations

import functools
import json
import math
import os
import struct
import subprocess
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from .processes import free_port, wait_for_status
from .waiting import require

__all__ = [
    "VALHALLA_HOME",
    "Valhalla",
    "build_tiles",
    "decode_polyline6",
    "open_valhalla",
    "require_valhalla",
    "slope_height",
    "write_slope_tile",
]

ROOT = Path(__file__).resolve().parents[2]
VALHALLA_HOME = Path(os.environ.get("VALHALLA_HOME") or ROOT / ".tox" / "valhalla")
PYTHON = VALHALLA_HOME / "bin" / "python"
NETWORK_SCRIPT = Path(__file__).with_name("valhalla_network.py")

# Valhalla's default config, with nothing it would look for on disk beyond the tiles (there is no
# admin, time zone, elevation, traffic or transit data) and no drain on SIGTERM: by default the
# service drains for 28 s and shuts down for 1 more (measured: 29 s from SIGTERM to exit; 2-4 ms
# with both at 0).
CONFIG_SCRIPT = """
import json, sys, valhalla
config = valhalla.get_config(tile_dir=sys.argv[1], tile_extract="")
for key in ("admin", "timezone", "landmarks", "traffic_extract", "transit_dir", "transit_feeds_dir"):
    config["mjolnir"][key] = ""
config["additional_data"]["elevation"] = ""
config["httpd"]["service"].update(listen="tcp://127.0.0.1:8002", drain_seconds=0, shutdown_seconds=0)
with open(sys.argv[2], "w") as file:
    json.dump(config, file, indent=1)
"""


@functools.cache
def _bin_dir() -> Path | None:
    if not PYTHON.exists():
        return None
    found = subprocess.run(
        [str(PYTHON), "-m", "valhalla", "print_bin_path"], capture_output=True, text=True, timeout=30
    )
    return Path(found.stdout.strip()) if found.returncode == 0 else None


def require_valhalla() -> Path:
    """The directory of Valhalla's binaries; a test without them fails in CI and skips elsewhere."""
    bin_dir = _bin_dir()
    present = bin_dir is not None and all(
        (bin_dir / name).exists() for name in ("valhalla_build_tiles", "valhalla_service")
    )
    require(present, f"Valhalla in {VALHALLA_HOME} (scripts/valhalla-env.sh)")
    assert bin_dir is not None
    return bin_dir


async def build_tiles(workdir: Path) -> Path:
    """The test network's tiles built in ``workdir``; answers the path of the config that serves
    them (its listen port is a placeholder: ``open_valhalla`` sets its own)."""
    bin_dir = require_valhalla()
    network, tiles, config = workdir / "network.pbf", workdir / "tiles", workdir / "config.json"
    tiles.mkdir(parents=True, exist_ok=True)
    with trio.fail_after(60):
        await trio.run_process([str(PYTHON), str(NETWORK_SCRIPT), str(network)], check=True)
        await trio.run_process([str(PYTHON), "-c", CONFIG_SCRIPT, str(tiles), str(config)], check=True)
        build = [str(bin_dir / "valhalla_build_tiles"), "--config", str(config), str(network)]
        await trio.run_process(build, check=True, capture_stdout=True, capture_stderr=True)
    return config


@dataclass
class Valhalla:
    url: str  # http://127.0.0.1:PORT, no trailing slash
    port: int
    pid: int
    process: trio.Process
    config: Path  # the config it was started with
    log: Path  # its stdout and stderr


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merged[key] = _merge(base[key], value)
        else:
            merged[key] = value
    return merged


def _write_config(config: Path, port: int, overrides: Mapping[str, Any]) -> Path:
    """A copy of ``config`` beside it, listening on ``port``, with ``overrides`` merged in."""
    settings = _merge(json.loads(config.read_text()), overrides)
    settings["httpd"]["service"]["listen"] = f"tcp://127.0.0.1:{port}"
    fd, name = tempfile.mkstemp(prefix=f"config-{port}-", suffix=".json", dir=config.parent)
    with os.fdopen(fd, "w") as file:
        json.dump(settings, file)
    return Path(name)


@asynccontextmanager
async def open_valhalla(
    config: Path, port: int | None = None, *, overrides: Mapping[str, Any] | None = None
) -> AsyncIterator[Valhalla]:
    """``valhalla_service`` on ``config`` (from ``build_tiles``) and ``port`` (a free one if none),
    answering /status when it is yielded, stopped by its PID at the end. ``overrides`` are merged
    into the config, e.g. ``{"service_limits": {"auto": {"max_distance": 500.0}}}``."""
    bin_dir = require_valhalla()
    port = free_port() if port is None else port
    started = await trio.to_thread.run_sync(_write_config, config, port, overrides or {})
    log = config.parent / f"valhalla-{port}.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as output:  # the child has its own copy of the descriptor
        process = await trio.lowlevel.open_process(
            [str(bin_dir / "valhalla_service"), str(started), "1"],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
        )
    try:
        await wait_for_status(url, process, log, "valhalla_service", timeout=20)
        yield Valhalla(url=url, port=port, pid=process.pid, process=process, config=started, log=log)
    finally:
        with trio.CancelScope(shield=True):
            process.terminate()
            with trio.move_on_after(10):
                await process.wait()
            process.kill()
            await process.wait()
            await trio.Path(started).unlink(missing_ok=True)


def decode_polyline6(encoded: str) -> list[tuple[float, float]]:
    """(lat, lon) points of an encoded polyline of precision 6, as Valhalla writes shapes (Google's
    polyline algorithm with 1e6 in place of 1e5)."""
    points: list[tuple[float, float]] = []
    index, lat, lon = 0, 0, 0
    while index < len(encoded):
        deltas = []
        for _ in range(2):
            shift, value = 0, 0
            while True:
                byte = ord(encoded[index]) - 63
                index += 1
                value |= (byte & 0x1F) << shift
                shift += 5
                if byte < 0x20:
                    break
            deltas.append(~(value >> 1) if value & 1 else value >> 1)
        lat, lon = lat + deltas[0], lon + deltas[1]
        points.append((lat / 1e6, lon / 1e6))
    return points


HGT_SIZE = 3601  # samples a side of a 1 arc-second SRTM tile (Valhalla reads no other size)
SLOPE_M_PER_ROW = 2  # the test tile rises this much a sample row northwards (~30.9 m)


def slope_height(lat: float) -> float:
    """The height (m) of the test tile (``write_slope_tile``) at a latitude: 0 on its south edge,
    rising ``SLOPE_M_PER_ROW`` a sample row northwards, the same all along a parallel."""
    return (lat - math.floor(lat)) * (HGT_SIZE - 1) * SLOPE_M_PER_ROW


def write_slope_tile(directory: Path, lat: float, lon: float) -> Path:
    """An SRTM tile (1 arc-second ``.hgt``: 3601 x 3601 big-endian int16, rows north to south)
    covering ``(lat, lon)``, of the slope ``slope_height`` gives, in ``directory/N38/N38W010.hgt``
    form (the layout Valhalla's ``additional_data.elevation`` reads)."""
    south, west = math.floor(lat), math.floor(lon)
    name = f"{'N' if south >= 0 else 'S'}{abs(south):02d}{'E' if west >= 0 else 'W'}{abs(west):03d}"
    rows = b"".join(
        struct.pack(">h", (HGT_SIZE - 1 - r) * SLOPE_M_PER_ROW) * HGT_SIZE for r in range(HGT_SIZE)
    )
    path = directory / name[:3] / f"{name}.hgt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(rows)
    return path
