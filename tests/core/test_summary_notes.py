"""Which notes a change lists for the agent (``changes``' ``notes``): the page places a note first
and writes its text when the person saves it, so the text comes in a later change than the marker."""

from __future__ import annotations

from mapsrv.core import Feature
from mapsrv.core.changes import Inverse
from mapsrv.core.summary import effect_of


def note(text: str, layer: str = "notes") -> Feature:
    return Feature("n1", "marker", (3.0, 4.0), layer=layer, popup=text)


def notes_of(before: Feature | None, after: Feature | None) -> list[tuple[str, str, tuple[float, float]]]:
    return list(effect_of(Inverse(features=(("n1", before),), layers=()), [], {"n1": after}).notes)


def test_a_note_is_listed_when_its_text_is_set_not_when_it_is_empty() -> None:
    assert notes_of(None, note("")) == [], "placed, no text yet"
    assert notes_of(note(""), note("put the hotel here")) == [("n1", "put the hotel here", (3.0, 4.0))]
    assert notes_of(None, note("meet here")) == [("n1", "meet here", (3.0, 4.0))], "placed with its text"
    assert notes_of(note("a"), note("b")) == [("n1", "b", (3.0, 4.0))], "its text edited"


def test_a_note_moved_or_removed_or_a_marker_elsewhere_is_not_listed() -> None:
    moved = Feature("n1", "marker", (5.0, 6.0), layer="notes", popup="x")
    assert notes_of(note("x"), moved) == []
    assert notes_of(note("x"), None) == []
    assert notes_of(None, note("x", layer="default")) == []
