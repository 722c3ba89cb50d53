"""`mapsrv places import | list | remove`, through the CLI's own entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.place_extract import write_place_extract, write_porto_extract

from mapsrv.cli import main


@pytest.fixture(scope="module")
def lisbon(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("extract") / "lisbon-latest.osm.pbf"
    write_place_extract(path)
    return path


def test_import_list_remove(tmp_path: Path, lisbon: Path, capsys: pytest.CaptureFixture[str]) -> None:
    places = ["--places-dir", str(tmp_path)]
    assert main(["places", "import", str(lisbon), *places]) == 0
    imported = capsys.readouterr().err
    assert imported.startswith("mapsrv: imported lisbon-latest: 5 places, 12 pois, 4 streets, 4 addresses;")
    porto = tmp_path / "porto.osm.pbf"
    write_porto_extract(porto)
    assert main(["places", "import", str(porto), "--region", "north", *places]) == 0
    capsys.readouterr()
    assert main(["places", "list", *places]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["lisbon-latest", "north"]
    assert "1 place, 1 poi, 0 streets, 1 address;" in lines[1] and "kB; imported 20" in lines[1]
    assert main(["places", "remove", "north", *places]) == 0
    assert "removed north" in capsys.readouterr().err
    assert main(["places", "remove", "north", *places]) == 1
    assert (
        capsys.readouterr().err.strip() == f"mapsrv: no region 'north' in {tmp_path}; imported: lisbon-latest"
    )


def test_list_of_none_says_how_to_add(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["places", "list", "--places-dir", str(tmp_path / "empty")]) == 0
    out = capsys.readouterr()
    assert out.out == "" and "no regions in" in out.err and "mapsrv places import FILE.osm.pbf" in out.err


@pytest.mark.parametrize(
    "content", [b"", b"<?xml version='1.0'?><osm/>", b"\x00\x00\x00\x0d\n\tOSMHeader garbage"]
)
def test_a_file_that_is_no_extract_fails_clearly(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(content)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mapsrv",
            "places",
            "import",
            str(bad),
            "--places-dir",
            str(tmp_path / "index"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"mapsrv: {bad}") and "OpenStreetMap PBF" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "index").glob("*")) if (tmp_path / "index").exists() else True


def test_a_missing_file_and_a_bad_region_fail_clearly(
    tmp_path: Path, lisbon: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["places", "import", str(tmp_path / "nope.osm.pbf"), "--places-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == f"mapsrv: no such file: {tmp_path / 'nope.osm.pbf'}"
    assert main(["places", "import", str(lisbon), "--region", "../x", "--places-dir", str(tmp_path)]) == 1
    assert "region must be 1 to 64 lowercase letters" in capsys.readouterr().err


def _helsinki(tmp_path: Path) -> tuple[Path, list[str]]:
    """support/street_extract.py's Helsinki written, and the places flags of a directory for it."""
    from support.street_extract import write_street_extract

    write_street_extract(tmp_path / "helsinki.osm.pbf")
    return tmp_path / "helsinki.osm.pbf", ["--places-dir", str(tmp_path / "places")]


def test_an_import_builds_the_regions_street_basemap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extract, places = _helsinki(tmp_path)
    assert main(["places", "import", str(extract), *places]) == 0
    said = capsys.readouterr().err
    assert "mapsrv: basemap: " in said and "tiles at zooms 10-16" in said
    basemap = tmp_path / "places" / "helsinki.basemap.pmtiles"
    assert basemap.read_bytes()[:7] == b"PMTiles"
    assert main(["places", "list", *places]) == 0
    assert "; basemap " in capsys.readouterr().out
    # imported again without one: the old basemap (of the old data) goes too
    assert main(["places", "import", str(extract), "--no-basemap", *places]) == 0
    assert not basemap.exists()
    assert main(["places", "list", *places]) == 0
    assert capsys.readouterr().out.rstrip().endswith("; no basemap")
    assert main(["places", "import", str(extract), *places]) == 0 and basemap.exists()
    assert main(["places", "remove", "helsinki", *places]) == 0
    assert not basemap.exists(), "a removed region's basemap is removed with it"


def test_a_street_basemap_past_its_memory_is_refused_and_the_index_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extract, places = _helsinki(tmp_path)
    assert main(["places", "import", str(extract), "--basemap-memory", "4", *places]) == 0
    said = capsys.readouterr().err
    assert "mapsrv: imported helsinki:" in said, "the index is written first, and kept"
    assert "no basemap for helsinki: the street map of helsinki.osm.pbf needs more than 4 MiB" in said, said
    assert "--basemap-memory" in said and "--no-basemap" in said
    assert (tmp_path / "places" / "helsinki.places.sqlite").exists()
    assert not (tmp_path / "places" / "helsinki.basemap.pmtiles").exists()
    assert [p.name for p in (tmp_path / "places").iterdir() if "building" in p.name] == [], (
        "no half-built file"
    )


def test_an_extract_out_of_order_is_refused_saying_how_to_sort_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pyogrio's sample extract, as osmconvert wrote it (real OpenStreetMap data, its ways not in
    id order): osmium cannot read it with node locations; the message says what to do."""
    import pyogrio

    sample = Path(pyogrio.__file__).parent / "tests" / "fixtures" / "sample.osm.pbf"
    assert main(["places", "import", str(sample), "--places-dir", str(tmp_path / "places")]) == 1
    said = capsys.readouterr().err
    assert "out of order" in said and "osmium sort FILE -o SORTED.osm.pbf" in said, said
    assert not [p for p in (tmp_path / "places").glob("*") if p.suffix == ".pmtiles" or "building" in p.name]
