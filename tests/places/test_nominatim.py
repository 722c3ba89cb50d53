"""The geocoder source (``--geocoder nominatim+http://...``) against a real Nominatim 5 that has
imported support/place_extract.py's Lisbon, and against local listeners that fail as services
do: refused, hung, HTML, 500, JSON of the wrong shape. Every failure is SourceUnavailable, and
none names the service's address. A stand-in on a real socket (support/geocoder.py) checks what is
sent: the public service paced by default, brackets as text, no redirect followed, and what is
kept: no reverse answer beyond its radius."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
import trio
from support import free_port
from support.geocoder import Asked, Reply, answer, open_fake_geocoder, read_head, result
from support.nominatim import Imported, Nominatim, open_nominatim

from mapsrv.errors import InvalidInput
from mapsrv.places.nominatim import NominatimGeocoder, Statistics, _Cache, identify
from mapsrv.places.search import haversine
from mapsrv.places.service import place_service_for
from mapsrv.places.sources import Query, SourceUnavailable

TIMEOUT = 5.0


@pytest.fixture
async def geocoder(nominatim: Nominatim) -> AsyncIterator[NominatimGeocoder]:
    source = NominatimGeocoder(nominatim.url, TIMEOUT)
    try:
        yield source
    finally:
        await source.aclose()


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return haversine(a, b)


async def test_an_address_is_found_where_it_was_mapped(geocoder: NominatimGeocoder, lisbon: Imported) -> None:
    written = lisbon.facts.address("24")
    found = await geocoder.search(Query("Rua Augusta 24"))
    assert found, "no answer for an address in the extract"
    first = found[0]
    assert (first.name, first.kind, first.source, first.country_code) == (
        "Rua Augusta 24",
        "address",
        "geocoder",
        "PT",
    )
    assert metres(first.latlon, written.latlon) < 30
    assert first.address == f"{written.postcode} {written.city}"
    assert first.label == written.text  # "Rua Augusta 24, 1100-053 Lisboa"


async def test_a_point_of_interest_is_found_by_its_name(
    geocoder: NominatimGeocoder, lisbon: Imported
) -> None:
    museum = lisbon.facts.museum
    found = await geocoder.search(Query("Museu de Lisboa"))
    assert [(p.name, p.kind, p.category) for p in found[:1]] == [(museum.name, "poi", "tourism=museum")]
    assert metres(found[0].latlon, museum.latlon) < 30
    assert 2 <= found[0].score <= 7


async def test_pharmacies_near_a_point_come_nearest_first_and_within_the_distance(
    geocoder: NominatimGeocoder, lisbon: Imported
) -> None:
    near, within = lisbon.facts.address("100").latlon, 800.0
    expected = sorted(
        (p for p in lisbon.facts.pharmacies if metres(p.latlon, near) <= within),
        key=lambda p: metres(p.latlon, near),
    )
    assert 2 <= len(expected) < len(lisbon.facts.pharmacies)  # the data keeps the test honest
    for category in ("pharmacy", "amenity=pharmacy"):
        found = await geocoder.search(Query(category=category, near=near, within_m=within, limit=10))
        assert [p.name for p in found] == [p.name for p in expected], category
        assert all(p.category == "amenity=pharmacy" and p.kind == "poi" for p in found)
        distances = [p.distance_m for p in found]
        assert all(d is not None and d <= within for d in distances)
        assert distances == sorted(distances)  # type: ignore[type-var]
    # without within_m, the one in Belém (~6 km off) is among them, last
    everywhere = await geocoder.search(Query(category="amenity=pharmacy", near=near, limit=10))
    assert everywhere[-1].name == lisbon.facts.pharmacies[-1].name


async def test_reverse_at_an_address_answers_that_address(
    geocoder: NominatimGeocoder, lisbon: Imported
) -> None:
    written = lisbon.facts.address("24")
    place = await geocoder.reverse(written.latlon)
    assert place is not None
    assert (place.name, place.kind, place.match) == ("Rua Augusta 24", "address", "nearest")
    assert place.distance_m is not None and place.distance_m < 30
    # on the river, ~700 m from anything: Nominatim names the nearest place, too far to count
    assert await geocoder.reverse(lisbon.facts.sea, within_m=200) is None
    # in the ocean, Nominatim finds nothing at all ("Unable to geocode")
    assert await geocoder.reverse((0.0, -30.0)) is None


async def test_two_towns_of_one_name_are_both_answered(geocoder: NominatimGeocoder, lisbon: Imported) -> None:
    found = [p for p in await geocoder.search(Query("Santa Cruz", limit=5)) if p.name == "Santa Cruz"]
    assert len(found) == 2
    for town in lisbon.facts.santa_cruz:
        assert any(metres(p.latlon, town.latlon) < 100 for p in found), town
    assert {p.kind for p in found} == {"place"}


async def test_one_street_split_into_ways_is_answered_once(geocoder: NominatimGeocoder) -> None:
    found = await geocoder.search(Query("Rua Augusta", limit=5))
    streets = [p for p in found if p.kind == "street"]
    assert [p.name for p in streets] == ["Rua Augusta"]


async def test_control_characters_are_dropped_and_long_text_refused(geocoder: NominatimGeocoder) -> None:
    found = await geocoder.search(Query("Rua\x00 Augusta\x1b[2J\r\n 24\x7f"))
    assert found and found[0].name == "Rua Augusta 24"
    with pytest.raises(InvalidInput, match="at most 200 characters, got 10240"):
        await geocoder.search(Query("A" * 10_240))
    with pytest.raises(InvalidInput, match="category"):
        await geocoder.search(Query(category="amenity=pharmacy]; [shop"))
    assert geocoder.statistics().requests == 1


async def test_a_repeated_question_is_answered_from_the_cache(lisbon: Imported) -> None:
    async with open_nominatim(lisbon.database) as service:
        geocoder = NominatimGeocoder(service.url, TIMEOUT)
        try:
            first = await geocoder.search(Query("Rua Augusta 24"))
            here = await geocoder.reverse(lisbon.facts.address("24").latlon)
            assert first and here is not None
            service.process.kill()  # the service is gone: only the cache can answer now
            await service.process.wait()
            again = await geocoder.search(Query("  rua   augusta 24 "))  # the same request, normalised
            assert again == first
            assert await geocoder.reverse(lisbon.facts.address("24").latlon) == here
            assert geocoder.statistics() == Statistics(requests=2, cache_hits=2, cached=2, failures=0)
            with pytest.raises(SourceUnavailable):
                await geocoder.search(Query("Rua Augusta 100"))
        finally:
            await geocoder.aclose()


def test_the_cache_forgets_the_least_recent_and_the_expired() -> None:
    now = [0.0]
    cache: _Cache[str, int] = _Cache(2, ttl=10, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == (1,)  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ((1,), None, (3,))
    now[0] = 10.0
    assert cache.get("a") is None and len(cache) == 1


# local listeners that fail as services do


@dataclass
class Listener:
    """A one-request-per-connection HTTP listener that answers every request alike (or, with
    ``answer=False``, accepts and never answers), recording when each came and what it asked."""

    status: int = 200
    body: bytes = b"[]"
    content_type: str = "application/json"
    answer: bool = True
    port: int = 0
    requests: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, stream: trio.SocketStream) -> None:
        try:
            got = await read_head(stream)
            if got is None:
                return
            line, headers = got
            self.requests.append((time.monotonic(), line.split(" ")[1], headers))
            if not self.answer:
                await trio.sleep_forever()
            head = (
                f"HTTP/1.1 {self.status} Whatever\r\nContent-Type: {self.content_type}\r\n"
                f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
            )
            await stream.send_all(head.encode() + self.body)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await stream.aclose()


@asynccontextmanager
async def open_listener(**answer: object) -> AsyncIterator[Listener]:
    listener = Listener(**answer)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, listener.handle, 0, host="127.0.0.1"))
        listener.port = listeners[0].socket.getsockname()[1]
        yield listener
        nursery.cancel_scope.cancel()


async def unavailable(url: str, port: int, wait: float = TIMEOUT, reverse: bool = False) -> str:
    """The message of the SourceUnavailable a search (or a reverse) at ``url`` raises."""
    geocoder = NominatimGeocoder(url, wait)
    try:
        with trio.fail_after(wait + 2), pytest.raises(SourceUnavailable) as raised:
            if reverse:
                await geocoder.reverse((38.7, -9.1))
            else:
                await geocoder.search(Query("Rua Augusta 24"))
    finally:
        await geocoder.aclose()
    message = str(raised.value)
    assert "127.0.0.1" not in message and str(port) not in message, message
    assert geocoder.statistics().failures == 1
    return message


async def test_a_closed_port_is_unavailable() -> None:
    port = free_port()
    assert "could not be reached" in await unavailable(f"http://127.0.0.1:{port}", port)


async def test_a_hung_service_fails_within_the_timeout() -> None:
    async with open_listener(answer=False) as listener:
        started = trio.current_time()
        message = await unavailable(listener.url, listener.port, wait=1.0)
        assert "no answer within 1 s" in message
        assert trio.current_time() - started >= 0.9
        assert len(listener.requests) == 1


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"status": 500, "body": b'{"error": "database gone"}'}, "HTTP 500"),
        (
            {"status": 503, "body": b"<html>down for maintenance</html>", "content_type": "text/html"},
            "HTTP 503",
        ),
        (
            {"body": b"<!DOCTYPE html><html><body>Nominatim</body></html>", "content_type": "text/html"},
            "could not be read",
        ),
        ({"body": b'[{"lat": "38.7", "lon": '}, "could not be read"),  # cut short
        ({"body": b'{"results": []}'}, "could not be read"),  # an object where a list belongs
        ({"body": b'[{"name": "Rua Augusta"}]'}, "could not be read"),  # no coordinates
        (
            {"body": b'[{"lat": "north", "lon": "-9.1", "category": "place", "type": "town"}]'},
            "could not be read",
        ),
    ],
)
async def test_a_broken_answer_is_unavailable(answer: dict[str, object], why: str) -> None:
    async with open_listener(**answer) as listener:
        assert why in await unavailable(listener.url, listener.port)


async def test_a_reverse_of_the_wrong_shape_is_unavailable() -> None:
    async with open_listener(body=b'[{"lat": "38.7"}]') as listener:
        assert "could not be read" in await unavailable(listener.url, listener.port, reverse=True)


async def test_every_request_names_mapsrv_and_asks_for_json() -> None:
    async with open_listener() as listener:
        for agent in ("", identify("https://maps.example")):
            geocoder = NominatimGeocoder(listener.url, TIMEOUT, user_agent=agent)
            try:
                assert (
                    await geocoder.search(Query("Lisboa", near=(38.7, -9.1), within_m=500, country="pt"))
                    == []
                )
            finally:
                await geocoder.aclose()
        (_, target, first), (_, _, second) = listener.requests
        assert first["user-agent"].startswith("mapsrv/") and first["user-agent"].endswith("(+self-hosted)")
        assert second["user-agent"].endswith("(+https://maps.example)")
        assert "format=jsonv2" in target and "countrycodes=pt" in target and "bounded=1" in target


async def test_a_public_service_is_asked_at_most_once_a_second() -> None:
    """polite=True stands in for the public host: three questions at once queue behind one
    another and go out a second apart (monotonic arrival times; real sockets, so no virtual clock)."""
    async with open_listener() as listener:
        geocoder = NominatimGeocoder(listener.url, TIMEOUT, polite=True)
        try:
            with trio.fail_after(10):
                async with trio.open_nursery() as nursery:
                    for name in ("Lisboa", "Porto", "Faro"):
                        nursery.start_soon(geocoder.search, Query(name))
            await geocoder.search(Query("Porto"))  # answered from the cache: not paced, not sent
        finally:
            await geocoder.aclose()
        arrivals = [at for at, _, _ in listener.requests]
        assert len(arrivals) == 3
        assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(arrivals))


async def test_a_self_hosted_service_is_not_paced() -> None:
    async with open_listener() as listener:
        geocoder = NominatimGeocoder(listener.url, TIMEOUT)
        try:
            with trio.fail_after(2):
                for name in ("Lisboa", "Porto", "Faro"):
                    await geocoder.search(Query(name))
        finally:
            await geocoder.aclose()
        assert len(listener.requests) == 3


def test_the_import_is_timed(lisbon: Imported, record_property: pytest.RecordProperty) -> None:
    record_property("nominatim_import_s", round(lisbon.database.import_s, 1))
    assert lisbon.database.import_s < 120


# what mapsrv sends a geocoder, and what it keeps of an answer: a stand-in on a real socket


async def test_the_public_nominatim_is_asked_at_most_once_a_second_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's geocoder for nominatim.openstreetmap.org, made as ``--geocoder`` makes it (no
    ``polite`` given), paces itself: reached here through an HTTP proxy that answers for it."""
    async with open_fake_geocoder(lambda asked: answer([])) as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        service = place_service_for(tmp_path, geocoder="nominatim+http://nominatim.openstreetmap.org")
        (geocoder,) = (s for s in service.sources if isinstance(s, NominatimGeocoder))
        try:
            with trio.fail_after(10):
                async with trio.open_nursery() as nursery:
                    for name in ("Lisboa", "Porto", "Faro"):
                        nursery.start_soon(geocoder.search, Query(name))
        finally:
            await service.aclose()
    assert [a.host for a in proxy.asked] == ["nominatim.openstreetmap.org"] * 3
    arrivals = [a.at for a in proxy.asked]
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(arrivals)), arrivals


