"""Every benchmark scenario runs at a tiny size, so the benchmarks cannot rot, and what it
reports must be possible: every stream had its events in order with none lost (the harness
fails a run otherwise), every latency is above zero and below a generous ceiling, every rate
comes from measured CPU time. No speed is asserted here: the numbers belong to ``tox -e bench``."""

from __future__ import annotations

import os
import shutil
import signal
import time
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
import trio
import trio.testing
from bench import geocoder_cache, place_context, place_index, within_areas
from bench.harness import open_server
from bench.map_watchers import Latencies, Stream
from bench.plot import line_chart
from bench.scenarios import PEERS, QUICK, SCENARIOS, TARGETS, check_in_order
from bench.soak10k import new_maps, open_map_watchers
from bench.watchers import event_ids
from support import SseReader, require

HAVE_CHROMIUM = os.path.exists("/usr/bin/chromium")
HAVE_REDIS = shutil.which("redis-server") is not None
CEILING_MS = 10_000  # no single delivery in a tiny run takes 10 s unless something is broken
CORES = os.cpu_count() or 1


def latency_tables(value: object, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every percentiles() result inside a scenario's result, with where it is."""
    if not isinstance(value, dict):
        return []
    if {"n", "p50", "p90", "p99", "max", "mean"} <= value.keys():
        return [(path, value)]
    return [t for key, item in value.items() for t in latency_tables(item, f"{path}.{key}")]


def check_latencies(result: dict[str, Any]) -> None:
    tables = latency_tables(result)
    assert tables, "the scenario reported no latencies"
    for where, t in tables:
        # the same 10 s whatever the unit: a ceiling for what is broken, not a timing goal
        ceiling = CEILING_MS * 1000 if where.endswith("_us") else CEILING_MS
        assert t["n"] > 0, where
        assert 0 < t["p50"] <= t["p90"] <= t["p99"] <= t["max"] < ceiling, (where, t)
        assert 0 < t["mean"] <= t["max"], (where, t)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario_runs(name: str) -> None:
    if name in ("change_to_page", "person_edit_to_other_tab"):
        require(HAVE_CHROMIUM, "chromium")
    if name in ("redis_vs_memory", "map_size"):
        require(HAVE_REDIS, "redis-server")
    sizes = QUICK[name]
    with trio.fail_after(180):  # a delivery regression fails the run instead of hanging it
        result = await SCENARIOS[name](**sizes)
    if name in (
        "change_to_page",
        "change_to_stream",
        "fan_out",
        "tool_to_stream",
        "redis_vs_memory",
        "person_edit_to_other_tab",
        "soak10k",
    ):
        check_latencies(result)
    if name == "open_streams":
        for count in sizes["counts"]:
            entry = result[f"streams_{count}"]
            assert 10 < entry["rss_mib"] < 4096, entry
            assert 0 < entry["open_all_s"] < 60, entry
    if name == "soak":
        assert result["calls"] > 0 and result["errors"] == 0 and result["left_open"] == 0
        assert 10 < result["rss_warm_mib"] < 4096 and 10 < result["rss_end_mib"] < 4096
    if name == "soak10k":
        # every watcher had every event, in order, and none was dropped at this size
        assert result["expected"] == sizes["watchers"] // sizes["maps"] * result["writes"]["done"] > 0, result
        assert result["deliveries"] == result["latency"]["n"] == result["expected"], result
        assert result["missed"] == result["out_of_order"] == result["drops"] == result["server_dropped"] == 0
        assert result["writes"]["errors"] == 0 and 10 < result["server"]["rss_end_mib"] < 4096
    if name == "fan_out":
        for target in TARGETS:
            curve = result[target]["curve_ms"]
            # time from the publish request to 0, 10, ..., 100 % of the watchers having the event
            assert len(curve) == 11 and 0 < curve[0] and curve[-1] < CEILING_MS, (target, curve)
        for peer in PEERS:
            assert result[f"ratio_last_p50_vs_{peer}"] > 0
    if name == "frames_per_second":
        for writers in sizes.get("writers", (1, 4)):
            entry = result[f"writers_{writers}"]
            for target in TARGETS:
                run = entry[target]
                assert 0 < run["wall_s"] < 120, (target, run)
                # CPU time is measured, not clamped, and one process cannot use more than the cores
                assert 0 < run["server_cpu_s"] <= run["wall_s"] * CORES + 1, (target, run)
                frames = sizes["streams"] * sizes["events"]
                assert run["frames_per_cpu_second"] == pytest.approx(frames / run["server_cpu_s"], rel=0.01)
                # between 10 ms and 100 ns of CPU per frame: anything outside is a broken measurement
                assert 100 < run["frames_per_cpu_second"] < 10_000_000, (target, run)
    if name == "tool_to_stream":
        active = f"streamable_http_{sizes['active_maps']}_active_maps"
        transports = {"streamable_http", active, "streamable_http_legacy", "legacy_sse", "stdio"}
        assert transports <= result.keys()
        assert all(result[t]["n"] == sizes["calls"] for t in transports)
    if name == "redis_vs_memory":
        for key in ("memory", "redis", "redis_other_process"):
            assert result[key]["n"] == sizes["calls"], key
        floor = result["redis_ping_floor"]
        check_latencies(floor)
    if name == "tool_calls_per_second":
        for server in ("clients_1", "peer_clients_1", "sdk_on_hypercorn_clients_1"):
            run = result[server]
            assert run["calls"] > 0 and 0 < run["calls_per_s"] < 100_000, (server, run)
            assert 0 < run["server_cpu_ms_per_call"] < 1000, (server, run)
        assert result["ratio_clients_1"] > 0 and result["ratio_vs_sdk_on_hypercorn_clients_1"] > 0


def test_place_index_bench_runs(tmp_path: Any) -> None:
    # a small extract through the whole bench: import, every kind of search, draws of 20 addresses
    # (the bench itself fails a draw that does not place every address from the index)
    out = place_index.run(3000, searches=5, draws=2, keep=tmp_path)
    check_latencies(out)
    assert out["built"]["counts"]["address"] == 1800 and out["built"]["index_mb"] > 0, out["built"]
    assert set(out["index"]) == set(out["tool"]) and len(out["index"]) == 8
    assert all(t["not_found"] == 0 for t in out["tool"].values()), out["tool"]  # every query has answers
    assert out["draws"]["draw_addresses"]["n"] == 2
    again = place_index.run(0, searches=0, draws=1, reuse=tmp_path)  # --index: the kept one again
    assert again["built"] == out["built"] and again["draws"]["draw_addresses"]["n"] == 1


async def test_place_context_bench_runs() -> None:
    out = await place_context.measure(rounds=2, features=30)
    check_latencies(out)
    assert out["names"] == 20 and out["candidates"] > 40 and out["anchors"] > 20, out
    for where in ("new map", "map of 30 features"):
        assert set(out[where]) == {"choose", "resolve", "draw"}
        assert all(isinstance(entry["added_ms"], float) for entry in out[where].values())


async def test_geocoder_cache_bench_runs() -> None:
    # the bench fails a run where a timed lookup was not a cache hit
    out = await geocoder_cache.measure(cached=12, hits=30)
    check_latencies(out)
    assert out["cached"] == 24 and out["search_hit_us"]["n"] == out["reverse_hit_us"]["n"] == 30


def test_watchers_read_ids_through_chunked_framing() -> None:
    # what hypercorn sends: chunk sizes between SSE frames; comments and retry hints have no id
    stream = b"retry: 2000\n\n: ping\n\n\r\n2a\r\nid: 17\nevent: change\ndata: {}\n\nid: 18\ndata: {}"
    frames = stream.split(b"\n\n")
    assert event_ids(frames[:-1]) == [17]


def test_a_lost_or_reordered_event_fails_a_run() -> None:
    check_in_order([4, 5, 6, 7])
    for broken in ([4, 6, 7], [4, 5, 5, 6], [4, 6, 5], []):
        with pytest.raises(RuntimeError, match="lost or out of order"):
            check_in_order(broken)


async def test_raw_reader_sees_ids_comments_and_retry_hints_through_chunked_framing() -> None:
    body = b"1e\r\nretry: 2000\n\nid: 3\ndata: {}\n\n\r\n6\r\n: hb\n\n\r\n12\r\nid: 4\ndata: {}\n\n\r\n"
    left, right = trio.testing.memory_stream_pair()
    reader = SseReader(left)
    reader.buffer = body
    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader.run)
        await reader.wait(lambda r: len(r.ids) == 2, timeout=5)
        await right.send_all(b"e\r\nretry: 2000\n\n\r\n")
        await reader.wait(lambda r: len(r.retries) == 2, timeout=5)
        assert reader.ids == [3, 4] and reader.comments == [b": hb"] and reader.last_frame == b"retry: 2000"
        await right.aclose()
        with pytest.raises(AssertionError, match="ended first"):
            await reader.wait(lambda r: 5 in r.ids, timeout=5)


