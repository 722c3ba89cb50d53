"""The guarded fetcher (``mapsrv.http.fetch``) against real sockets: a GeoJSON fetched from an
allowed 127.0.0.1, and hostile sources refused or cut with a clear error: loopback and private
addresses not allowed (IPv4 ones inside IPv6 addresses too), a redirect to 127.0.0.1, more than 3
redirects, a body past the cap (declared or streamed without end), a hang, and URLs that are not
http(s). A refusal names what the agent gave, never an address a name resolved to nor where a
redirect went; the connection goes to the address checked (DNS rebinding). The page's CSP names
only the tile server and the listed hosts. Names are resolved by a resolver of the test's own
(``trio.socket.set_custom_hostname_resolver``), so a name can answer what a test needs."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
from collections.abc import AsyncIterator

import pytest
import trio
from support.sources import http_answer, serve_source

from mapsrv.config import Config, ConfigError
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.http.fetch import SourcePolicy, fetch_source
from mapsrv.web.app import security_headers

GEOJSON = json.dumps({"type": "FeatureCollection", "features": []}).encode()
LOCAL = SourcePolicy.of(("127.0.0.1",), deadline=5.0)


class Names(trio.abc.HostnameResolver):
    """Names as a test says: each lookup of a name answers its next address (the last one again
    once they run out); a name not listed does not resolve."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.asked: list[str] = []

    async def getaddrinfo(
        self,
        host: bytes | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[str, int]]]:
        name = (host or b"").decode()
        self.asked.append(name)
        if name not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = self.answers[name]
        address = addresses[min(self.asked.count(name), len(addresses)) - 1]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [
            (
                socket.AddressFamily(family),
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, int(port or 0)),
            )
        ]

    async def getnameinfo(self, sockaddr: tuple[str, int], flags: int) -> tuple[str, str]:
        raise NotImplementedError


@pytest.fixture
async def names() -> AsyncIterator[Names]:
    names = Names()
    before = trio.socket.set_custom_hostname_resolver(names)
    yield names
    trio.socket.set_custom_hostname_resolver(before)


async def answer(target: str, stream: trio.SocketStream) -> None:
    port = stream.socket.getsockname()[1]
    if target == "/data.geojson":
        await stream.send_all(http_answer("200 OK", GEOJSON, "application/geo+json"))
    elif target == "/to-loopback":
        where = f"http://127.0.0.1:{port}/data.geojson"
        await stream.send_all(http_answer("302 Found", b"", "text/plain", Location=where))
    elif target.startswith("/hops/"):  # /hops/3: three redirects, then the file
        left = int(target.rsplit("/", 1)[1])
        if left == 0:
            await stream.send_all(http_answer("200 OK", GEOJSON, "application/geo+json"))
        else:
            await stream.send_all(http_answer("302 Found", b"", "text/plain", Location=f"/hops/{left - 1}"))
    elif target == "/to-missing":
        await stream.send_all(http_answer("302 Found", b"", "text/plain", Location="/private/missing"))
    elif target == "/to-nowhere":
        where = f"http://nowhere.internal:{port}/x"
        await stream.send_all(http_answer("302 Found", b"", "text/plain", Location=where))
    elif target == "/to-ftp":
        await stream.send_all(http_answer("302 Found", b"", "text/plain", Location="ftp://files.internal/x"))
    elif target == "/to-metadata":
        where = f"http://metadata.internal:{port}/latest/meta-data/"
        await stream.send_all(http_answer("302 Found", b"", "text/plain", Location=where))
    elif target.startswith("/loop"):
        await stream.send_all(http_answer("302 Found", b"", "text/plain", Location=target + "x"))
    elif target == "/huge":  # declares 2 GB
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\n" + b"x" * 1024)
        await trio.sleep_forever()
    elif target == "/endless":  # 2 GB if nobody stops it, no length given
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
        for _ in range(2048):
            await stream.send_all(b"x" * 2**20)
    elif target == "/hang":
        await trio.sleep_forever()
    else:
        await stream.send_all(http_answer("404 Not Found", b"", "text/plain"))


