"""Names chosen in the context of a call (``mapsrv.places.context``), through the resolver itself:
``PlaceService().resolve`` with the built-in city list, and ``choose`` directly.

The itineraries are trips a person might ask for in one call; each row says where one of its
names truly is, as a geographic fact: its country and its first-level region, given as a state
code in the US and elsewhere as another city of that region ("Salamanca is in the region of
Valladolid": Castile and León), so that no GeoNames code is copied from the resolver's output. The
weights of ``mapsrv.places.context`` were set on these. Where a reasonable person could go either
way (Toronto and London; Patna and Aurangabad), the trip is not here; where the model is known not
to follow a person (Vigo and Santiago: Chile's), the test says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import pytest

from mapsrv.core.model import LatLon
from mapsrv.places import find_places
from mapsrv.places.context import ALTERNATIVES, CLOSE, Candidate, Choice, Context, choose
from mapsrv.places.hints import district_of, prior, read_name
from mapsrv.places.index import gazetteer
from mapsrv.places.model import Place
from mapsrv.places.regions import REGIONS, region_of_city
from mapsrv.places.search import haversine
from mapsrv.places.service import PlaceService

# (the call's names, the name checked, its country, its region: a US state or a city in it)
ITINERARIES: list[tuple[tuple[str, ...], str, str, str | None]] = [
    # Europe
    (("Lisbon", "Porto", "Salamanca", "Madrid"), "Salamanca", "ES", "Valladolid"),
    (("Seville", "Córdoba", "Granada"), "Córdoba", "ES", "Sevilla"),
    (("Seville", "Córdoba", "Granada"), "Granada", "ES", "Sevilla"),
    (("Barcelona", "Valencia"), "Valencia", "ES", "Alicante"),
    (("Valencia", "Barcelona"), "Barcelona", "ES", "Girona"),
    (("Madrid", "Valencia"), "Valencia", "ES", "Alicante"),
    (("Toledo", "Madrid"), "Toledo", "ES", "Albacete"),
    (("Mérida", "Badajoz"), "Mérida", "ES", "Cáceres"),
    (("León", "Burgos"), "León", "ES", "Valladolid"),
    (("Berlin", "Frankfurt"), "Frankfurt", "DE", "Wiesbaden"),
    (("Manchester", "Birmingham"), "Birmingham", "GB", "London"),
    (("Worcester", "Birmingham"), "Worcester", "GB", "London"),
    (("Oxford", "Cambridge"), "Cambridge", "GB", "London"),
    (("Perth", "Dundee"), "Perth", "GB", "Edinburgh"),
    (("Cardiff", "Newport"), "Newport", "GB", "Swansea"),
    (("Halifax", "Leeds"), "Halifax", "GB", "Bradford"),
    (("Leeds", "Newcastle"), "Newcastle", "GB", "London"),
    (("Hamilton", "Glasgow"), "Hamilton", "GB", "Edinburgh"),
    (("Naples", "Rome"), "Naples", "IT", "Salerno"),
    (("Athens", "Thessaloniki"), "Athens", "GR", "Piraeus"),
    (("Moscow", "St. Petersburg"), "St. Petersburg", "RU", "Kolpino"),
    # North America
    (("Boston", "Cambridge", "Worcester"), "Cambridge", "US", "MA"),
    (("Boston", "Cambridge", "Worcester"), "Worcester", "US", "MA"),
    (("Hartford", "Springfield"), "Springfield", "US", "MA"),
    (("Providence", "Newport"), "Newport", "US", "RI"),
    (("Boston", "Salem"), "Salem", "US", "MA"),
    (("Portland", "Salem"), "Salem", "US", "OR"),
    (("Portland", "Seattle"), "Portland", "US", "OR"),
    (("Portland", "Bangor"), "Portland", "US", "ME"),
    (("Portland", "Bangor"), "Bangor", "US", "ME"),
    (("Washington", "Alexandria"), "Alexandria", "US", "VA"),
    (("Montgomery", "Birmingham"), "Birmingham", "US", "AL"),
    (("Atlanta", "Athens"), "Athens", "US", "GA"),
    (("Tampa", "St. Petersburg"), "St. Petersburg", "US", "FL"),
    (("Santa Clara", "San Jose"), "San Jose", "US", "CA"),
    (("Santa Clara", "San Jose"), "Santa Clara", "US", "CA"),
    (("Detroit", "Windsor"), "Windsor", "CA", "Toronto"),
    (("Kitchener", "London"), "London", "CA", "Toronto"),
    (("Toronto", "Kitchener", "London"), "London", "CA", "Toronto"),
    (("Toronto", "Kitchener", "Cambridge"), "Cambridge", "CA", "Toronto"),
    (("New York", "London"), "London", "GB", "London"),
    (("Vancouver", "Richmond"), "Richmond", "CA", "Surrey"),
    (("Vancouver", "Victoria"), "Victoria", "CA", "Surrey"),
    (("Ottawa", "Kingston"), "Kingston", "CA", "Toronto"),
    (("Mérida", "Cancún"), "Mérida", "MX", "Progreso"),
    (("León", "Guanajuato"), "León", "MX", "Irapuato"),
    (("La Paz", "Cabo San Lucas"), "La Paz", "MX", "Cabo San Lucas"),
    # Central and South America, the Caribbean
    (("Alajuela", "San Jose"), "San Jose", "CR", None),
    (("Alajuela", "San José"), "San José", "CR", None),
    (("Caracas", "Valencia"), "Valencia", "VE", "Puerto Cabello"),
    (("Caracas", "Mérida"), "Mérida", "VE", "El Vigía"),
    (("Managua", "León"), "León", "NI", None),
    (("Managua", "Granada"), "Granada", "NI", None),
    (("Valparaíso", "Santiago"), "Santiago", "CL", "Puente Alto"),
    (("Lima", "Santiago"), "Santiago", "CL", "Puente Alto"),
    (("Rosario", "Córdoba"), "Córdoba", "AR", "Villa María"),
    (("La Paz", "Santa Cruz"), "Santa Cruz", "BO", "Montero"),
    (("Port of Spain", "San Fernando"), "San Fernando", "TT", None),
    (("Cienfuegos", "Trinidad"), "Trinidad", "CU", "Sancti Spíritus"),
    (("Kingston", "Montego Bay"), "Kingston", "JM", None),
    (("Paramaribo", "Georgetown"), "Georgetown", "GY", None),
    # Africa, Asia, Oceania
    (("Cairo", "Alexandria"), "Alexandria", "EG", None),
    (("Cape Town", "Worcester"), "Worcester", "ZA", "Stellenbosch"),
    (("Beirut", "Tripoli"), "Tripoli", "LB", None),
    (("Benghazi", "Tripoli"), "Tripoli", "LY", None),
    (("Karachi", "Hyderabad"), "Hyderabad", "PK", "Sukkur"),
    (("Bangalore", "Hyderabad"), "Hyderabad", "IN", "Warangal"),
    (("Chennai", "Salem"), "Salem", "IN", "Madurai"),
    (("Mumbai", "Aurangabad"), "Aurangabad", "IN", "Pune"),
    (("Kuala Lumpur", "Georgetown"), "Georgetown", "MY", None),
    (("Beijing", "Shanghai", "Suzhou"), "Suzhou", "CN", "Nanjing"),
    (("Perth", "Adelaide"), "Perth", "AU", "Mandurah"),
    (("Sydney", "Newcastle"), "Newcastle", "AU", "Wollongong"),
    (("Auckland", "Hamilton"), "Hamilton", "NZ", "Cambridge"),
]


def region(iso: str, where: str) -> tuple[str, str]:
    """The (country, admin1) a row names: a US state's code, or the region of a city in it."""
    if iso == "US":
        return (iso, where)
    found = region_of_city(gazetteer(), iso, where)
    assert found is not None, f"no city {where!r} in {iso}"
    return found


