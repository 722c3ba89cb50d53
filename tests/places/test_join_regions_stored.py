"""The regions a table joins to, read per question from the places file (issue 78): every
region's outline as stored equals the one decoded from the shipped ``world/admin1.json``, and a
region is found by its code and names as the decoded data names it."""

from __future__ import annotations

from mapsrv.places import boundaries
from mapsrv.places.text import fold


def test_every_stored_region_is_the_decoded_one_and_found_by_its_code_and_names() -> None:
    decoded = boundaries.decode_regions()
    assert len(decoded) > 4_500
    for row, (props, outline) in enumerate(decoded):
        stored = boundaries._region(row)
        assert stored == outline, props.get("iso_3166_2")  # code, name and every point
        assert stored.key == row
        code = props.get("iso_3166_2", "")
        if code:
            found = boundaries.find_region(code)
            assert not isinstance(found, str) and found.code.upper() == code.upper(), code
        name = props.get("name", "")
        if name and props.get("iso_a2"):
            named = boundaries.find_region(name, props["iso_a2"])
            assert not isinstance(named, str) and named in boundaries.regions_named(name), name
    assert boundaries._region.cache_info().currsize <= 512, "the outlines kept are bounded"


def test_a_region_is_its_own_names_and_not_its_other_names() -> None:
    california = boundaries.find_region("US-CA")
    assert not isinstance(california, str)
    assert boundaries.is_own_name(california, "California") and boundaries.is_own_name(california, "CA")
    checked = 0
    for row, (props, _) in enumerate(boundaries.decode_regions()):
        own = {fold(props.get(k, "")) for k in ("name", "name_en", "postal", "iso_3166_2")}
        others = [n for n in props.get("name_alt", "").split("|") if n and fold(n) not in own]
        if (
            others
            and "-" in props.get("iso_3166_2", "")
            and fold(others[0]) != fold(props["iso_3166_2"].split("-")[1])
        ):
            region = boundaries._region(row)
            assert boundaries.is_own_name(region, props["name"]), props["name"]
            assert not boundaries.is_own_name(region, others[0]), (props["name"], others[0])
            checked += 1
    assert checked > 100, checked