async def test_an_allowed_local_source_is_fetched(nursery: trio.Nursery) -> None:
    port = await serve_source(nursery, answer)
    fetched = await fetch_source(LOCAL, f"http://127.0.0.1:{port}/data.geojson")
    assert fetched.body == GEOJSON and fetched.content_type == "application/geo+json"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/data.geojson",
        "http://10.1.2.3/x",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]:{port}/data.geojson",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[2002:a9fe:a9fe::]/latest/meta-data/",
        "http://[::7f00:1]:{port}/data.geojson",
    ],
)
async def test_loopback_and_private_addresses_are_refused_unless_listed(
    nursery: trio.Nursery, url: str
) -> None:
    port = await serve_source(nursery, answer)
    with pytest.raises(InvalidInput, match=r"loopback, private or reserved address.*--allowed-sources"):
        await fetch_source(SourcePolicy.of(deadline=5.0), url.format(port=port))


async def test_a_link_local_address_is_refused() -> None:
    with pytest.raises(InvalidInput, match=re.escape("169.254.169.254")):
        await fetch_source(SourcePolicy.of(("127.0.0.1",)), "http://169.254.169.254/latest/meta-data/")


async def test_a_redirect_to_a_place_not_allowed_is_refused_naming_only_the_url_given(
    nursery: trio.Nursery, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "mapsrv.http.fetch")
    names.answers["metadata.internal"] = ["169.254.169.254"]
    port = await serve_source(nursery, answer, host="127.0.0.2")  # on loopback, listed by itself
    only_that_one = SourcePolicy.of(("127.0.0.2/32",), deadline=5.0)
    assert (await fetch_source(only_that_one, f"http://127.0.0.2:{port}/data.geojson")).body == GEOJSON
    for path, host, why in [  # where it went and why it was refused: in the log, not the message
        ("/to-loopback", "127.0.0.1", "its host is at 127.0.0.1"),
        ("/to-metadata", "metadata.internal", "its host is at 169.254.169.254"),
        ("/to-nowhere", "nowhere.internal", "its host does not resolve"),
        ("/to-ftp", "files.internal", "must be http or https, got 'ftp'"),
    ]:
        given = f"http://127.0.0.2:{port}{path}"
        with pytest.raises(InvalidInput) as refused:
            await fetch_source(only_that_one, given)
        message = refused.value.message
        assert message.startswith(f"url {given!r} redirected to a host that is not allowed")
        assert host not in message and "169.254" not in message and why not in message
        logged = caplog.records[-1].getMessage()
        assert caplog.records[-1].levelno == logging.WARNING
        assert given in logged and f"://{host}" in logged and why in logged
    given = f"http://127.0.0.2:{port}/to-missing"
    with pytest.raises(InvalidInput, match=re.escape(f"url answered HTTP 404; check the URL: {given!r}")):
        await fetch_source(only_that_one, given)


async def test_a_name_of_a_private_address_is_refused_without_the_address(
    names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "mapsrv.http.fetch")
    names.answers["intranet.example"] = ["10.20.30.40"]
    with pytest.raises(InvalidInput) as refused:
        await fetch_source(SourcePolicy.of(deadline=5.0), "http://intranet.example/report.csv")
    assert refused.value.message.startswith(
        "url host 'intranet.example' is or resolves to a loopback, private or reserved address"
    )
    assert "10.20.30.40" not in refused.value.message
    assert "'intranet.example' is at 10.20.30.40" in caplog.records[-1].getMessage()


async def test_three_redirects_are_followed_and_a_fourth_is_refused(nursery: trio.Nursery) -> None:
    port = await serve_source(nursery, answer)
    assert (await fetch_source(LOCAL, f"http://127.0.0.1:{port}/hops/3")).body == GEOJSON
    with pytest.raises(InvalidInput, match="redirected more than 3 times"):
        await fetch_source(LOCAL, f"http://127.0.0.1:{port}/hops/4")
    with pytest.raises(InvalidInput, match="redirected more than 3 times"):
        await fetch_source(LOCAL, f"http://127.0.0.1:{port}/loop")


async def test_the_connection_goes_to_the_address_checked(nursery: trio.Nursery, names: Names) -> None:
    """DNS rebinding: a name answers an allowed address to the check and 127.0.0.1 to any later
    lookup, where a server waits that must not be reached."""
    port = await serve_source(nursery, answer, host="127.0.0.2")
    reached: list[str] = []

    async def inside(target: str, stream: trio.SocketStream) -> None:
        reached.append(target)
        await stream.send_all(http_answer("200 OK", b"inside", "text/plain"))

    await serve_source(nursery, inside, host="127.0.0.1", port=port)
    names.answers["rebind.example"] = ["127.0.0.2", "127.0.0.1"]
    only_that_one = SourcePolicy.of(("127.0.0.2/32",), deadline=5.0)
    fetched = await fetch_source(only_that_one, f"http://rebind.example:{port}/data.geojson")
    assert fetched.body == GEOJSON and reached == []
    assert names.asked == ["rebind.example"], "the name was looked up once, for the check"


