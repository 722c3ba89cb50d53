"""A writer in a process of its own, for ``tests.bench.loop_stalls``: for each line it reads, one
marker written to a map, printed as a JSON line ``{"version", "t0", "answered"}``
(``time.monotonic()``, the clock the watchers' process stamps arrivals with).

    python -m tests.bench.steady_writer BASE_URL MAP_ID COOKIE

The benchmark asks for the next write once the last watcher had the one before. In a process of
its own so that what the benchmark's agent does meanwhile (parsing a 10 MB answer) can delay when
a write is asked for, but not the write, nor the clock its delivery is measured from."""

from __future__ import annotations

import json
import sys
import time

import httpx


def main() -> None:
    base_url, map_id, cookie = sys.argv[1], sys.argv[2], sys.argv[3]
    headers = {"origin": base_url.rstrip("/"), "cookie": cookie}
    with httpx.Client(base_url=base_url, timeout=60, headers=headers) as http:
        for n, _ in enumerate(sys.stdin, start=1):
            t0 = time.monotonic()
            op = {"op": "add_feature", "type": "marker", "coords": [n % 80, n % 170]}
            answer = http.post(f"/m/{map_id}/ops", json={"ops": [op]})
            answered = time.monotonic()
            answer.raise_for_status()
            version = answer.json()["version"]
            print(json.dumps({"version": version, "t0": t0, "answered": answered}), flush=True)


if __name__ == "__main__":
    main()
