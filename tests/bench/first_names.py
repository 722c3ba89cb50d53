"""The first question by a country's or a region's name in a fresh process (issue 78): each in a
process of its own, with the places file opened first (as a server's start does), timed from
the question to its answer.

    python -m tests.bench.first_names [--runs 3]

prints a table (the median of the runs, ms), then the numbers as one JSON line. Goal (issue 78):
``within`` a state <= 50 ms cold. Not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

QUESTIONS = (
    ("within", "Texas"),
    ("within", "Portugal"),
    ("countries", "Portugal"),
    ("regions", "US-TX"),
)

_ONE = """
import sys, time
from mapsrv.places.stored import connect
from mapsrv.mcp.tools.outlines import area_named
from mapsrv.places.boundaries import find_boundary
connect()
what, name = sys.argv[1:3]
started = time.perf_counter()
found = area_named(name) if what == "within" else find_boundary(what, name)
assert found is not None and not isinstance(found, str), found
print((time.perf_counter() - started) * 1000)
"""


def first(what: str, name: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _ONE, what, name], capture_output=True, text=True, check=True, timeout=120
    )
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    out = {}
    print(f"{'question':<24} {'first (ms)':>10}")
    for what, name in QUESTIONS:
        times = [first(what, name) for _ in range(args.runs)]
        label = f"{what} {name}" if what == "within" else f"join {what} {name}"
        out[label] = round(statistics.median(times), 1)
        print(f"{label:<24} {out[label]:>10.1f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