def carrying(form: str, ipv4: str) -> ipaddress.IPv6Address:
    """``ipv4`` inside an IPv6 address of the given form."""
    v4 = int(ipaddress.IPv4Address(ipv4))
    teredo_server = int(ipaddress.IPv4Address("65.54.227.120"))
    return ipaddress.IPv6Address(
        {
            "compatible": v4,
            "mapped": 0xFFFF << 32 | v4,
            "translated": 0xFFFF << 48 | v4,
            "nat64": 0x64FF9B << 96 | v4,
            "6to4": 0x2002 << 112 | v4 << 80,
            "teredo": 0x20010000 << 96 | teredo_server << 64 | 0xC3A9 << 32 | v4 ^ 0xFFFFFFFF,
        }[form]
    )


FORMS = ["compatible", "mapped", "translated", "nat64", "6to4", "teredo"]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("ipv4", "allowed"),
    [("127.0.0.1", False), ("10.1.2.3", False), ("169.254.169.254", False), ("8.8.8.8", True)],
)
def test_an_ipv4_address_inside_an_ipv6_one_is_judged_by_it(form: str, ipv4: str, allowed: bool) -> None:
    address = carrying(form, ipv4)
    if form == "teredo":
        assert address.teredo is not None and str(address.teredo[1]) == ipv4
    assert SourcePolicy.of().allows("", address) is allowed, address


@pytest.mark.parametrize("form", FORMS)
def test_a_listed_ipv4_network_allows_the_ipv6_addresses_that_carry_it(form: str) -> None:
    policy = SourcePolicy.of(("10.0.0.0/8",))
    assert policy.allows("", carrying(form, "10.1.2.3"))
    assert not policy.allows("", carrying(form, "192.168.1.2"))


def test_local_use_nat64_is_fetched_only_when_listed() -> None:
    for address in ("64:ff9b:1::808:808", "64:ff9b:1:7f00:1::"):
        assert not SourcePolicy.of().allows("", ipaddress.IPv6Address(address))
        assert SourcePolicy.of(("64:ff9b:1::/48",)).allows("", ipaddress.IPv6Address(address))
    assert SourcePolicy.of(("2002::/16",)).allows("", carrying("6to4", "127.0.0.1")), (
        "the IPv6 network listed"
    )


async def test_a_listed_ipv4_address_is_fetched_through_its_mapped_form(nursery: trio.Nursery) -> None:
    port = await serve_source(nursery, answer)
    fetched = await fetch_source(LOCAL, f"http://[::ffff:127.0.0.1]:{port}/data.geojson")
    assert fetched.body == GEOJSON


async def test_a_body_past_the_cap_is_cut_declared_or_streamed(nursery: trio.Nursery) -> None:
    port = await serve_source(nursery, answer)
    small = SourcePolicy.of(("127.0.0.1",), max_size=2**20, deadline=10.0)
    with (
        trio.fail_after(5),
        pytest.raises(PayloadTooLarge, match=re.escape("at most 1 MiB, got more than 2048.0 MiB")),
    ):
        await fetch_source(small, f"http://127.0.0.1:{port}/huge")
    with trio.fail_after(5), pytest.raises(PayloadTooLarge, match="at most 1 MiB"):
        await fetch_source(small, f"http://127.0.0.1:{port}/endless")


async def test_a_hanging_source_is_cut_at_the_deadline(nursery: trio.Nursery) -> None:
    port = await serve_source(nursery, answer)
    with trio.fail_after(5), pytest.raises(InvalidInput, match=re.escape("did not answer within 0.5 s")):
        await fetch_source(SourcePolicy.of(("127.0.0.1",), deadline=0.5), f"http://127.0.0.1:{port}/hang")


@pytest.mark.parametrize(
    "url", ["ftp://example.org/a.geojson", "file:///etc/passwd", "javascript:alert(1)", "//example.org/x"]
)
async def test_only_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(InvalidInput, match="url must be http or https"):
        await fetch_source(LOCAL, url)