async def test_brackets_in_a_name_reach_nominatim_as_text_not_as_a_category() -> None:
    """``[amenity=pharmacy]`` is Nominatim's category syntax; in a name it is only text (a
    category is asked with ``category``, checked, and its answers kept by it)."""
    async with open_fake_geocoder(lambda asked: answer([])) as fake:
        geocoder = NominatimGeocoder(fake.url, TIMEOUT)
        try:
            await geocoder.search(Query("[amenity=pharmacy] Rua Augusta"))
            await geocoder.search(Query("Rua [shop=bakery]Augusta]", near=(38.7, -9.1)))
            await geocoder.search(Query(category="amenity=pharmacy", near=(38.7, -9.1)))
        finally:
            await geocoder.aclose()
    typed, inside, category = (a.params["q"] for a in fake.asked)
    assert typed == "amenity=pharmacy Rua Augusta"
    assert inside == "Rua shop=bakery Augusta"
    assert category == "[amenity=pharmacy] 38.70000,-9.10000"  # the category's own syntax, as meant


async def test_a_redirect_to_another_host_is_not_followed() -> None:
    async with (
        open_fake_geocoder(lambda asked: answer([]), host="127.0.0.2") as elsewhere,
        open_fake_geocoder(lambda asked: answer([], 302, Location=f"{elsewhere.url}{asked.path}")) as fake,
    ):
        geocoder = NominatimGeocoder(fake.url, TIMEOUT)
        said = []
        try:
            for ask in (geocoder.search(Query("Rua Augusta 24")), geocoder.reverse((38.7, -9.1))):
                try:
                    await ask
                except SourceUnavailable as exc:
                    said.append(str(exc))
        finally:
            await geocoder.aclose()
    assert elsewhere.asked == [], "the redirect was followed"
    assert len(fake.asked) == 2 and len(said) == 2 and all("it answered HTTP 302" in s for s in said), said


