"""A stand-in for a Nominatim on a real socket, for tests of what mapsrv sends a geocoder and what
it does with an answer: each request (GET /search or /reverse, or a proxy's absolute-form request
for another host) is recorded and answered by the test's ``reply``, one request a connection.

``result`` writes one of Nominatim's jsonv2 results, with the fields ``mapsrv.places.nominatim``
reads (``nominatim_api/v1/format_json.py``: lat and lon as text, category, type, name, importance,
address details).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import trio

from .sources import read_request

__all__ = ["Asked", "FakeGeocoder", "Reply", "answer", "open_fake_geocoder", "read_head", "result"]


@dataclass(frozen=True)
class Asked:
    at: float  # time.monotonic() when its head had come
    host: str  # the Host header: the service's own name, also through a proxy
    path: str  # "/search", "/reverse"
    params: dict[str, str]
    headers: dict[str, str]


Reply = tuple[int, dict[str, str], bytes]  # status, headers, body


def answer(value: Any, status: int = 200, **headers: str) -> Reply:
    """``value`` as a JSON answer."""
    return status, {"Content-Type": "application/json", **headers}, json.dumps(value).encode()


def result(
    name: str,
    lat: float,
    lon: float,
    *,
    country_code: str,
    category: str = "place",
    kind: str = "city",
    importance: float = 0.5,
    **address: str,
) -> dict[str, Any]:
    """One of Nominatim's jsonv2 results: ``kind`` is its ``type`` (city, town, pharmacy...)."""
    details = {"country_code": country_code.lower(), **address}
    return {
        "place_id": abs(hash((name, lat, lon))) % 10**9,
        "osm_type": "node",
        "lat": f"{lat:.7f}",
        "lon": f"{lon:.7f}",
        "category": category,
        "type": kind,
        "name": name,
        "display_name": ", ".join([name, *address.values()]),
        "importance": importance,
        "address": details,
        "boundingbox": [f"{lat - 0.01:.7f}", f"{lat + 0.01:.7f}", f"{lon - 0.01:.7f}", f"{lon + 0.01:.7f}"],
    }


async def read_head(stream: trio.SocketStream) -> tuple[str, dict[str, str]] | None:
    """A request's line and headers (names lowercased), or None when the client left first."""
    data = await read_request(stream)
    if data is None:
        return None
    line, *lines = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    return line, {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}


@dataclass
class FakeGeocoder:
    reply: Callable[[Asked], Reply]
    host: str = "127.0.0.1"
    port: int = 0
    asked: list[Asked] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def handle(self, stream: trio.SocketStream) -> None:
        try:
            got = await read_head(stream)
            if got is None:
                return
            line, headers = got
            # "/search?q=..." or, to a proxy, "http://host/search?q=..."
            target = urlsplit(line.split(" ")[1])
            params = dict(parse_qsl(target.query))
            asked = Asked(time.monotonic(), headers.get("host", ""), target.path, params, headers)
            self.asked.append(asked)
            status, extra, body = self.reply(asked)
            head = "".join(f"{k}: {v}\r\n" for k, v in {**extra, "Content-Length": str(len(body))}.items())
            out = f"HTTP/1.1 {status} Answer\r\n{head}Connection: close\r\n\r\n".encode() + body
            await stream.send_all(out)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await stream.aclose()


@asynccontextmanager
async def open_fake_geocoder(
    reply: Callable[[Asked], Reply], host: str = "127.0.0.1"
) -> AsyncIterator[FakeGeocoder]:
    """A FakeGeocoder listening on a free port of ``host`` (any 127.x.y.z is this machine)."""
    fake = FakeGeocoder(reply, host)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, fake.handle, 0, host=host))
        fake.port = listeners[0].socket.getsockname()[1]
        yield fake
        nursery.cancel_scope.cancel()
