"""The gazetteer against its own data: the biggest cities by English name and by local spelling,
filters, the nearest city, and errors that teach."""

from __future__ import annotations

import pytest
from place_data import LOCAL_SPELLINGS, most_populous

from mapsrv.errors import InvalidInput, NotFound
from mapsrv.places import (
    Place,
    PlaceNotFound,
    find_places,
    fold,
    nearest_place,
    resolve_country,
    resolve_place,
    resolve_places,
    to_ascii,
)


def test_the_200_most_populous_cities_by_english_name() -> None:
    top = most_populous(200)
    misses = [(name, cc) for gid, name, cc in top if find_places(name, limit=1)[0].geonameid != gid]
    # Known: "Hong Kong" the territory outranks Hong Kong the city; both are the right place.
    assert len(misses) <= 200 * 0.05, misses


def test_local_and_alternate_spellings() -> None:
    assert len(LOCAL_SPELLINGS) >= 40
    misses = []
    for query, expected in LOCAL_SPELLINGS.items():
        found = find_places(query, limit=1)[0]
        if (found.name, found.country_code) != expected:
            misses.append((query, found.label, expected))
    assert len(misses) <= len(LOCAL_SPELLINGS) * 0.05, misses


@pytest.mark.parametrize(
    ("query", "label", "match"),
    [
        ("MUNICH", "Munich, DE", "name"),
        ("munchen", "Munich, DE", "alternate name"),
        ("Koeln", "Köln, DE", "alternate name"),
        ("Xi'an", "Xi’an, CN", "name"),
        ("xian", "Xi’an, CN", "name"),
        ("  sao   PAULO ", "São Paulo, BR", "name"),
        ("Berl", "Berlin, DE", "name prefix"),
        ("France", "France", "name"),
        ("California", "California, US", "name"),
    ],
)
def test_case_accents_punctuation_and_prefixes(query: str, label: str, match: str) -> None:
    place = find_places(query, limit=1)[0]
    assert (place.label, place.match) == (label, match)


def test_own_name_ranks_over_alternate_over_prefix() -> None:
    places = find_places("Vienna", limit=10)
    assert [p.label for p in places[:2]] == ["Vienna, AT", "Vienna, VA, US"]
    assert places[0].match == "name"
    # a tiny place's own name still loses to a big city's alternate name: Roma is Rome
    assert find_places("Roma", limit=1)[0].label == "Rome, IT"
    scores = [p.score for p in places]
    assert scores == sorted(scores, reverse=True)


def test_within_a_country_by_code_name_or_alias() -> None:
    for country in ("US", "USA", "united states", "America"):
        place = resolve_place("Paris", country=country)
        assert (place.country_code, place.state) == ("US", "Texas")
    assert resolve_place("Birmingham", country="uk").country == "United Kingdom"
    assert resolve_place("Birmingham", country="US").state == "Alabama"
    assert all(p.country_code == "DE" for p in find_places("Frankfurt", country="DEU", limit=10))


def test_a_qualifier_after_a_comma() -> None:
    assert resolve_place("Springfield, IL").label == "Springfield, IL, US"
    assert resolve_place("Springfield, Massachusetts").state == "Massachusetts"
    assert resolve_place("Paris, TX").label == "Paris, TX, US"
    assert resolve_place("London, Canada").country_code == "CA"
    # a name with a comma in it is not split
    assert resolve_place("Paris, France").label == "Paris, FR"


def test_near_a_point_favours_closer_places() -> None:
    dallas = (32.78, -96.8)
    assert resolve_place("Paris", near=dallas).label == "Paris, TX, US"
    boston = (42.36, -71.06)
    place = resolve_place("Springfield", near=boston)
    assert place.label == "Springfield, MA, US"
    assert place.distance_m is not None and 100_000 < place.distance_m < 200_000
    assert resolve_place("Paris", near=(48.0, 2.0)).label == "Paris, FR"


def test_countries_and_states_have_a_point_and_bounds() -> None:
    france = resolve_place("France")
    assert france.kind == "country" and france.population > 60_000_000
    assert france.latlon == pytest.approx((48.85, 2.35), abs=0.1)  # its capital
    assert france.bounds is not None
    (south, west), (north, east) = france.bounds
    assert south < 43.3 < 50.6 < north and west < -1.5 < 7.2 < east
    texas = resolve_place("Texas")
    assert (texas.kind, texas.country_code, texas.population) == ("state", "US", 0)
    assert 26 < texas.lat < 36 and -106 < texas.lon < -93


def test_nearest_place() -> None:
    place = nearest_place(48.8566, 2.3522)
    assert place is not None and place.label == "Paris, FR" and place.match == "nearest"
    assert place.distance_m is not None and place.distance_m < 1_000
    big = nearest_place(48.8566, 2.3522, min_population=5_000_000)
    assert big is not None and big.name in ("London", "Paris")
    # the middle of the Pacific and the poles still find their nearest city
    pacific = nearest_place(0.0, -140.0)
    assert pacific is not None and pacific.distance_m is not None and pacific.distance_m > 1_000_000
    assert nearest_place(89.9, 0.0) is not None
    across = nearest_place(65.5, -179.9)  # the nearest city is across the 180th meridian
    assert across is not None and across.country_code in ("RU", "US")
    assert nearest_place(0, 0, min_population=10**10) is None