async def resolved(names: Sequence[str], context: Context = Context(), **kwargs: object) -> dict[str, Choice]:
    resolution = await PlaceService().resolve(names, context, **kwargs)  # type: ignore[arg-type]
    assert not resolution.missing, resolution.missing
    return resolution.choices


def trip_id(row: tuple[tuple[str, ...], str, str, str | None]) -> str:
    names, name, iso, _ = row
    return f"{'-'.join(names)}:{name}={iso}"


@pytest.mark.parametrize("row", ITINERARIES, ids=[trip_id(r) for r in ITINERARIES])
async def test_an_itinerary_places_its_shared_names_where_a_person_means_them(
    row: tuple[tuple[str, ...], str, str, str | None],
) -> None:
    names, name, iso, where = row
    choices = await resolved(names)
    place = choices[name].place
    assert place.country_code == iso, (name, place.label, place.admin1)
    if where is not None:
        assert (place.country_code, place.admin1) == region(iso, where), (name, place.label)
    assert len(choices[name].candidates) > 1, f"{name} is not shared: the row tests nothing"
    assert not choices[name].close, "the call's other names decided it"


def test_the_itineraries_are_many_and_span_the_continents() -> None:
    assert len({names for names, *_ in ITINERARIES}) >= 40
    countries = {iso for *_, iso, _ in ITINERARIES}
    assert {"ES", "GB", "US", "CA", "MX", "CL", "IN", "AU", "ZA", "EG", "CN"} <= countries


