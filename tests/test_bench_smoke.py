"""Every benchmark scenario runs at a tiny size, so the benchmarks cannot rot. No timing is
asserted here: the numbers belong to ``tox -e bench``."""

from __future__ import annotations

import os
import shutil
from xml.etree import ElementTree

import pytest
from bench.plot import line_chart
from bench.scenarios import QUICK, SCENARIOS, TARGETS
from bench.watchers import event_ids
from conftest import require

HAVE_CHROMIUM = os.path.exists("/usr/bin/chromium")
HAVE_REDIS = shutil.which("redis-server") is not None


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario_runs(name: str) -> None:
    if name == "change_to_page":
        require(HAVE_CHROMIUM, "chromium")
    if name == "redis_vs_memory":
        require(HAVE_REDIS, "redis-server")
    result = await SCENARIOS[name](**QUICK[name])
    assert result["what"]
    # every measured number is there and sane (differences such as added_p50_ms may be < 0)
    numbers = list(_numbers({k: v for k, v in result.items() if not k.startswith("added_")}))
    assert numbers and all(v >= 0 for v in numbers)
    if name == "open_streams":
        assert result["streams_5"]["rss_mib"] > 0
    if name == "soak":
        assert result["calls"] > 0 and result["errors"] == 0 and result["left_open"] == 0
    if name == "fan_out":
        for target in TARGETS:
            assert result[target]["last_receiver"]["n"] == 3
            curve = result[target]["curve_ms"]
            assert len(curve) == 11 and curve == sorted(curve)
    if name == "frames_per_second":
        for writers in QUICK[name].get("writers", (1, 4)):
            entry = result[f"writers_{writers}"]
            assert all(entry[target]["frames_per_cpu_second"] > 0 for target in TARGETS)
    if name == "tool_to_stream":
        active = f"streamable_http_{QUICK[name]['active_maps']}_active_maps"
        assert {"streamable_http", active, "streamable_http_legacy", "legacy_sse", "stdio"} <= result.keys()
        assert all(result[t]["n"] == QUICK[name]["calls"] for t in ("streamable_http", "stdio"))
    if name == "redis_vs_memory":
        assert result["redis"]["n"] == result["redis_other_process"]["n"] == QUICK[name]["calls"]
    if name == "tool_calls_per_second":
        for server in ("clients_1", "peer_clients_1", "sdk_on_hypercorn_clients_1"):
            assert result[server]["calls"] > 0 and result[server]["server_cpu_ms_per_call"] > 0
        assert result["ratio_clients_1"] > 0 and result["ratio_vs_sdk_on_hypercorn_clients_1"] > 0


def _numbers(value: object):
    if isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def test_watchers_read_ids_through_chunked_framing() -> None:
    # what hypercorn sends: chunk sizes between SSE frames; comments and retry hints have no id
    stream = b"retry: 2000\n\n: ping\n\n\r\n2a\r\nid: 17\nevent: change\ndata: {}\n\nid: 18\ndata: {}"
    frames = stream.split(b"\n\n")
    assert event_ids(frames[:-1]) == [17]


def test_line_chart_is_svg_with_a_line_per_series() -> None:
    svg = line_chart("t <&>", "x", "y", {"a": [(0, 1), (100, 30)], "b": [(0, 2), (100, 7)]})
    root = ElementTree.fromstring(svg)  # well-formed, with the title escaped
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 2
    # the highest y (30) is on the top edge of the plot, x = 0 on the left edge
    first = [tuple(map(float, p.split(","))) for p in lines[0].attrib["points"].split()]
    assert first[0][0] < first[1][0] and first[1][1] < first[0][1]
    assert "t <&>" in "".join(root.itertext())