def test_folding() -> None:
    assert fold("Xi’an") == fold("XIAN") == "xian"
    assert fold("Łódź") == "lodz" and fold("İzmir") == "izmir" and fold("Þórshöfn") == "thorshofn"
    assert fold("Mbuji-Mayi") == "mbuji mayi" and fold("St. Petersburg") == "st petersburg"
    assert fold("東京") == "東京"
    assert to_ascii("São Paulo") == "Sao Paulo"


def test_place_to_json_is_compact() -> None:
    place = resolve_place("Munich")
    assert isinstance(place, Place)
    assert place.to_json() == {
        "name": "Munich",
        "kind": "city",
        "country": "DE",
        "lat": pytest.approx(48.13743, abs=1e-4),
        "lon": pytest.approx(11.57549, abs=1e-4),
        "population": place.population,
    }
    assert "match" in resolve_place("München").to_json()


def test_no_match_suggests_the_closest_names() -> None:
    with pytest.raises(PlaceNotFound) as caught:
        find_places("Pariss")
    assert isinstance(caught.value, NotFound)
    assert caught.value.suggestions[0] == "Paris (FR)"
    assert "no place matches 'Pariss'; closest names: Paris (FR)" in caught.value.message
    assert caught.value.to_json()["suggestions"] == caught.value.suggestions
    with pytest.raises(PlaceNotFound, match=r"no place matches 'Qqqzzx'$"):
        find_places("Qqqzzx")
    with pytest.raises(PlaceNotFound, match=r"in FR; closest names: .*Lyon"):
        find_places("Lyonn", country="FR")
    with pytest.raises(PlaceNotFound, match=r"'Parris, TX' in TX, US; closest names: Paris \(US\)"):
        find_places("Parris, TX")
    assert find_places(",Texas")[0].label == "Texas, US"  # nothing before the comma: no qualifier


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": ""}, "query must be a place name, got ''"),
        ({"query": " ,. "}, "query must be a place name"),
        ({"query": 42}, "query must be a place name, got 42"),
        ({"query": "Paris", "limit": 0}, "limit must be between 1 and 50, got 0"),
        ({"query": "Paris", "limit": 2.5}, "limit must be a whole number, got 2.5"),
        ({"query": "x" * 201}, "query must be at most 200 characters, got 201"),
        ({"query": "Paris", "limit": "5"}, "limit must be a number, got '5'"),
        ({"query": "Paris", "near": [123, 45]}, "near latitude must be between -90 and 90, got 123"),
        ({"query": "Paris", "near": "here"}, "near must be a \\[lat, lon\\] pair, got 'here'"),
        (
            {"query": "Paris", "country": "Frnace"},
            "country 'Frnace' is not known: give an ISO code \\(FR, FRA\\) or an English name"
            " \\(France\\); did you mean France\\?",
        ),
        ({"query": "Paris", "country": ""}, "country must be an ISO code"),
    ],
)
def test_bad_input_names_the_field_and_value(kwargs: dict[str, object], message: str) -> None:
    query = kwargs.pop("query")
    with pytest.raises(InvalidInput, match=message):
        find_places(query, **kwargs)  # type: ignore[arg-type]


def test_five_capitals_for_a_route_in_one_call() -> None:
    stops = resolve_places(["Paris", "Bruxelles", "Amsterdam", "Berlin", "Praha"])
    assert [p.label for p in stops] == [
        "Paris, FR",
        "Brussels, BE",
        "Amsterdam, NL",
        "Berlin, DE",
        "Prague, CZ",
    ]
    assert all(p.kind == "city" for p in stops)


@pytest.mark.parametrize(
    ("names", "kwargs", "error", "message"),
    [
        (
            ["Paris", "Lonnddon"],
            {},
            PlaceNotFound,
            r"places\[1\]: no place matches 'Lonnddon'; closest names: London",
        ),
        (["Paris", ""], {}, InvalidInput, r"places\[1\] must be a place name, got ''"),
        ("Paris", {}, InvalidInput, "places must be a list of place names, got str"),
        ([], {}, InvalidInput, "places must hold 1 to 100 names, got 0"),
        (["Paris"], {"country": "Nowhere"}, InvalidInput, "country 'Nowhere' is not known"),
        (["Paris"], {"near": [0, 181]}, InvalidInput, "near longitude must be between -180 and 180, got 181"),
    ],
)
def test_resolve_places_errors_name_the_item(
    names: object, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        resolve_places(names, **kwargs)


def test_resolve_country() -> None:
    assert [resolve_country(c) for c in ("fr", "FRA", "france", "Deutschland", "Côte d'Ivoire")] == [
        "FR",
        "FR",
        "FR",
        "DE",
        "CI",
    ]
    with pytest.raises(InvalidInput, match="country 'Atlantis' is not known"):
        resolve_country("Atlantis")


def test_nearest_place_rejects_bad_points() -> None:
    with pytest.raises(InvalidInput, match="point latitude must be between -90 and 90, got 95"):
        nearest_place(95, 0)
    with pytest.raises(InvalidInput, match="point longitude must be between -180 and 180, got 200"):
        nearest_place(0, 200)
