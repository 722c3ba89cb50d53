"""The outlines a joined table gets (issue 45): countries by every code and common spelling,
Natural Earth's odd ones (no ISO code, France's and Norway's -99), regions by code, name and
postal code within a country, and rings that cross the antimeridian split for a flat map."""

from __future__ import annotations

import pytest

from mapsrv.places.boundaries import Boundary, find_boundary, find_country, find_region


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Côte d'Ivoire", "CI"), ("Ivory Coast", "CI"), ("CIV", "CI"), ("ci", "CI"), ("384", "CI"),
        ("USA", "US"), ("United States of America", "US"), ("UK", "GB"), ("South Korea", "KR"),
        ("Korea, Rep.", "KR"), ("Czechia", "CZ"), ("Czech Republic", "CZ"), ("France", "FR"),
        ("Norway", "NO"), ("Kosovo", "XK"), ("XK", "XK"), ("76", "BR"), ("076", "BR"),
        ("Viet Nam", "VN"), ("The Gambia", "GM"), ("  Germany ", "DE"),
    ],
)  # fmt: skip
def test_a_country_is_found_by_any_common_spelling(text: str, code: str) -> None:
    found = find_country(text)
    assert isinstance(found, Boundary) and found.code == code and found.rings


def test_natural_earths_countries_without_a_code_are_found_by_name() -> None:
    for text, name in (
        ("Somaliland", "Somaliland"),
        ("N. Cyprus", "N. Cyprus"),
        ("Northern Cyprus", "N. Cyprus"),
    ):
        found = find_country(text)
        assert isinstance(found, Boundary) and found.code == "" and found.name == name


def test_what_is_not_a_country_says_why() -> None:
    assert find_country("Atlantis") == "not a country"
    assert find_country("XX") == "not a country"
    assert find_country("Gibraltar") == "no outline at 1:50m"


def test_outlines_keep_their_holes() -> None:
    south_africa = find_country("South Africa")
    assert isinstance(south_africa, Boundary) and len(south_africa.polygons) == 1
    ((outline, lesotho),) = south_africa.polygons  # Lesotho, kept as its hole
    lesotho_itself = find_country("Lesotho")
    assert isinstance(lesotho_itself, Boundary)
    assert set(lesotho) == set(lesotho_itself.rings[0])
    assert south_africa.rings == (outline,)
    canada = find_country("Canada")
    assert isinstance(canada, Boundary) and len(canada.polygons) > 20
    assert canada.rings == tuple(polygon[0] for polygon in canada.polygons)


def test_rings_never_cross_the_antimeridian() -> None:
    for text in ("Russia", "Fiji", "USA", "New Zealand", "Kiribati"):
        found = find_country(text)
        assert isinstance(found, Boundary)
        for ring in found.rings:
            lons = [lon for lon, _ in ring]
            assert -180 <= min(lons) and max(lons) <= 180 and max(lons) - min(lons) < 180, text
    chukotka = find_country("Russia")
    assert isinstance(chukotka, Boundary)
    assert any(min(lon for lon, _ in ring) < -170 for ring in chukotka.rings)  # east of 180: kept


@pytest.mark.parametrize(
    ("text", "country", "code"),
    [
        ("CA", "US", "US-CA"), ("California", "", "US-CA"), ("US-TX", "", "US-TX"), ("Calif.", "US", "US-CA"),
        ("Ontario", "", "CA-ON"), ("ON", "CA", "CA-ON"), ("Québec", "", "CA-QC"), ("Quebec", "CA", "CA-QC"),
        ("Bavaria", "", "DE-BY"), ("NSW", "AU", "AU-NSW"), ("Georgia", "US", "US-GA"),
    ],
)  # fmt: skip
def test_a_region_is_found_by_code_name_or_postal_code(text: str, country: str, code: str) -> None:
    found = find_region(text, country)
    assert isinstance(found, Boundary) and found.code == code


def test_an_ambiguous_or_unknown_region_says_why() -> None:
    assert find_region("Punjab") == "in IN and PK: give a country"
    assert find_region("Atlantis", "US") == "not a region of US"
    assert find_boundary("regions", "Ontario", "Narnia") == "country 'Narnia' not known"
    found = find_boundary("regions", "Punjab", "Pakistan")
    assert isinstance(found, Boundary) and found.code.startswith("PK-")


def test_an_outline_keeps_its_holes() -> None:
    """South Africa's outline has Lesotho as its hole (the outline of a country inside it)."""
    south_africa, lesotho = find_country("South Africa"), find_country("Lesotho")
    assert isinstance(south_africa, Boundary) and isinstance(lesotho, Boundary)
    assert len(south_africa.holes) == len(south_africa.rings)
    (hole,) = [h for holes in south_africa.holes for h in holes]
    assert sorted(hole) == sorted(lesotho.rings[0])
