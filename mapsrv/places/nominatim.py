"""A geocoder service speaking Nominatim's JSON API (``--geocoder nominatim+https://HOST``):
``/search`` and ``/reverse`` in ``format=jsonv2`` with ``addressdetails=1``.

Every answer is cached (an LRU of 10,000 requests, kept a day), whatever the host: places move
rarely, and an agent asks the same names again and again. OpenStreetMap's public instance
(``PUBLIC_HOSTS``) asks for more (its usage policy): at most one request a second from the
whole application, so requests to it queue behind one process-wide pacer rather than being
refused, and a User-Agent that names the application; every request here carries one.

Nothing the service answers reaches the caller as text from the service: a timeout, a refused
connection, a 5xx, HTML or a body of the wrong shape is ``SourceUnavailable`` with a short reason,
and the host goes to the server's log only.

A category near a point is asked as Nominatim's own query syntax: ``[amenity=pharmacy] LAT,LON``
answers the nearest such places within ~0.1 degree of the point, nearest first
(``nominatim_api/v1/helpers.py``: ``extract_category_from_query``, ``extract_coords_from_query``),
which needs none of the optional special-phrase tables. ``within_m`` adds a bounded viewbox.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx
import trio

from mapsrv import __version__
from mapsrv.core.model import LatLon
from mapsrv.errors import InvalidInput
from mapsrv.places.model import Place
from mapsrv.places.nominatim_answers import kept, place_of
from mapsrv.places.sources import Query, SourceUnavailable

__all__ = ["MAX_TEXT", "PUBLIC_HOSTS", "NominatimGeocoder", "Statistics", "identify"]

log = logging.getLogger("mapsrv.places")

PUBLIC_HOSTS = frozenset({"nominatim.openstreetmap.org"})  # its policy: 1 request/s, a named client
PUBLIC_INTERVAL = 1.0  # seconds between two requests to a public host
MAX_TEXT = 200  # characters of a query: longer is not an address, and the service is shared
MAX_ANSWER = 2_000_000  # bytes of one answer; 40 results with address details are ~30 KB
MAX_RESULTS = 40  # Nominatim's own cap on ``limit``
CACHE_SIZE = 10_000
CACHE_TTL = 24 * 60 * 60.0
CONNECT_TIMEOUT = 2.0
BIAS_M = 25_000  # a point without ``within_m`` favours results in a box this far around it

# a terminal's escape sequences whole ("\x1b[2J"), then any other control character; brackets are
# Nominatim's syntax for a category ("[amenity=cafe]"), which only ``category`` may ask
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x1f\x7f-\x9f\u2028\u2029\[\]]+")
_SPACES = re.compile(r"\s+")
_CATEGORY = re.compile(r"(?:[a-z_]+=)?[a-z_]+")  # the key=value Nominatim's query syntax accepts
# the OSM key of the values agents ask for most; any other value is asked as a word and checked
_KEYS = {
    **dict.fromkeys(
        "atm bank bar bench bicycle_parking bus_station cafe car_rental charging_station cinema clinic"
        " college dentist doctors drinking_water fast_food ferry_terminal fire_station fuel hospital"
        " ice_cream kindergarten library marketplace nightclub parking pharmacy place_of_worship police"
        " post_office pub restaurant school taxi theatre toilets townhall university".split(),
        "amenity",
    ),
    **dict.fromkeys(
        "attraction artwork camp_site gallery guest_house hostel hotel information motel museum"
        " picnic_site theme_park viewpoint zoo".split(),
        "tourism",
    ),
    **dict.fromkeys("archaeological_site castle memorial monument ruins".split(), "historic"),
    **dict.fromkeys("bakery books butcher clothes convenience mall supermarket".split(), "shop"),
    **dict.fromkeys("beach_resort garden park playground sports_centre stadium".split(), "leisure"),
}

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def identify(public_url: str = "") -> str:
    """The User-Agent a geocoder is asked with: ``mapsrv/0.1.0 (+https://maps.example)``."""
    return f"mapsrv/{__version__} (+{public_url or 'self-hosted'})"


class _Cache(Generic[K, V]):
    """Least recently used, each entry kept ``ttl`` seconds."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float]) -> None:
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self.size, self.ttl, self._clock = size, ttl, clock

    def get(self, key: K) -> tuple[V] | None:
        """``(value,)`` when ``key`` is cached and fresh, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return (entry[1],)

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class _Pacer:
    """Spaces the start of requests to one host ``interval`` seconds apart, in arrival order
    (trio's Lock is fair). Monotonic time, not trio's clock: the spacing is the service's, across
    every trio run in the process."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = trio.Lock()
        self._next = 0.0

    async def wait(self) -> None:
        async with self._lock:
            delay = self._next - time.monotonic()
            if delay > 0:
                await trio.sleep(delay)
            self._next = time.monotonic() + self.interval


_pacers: dict[str, _Pacer] = {}  # by host: one queue per public service, for the whole process


@dataclass(frozen=True)
class Statistics:
    requests: int  # sent to the service
    cache_hits: int
    cached: int  # entries in the cache now
    failures: int  # requests that ended in SourceUnavailable


class NominatimGeocoder:
    """One Nominatim service, reached through one pooled HTTP client; a ``PlaceSource``."""

    name = "geocoder"

    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        *,
        user_agent: str = "",
        polite: bool | None = None,
        cache_size: int = CACHE_SIZE,
        cache_ttl: float = CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``base_url`` is the service's own (``check_geocoder_url``). ``polite`` paces requests
        one a second; by default only for a public host."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._host = urlsplit(self.base_url).hostname or "?"
        polite = self._host in PUBLIC_HOSTS if polite is None else polite
        self._pacer = _pacers.setdefault(self._host, _Pacer(PUBLIC_INTERVAL)) if polite else None
        self._searches: _Cache[Query, list[Place]] = _Cache(cache_size, cache_ttl, clock)
        self._reversals: _Cache[LatLon, Place | None] = _Cache(cache_size, cache_ttl, clock)
        self._requests = self._hits = self._failures = 0
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
            headers={"User-Agent": user_agent or identify(), "Accept": "application/json"},
            follow_redirects=False,
        )

    def describe(self) -> str:
        """For the start-up line (the operator's; agents are never told the address)."""
        return f"the geocoder at {self._host}"

    def statistics(self) -> Statistics:
        cached = len(self._searches) + len(self._reversals)
        return Statistics(self._requests, self._hits, cached, self._failures)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def search(self, query: Query) -> list[Place]:
        query = _normalised(query)
        if not query.text and not query.category:
            return []
        key = replace(query, text=query.text.casefold())  # Nominatim ignores case; so does the cache
        if (cached := self._searches.get(key)) is not None:
            self._hits += 1
            return list(cached[0])
        answer = await self._get("/search", _search_params(query))
        if not isinstance(answer, list):
            raise self._unreadable("/search")
        places = [place_of(item, query.near) for item in answer]
        if any(p is None for p in places):
            raise self._unreadable("/search")
        found = kept([p for p in places if p is not None], query)
        self._searches.put(key, found)
        return list(found)

    async def reverse(self, at: LatLon, *, within_m: float = 200.0) -> Place | None:
        at = _point(at)
        if (cached := self._reversals.get(at)) is not None:
            self._hits += 1
            place = cached[0]
        else:
            params = {"lat": f"{at[0]:.5f}", "lon": f"{at[1]:.5f}", "zoom": "18"}
            answer = await self._get("/reverse", {"format": "jsonv2", "addressdetails": "1", **params})
            if isinstance(answer, dict) and "error" in answer and "lat" not in answer:
                place = None  # "Unable to geocode": nothing there
            elif isinstance(answer, dict) and (place := place_of(answer, at, "nearest")) is not None:
                pass
            else:
                raise self._unreadable("/reverse")
            self._reversals.put(at, place)
        if place is None or place.distance_m is None or place.distance_m > within_m:
            return None
        return place

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        """The JSON the service answered ``path`` with; SourceUnavailable when there is none."""
        if self._pacer is not None:
            await self._pacer.wait()
        self._requests += 1
        body = b""
        # one deadline for the whole answer: httpx's timeouts are per read, and a service that
        # sends a byte a second would never reach them
        with trio.move_on_after(self.timeout):
            try:
                async with self._client.stream("GET", path, params=params) as response:
                    if response.status_code != 200:
                        raise self._failed(path, f"it answered HTTP {response.status_code}")
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_ANSWER:
                            raise self._failed(path, "its answer was too large")
            except httpx.TimeoutException:
                pass
            except httpx.HTTPError as exc:
                raise self._failed(path, f"it could not be reached: {type(exc).__name__}") from None
            else:
                try:
                    return json.loads(body)
                except ValueError:
                    raise self._unreadable(path) from None
        raise self._failed(path, f"no answer within {self.timeout:g} s")

    def _failed(self, path: str, why: str) -> SourceUnavailable:
        self._failures += 1
        log.warning("geocoder %s: %s to %s", self._host, why, path)
        return SourceUnavailable("geocoder", why)

    def _unreadable(self, path: str) -> SourceUnavailable:
        return self._failed(path, "its answer could not be read")

    def __repr__(self) -> str:
        return f"NominatimGeocoder({self._host!r})"


def _clean(text: str) -> str:
    """``text`` without control characters, its spaces collapsed; InvalidInput past MAX_TEXT."""
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"a place's name must be at most {MAX_TEXT} characters, got {len(text)}")
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def _point(at: LatLon) -> LatLon:
    # to ~1 m: the same point asked twice is one cache entry and one request
    return (round(float(at[0]), 5), round(float(at[1]), 5))


def _normalised(query: Query) -> Query:
    category = query.category
    if category is not None:
        category = category.strip().lower()
        if not _CATEGORY.fullmatch(category):
            raise InvalidInput(f"category must be an OSM key=value or a value, got {category!r:.40}")
    return replace(
        query,
        text=_clean(query.text),
        near=None if query.near is None else _point(query.near),
        category=category,
        country=None if query.country is None else query.country.strip().upper(),
        limit=max(1, min(MAX_RESULTS, query.limit)),
    )


def _box(at: LatLon, metres: float) -> str:
    """Nominatim's ``viewbox`` (lon1,lat1,lon2,lat2) around ``at``."""
    dlat = metres / 111_320
    dlon = metres / (111_320 * max(0.01, math.cos(math.radians(at[0]))))
    return f"{at[1] - dlon:.5f},{at[0] - dlat:.5f},{at[1] + dlon:.5f},{at[0] + dlat:.5f}"


def _search_params(query: Query) -> dict[str, str]:
    text = query.text
    if query.category:
        key, _, value = query.category.rpartition("=")
        key = key or _KEYS.get(value, "")
        # a value of an unknown key is asked as a word (a special phrase) and checked in ``kept``
        asked = f"[{key}={value}]" if key else value
        text = f"{asked} {text}".strip()
        if query.near is not None and not query.text:
            text += f" {query.near[0]:.5f},{query.near[1]:.5f}"
    # ask for more than the limit when results are dropped here (duplicates, outside the circle)
    limit = min(MAX_RESULTS, query.limit + min(10, query.limit))
    params = {"q": text, "format": "jsonv2", "addressdetails": "1", "limit": str(limit), "dedupe": "0"}
    if query.near is not None:
        params["viewbox"] = _box(query.near, query.within_m or BIAS_M)
        if query.within_m is not None:
            params["bounded"] = "1"
    if query.country:
        params["countrycodes"] = query.country.lower()
    return params