def test_the_page_may_load_tiles_only_from_listed_hosts() -> None:
    policy = SourcePolicy.of(
        ("tiles.example.org", "127.0.0.1", "10.0.0.0/8"), "https://tile.osm.org/{z}/{x}/{y}.png"
    )
    assert policy.check_page_url("https://tiles.example.org/{z}/{x}/{y}.png")
    assert policy.check_page_url("http://127.0.0.1:8080/wms?")
    assert policy.check_page_url("https://tile.osm.org/{z}/{x}/{y}.png")
    for refused in ("https://elsewhere.example.com/{z}/{x}/{y}.png", "http://10.1.2.3/wms"):
        with pytest.raises(InvalidInput, match=r"not among the allowed sources.*--allowed-sources"):
            policy.check_page_url(refused)


def test_the_csp_names_the_tile_server_and_the_listed_hosts_only() -> None:
    config = Config(allowed_sources=("tiles.example.org", "192.168.1.0/24", "127.0.0.1"))
    csp = dict(security_headers(config))["Content-Security-Policy"]
    img = next(part for part in csp.split("; ") if part.startswith("img-src"))
    assert img.split() == [
        "img-src",
        "'self'",
        "data:",
        "https://tile.openstreetmap.org",
        "http://tiles.example.org:*",
        "https://tiles.example.org:*",
        "http://127.0.0.1:*",
        "https://127.0.0.1:*",
    ]
    assert "https:" not in img.split()
    default = dict(security_headers(Config()))["Content-Security-Policy"]
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in default


def test_allowed_sources_must_be_hosts_or_networks() -> None:
    assert Config.from_sources({"MAPSRV_ALLOWED_SOURCES": "a.example.org, 10.0.0.0/8"}).allowed_sources == (
        "a.example.org",
        "10.0.0.0/8",
    )
    with pytest.raises(ConfigError, match="Config 'allowed_sources' has value 'http://x/'"):
        Config(allowed_sources=("http://x/",))


def test_the_page_may_fetch_archives_only_from_the_hosts_it_may_load_images_from() -> None:
    config = Config(allowed_sources=("tiles.example.org", "192.168.1.0/24", "127.0.0.1"))
    csp = dict(security_headers(config))["Content-Security-Policy"]
    parts = {part.split()[0]: part.split()[1:] for part in csp.split("; ")}
    assert parts["connect-src"] == [
        "'self'",
        "https://tile.openstreetmap.org",
        "http://tiles.example.org:*",
        "https://tiles.example.org:*",
        "http://127.0.0.1:*",
        "https://127.0.0.1:*",
    ]
    assert set(parts["connect-src"]) - {"'self'"} <= set(parts["img-src"])
    assert not any("192.168" in source or "elsewhere" in source for source in parts["connect-src"])
    default = dict(security_headers(Config()))["Content-Security-Policy"]
    assert "connect-src 'self' https://tile.openstreetmap.org;" in default


async def ranges(target: str, stream: trio.SocketStream) -> None:
    if target == "/moved":
        await stream.send_all(http_answer("302 Found", b"", "text/plain", Location="/ignores-ranges"))
    elif target == "/ignores-ranges":
        await stream.send_all(http_answer("200 OK", b"0123456789", "application/octet-stream"))
    elif target == "/other-range":
        head = {"Content_Range": "bytes 5-9/10"}
        await stream.send_all(http_answer("206 Partial Content", b"56789", "text/plain", **head))
    else:
        head = {"Content_Range": "bytes 2-5/10"}
        await stream.send_all(http_answer("206 Partial Content", b"2345", "application/octet-stream", **head))


async def test_a_byte_range_must_be_answered_as_asked(nursery: trio.Nursery) -> None:
    port = await serve_source(nursery, ranges)
    got = await fetch_source(LOCAL, f"http://127.0.0.1:{port}/file", (2, 5))
    assert got.body == b"2345"
    with pytest.raises(InvalidInput, match=r"whole file \(HTTP 200.*must answer HTTP range requests"):
        await fetch_source(LOCAL, f"http://127.0.0.1:{port}/ignores-ranges", (2, 5))
    with pytest.raises(InvalidInput, match=re.escape(f"from 'http://127.0.0.1:{port}/moved'")):
        await fetch_source(LOCAL, f"http://127.0.0.1:{port}/moved", (2, 5))
    with pytest.raises(InvalidInput, match=r"answered bytes '5-9/10' to a request for 2-5"):
        await fetch_source(LOCAL, f"http://127.0.0.1:{port}/other-range", (2, 5))
    with pytest.raises(PayloadTooLarge, match="at most the 2 bytes asked for, got 4"):
        await fetch_source(LOCAL, f"http://127.0.0.1:{port}/file", (2, 3))