async def test_raw_reader_waits_end_on_their_deadline(autojump_clock) -> None:
    quiet, _ = trio.testing.memory_stream_pair()
    start = trio.current_time()
    with trio.move_on_after(60) as backstop:  # a wait without its own deadline ends here instead
        with pytest.raises(trio.TooSlowError):
            await SseReader(quiet).wait_for(1, timeout=10)
    assert not backstop.cancelled_caught, "the wait had no deadline of its own"
    assert trio.current_time() - start == pytest.approx(10)


def test_line_chart_is_svg_with_a_line_per_series() -> None:
    svg = line_chart("t <&>", "x", "y", {"a": [(0, 1), (100, 30)], "b": [(0, 2), (100, 7)]})
    root = ElementTree.fromstring(svg)  # well-formed, with the title escaped
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 2
    # the highest y (30) is on the top edge of the plot, x = 0 on the left edge
    first = [tuple(map(float, p.split(","))) for p in lines[0].attrib["points"].split()]
    assert first[0][0] < first[1][0] and first[1][1] < first[0][1]
    assert "t <&>" in "".join(root.itertext())


async def test_soak_watchers_count_drops_and_get_every_event_again() -> None:
    # The watcher process stops reading (SIGSTOP) while each map gets 4,000 events of ~350 bytes:
    # far more than the sockets' buffers and a queue of 16 frames hold, so the server drops every
    # watcher; once it reads again, each reconnects with Last-Event-ID after the 0.1 s retry hint
    # and gets the rest from the server's event log (5,000 events: all of them).
    watchers, batches, per_batch = 6, 4, 1000
    events = batches * per_batch
    async with (
        open_server("--subscriber-buffer", "16", "--sse-retry", "0.1", "--event-log-size", "5000") as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as client,
    ):
        ids, cookie = await new_maps(client, 2)
        paths = [f"/m/{map_id}/events" for map_id in ids]
        final = {}
        async with open_map_watchers(*server.host_port, watchers, cookie, paths) as w:
            os.kill(w.process.pid, signal.SIGSTOP)
            try:
                for map_id, path in zip(ids, paths, strict=True):
                    for _ in range(batches):
                        label = f"@{time.monotonic():.6f}@".ljust(200, "x")
                        ops = [{"op": "update_feature", "id": "probe", "label": label}] * per_batch
                        response = await client.post(f"/m/{map_id}/ops", json={"ops": ops})
                        final[path] = response.json()["version"]
            finally:
                os.kill(w.process.pid, signal.SIGCONT)
            report = await w.finish(final, grace=60)
    assert report["drops"] == report["streams_dropped"] == report["reconnects"] == watchers, report
    assert report["deliveries"] == report["expected"] == watchers * events, report
    assert report["missed"] == report["out_of_order"] == report["connect_errors"] == 0, report
    assert report["latency"]["max"] >= 100, "the events after the drop waited for the retry hint"


