"""The spatial benchmark runs at a tiny size, so it cannot rot; no speed is asserted here."""

from __future__ import annotations

from bench import spatial


def test_the_spatial_benchmark_runs_and_finds_what_it_asks() -> None:
    result = spatial.run(2_000, vertices=500, runs=2)
    assert result["features"] == 2_000 and len(result["select"]) == 8
    nearest = result["select"]["nearest 10 to a point"]
    assert nearest["found"] == 10 and nearest["n"] == 2 and nearest["p50"] > 0
    assert result["buffer 1 km (derive tool, drawn)"]["n"] == 2