@pytest.mark.parametrize(
    "names", sorted({names for names, *_ in ITINERARIES if len(names) > 1}), ids="-".join
)
async def test_the_order_of_the_names_does_not_change_where_they_are(names: tuple[str, ...]) -> None:
    forward = await resolved(names)
    backward = await resolved(names[::-1])
    assert {n: c.place.latlon for n, c in forward.items()} == {n: c.place.latlon for n, c in backward.items()}


async def test_salamanca_beside_lisbon_porto_and_madrid_is_spains_city_not_the_madrid_district() -> None:
    choices = await resolved(["Lisbon", "Porto", "Salamanca", "Madrid"])
    salamanca = choices["Salamanca"]
    assert salamanca.place.country_code == "ES" and salamanca.why == "context"
    assert district_of(gazetteer(), salamanca.place) is None
    assert haversine(salamanca.place.latlon, choices["Madrid"].place.latlon) > 150_000
    assert choices["Lisbon"].why == "only" and choices["Madrid"].place.country_code == "ES"


async def test_santiago_beside_vigo_is_still_chiles_by_its_people() -> None:
    # A person in Galicia means Santiago de Compostela; the model does not (context.py says why:
    # 100,000 people and an alternate name against 4.8 million and its own). Its hint finds it.
    choices = await resolved(["Vigo", "Santiago"])
    assert choices["Santiago"].place.country_code == "CL"
    galician = await resolved(["Santiago, Galicia"])
    assert galician["Santiago, Galicia"].place.name == "Santiago de Compostela"


# hints


@pytest.mark.parametrize(
    ("name", "iso", "where"),
    [
        ("Cambridge, MA", "US", "MA"),
        ("Cambridge, Massachusetts", "US", "MA"),
        ("Springfield, IL", "US", "IL"),
        ("Paris, Texas", "US", "TX"),
        ("Paris, TX", "US", "TX"),
        ("London, Ontario", "CA", "Toronto"),
        ("London, ON", "CA", "Toronto"),
        ("Perth, WA", "AU", "Mandurah"),
        ("Perth, Scotland", "GB", "Edinburgh"),
        ("Córdoba, Spain", "ES", "Sevilla"),
        ("Córdoba, Andalusia", "ES", "Sevilla"),
        ("Córdoba, Argentina", "AR", "Villa María"),
        ("Córdoba, Veracruz", "MX", "Xalapa-Enríquez"),
        ("Valencia, Venezuela", "VE", "Puerto Cabello"),
        ("Birmingham, AL", "US", "AL"),
        ("Hyderabad, Pakistan", "PK", "Sukkur"),
        ("Richmond, BC", "CA", "Surrey"),
        ("Santiago, Galicia", "ES", "Ourense"),
    ],
)
async def test_a_hint_after_the_comma_places_the_name(name: str, iso: str, where: str) -> None:
    choice = (await resolved([name]))[name]
    assert (choice.place.country_code, choice.place.admin1) == region(iso, where), choice.place.label
    assert not choice.close, "the hint decided"


async def test_salamanca_madrid_is_the_district_of_madrid() -> None:
    choice = (await resolved(["Salamanca, Madrid"]))["Salamanca, Madrid"]
    madrid = find_places("Madrid", country="ES", limit=1)[0]
    assert choice.place.name == "Salamanca" and choice.why == "hint"
    assert haversine(choice.place.latlon, madrid.latlon) < 10_000
    assert district_of(gazetteer(), choice.place) is not None


async def test_a_hint_outweighs_the_other_names() -> None:
    # Cambridge beside London is England's, but the one the name's own hint names stays
    choices = await resolved(["London", "Cambridge, MA", "Oxford"])
    assert choices["Cambridge, MA"].place.admin1 == "MA"
    assert choices["Oxford"].place.country_code == "GB"


