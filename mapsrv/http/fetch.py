"""The one guarded fetcher: what the server fetches from elsewhere (a GeoJSON or CSV by URL, a
raster layer's tiles for ``map_image``) comes through here, and the page's CSP names the same
hosts.

A URL is fetched only if it is http(s) and its host resolves to a public address, or the operator
listed the host, or a network holding the address, in ``--allowed-sources``; an IPv6 address
that carries an IPv4 one (mapped, compatible, NAT64, 6to4, Teredo) is judged by that IPv4
address, where the connection would lead. The address checked is the address connected to (the
host is resolved once and the connection pinned to it, with the name kept for the Host header
and TLS), so a name that resolves elsewhere the second time (DNS rebinding) reaches nothing new.
Redirects are followed here, at most ``MAX_REDIRECTS``, each hop checked again. A refusal names
only what the agent gave: never the address a name resolved to, nor where a redirect went (both
go to the log), which would map the server's network for whoever asks. The body is cut at
``max_size`` while it streams, and the whole fetch, hops included, has one deadline. A byte
range (``Range: bytes=a-b``, how a PMTiles archive is read) must be answered with 206 and those
bytes, and is cut at its own length.

The body is read as it came off the wire and its content codings undone here, every layer within
the same cap, a bounded step at a time (``mapsrv.core.content_coding``): httpx's own decoding
inflates each read whole, so a 1 KB answer coded ``gzip, gzip`` took 946 MB and held the event
loop 1.1 s before the cap was checked (issue 56).

A source that cannot be reached (its host does not resolve, no connection, no answer within the
deadline, a 5xx) is remembered as down by its origin, the URL's scheme, host and port as given
(``SourcePolicy.origins``, ``mapsrv.core.origins``): until its backoff is over, a fetch from it is
refused at once with ``SourceDown`` (when it is tried again), then one fetch probes it. Any other
answer from it counts as up.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import trio

from mapsrv import __version__
from mapsrv.core.content_coding import Decoding
from mapsrv.core.layer_source import check_source_url
from mapsrv.core.origins import Origins, origin_of
from mapsrv.errors import InvalidInput, PayloadTooLarge, SourceDown
from mapsrv.formats import MAX_WHOLE

if TYPE_CHECKING:
    from mapsrv.config import Config

__all__ = ["MAX_REDIRECTS", "SOURCE_DEADLINE", "Fetched", "SourcePolicy", "fetch_source", "tile_fetcher"]

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
SOURCE_DEADLINE = 20.0  # seconds for one fetch, redirects included
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
SETTING = "--allowed-sources (MAPSRV_ALLOWED_SOURCES)"
# IPv6 networks whose last 32 bits are an IPv4 address, where a connection goes; 6to4
# (2002::/16) and Teredo (2001::/32) carry theirs elsewhere in the address.
CARRYING = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/96",  # IPv4-compatible (RFC 4291 2.5.5.1, deprecated; ::1 is 0.0.0.1, refused as well)
        "::ffff:0:0/96",  # IPv4-mapped (RFC 4291 2.5.5.2)
        "::ffff:0:0:0/96",  # IPv4-translated (RFC 2765)
        "64:ff9b::/96",  # NAT64's well-known prefix (RFC 6052)
    )
)
# NAT64 for local use (RFC 8215): where the IPv4 address sits depends on the prefix length the
# network chose, and none of it is public, so it is fetched only when listed.
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


class _Unreachable(InvalidInput):
    """The fetch found its source unreachable (``reason``, naming no address): marked down."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    body: bytes


