"""What a layer's features hold under a property, for a style by value: the values and numbers a
style reads, and, when there are none, the error that names the real cause (no feature has that
property: the properties they do have; they have it but as text: which properties hold numbers).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence
from typing import Any

from mapsrv.core.model import Feature
from mapsrv.core.style_rules import number
from mapsrv.errors import InvalidInput

__all__ = ["numbers_of", "property_names", "require_property", "values_of"]

LISTED = 12  # property names an error lists at most


def values_of(features: Sequence[Feature], prop: str) -> list[Any]:
    """The values (not null) of ``prop`` on each feature that has it."""
    return [p[1] for f in features for p in f.properties if p[0] == prop and p[1] is not None]


def property_names(features: Sequence[Feature], numeric: bool = False) -> list[str]:
    """The layer's property names, those most features have first; ``numeric``: only those with a
    number on some feature."""
    counts: Counter[str] = Counter()
    for feature in features:
        for key, value in feature.properties:
            if value is not None and (not numeric or number(value) is not None):
                counts[key] += 1
    return sorted(counts, key=lambda k: (-counts[k], k))


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def require_property(features: Sequence[Feature], prop: str, name: str, layer: str) -> list[Any]:
    """The values of ``prop`` (``name`` is the argument that named it: by, weight, label...), or
    InvalidInput saying why there are none: an empty layer, or which properties it has."""
    found = values_of(features, prop)
    if found:
        return found
    if not features:
        raise InvalidInput(
            f"{name} must name a property the features of layer {layer!r:.64} have, got {prop!r:.64}"
            " (the layer has no features yet); add features first"
        )
    names = property_names(features)
    if not names:
        raise InvalidInput(
            f"{name} must name a property the features of layer {layer!r:.64} have, got {prop!r:.64}"
            f" (its {len(features)} features have no properties); import them with their properties"
        )
    wanted = prop.casefold()
    close = sorted(n for n in names if wanted in n.casefold())[:3] or difflib.get_close_matches(
        prop, names, n=2, cutoff=0.6
    )
    hint = f"did you mean {' or '.join(repr(n) for n in close)}? " if close else ""
    raise InvalidInput(
        f"{name} must name a property the features of layer {layer!r:.64} have, got {prop!r:.64}"
        f" (no feature has it); {hint}its {len(features)} features have {_listed(names)}"
    )


def numbers_of(features: Sequence[Feature], prop: str, layer: str, name: str = "by") -> list[float]:
    """The numbers of ``prop`` (a JSON number or text that reads as one), or InvalidInput naming
    why there are none: no such property, or one holding text (then which properties hold
    numbers)."""
    found = require_property(features, prop, name, layer)
    out = [n for v in found if (n := number(v)) is not None]
    if out:
        return out
    numeric = property_names(features, numeric=True)
    pick = f"pick one that has ({_listed(numeric)})" if numeric else "the layer has no numeric property"
    raise InvalidInput(
        f"{name} must name a numeric property, got {prop!r:.64}: on layer {layer!r:.64} it holds no"
        f" number ({len(found)} features have it as text, e.g. {str(found[0])!r:.40}); {pick},"
        " or kind 'categorical'"
    )
