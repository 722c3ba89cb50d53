"""Run mapsrv's benchmarks and write the table.

    python -m tests.bench.run                 # every scenario at full size (tox -e bench)
    python -m tests.bench.run --quick         # tiny sizes: checks the benchmarks still run
    python -m tests.bench.run --only open_streams --repeat 3
    python -m tests.bench.run --only soak     # 5 minutes; not part of the default run
    python -m tests.bench.run --only soak10k  # 10,000 watchers for 10 minutes; not in the default run
    python -m tests.bench.run --only soak10k --size seconds=30 watchers=2000   # other sizes
    python -m tests.bench.run --only map_size          # what 1,000 to 100,000 features cost (issue 25)
    python -m tests.bench.run --only reconnect_storm   # 1,000 browsers back at once on a 100,000-feature map

Results go to artifacts/bench/results.json and results.md, with the machine they came from, and
the fan-out curves (medians over the runs) to fan_out.svg.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

import trio

from .plot import fan_out_svg
from .scenarios import LONG, QUICK, SCENARIOS


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), ""
            )
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(f"{prefix}.{key}" if prefix else key, item, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = float(value)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and spread (min-max) of every number over repeated runs."""
    flat = []
    for run in runs:
        numbers: dict[str, float] = {}
        flatten("", run, numbers)
        flat.append(numbers)
    keys = flat[0].keys()
    return {
        key: {
            "median": round(statistics.median(f[key] for f in flat), 3),
            "min": round(min(f[key] for f in flat), 3),
            "max": round(max(f[key] for f in flat), 3),
        }
        for key in keys
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Machine: {results['machine']['cpu']} ({results['machine']['cores']} cores), "
        f"Python {results['machine']['python']}; {results['repeat']} run(s) each, median [min-max].",
        "",
        "| scenario | metric | value |",
        "|---|---|---|",
    ]
    for name, entry in results["scenarios"].items():
        lines.append(f"| {name} | what | {entry['what']} |")
        for metric, stats in entry["summary"].items():
            if metric in ("n", "streams") or metric.endswith(".n"):
                continue
            lines.append(f"| | {metric} | {stats['median']:g} [{stats['min']:g}-{stats['max']:g}] |")
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> dict[str, Any]:
    names = args.only or [name for name in SCENARIOS if name not in LONG or args.quick]
    results: dict[str, Any] = {
        "machine": machine(),
        "repeat": args.repeat,
        "quick": args.quick,
        "scenarios": {},
    }
    for name in names:
        runs = []
        for _ in range(args.repeat):
            sizes = {**(QUICK[name] if args.quick else {}), **dict(args.size)}
            runs.append(await SCENARIOS[name](**sizes))
            print(json.dumps({"bench": name, **runs[-1]}), flush=True)
        results["scenarios"][name] = {"what": runs[0]["what"], "runs": runs, "summary": summarize(runs)}
        write(results, Path(args.out))  # after each scenario: a later failure keeps what was measured
    return results


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "results.md").write_text(markdown(results))
    if "fan_out" in results["scenarios"]:
        runs = results["scenarios"]["fan_out"]["runs"]
        curves = {
            name: {"curve_ms": [statistics.median(r[name]["curve_ms"][i] for r in runs) for i in range(11)]}
            for name, entry in runs[0].items()
            if isinstance(entry, dict) and "curve_ms" in entry
        }
        (out / "fan_out.svg").write_text(fan_out_svg(curves))


def size(text: str) -> tuple[str, Any]:
    """``seconds=30`` as ("seconds", 30): a keyword argument for the scenarios run."""
    name, _, value = text.partition("=")
    return name, ast.literal_eval(value)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), help="run just these")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (the table shows medians)")
    parser.add_argument(
        "--size", nargs="*", default=[], type=size, metavar="NAME=VALUE", help="e.g. seconds=30"
    )
    parser.add_argument("--out", default="artifacts/bench", help="folder for results.json and results.md")
    args = parser.parse_args()
    results = trio.run(main, args)
    print(markdown(results))