@dataclass(frozen=True)
class SourcePolicy:
    """Which sources the operator allowed: host names and networks (``--allowed-sources``), the
    configured tile server's origin (which the page loads anyway), the size cap and the deadline;
    and the memory of the sources that are down (one per process: the server makes one policy)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    tile_origin: str = ""
    max_size: int = 16 * 2**20
    deadline: float = SOURCE_DEADLINE
    origins: Origins = field(default_factory=Origins, compare=False, repr=False)

    @classmethod
    def of(cls, allowed: tuple[str, ...] = (), tile_url: str = "", **kwargs: Any) -> SourcePolicy:
        hosts, networks = set(), []
        for entry in allowed:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        parts = urlsplit(tile_url) if tile_url else None
        origin = f"{parts.scheme}://{parts.netloc}" if parts and parts.hostname else ""
        return cls(frozenset(hosts), tuple(networks), origin, **kwargs)

    @classmethod
    def from_config(cls, config: Config) -> SourcePolicy:
        # a fetched source is held and parsed whole, as a page's GeoJSON is: never past MAX_WHOLE
        size = min(config.max_file_size, MAX_WHOLE)
        return cls.of(config.allowed_sources, config.online_tiles(), max_size=size)

    def page_sources(self) -> list[str]:
        """The CSP sources of the tiles the page may load: the tile server and the listed hosts
        and single addresses, any port (a CSP cannot name a network)."""
        names = sorted(self.hosts) + [
            f"[{n.network_address}]" if n.version == 6 else str(n.network_address)
            for n in self.networks
            if n.num_addresses == 1
        ]
        listed = [f"{scheme}://{name}:*" for name in names for scheme in ("http", "https")]
        return ([self.tile_origin] if self.tile_origin else []) + listed

    def check_page_url(self, url: str) -> str:
        """A raster layer's URL, if the page's CSP lets the browser load it."""
        check_source_url(url)
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if self.tile_origin and f"{parts.scheme}://{parts.netloc}".lower() == self.tile_origin.lower():
            return url
        if host in self.hosts or _address_in(host, tuple(n for n in self.networks if n.num_addresses == 1)):
            return url
        raise InvalidInput(
            f"url host {host!r} is not among the allowed sources; the page may load tiles only from"
            f" hosts the operator lists in {SETTING}"
        )

    def allows(self, host: str, address: Address) -> bool:
        """Whether ``address`` may be fetched from: its host or a network holding it listed, or
        public. An IPv6 address that carries an IPv4 one leads to that IPv4 address, so it is
        judged by it, and a listed IPv4 network allows it too."""
        carried = _carried_ipv4(address)
        judged = address if carried is None else carried
        listed = any(a in n for a in (address, judged) for n in self.networks)
        if listed or host.lower().rstrip(".") in self.hosts:
            return True
        if address in LOCAL_NAT64:
            return False
        return judged.is_global and not judged.is_multicast


def _carried_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one maps, embeds or tunnels to, if any."""
    if address.version == 4:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if any(address in n for n in CARRYING):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo:
        return address.teredo[1]  # the client, de-obfuscated: where a relay sends the packets
    return address.sixtofour


