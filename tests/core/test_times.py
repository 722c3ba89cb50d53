"""Times as a style's window reads them (mapsrv.core.times): years as a table holds them, dates
and instants in ISO 8601's calendar forms, numbers of seconds or milliseconds; checked against
Python's own datetime, and the page's static/times.js (run by Node on the same values) giving
the same millisecond for each, or refusing the same ones."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from support import require

import mapsrv.web
from mapsrv.core.layer_style import check_layer_style, in_time
from mapsrv.core.times import is_year, time_ms, time_values
from mapsrv.errors import InvalidInput

TIMES_JS = Path(mapsrv.web.__file__).resolve().parent / "static" / "times.js"


def ms(moment: datetime) -> float:
    return float(round(moment.timestamp() * 1000))


def test_years_dates_and_instants() -> None:
    assert time_ms(2007) == time_ms(2007.0) == time_ms("2007") == ms(datetime(2007, 1, 1, tzinfo=UTC))
    assert time_ms("2007-06") == ms(datetime(2007, 6, 1, tzinfo=UTC))
    assert time_ms("2007-06-30") == ms(datetime(2007, 6, 30, tzinfo=UTC))
    assert time_ms("2007-06-30 20:20") == ms(datetime(2007, 6, 30, 20, 20, tzinfo=UTC))
    assert time_ms("2007-06-30T22:20:00+02:00") == time_ms("2007-06-30T20:20Z")
    assert time_ms(" 2007-06-30t20:20:00.1239z\n") == ms(datetime(2007, 6, 30, 20, 20, tzinfo=UTC)) + 123
    assert time_ms(1714539600) == time_ms(1714539600000) == ms(datetime(2024, 5, 1, 5, tzinfo=UTC))
    assert time_ms(1) == ms(datetime(1, 1, 1, tzinfo=UTC)) and time_ms(10_000) == 10_000_000
    assert is_year(1952) and not is_year(1952.5) and not is_year(True) and not is_year(0)
    refused = ["June 2007", "2007/06/30", "07", "2007-13", "2007-02-29", "2007-06-30 24:00", "", "0000"]
    refused += ["2007-06-30Z", "2007-06-30T20:20+19:00", "٢٠٠٧", "9999-12-31T23:00-02:00"]
    for no in (*refused, True, None, float("nan"), [2007]):
        assert time_ms(no) is None, no


def test_a_year_column_makes_a_window_and_reports_its_times() -> None:
    years = [{"year": y} for y in (1952, 1957, 2002, 2007, 2007)] + [{"year": "later"}, {}]
    window = check_layer_style(
        {"kind": "heatmap", "time": {"property": "year", "from": 2002, "to": "2007"}}, []
    )
    assert window["time"] == {"property": "year", "from": 2002, "to": "2007"}
    assert [in_time(window["time"], p) for p in years] == [False, False, True, True, True, False, False]
    assert time_values("year", years) == {"count": 4, "first": 1952, "last": 2007}
    assert time_values("when", years)["count"] == 0
    with pytest.raises(
        InvalidInput, match="time from must be a year, a date or an ISO 8601 time, got 'soon'"
    ):
        check_layer_style({"kind": "heatmap", "time": {"property": "t", "from": "soon"}}, [])
    with pytest.raises(InvalidInput, match="time from must be at most time to"):
        check_layer_style(
            {"kind": "heatmap", "time": {"property": "t", "from": 2008, "to": "2007-12-31"}}, []
        )


def samples() -> list[Any]:
    """Times as files and people write them, and near misses: one list for both readers."""
    rng = random.Random(58)
    out: list[Any] = [
        1,
        9999,
        10_000,
        -5,
        0,
        2007,
        2007.0,
        2007.5,
        1e11,
        1e11 - 1,
        -1e11,
        1714539600.25,
        99999999999,
    ]
    for _ in range(600):
        moment = datetime(1, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 315_537_897_599))
        moment = moment.replace(microsecond=rng.randrange(1_000_000))
        zone = timezone(timedelta(minutes=rng.choice([-720, -180, -90, 0, 60, 330, 840])))
        local = moment.astimezone(zone) if 1 < moment.year < 9999 else moment
        text = local.isoformat(
            sep=rng.choice("T t"), timespec=rng.choice(["minutes", "seconds", "milliseconds", "microseconds"])
        )
        if rng.random() < 0.3:
            text = text[:-6] + rng.choice(["", "Z", "z", text[-6:].replace(":", "")])
        out += [text, text[:10], text[:7], text[:4], text[:16], text.replace("-", "/", 1)]
        out.append(
            rng.choice(
                [text[:8] + "31" + text[10:], text[:5] + "13" + text[7:], text[:11] + "24" + text[13:]]
            )
        )
        out.append(rng.uniform(-1e13, 1e13))
        out.append(rng.randrange(1, 12000))
    return out


def test_the_server_reads_iso_times_as_pythons_datetime_does() -> None:
    for value in samples():
        if not isinstance(value, str) or len(value) < 16 or "/" in value:
            continue
        try:
            reference = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
        except ValueError:
            assert time_ms(value) is None, value
            continue
        if reference.tzinfo is None:
            reference = reference.replace(tzinfo=UTC)
        whole = reference.replace(microsecond=0)
        assert time_ms(value) == ms(whole) + reference.microsecond // 1000, value


def test_the_page_reads_every_time_as_the_server_does(tmp_path: Path) -> None:
    node = shutil.which("node")
    require(node is not None, "node (Debian's nodejs, which npm brings)")
    assert node is not None
    values = samples()
    script = (
        f"import {{ timeMs }} from {json.dumps(TIMES_JS.as_uri())};\n"
        "import { readFileSync } from 'node:fs';\n"
        "const values = JSON.parse(readFileSync(process.argv[2], 'utf8'));\n"
        "process.stdout.write(JSON.stringify(values.map(timeMs)));\n"
    )
    (tmp_path / "values.json").write_text(json.dumps(values))
    (tmp_path / "read.mjs").write_text(script)
    done = subprocess.run([node, str(tmp_path / "read.mjs"), str(tmp_path / "values.json")],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    page = json.loads(done.stdout)
    server = [time_ms(v) for v in values]
    differ = [(v, s, p) for v, s, p in zip(values, server, page, strict=True) if s != p]
    assert not differ, differ[:10]
    assert sum(t is not None for t in server) > len(values) // 2  # most are times: the test reads something