async def test_a_reverse_answer_is_never_farther_than_its_radius() -> None:
    """Nominatim names the nearest thing however far it is: 700 m off is nothing within 200 m,
    from the service or from the cache; 150 m off is within."""
    here, there = (38.70, -9.10), (38.70, -9.10 + 0.7 / (111.32 * math.cos(math.radians(38.70))))
    other, close_by = (38.71, -9.10), (38.71 + 0.15 / 111.2, -9.10)

    def reply(asked: Asked) -> Reply:
        at = close_by if float(asked.params["lat"]) > 38.705 else there
        return answer(result("Rua Augusta 24", *at, country_code="pt", category="place", kind="house",
                             house_number="24", road="Rua Augusta"))  # fmt: skip

    async with open_fake_geocoder(reply) as fake:
        geocoder = NominatimGeocoder(fake.url, TIMEOUT)
        try:
            assert await geocoder.reverse(here, within_m=200) is None
            assert await geocoder.reverse(here, within_m=200) is None  # from the cache
            far = await geocoder.reverse(here, within_m=1_000)
            near = await geocoder.reverse(other, within_m=200)
        finally:
            await geocoder.aclose()
    assert far is not None and far.distance_m is not None and 650 < far.distance_m < 750
    assert near is not None and near.distance_m is not None and near.distance_m <= 200
    assert len(fake.asked) == 2, "one request per point"
