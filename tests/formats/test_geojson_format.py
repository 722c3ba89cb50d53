"""GeoJSON files in and out: read through the same collector as every other format (thinned
before the point caps, attributes past the cap noted)."""

from __future__ import annotations

import json
import math
from typing import Any

from mapsrv.core.model import Limits
from mapsrv.formats import read_file

LIMITS = Limits()


def collection(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def test_a_long_line_is_thinned_before_the_point_cap_as_in_other_formats() -> None:
    line = [[6.0 + i * 1e-4, 45.0 + 1e-6 * math.sin(i)] for i in range(2_000)]  # 2,000 points, ~8 m apart
    body = collection(feature({"type": "LineString", "coordinates": line}))
    (thinned,) = read_file(body, None, Limits(max_points=1_000), simplify=5).features
    assert 2 <= len(thinned.coords) < 1_000
    assert thinned.coords[0] == (45.0, 6.0) and thinned.coords[-1] == (line[-1][1], line[-1][0])


def test_attributes_past_the_cap_are_left_out_with_a_note() -> None:
    wide = {f"c{i:02}": i for i in range(70)}
    imported = read_file(collection(feature({"type": "Point", "coordinates": [1, 2]}, **wide)), None, LIMITS)
    assert dict(imported.features[0].properties) == {f"c{i:02}": i for i in range(64)}
    assert imported.notes == ("features with attributes past the first 64 left out: 1",)
