"""The page formats numbers as the server does: static/numbers.js ``formatNumber`` (labels and the
legend in the page and the MCP App) answers what ``mapsrv.core.numbers.format_number`` (map_image,
``read``) answers, character for character, for thousands of values of every magnitude and every
kind of spec; and static/style.js ``classOf`` puts a value in the class ``class_of`` puts it in
(a value on a break in the class below), with a label template's spec applied by both. Run in
Node (the modules are plain ES modules)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from support.node import run_in_node

import mapsrv.web
from mapsrv.core.classify import class_of
from mapsrv.core.numbers import format_number
from mapsrv.core.style_rules import label_of

STATIC = Path(mapsrv.web.__file__).resolve().parent / "static"
SPECS = ["", ",", "+", ",.0f", ".2f", ",.2f", "+,.1f", "d", ",d", ".1%", "%", ".0%", ".3", ",.2", ".1", "f"]

# style.js draws the heat layer with Leaflet, which Node has not: a stand-in for the one name it
# extends at load (classOf and labelOf, the functions under test, use none of it)
SCRIPT = """
globalThis.L = { Layer: { extend: (o) => o } };
const numbers = await import(%(numbers)s);
const style = await import(%(style)s);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = {
  formatted: cases.formatted.map(([v, spec]) => numbers.formatNumber(v, spec)),
  classes: cases.classes.map(([v, breaks]) => style.classOf(v, breaks)),
  labels: cases.labels.map(([t, props]) => style.labelOf(t, { properties: props, label: 'own' })),
};
process.stdout.write(JSON.stringify(out));
"""


def run_node(cases: dict[str, Any]) -> dict[str, Any]:
    modules = {
        "numbers": json.dumps((STATIC / "numbers.js").as_uri()),
        "style": json.dumps((STATIC / "style.js").as_uri()),
    }
    result: dict[str, Any] = run_in_node(SCRIPT % modules, cases, timeout=60)
    return result


def values(rng: random.Random) -> list[float]:
    out: list[float] = [
        0.0,
        -0.0,
        1.0,
        999.99,
        1000.0,
        6873.262326000001,
        -1234.5,
        2.5,
        0.125,
        1e-12,
        123456789.0,
    ]
    for _ in range(3000):
        magnitude = 10 ** rng.uniform(-8, 13)
        value = rng.choice([magnitude, -magnitude, round(magnitude), round(magnitude, 2)])
        out.append(float(value))
    return out


def test_format_number_is_the_same_in_the_page_and_on_the_server() -> None:
    rng = random.Random(58)
    formatted = [(v, rng.choice(SPECS)) for v in values(rng)]
    formatted += [(v, spec) for v in (6873.262326000001, 0.0345, 1234567.0, 2.5, 3.5, -0.4) for spec in SPECS]
    expected = [format_number(v, spec) for v, spec in formatted]
    found = run_node({"formatted": formatted, "classes": [], "labels": []})["formatted"]
    wrong = [(v, spec, e, f) for (v, spec), e, f in zip(formatted, expected, found, strict=True) if e != f]
    assert not wrong, wrong[:10]
    # people's numbers, as the issue asked for them
    assert [
        format_number(*c) for c in [(6873.262326000001, ""), (6873.262326000001, ",.0f"), (0.1234, ".1%")]
    ] == [
        "6,873",
        "6,873",
        "12.3%",
    ]


@pytest.mark.parametrize("seed", [1, 2])
def test_class_of_and_labels_are_the_same_in_the_page_and_on_the_server(seed: int) -> None:
    rng = random.Random(seed)
    classes = []
    for _ in range(2000):
        edges = sorted(
            rng.choice([rng.randint(-5, 5), rng.uniform(-100, 100)]) for _ in range(rng.randint(2, 10))
        )
        value = rng.choice([*edges, rng.uniform(-120, 120), float(rng.randint(-6, 6))])
        classes.append((float(value), [float(e) for e in edges]))
    templates = [
        "{name} ({gdp:,.0f})",
        "{gdp}",
        "{share:.1%} of {pop:,d}",
        "{addr:street}",
        "{name}",
        "{gdp:.2}",
    ]
    props = [
        {"gdp": 6873.262326000001, "share": 0.1234, "pop": 1234567, "addr:street": "Rua 1"},
        {"gdp": "12345.678", "share": "0.5", "pop": 12, "name": "Porto"},
        {"gdp": [1000.5, 2000.25], "pop": True},
    ]
    labels = [(t, p) for t in templates for p in props]
    found = run_node({"formatted": [], "classes": classes, "labels": labels})
    assert found["classes"] == [class_of(v, e) for v, e in classes]
    assert found["labels"] == [label_of(t, p, "own") for t, p in labels]
    assert label_of("{name} ({gdp:,.0f})", props[0], "Chile") == "Chile (6,873)"