def test_a_hint_reads_as_a_state_a_region_a_country_or_a_place() -> None:
    index = gazetteer()
    readings = read_name(index, "Cambridge, MA")
    state, whole = readings[0], readings[-1]
    assert (state.text, state.country, state.regions) == ("Cambridge", "US", (("US", "MA"),))
    assert whole.text == "Cambridge, MA" and whole.country is None
    assert read_name(index, "London, Ontario")[0].regions == (region("CA", "Toronto"),)
    assert read_name(index, "Córdoba, Spain")[-2].country == "ES"
    near = read_name(index, "Salamanca, Madrid")[0].near
    assert near is not None and near.name == "Madrid" and near.country_code == "ES"
    assert [r.text for r in read_name(index, "Lisbon")] == ["Lisbon"]


def test_every_region_a_hint_may_name_has_its_city() -> None:
    # regions.py reads each region's code off one city of it: a city the list lacks loses the region
    index = gazetteer()
    missing = [
        (iso, city)
        for iso, rows in REGIONS.items()
        for _, city in rows
        if not region_of_city(index, iso, city)
    ]
    assert missing == []


# near and country


async def test_near_places_a_lone_name_by_that_point() -> None:
    boston: LatLon = (42.3601, -71.0589)
    choice = (await resolved(["Springfield"], near=boston))["Springfield"]
    assert choice.place.admin1 == "MA" and choice.why == "hint"
    illinois: LatLon = (41.8781, -87.6298)  # Chicago
    assert (await resolved(["Springfield"], near=illinois))["Springfield"].place.admin1 == "IL"


async def test_country_keeps_every_name_in_it() -> None:
    mexico = await resolved(["Salamanca", "Córdoba", "Mérida"], country="MX")
    assert {c.place.country_code for c in mexico.values()} == {"MX"}
    spain = (await resolved(["Salamanca"], country="ES"))["Salamanca"]
    assert (spain.place.country_code, spain.place.admin1) == region("ES", "Valladolid")


async def test_a_city_beats_a_district_of_another_city_that_shares_its_name() -> None:
    # Salamanca, Madrid has more people (148,000) than Salamanca, Castile and León (145,000)
    spain = (await resolved(["Salamanca"], country="ES"))["Salamanca"]
    district = next(c for c in spain.candidates if district_of(gazetteer(), c) is not None)
    assert district.population > spain.place.population
    assert district_of(gazetteer(), spain.place) is None
    assert district in [p for p, _ in spain.alternatives]


# what stays, what is listed, what is close


@pytest.mark.parametrize("other", ["Lisbon", "New York", "Sydney", "Cairo"])
async def test_an_unambiguous_name_stays_where_it_is_beside_anything(other: str) -> None:
    choices = await resolved([other, "Tokyo"])
    assert choices["Tokyo"].place.country_code == "JP" and choices["Tokyo"].why == "only"


async def test_the_maps_points_are_context() -> None:
    hartford: LatLon = (41.7658, -72.6734)
    around = Context(anchors=(hartford, (41.80, -72.70), (41.70, -72.60)))
    choice = (await resolved(["Springfield"], around))["Springfield"]
    assert choice.place.admin1 == "MA" and choice.why == "context" and not choice.close
    # the same name on an empty map is Missouri's, by its people, and nothing decided
    alone = (await resolved(["Springfield"]))["Springfield"]
    assert alone.place.admin1 != "MA" and alone.why == "largest"


async def test_a_maps_view_alone_is_context() -> None:
    ontario = Context(anchors=((43.0, -81.2),))  # a view centred on southwestern Ontario
    choice = (await resolved(["London"], ontario))["London"]
    assert (choice.place.country_code, choice.place.admin1) == region("CA", "Toronto")


async def test_alternatives_are_other_places_of_the_name_with_their_distance() -> None:
    choice = (await resolved(["Salamanca"]))["Salamanca"]
    assert 1 <= len(choice.alternatives) <= ALTERNATIVES
    for other, km in choice.alternatives:
        assert other.name == "Salamanca" and other != choice.place
        assert km == pytest.approx(haversine(other.latlon, choice.place.latlon) / 1000, rel=0.01)
    countries = {p.country_code for p, _ in choice.alternatives} | {choice.place.country_code}
    assert countries == {"ES", "MX"}


async def test_alternatives_are_at_most_ALTERNATIVES_however_many_share_the_name() -> None:
    choice = (await resolved(["Springfield"]))["Springfield"]
    assert len(choice.candidates) > ALTERNATIVES + 1
    assert len(choice.alternatives) == ALTERNATIVES
    kms = [km for _, km in choice.alternatives]
    assert all(km > 1 for km in kms)


