"""Every first-level region's area made cold (issue 78's "within a state <= 50 ms cold", over all
of them, not a chosen few): each of Natural Earth's regions by its code, in one process with the
regions opened first (a server's warm-up opens them), timed from the question to its area.

    python -m tests.bench.region_areas [--countries]

prints the percentiles of all the regions and of the US states (and DC), the slowest ten, then
the numbers as one JSON line. ``--countries`` adds the ten largest countries' areas. Each area
is made once a process (``borders._area`` keeps it): this is the first question's cost. Not a
test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from mapsrv.places.borders import borders, country_area, region_area

from .harness import percentiles

COUNTRIES = ("US", "CA", "RU", "AU", "BR", "CN", "IN", "NO", "ID", "GB")


def measure(countries: bool) -> dict[str, Any]:
    found = borders()
    region_area("US-RI")  # the places file and the regions' names opened, as a server's warm-up does
    timed: dict[str, float] = {}
    for code in sorted(found.by_code):
        if not code or code == "US-RI":
            continue
        started = time.perf_counter()
        region_area(code)
        timed[code] = time.perf_counter() - started
    states = [ms for code, ms in timed.items() if code.startswith("US-") and code not in ("US-PR", "US-VI")]
    out: dict[str, Any] = {
        "regions": percentiles(list(timed.values())),
        "us_states": percentiles(states),
        "slowest": [(code, s * 1000) for code, s in sorted(timed.items(), key=lambda item: -item[1])[:10]],
        "mean_ms": round(statistics.fmean(timed.values()) * 1000, 1),
    }
    if countries:
        out["countries"] = {}
        for iso in COUNTRIES:
            started = time.perf_counter()
            country_area(iso)
            out["countries"][iso] = round((time.perf_counter() - started) * 1000, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--countries", action="store_true")
    found = measure(parser.parse_args().countries)
    for key in ("regions", "us_states"):
        print(f"{key:10} " + "  ".join(f"{k} {v}" for k, v in found[key].items()))
    print("slowest    " + ", ".join(f"{code} {ms:.0f}" for code, ms in found["slowest"]))
    if "countries" in found:
        print("countries  " + ", ".join(f"{iso} {ms:.0f}" for iso, ms in found["countries"].items()))
    print(json.dumps(found))


if __name__ == "__main__":
    main()
