"""The Locust load test (tests/bench/locustfile.py) as an operator runs it: ``locust --headless``
for 20 seconds against a real server in its own process, with the seeds' three kinds of user at a
small size (people holding map streams, MCP agents, page writers). Locust exits 0 only when no
request failed; its CSV shows every kind of request, and the SSE delivery entries (write sent to
frame received) that the viewers report."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import trio
from support import require
from support.processes import open_server

LOCUSTFILE = Path(__file__).resolve().parents[1] / "bench" / "locustfile.py"
# One load generator is one client to the server: room for its streams and its rates.
ROOM = (
    "--max-streams-per-client", "100000", "--rate-streams", "0", "--rate-writes", "0",
    "--rate-writes-person", "0", "--rate-mcp", "0", "--rate-maps", "0",
)  # fmt: skip


def have_locust() -> bool:
    found = subprocess.run([sys.executable, "-m", "locust", "--version"], capture_output=True, check=False)
    return found.returncode == 0


async def test_a_twenty_second_locust_run_has_no_failure(tmp_path: Path) -> None:
    require(have_locust(), "locust (the bench extra)")
    async with open_server("--store", f"sqlite://{tmp_path}/maps.db", *ROOM) as server:
        command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", server.url.rstrip("/"),
            "--headless", "-u", "24", "-r", "24", "-t", "20s", "--only-summary",
            "--viewers", "20", "--agents", "2", "--writers", "2", "--per-minute", "300",
            "--csv", str(tmp_path / "run"),
        ]  # fmt: skip
        with trio.fail_after(90):
            done = await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    assert done.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    with (tmp_path / "run_stats.csv").open() as f:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(f)}
    assert int(rows[("", "Aggregated")]["Failure Count"]) == 0
    names = {name for _, name in rows}
    for expected in (
        "/v/{key}/events",
        "/m/{id}/ops",
        "mcp tools/list",
        "mcp tools/call draw",
        "mcp tools/call read",
        "delivery",
    ):
        assert expected in names, (expected, sorted(names))
    delivery = rows[("SSE", "delivery")]
    assert int(delivery["Request Count"]) > 20, "viewers saw the writers' markers arrive"
    assert float(delivery["Average Response Time"]) >= 0