async def test_a_faraway_namesake_is_no_alternative_once_context_decides() -> None:
    choice = (await resolved(["Lisbon", "Madrid"]))["Madrid"]
    assert choice.place.country_code == "ES"
    assert all(p.country_code != "CO" for p, _ in choice.alternatives)  # Madrid, Colombia


@pytest.mark.parametrize("name", ["Salamanca", "Cambridge"])
async def test_a_lone_name_with_close_priors_is_close_and_context_makes_it_not(name: str) -> None:
    assert (await resolved([name]))[name].close
    assert not (await resolved([name, "Madrid" if name == "Salamanca" else "Boston"]))[name].close
    assert not (await resolved([name], Context(anchors=((0.0, 0.0),))))[name].close
    hinted = name + (", Spain" if name == "Salamanca" else ", MA")
    assert not (await resolved([hinted]))[hinted].close


async def test_a_name_with_a_clear_favourite_is_not_close() -> None:
    assert not (await resolved(["London"]))["London"].close


async def test_the_same_name_twice_is_one_choice() -> None:
    choices = await resolved(["Salamanca", "Madrid", "Salamanca"])
    assert list(choices) == ["Salamanca", "Madrid"]
    assert choices["Salamanca"].place.country_code == "ES"


async def test_a_name_nothing_matches_is_missing_and_the_others_are_chosen() -> None:
    resolution = await PlaceService().resolve(["Lisbon", "Xqzzyvv", "Salamanca", "Madrid"])
    assert list(resolution.missing) == ["Xqzzyvv"]
    assert resolution.choices["Salamanca"].place.country_code == "ES"


# choose itself


def city(name: str, iso: str) -> Place:
    return next(p for p in find_places(name, country=iso, limit=8) if p.name == name)


def candidates(*places: Place, district: Place | None = None) -> list[Candidate]:
    return [Candidate(p, prior(p), district=p is district) for p in places]


def test_choose_without_context_takes_the_likeliest() -> None:
    london, ontario = city("London", "GB"), city("London", "CA")
    choice = choose({"London": candidates(ontario, london)})["London"]
    assert choice.place == london and choice.why == "largest"
    assert choice.candidates == (london, ontario)


def test_choose_weighs_the_distance_to_the_other_names_against_the_people() -> None:
    london, ontario = city("London", "GB"), city("London", "CA")
    kitchener, new_york = city("Kitchener", "CA"), city("New York City", "US")
    near = choose({"London": candidates(london, ontario), "Kitchener": candidates(kitchener)})
    assert near["London"].place == ontario and near["London"].why == "context"
    far = choose({"London": candidates(london, ontario), "New York": candidates(new_york)})
    assert far["London"].place == london  # 21 times the people outweigh 780 km against 5,570


def test_choose_marks_a_district_down() -> None:
    spain = [p for p in find_places("Salamanca", country="ES", limit=8) if p.name == "Salamanca"]
    district = next(p for p in spain if district_of(gazetteer(), p) is not None)
    other = next(p for p in spain if p is not district)
    assert prior(district) > prior(other)
    chosen = choose({"Salamanca": candidates(district, other, district=district)})["Salamanca"]
    assert chosen.place == other
    unmarked = choose({"Salamanca": candidates(district, other)})["Salamanca"]
    assert unmarked.place == district


def test_choose_gathers_two_shared_names_in_the_likelier_region_whatever_their_order() -> None:
    spain = {n: city(n, "ES") for n in ("Barcelona", "Valencia")}
    venezuela = {n: city(n, "VE") for n in ("Barcelona", "Valencia")}
    for order in (("Barcelona", "Valencia"), ("Valencia", "Barcelona")):
        named = {n: candidates(spain[n], venezuela[n]) for n in order}
        chosen = choose(named)
        assert {n: c.place for n, c in chosen.items()} == spain, order


def test_choose_skips_a_name_without_candidates_and_answers_nothing_for_nothing() -> None:
    assert choose({}) == {}
    lisbon = city("Lisbon", "PT")
    assert list(choose({"Nowhere": [], "Lisbon": candidates(lisbon)})) == ["Lisbon"]