def _address_in(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return any(address in n for n in networks)


async def _resolve(policy: SourcePolicy, url: str, given: str) -> tuple[str, str]:
    """The URL pinned to the host's checked address, and the host name. A refusal names only
    what the agent gave (``given``), never an address a name resolved to, nor where a redirect
    went: those would map the server's network for whoever asks. The log has them."""
    try:
        check_source_url(url)
    except InvalidInput as exc:
        if url != given:
            raise _redirect_refused(given, url, exc.message) from None
        raise
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await trio.socket.getaddrinfo(host, port, type=trio.socket.SOCK_STREAM)
    except OSError as exc:
        if url != given:
            raise _redirect_refused(given, url, f"its host does not resolve ({exc.strerror})") from None
        raise _Unreachable(
            f"url host {host!r} does not resolve ({exc.strerror}); check the URL", "its host does not resolve"
        ) from None
    address = ipaddress.ip_address(str(infos[0][4][0]).split("%")[0])
    if not policy.allows(host, address):
        if url != given:
            raise _redirect_refused(given, url, f"its host is at {address}")
        log.info("fetch refused: url host %r is at %s", host, address)
        raise InvalidInput(
            f"url host {host!r} is or resolves to a loopback, private or reserved address; the"
            f" operator must list it in {SETTING}"
        )
    literal = f"[{address}]" if address.version == 6 else str(address)
    pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    return pinned, host


def _redirect_refused(given: str, target: str, why: str) -> InvalidInput:
    log.warning("fetch of %.200s refused: it redirected to %.200s, and %s", given, target, why)
    return InvalidInput(
        f"url {given!r:.80} redirected to a host that is not allowed; give a URL on an allowed host"
        f" (the operator lists hosts in {SETTING})"
    )


async def _get(
    client: httpx.AsyncClient,
    policy: SourcePolicy,
    url: str,
    given: str,
    byte_range: tuple[int, int] | None,
    sink: Callable[[bytes], Awaitable[object]] | None = None,
) -> Fetched | str:
    """One hop to ``url`` of the fetch of ``given``: the body, or the next URL to go to."""
    pinned, host = await _resolve(policy, url, given)
    parts = urlsplit(url)
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1]}
    cap = policy.max_size
    if byte_range is not None:
        headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
        cap = min(cap, byte_range[1] - byte_range[0] + 1)
    request = client.build_request("GET", pinned, headers=headers, extensions={"sni_hostname": host})
    response = await client.send(request, stream=True)
    try:
        if response.status_code >= 500:
            status = response.status_code
            raise _Unreachable(f"url answered HTTP {status}; check the URL: {given!r:.80}", f"HTTP {status}")
        policy.origins.succeeded(origin_of(given)[0])
        if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
            return urljoin(url, response.headers["location"])
        if byte_range is not None:
            _check_partial(response, byte_range, given)
        elif response.status_code != 200:
            raise InvalidInput(f"url answered HTTP {response.status_code}; check the URL: {given!r:.80}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _too_large(policy, int(declared), cap)
        coding = response.headers.get("content-encoding", "")
        decoding = Decoding(coding, cap, lambda size: _too_large(policy, size, cap))
        chunks = []
        async for raw in response.aiter_raw():
            for piece in decoding.feed(raw):
                if sink is None:
                    chunks.append(piece)
                    await trio.lowlevel.checkpoint()
                else:
                    await sink(piece)
        decoding.end()
        return Fetched(url, response.headers.get("content-type", ""), b"".join(chunks))
    finally:
        await response.aclose()


def _check_partial(response: httpx.Response, byte_range: tuple[int, int], url: str) -> None:
    """A range request's answer: 206 with the bytes from the start asked for."""
    if response.status_code == 200:
        answered = response.headers.get("content-type", "")
        raise InvalidInput(
            f"url answered a range request with the whole file (HTTP 200, {answered!r:.40}), got no"
            f" byte range from {url!r:.80}; the host must answer HTTP range requests (206 Partial Content)"
        )
    if response.status_code != 206:
        raise InvalidInput(f"url answered HTTP {response.status_code}; check the URL: {url!r:.80}")
    answered = response.headers.get("content-range", "")
    if not answered.startswith(f"bytes {byte_range[0]}-"):
        raise InvalidInput(
            f"url answered bytes {answered[6:]!r:.40} to a request for {byte_range[0]}-{byte_range[1]};"
            " the host must answer HTTP range requests as asked"
        )


def _too_large(policy: SourcePolicy, size: int, cap: int) -> PayloadTooLarge:
    if cap < policy.max_size:
        return PayloadTooLarge(
            f"a range must be answered with at most the {cap} bytes asked for, got {size};"
            " the host must answer HTTP range requests as asked"
        )
    return PayloadTooLarge(
        f"source must be at most {policy.max_size // 2**20} MiB, got more than {size / 2**20:.1f} MiB;"
        " use a smaller file"
    )


async def fetch_source(
    policy: SourcePolicy,
    url: str,
    byte_range: tuple[int, int] | None = None,
    sink: Callable[[bytes], Awaitable[object]] | None = None,
) -> Fetched:
    """The body at ``url`` (redirects followed and checked), or InvalidInput saying why not;
    with ``byte_range`` (first and last byte, inclusive), those bytes of it. With ``sink``, the
    body goes to it piece by piece as it comes (a file, for an import: never whole in memory)
    and ``Fetched.body`` is empty. ``SourceDown`` at once while its origin is remembered as down."""
    origin, name = origin_of(url)
    down = policy.origins.check(origin)
    if down is not None:
        raise SourceDown(name, down.describe(), down.retry_after)
    try:
        return await _fetch(policy, url, byte_range, sink)
    except _Unreachable as exc:
        down = policy.origins.failed(origin, name, exc.reason)
        raise InvalidInput(
            f"{exc.message}; {name!r:.80} is not tried again before {down.retry_at()}"
        ) from None


async def _fetch(
    policy: SourcePolicy,
    url: str,
    byte_range: tuple[int, int] | None,
    sink: Callable[[bytes], Awaitable[object]] | None,
) -> Fetched:
    with trio.move_on_after(policy.deadline):
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(policy.deadline),
            headers={"User-Agent": f"mapsrv/{__version__} (layers)", "Accept-Encoding": "identity"},
            follow_redirects=False,
            trust_env=False,
            verify=_tls(),
        ) as client:
            hop = url
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    got = await _get(client, policy, hop, url, byte_range, sink)
                except httpx.TransportError as exc:  # no connection, no answer, a broken one
                    raise _Unreachable(
                        f"url could not be fetched ({type(exc).__name__}); check the URL", type(exc).__name__
                    ) from None
                except httpx.HTTPError as exc:
                    raise InvalidInput(
                        f"url could not be fetched ({type(exc).__name__}); check the URL"
                    ) from None
                if isinstance(got, Fetched):
                    return got
                hop = got
            raise InvalidInput(f"url redirected more than {MAX_REDIRECTS} times; give the final URL")
    raise _Unreachable(
        f"url did not answer within {policy.deadline:g} s; check the source is up",
        f"no answer within {policy.deadline:g} s",
    )


@functools.cache
def _tls() -> ssl.SSLContext:
    """The process's one TLS context for fetches: making one per fetch stalled the event loop
    for 40-240 ms each (a PMTiles archive is many small range fetches). httpx's own, as before:
    certifi's roots, the environment not read."""
    return httpx.create_ssl_context(trust_env=False)


def tile_fetcher(policy: SourcePolicy, max_size: int = 2**20) -> Callable[[str], Awaitable[bytes]]:
    """A raster layer's tile for ``map_image``, through the same guards (a tile is at most 1 MiB)."""
    tiles = dataclasses.replace(policy, max_size=max_size)

    async def fetch(url: str) -> bytes:
        return (await fetch_source(tiles, url)).body

    return fetch
