"""Where a big map's first drawing spends the page's main thread: a CPU profile (Chromium's own
sampling profiler, through the DevTools protocol) from navigation until the map's version is
drawn, summed by function (self time) and by script.

    python -m tests.bench.page_profile 10000 [--top 25] [--edit | --batch]

``--edit`` profiles instead one edit once the map is drawn (``big_maps``' edit: a point moved and
renamed), from its POST until the page has drawn its version; ``--batch`` likewise ``big_maps``'
batch of 1,000 labelled points in one POST, and counts the times the page settled (drew a version)
on the way.

The map is built as ``tests.bench.big_maps`` builds it (labelled points, one snapshot)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

import trio

from .big_maps import (
    ARGS,
    BATCH,
    CHROMIUM,
    COUNT_SETTLES,
    LOCAL_TILES,
    OBSERVE,
    VIEWPORT,
    import_ops,
    point_ops,
)
from .harness import open_server

__all__ = ["profile_page"]


def self_times(profile: dict[str, Any]) -> tuple[Counter[str], Counter[str]]:
    """Milliseconds of self time per function and per script."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    by_function: Counter[str] = Counter()
    by_script: Counter[str] = Counter()
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[sample]["callFrame"]
        script = frame["url"].rsplit("/", 1)[-1] or "(" + frame["functionName"].strip("()") + ")"
        name = f"{frame['functionName'] or '(anonymous)'} {script}:{frame['lineNumber'] + 1}"
        by_function[name] += delta / 1000
        by_script[script] += delta / 1000
    return by_function, by_script


def measure(browser: Any, base_url: str, count: int, top: int, after: str | None = None) -> dict[str, Any]:
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    try:
        context.set_default_timeout(120_000)
        map_id = context.request.get("/").url.rstrip("/").rsplit("/", 1)[1]
        version = 0
        for op in import_ops(count):
            response = context.request.post(f"/m/{map_id}/ops", data={"ops": [op]})
            version = int(response.json()["version"])
        context.add_init_script(f"window.__target = {version};\n{OBSERVE}")
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 200})
        if not after:
            cdp.send("Profiler.start")
        page.goto(f"/m/{map_id}", wait_until="commit")
        page.wait_for_function("() => window.__drawn !== null", polling=100)
        drawn = page.evaluate("window.__drawn")
        found: dict[str, Any] = {"features": count}
        if after:  # big_maps' edit (one point moved and renamed) or batch, until the page has drawn it
            page.evaluate(COUNT_SETTLES)
            cdp.send("Profiler.start")
            started = page.evaluate("performance.now()")
            if after == "edit":
                ops = [{"op": "update_feature", "id": "p7", "coords": [48.85, 2.35], "label": "Moved"}]
            else:
                ops = [{**op, "id": "b" + op["id"][1:]} for op in point_ops(BATCH, seed=26)]
            answer = page.request.post(f"/m/{map_id}/ops", data={"ops": ops})
            page.wait_for_function(
                "(v) => Number(document.body.dataset.drawnVersion) >= v",
                arg=int(answer.json()["version"]),
                polling="raf",
            )
            drawn = page.evaluate("performance.now()") - started
            found["settles"] = page.evaluate("window.__settles")
        profile = cdp.send("Profiler.stop")["profile"]
        functions, scripts = self_times(profile)
        return {
            **found,
            (f"{after}_drawn_ms" if after else "drawn_ms"): round(drawn),
            "scripts_ms": {k: round(v) for k, v in scripts.most_common(12)},
            "functions_ms": {k: round(v, 1) for k, v in functions.most_common(top)},
        }
    finally:
        context.close()


async def profile_page(sizes: list[int], top: int, after: str | None = None) -> None:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    async with open_server(*LOCAL_TILES, "--max-features", str(max(sizes) + 1000)) as server:

        def drive() -> None:
            use_plain_asyncio()
            with sync_playwright() as p:
                for count in sizes:
                    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                    try:
                        found = measure(browser, server.url, count, top, after)
                        print(json.dumps(found, indent=1), flush=True)
                    finally:
                        browser.close()

        await trio.to_thread.run_sync(drive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000])
    parser.add_argument("--top", type=int, default=25)
    after = parser.add_mutually_exclusive_group()
    after.add_argument("--edit", action="store_true", help="profile one edit once the map is drawn")
    after.add_argument("--batch", action="store_true", help="profile a batch of 1,000 points once it is")
    args = parser.parse_args()
    trio.run(profile_page, args.sizes, args.top, "edit" if args.edit else "batch" if args.batch else None)


if __name__ == "__main__":
    main()