def test_choose_a_hint_is_a_pull_towards_its_point() -> None:
    springfields = [p for p in find_places("Springfield", country="US", limit=8) if p.name == "Springfield"]
    ma = next(p for p in springfields if p.admin1 == "MA")
    mo = next(p for p in springfields if p.admin1 == "MO")
    boston: LatLon = (42.3601, -71.0589)
    hinted = [Candidate(p, prior(p), hint=boston) for p in (mo, ma)]
    choice = choose({"Springfield": hinted})["Springfield"]
    assert choice.place == ma and choice.why == "hint" and not choice.close
    assert math.isclose(haversine(ma.latlon, boston) / 1000, 125, rel_tol=0.1)


def _midway(a: LatLon, b: LatLon) -> LatLon:
    """The point on the great circle through ``a`` and ``b`` as far from one as from the other."""
    xs = [
        (math.cos(math.radians(lat)) * math.cos(math.radians(lon)),
         math.cos(math.radians(lat)) * math.sin(math.radians(lon)),
         math.sin(math.radians(lat)))
        for lat, lon in (a, b)
    ]  # fmt: skip
    x, y, z = (xs[0][i] + xs[1][i] for i in range(3))
    return (math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x)))


async def test_a_name_near_a_point_is_never_close_even_midway_between_its_namesakes() -> None:
    """``near`` (as a hint's place) decides even when it favours no namesake: Salamanca midway
    between Spain's and Mexico's is taken, not asked about."""
    alone = (await resolved(["Salamanca"]))["Salamanca"]
    spain, mexico = (
        next(p for p in alone.candidates if p.country_code == iso and not district_of(gazetteer(), p))
        for iso in ("ES", "MX")
    )
    midway = _midway(spain.latlon, mexico.latlon)
    assert abs(haversine(midway, spain.latlon) - haversine(midway, mexico.latlon)) < 1_000
    assert abs(prior(spain) - prior(mexico)) < CLOSE and alone.close  # nothing else tells them apart
    choice = (await resolved(["Salamanca"], near=midway))["Salamanca"]
    assert choice.why == "hint" and not choice.close
    hinted = choose({"Salamanca": [Candidate(p, prior(p), hint=midway) for p in (spain, mexico)]})
    assert not hinted["Salamanca"].close


def _icosahedron() -> list[LatLon]:
    """Twelve points of the globe, each at least 7,000 km from every other."""
    phi = (1 + 5**0.5) / 2
    corners = [(0, 1, phi), (0, -1, phi), (0, 1, -phi), (0, -1, -phi), (1, phi, 0), (-1, phi, 0),
               (1, -phi, 0), (-1, -phi, 0), (phi, 0, 1), (-phi, 0, 1), (phi, 0, -1),
               (-phi, 0, -1)]  # fmt: skip
    return [
        (math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))) for x, y, z in corners
    ]


@pytest.mark.parametrize("order", ["against the chain", "along the chain"])
def test_choose_settles_a_chain_of_names_however_many_rounds_it_takes(order: str) -> None:
    """Six names, each a big place far from everything (W) or a smaller one 200 km along a chain
    (E) that ends at a point of the map. Alone, each name's W wins; beside its E neighbour, E wins.
    Chosen against the chain's order, one name moves to E a round: the first only in the fifth
    round. However many rounds it takes, every name ends on the chain, as it does in one round in
    the chain's own order. (Nine open names: too many to start from other regions, so the rounds
    alone settle them; three stand far off.)"""
    corners = _icosahedron()
    lat, lon = corners[11]
    chain = [(lat, lon + 200 * i / (111.32 * math.cos(math.radians(lat)))) for i in range(6)]
    lisbon = city("Lisbon", "PT")

    def place(name: str, at: LatLon) -> Place:
        return replace(lisbon, name=name, lat=at[0], lon=at[1])

    steps = range(6) if order == "against the chain" else range(5, -1, -1)
    named = {f"n{i}": [Candidate(place(f"W{i}", corners[i]), 5.0), Candidate(place(f"E{i}", chain[i]), 3.86)]
             for i in steps}  # fmt: skip
    for j in range(6, 9):
        far = corners[j]
        named[f"x{j}"] = [
            Candidate(place(f"X{j}", far), 5.0),
            Candidate(place(f"Y{j}", (far[0] + 0.02, far[1])), 4.0),
        ]
    chosen = choose(named, Context(anchors=(chain[-1],)))
    assert [chosen[f"n{i}"].place.name for i in range(6)] == [f"E{i}" for i in range(6)]
    assert [chosen[f"x{j}"].place.name for j in range(6, 9)] == ["X6", "X7", "X8"]
