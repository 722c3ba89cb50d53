"""Every benchmark scenario runs at a tiny size, so the benchmarks cannot rot. No timing is
asserted here: the numbers belong to ``tox -e bench``."""

from __future__ import annotations

import os
import shutil

import pytest
from bench.scenarios import QUICK, SCENARIOS
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
        assert result["mapsrv"]["last_receiver"]["n"] == result["bare_stack"]["last_receiver"]["n"] == 3
    if name == "tool_to_stream":
        assert {"streamable_http", "streamable_http_legacy", "legacy_sse", "stdio"} <= result.keys()
        assert all(result[t]["n"] == QUICK[name]["calls"] for t in ("streamable_http", "stdio"))
    if name == "redis_vs_memory":
        assert result["redis"]["n"] == result["redis_other_process"]["n"] == QUICK[name]["calls"]
    if name == "tool_calls_per_second":
        assert result["clients_1"]["calls"] > 0 and result["peer_clients_1"]["calls"] > 0
        assert result["ratio_clients_1"] > 0


def _numbers(value: object):
    if isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value
