"""Every event kind exists on all sides of the wire: the codec, the renderer the page and the MCP
App share (mapsrv/web/static/render.js) and the protocol document. A kind added on one side only
fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mapsrv.core.codec import event_from_wire, wire
from mapsrv.core.events import (
    EVENT_TYPES,
    Cleared,
    Event,
    FeaturesRemoved,
    FeaturesUpserted,
    LayerRemoved,
    LayerSet,
    LayerStyled,
    TitleSet,
    ViewSet,
)
from mapsrv.core.model import Feature, Layer, View

ROOT = Path(__file__).resolve().parents[2]

SAMPLES: list[Event] = [
    TitleSet(1, "Trip"),
    ViewSet(2, View(center=(1.5, 2.0), zoom=4.0, animate=False)),
    ViewSet(3, View(bounds=((0.0, 0.0), (1.0, 2.0)))),
    FeaturesUpserted(4, (Feature("f1", "marker", (1.0, 2.0), label="a", style=(("color", "red"),)),), 2),
    FeaturesUpserted(5, (Feature("c", "circle", (0.0, 0.0), radius=5.0),), 2),
    FeaturesRemoved(6, ("f1", "c")),
    LayerSet(7, Layer("roads", "Roads", False)),
    LayerStyled(8, "roads", {"kind": "heatmap", "radius": 25.0}),
    LayerSet(
        8, Layer("roads", "Roads", True, {"kind": "categorical", "by": "t", "categories": {"a": "red"}})
    ),
    LayerStyled(8, "roads", None),
    LayerRemoved(8, "roads"),
    Cleared(9, None),
    Cleared(10, "default"),
]


def _page_kinds() -> set[str]:
    source = (ROOT / "mapsrv" / "web" / "static" / "render.js").read_text(encoding="utf-8")
    body = source[source.index("function applyChange") : source.index("function changes")]
    return set(re.findall(r"case '([a-z_]+)'", body))


def _documented_kinds() -> set[str]:
    doc = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    table = doc[doc.index("Change kinds") :].split("\n\n")[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))


def test_every_event_kind_is_drawn_by_the_page_and_documented() -> None:
    kinds = {t.KIND for t in EVENT_TYPES}
    assert len(kinds) == len(EVENT_TYPES), "two event types share a wire name"
    assert _page_kinds() == kinds
    assert _documented_kinds() == kinds


def test_samples_cover_every_event_type() -> None:
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: f"{e.KIND}-{e.version}")
def test_every_event_round_trips_through_its_wire_text(event: Event) -> None:
    text = wire(event)
    assert wire(event) is text, "encoded once"
    decoded = event_from_wire(text)
    assert decoded == event and type(decoded) is type(event)
    assert wire(decoded) == text