def test_soak_watchers_decode_chunks_however_they_are_split() -> None:
    body = b"d\r\nretry: 2000\n\n\r\n10\r\nid: 4\ndata: {}\n\n\r\n0\r\n\r\n"
    for size in (1, 2, 3, 7, len(body)):
        stream, text, ended = Stream("/"), b"", False
        stream.chunked = True
        for start in range(0, len(body), size):
            piece, ended = stream.decode(body[start : start + size])
            text += piece
            if ended:  # the last chunk's size line: the watcher closes the connection
                break
        assert text == b"retry: 2000\n\nid: 4\ndata: {}\n\n" and ended, size


def test_soak_latencies_are_counted_in_tenths_of_a_millisecond() -> None:
    latencies = Latencies()
    for ms in [1.05] * 989 + [6.95] * 10 + [250.0]:
        latencies.add(ms / 1000)
    summary = latencies.summary()  # the same ranks as harness.percentiles: the 991st of 1,000 is p99
    assert summary["n"] == 1000 and summary["p50"] == summary["p90"] == pytest.approx(1.1)
    assert summary["p99"] == pytest.approx(7.0) and summary["max"] == pytest.approx(250.0)
    assert summary["mean"] == pytest.approx((989 * 1.05 + 69.5 + 250) / 1000, abs=0.001)


async def test_the_crowd_fanout_and_the_storm_on_a_drawn_crowd_run() -> None:
    """``crowd_fanout`` and ``storm --draw-crowd`` (issue 47) at a tiny size."""
    from bench import crowd_fanout, storm

    with trio.fail_after(120):
        result = await crowd_fanout.measure(20, events=3, gap=0.05)
        stormed = await storm.measure(20, draw_crowd=True)
    check_latencies(result)
    assert result["last_receiver"]["n"] == 3
    assert {"arrivals", "held", "departures"} <= stormed.keys()
    assert all(stormed[phase]["crowd_writes"] >= 1 for phase in ("held",)), stormed


def test_within_areas_bench_runs_on_an_extracts_areas() -> None:
    out = within_areas.cities(2_000, runs=2)
    assert out["import"]["counts"]["area"] == 8  # the 5 areas, a station and 2 named buildings
    found = {area: out[area]["found"] for area in within_areas.CITY_AREAS}
    assert found["Helsinki"] > found["Kallio"] > 0, found  # the park is too small for 2,000 markers


def test_the_street_basemap_bench_runs_small() -> None:
    from bench import street_basemap

    out = street_basemap.run(6, 10)
    assert out["index_s"] > 0 and out["basemap_s"] > 0 and out["basemap_mb"] > 0
    assert out["tile_ms"]["cold"]["n"] == 10 and 0 < out["tile_ms"]["cached"]["p50"] < CEILING_MS
    assert out["map_image_ms"]["warm"]["n"] == 20
