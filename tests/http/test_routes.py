"""The route table and what is derived from it (dispatch, metric templates, transports, MCP path
matching), the one Host and Origin check, and the one error writer, over real sockets."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import httpx
import pytest
import trio
from support import Browser, open_stream, start_server, wait_until
from support.mcp import INITIALIZE, MCP_ACCEPT

from mapsrv.config import Config
from mapsrv.dispatch import Dispatcher
from mapsrv.errors import NotFound, Unavailable, VersionConflict
from mapsrv.http.guards import host_allowed, origin_allowed, parse_host
from mapsrv.http.responses import error_body, error_headers
from mapsrv.http.routes import OTHER, ROUTES, Family, Route, _literal_paths, _route, lookup, route_of
from mapsrv.mcp import endpoints as mcp_server
from mapsrv.mcp.endpoints import security_settings
from mapsrv.server import Server

# Which Dispatcher method answers each family.
HANDLERS = {
    Family.BROWSER_STREAM: "_stream",
    Family.MCP_HTTP: "_mcp",
    Family.MCP_SSE: "_mcp",
    Family.MCP_MESSAGES: "_mcp",
    Family.PAGE_WRITE: "_write",
    Family.METRICS: "_metrics",
    Family.PROBE: "_web",
    Family.WEB: "_web",
    Family.OAUTH_METADATA: "_oauth_metadata",
    Family.UPLOAD_LINK: "_upload",
    Family.STATIC: "_static_file",
    Family.BASEMAP: "_basemap_tile",
}


def examples(map_id: str, view_key: str, edit_key: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """template -> (method, path, request options): one request per route in the table."""
    return {
        "/": ("GET", "/", {}),
        "/name": ("POST", "/name", {"json": {"name": "Ana"}}),
        "/new": ("POST", "/new", {}),
        "/health": ("GET", "/health", {}),
        "/ready": ("GET", "/ready", {}),
        "/metrics": ("GET", "/metrics", {}),
        "/mcp": ("POST", "/mcp", {"json": INITIALIZE, "headers": MCP_ACCEPT}),
        "/sse": ("GET", "/sse", {}),
        "/messages/": ("POST", "/messages/?session_id=00", {"json": {}}),
        "/m/{id}/events": ("GET", f"/m/{map_id}/events", {}),
        "/e/{key}/events": ("GET", f"/e/{edit_key}/events", {}),
        "/v/{key}/events": ("GET", f"/v/{view_key}/events", {}),
        "/m/{id}/ops": ("POST", f"/m/{map_id}/ops", {"json": {"ops": [{"op": "set_title", "title": "t"}]}}),
        "/m/{id}/claim": ("POST", f"/m/{map_id}/claim", {}),
        "/m/{id}/undo": ("POST", f"/m/{map_id}/undo", {}),  # undoes the set_title above
        "/m/{id}/redo": ("POST", f"/m/{map_id}/redo", {}),
        "/m/{id}/import": ("POST", f"/m/{map_id}/import?format=csv", {"content": b"lat,lon\n1,2\n"}),
        "/e/{key}/write": ("POST", f"/e/{edit_key}/undo", {}),  # undoes the import above
        "/e/{key}": ("GET", f"/e/{edit_key}", {}),
        "/{m,v}/{id}/export": ("GET", f"/v/{view_key}/geojson", {}),
        "/{m,v}/{id}/image.png": ("GET", f"/v/{view_key}/image.png?w=64&h=64", {}),
        "/{m,v}/{id}/places": ("GET", f"/v/{view_key}/places?q=Lisbon", {}),
        "/m/{id}": ("GET", f"/m/{map_id}", {}),
        "/m/{id}/links": ("POST", f"/m/{map_id}/links", {"json": {"edit": "new"}}),
        "/m/{id}/pointer": ("POST", f"/m/{map_id}/pointer", {"json": {"at": [1, 2]}}),
        "/e/{key}/pointer": ("POST", f"/e/{edit_key}/pointer", {"json": {"at": [1, 2]}}),
        "/v/{key}": ("GET", f"/v/{view_key}", {}),
        "/maps": ("GET", "/maps", {}),
        "/maps.json": ("GET", "/maps.json", {}),
        "/maps/{id}/action": ("POST", f"/maps/{map_id}/rename", {"json": {"title": "Trip"}}),
        "/static/": ("GET", "/static/map.js", {}),
        "/basemap/": ("GET", "/basemap/nowhere/0/0/0.mvt", {}),
        # with no issuer configured, a 404 (tests/mcp/test_authorization.py serves it)
        # sign-in: 404 with no issuer configured (tests/web/test_signin.py signs people in)
        "/login": ("GET", "/login", {}),
        "/auth/callback": ("GET", "/auth/callback?code=c&state=s", {}),
        "/me": ("GET", "/me", {}),
        "/logout": ("POST", "/logout", {}),
        "/signed-out": ("GET", "/signed-out", {}),
        "/.well-known/oauth-protected-resource": ("GET", "/.well-known/oauth-protected-resource/mcp", {}),
        "/u/{token}": ("GET", "/u/" + "t" * 32, {}),  # no such link: 404 (tests/web/test_upload_links.py)
        "other": ("GET", "/no/such/page", {}),
    }


async def test_every_route_is_dispatched_labelled_and_logged_as_the_table_says(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dispatched: list[tuple[str, str]] = []
    for name in set(HANDLERS.values()):
        original = getattr(Dispatcher, name)

        async def recording(
            self: Any, scope: Any, *rest: Any, _name: str = name, _original: Any = original
        ) -> None:
            dispatched.append((scope["path"], _name))
            await _original(self, scope, *rest)

        monkeypatch.setattr(Dispatcher, name, recording)
    caplog.set_level(logging.INFO, logger="mapsrv.access")
    server = await start_server(nursery)
    alice = Browser(server.url)
    map_id = await alice.new_map()
    page = (await alice.client.get(f"/m/{map_id}")).text
    view_key = page.split('data-view-url="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]
    edit_key = page.split('data-edit-url="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]
    cases = examples(map_id, view_key, edit_key)
    assert set(cases) == {r.template for r in ROUTES} | {OTHER.template}, "an example for every route"
    for template, (method, path, options) in cases.items():
        route = lookup(path.split("?")[0]).route
        assert route.template == template == route_of(path.split("?")[0])
        assert map_id not in template and view_key not in template and edit_key not in template
        dispatched.clear()
        async with alice.client.stream(method, path, **options) as response:
            assert response.status_code < 500, (path, response.status_code)
            status = response.status_code
        assert [name for _, name in dispatched] == [HANDLERS[route.family]], path

        def logged(template: str = template) -> list[logging.LogRecord]:
            return [r for r in caplog.records if getattr(r, "route", None) == template]

        await wait_until(logged)  # a stream's line is written when it ends
        record = logged()[-1]
        assert record.transport == route.transport, path  # type: ignore[attr-defined]
        assert record.status == status, path  # type: ignore[attr-defined]
        assert all(key not in record.getMessage() for key in (map_id, view_key, edit_key)), path
        caplog.clear()
    metrics = (await alice.client.get("/metrics")).text
    assert 'route="/m/{id}/events"' in metrics and 'transport="mcp_sse"' in metrics
    assert map_id not in metrics and view_key not in metrics
    await alice.aclose()


def test_quart_serves_only_what_the_table_sends_it() -> None:
    from mapsrv.hub import MapHub
    from mapsrv.web import create_app

    app = create_app(Config(), MapHub())
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<any(m, v):kind>", "v")
        path = re.sub(r"<any\((\w+)[^>]*>", r"\1", path)  # the first of the choices
        for converter in ("<map_id>", "<view_key>", "<key>", "<path:filename>"):
            path = path.replace(converter, "k" * 22)
        route = lookup(path).route
        assert route is not OTHER and route.family in (Family.WEB, Family.PROBE), rule.rule


@pytest.mark.parametrize(
    ("path", "mcp"),
    [("/mcp", True), ("/mcp/", True), ("/sse", True), ("/messages/", True), ("/mcpx", False),
     ("/messages", False), ("/sse/", False), ("/m/x/events", False)],
)  # fmt: skip
def test_mcp_paths_come_from_the_table(path: str, mcp: bool) -> None:
    assert lookup(path).route.family.is_mcp is mcp


@pytest.mark.parametrize(
    ("pattern", "paths"),
    [("/health", ["/health"]), ("/mcp/?", ["/mcp", "/mcp/"]), ("/messages/.*", []), ("/a.b/?", []),
     ("/mc?", []), ("/(?P<kind>m)/(?P<key>[^/]+)", [])],
)  # fmt: skip
def test_only_literal_patterns_are_looked_up_as_fixed_paths(pattern: str, paths: list[str]) -> None:
    """The table's fixed paths (built at import, where mutation testing cannot reach)."""
    assert _literal_paths(pattern) == paths
    assert all(re.fullmatch(pattern, path) for path in paths)


def test_a_route_keeps_what_the_table_gives_it() -> None:
    made = _route("/x", r"/x/.*", Family.PROBE, host_checked=False, origin_checked=True)
    assert made == Route("/x", re.compile(r"/x/.*"), Family.PROBE, host_checked=False, origin_checked=True)


def test_paths_without_a_map_match_with_no_kind_and_no_key() -> None:
    for path, template in (("/static/map.js", "/static/"), ("/messages/", "/messages/")):
        found = lookup(path)
        assert (found.route.template, found.kind, found.key) == (template, "", ""), path
    key = "k" * 22
    assert (lookup(f"/v/{key}/events").kind, lookup(f"/v/{key}/events").key) == ("v", key)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("localhost", ("localhost", None)),
        ("LocalHost:8000", ("localhost", 8000)),
        ("[::1]:80", ("[::1]", 80)),
        ("10.1.2.3", ("10.1.2.3", None)),
        ("127.0.0.1:80@evil.example", None),
        ("evil.example@127.0.0.1", None),
        ("127.0.0.1:99999", None),
        ("127.0.0.1:", None),
        ("localhost/../x", None),
        ("local host", None),
        ("[::1", None),
        ("", None),
        (None, None),
    ],
)
def test_host_parsing_is_strict(value: str | None, parsed: tuple[str, int | None] | None) -> None:
    assert parse_host(value) == parsed
    assert host_allowed(Config(allowed_hosts=("*",)), value) is (parsed is not None)


def test_origin_must_be_the_host_it_addressed_or_configured() -> None:
    config = Config(allowed_origins=("https://app.example",))
    assert origin_allowed(config, None, "localhost:8000")
    assert origin_allowed(config, "http://localhost:8000", "localhost:8000")
    assert origin_allowed(config, "https://app.example", "localhost:8000")
    for origin in ("https://evil.example", "http://localhost:9000", "null", "localhost:8000",
                   "http://localhost:8000@evil.example", "ftp://localhost:8000"):  # fmt: skip
        assert not origin_allowed(config, origin, "localhost:8000"), origin
    # MCP paths (no cookies): a page on another port of an allowed host, as the MCP Inspector is
    for origin in ("http://localhost:6274", "http://127.0.0.1:9000"):
        assert origin_allowed(config, origin, "localhost:8000", any_port=True), origin
        assert not origin_allowed(config, origin, "localhost:8000"), origin
    for origin in ("https://evil.example", "null", "http://localhost:8000@evil.example", "ftp://localhost:1"):
        assert not origin_allowed(config, origin, "localhost:8000", any_port=True), origin


async def test_bad_hosts_are_refused_everywhere_but_the_probes(
    browser_factory, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mapsrv.access")
    alice = browser_factory()
    map_id = await alice.new_map()
    hostile = {"host": "127.0.0.1:80@evil.example"}
    for path in ("/", f"/m/{map_id}", f"/m/{map_id}/events", f"/m/{map_id}/state", "/static/map.js"):
        response = await alice.client.get(path, headers=hostile)
        assert response.status_code == 421, path
        assert response.json() == {"error": {"code": "http", "message": "unknown host"}}
        assert "evil.example" not in response.text
    for path in ("/mcp", "/sse", "/messages/"):
        response = await alice.client.get(path, headers=hostile)
        assert response.status_code == 421, path
        assert response.json()["error"]["code"] == -32600, "MCP paths answer in JSON-RPC"
    for path in ("/health", "/ready", "/metrics"):
        assert (await alice.client.get(path, headers=hostile)).status_code == 200, path
    refused = [r for r in caplog.records if getattr(r, "status", None) == 421]
    assert len(refused) == 8, "each refusal is logged with its status"


async def test_foreign_origins_are_refused_on_mcp_paths_by_our_check(server: Server) -> None:
    assert security_settings(server.config).enable_dns_rebinding_protection is False
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in ("/mcp", "/sse", "/messages/?session_id=00"):
            refused = await http.post(
                path, json=INITIALIZE, headers={**MCP_ACCEPT, "origin": "https://evil.example"}
            )
            assert refused.status_code == 403, path
            assert refused.json()["error"] == {"code": -32003, "message": "cross-origin request refused"}
        same = f"http://{httpx.URL(server.url).netloc.decode()}"
        accepted = await http.post("/mcp", json=INITIALIZE, headers={**MCP_ACCEPT, "origin": same})
        assert accepted.status_code == 200
        # a local tool on another port of an allowed host (the MCP Inspector), on MCP paths only
        inspector = {"origin": f"http://{httpx.URL(server.url).host}:6274"}
        accepted = await http.post("/mcp", json=INITIALIZE, headers={**MCP_ACCEPT, **inspector})
        assert accepted.status_code == 200
        assert (await http.post("/new", headers=inspector)).status_code == 403
        assert (await http.post("/new", headers={"origin": same})).status_code == 303, "its own origin"


def test_the_error_writer_carries_retry_after_and_both_shapes() -> None:
    busy = Unavailable("busy", retry_after=7)
    assert ("Retry-After", "7") in error_headers(busy)
    assert error_body(busy) == b'{"error":{"code":"unavailable","message":"busy"}}'
    assert error_body(busy, jsonrpc=True) == (
        b'{"jsonrpc":"2.0","id":null,"error":{"code":-32011,"message":"busy"}}'
    )
    conflict = error_body(VersionConflict(expected=3, current=5), jsonrpc=True)
    assert b'"data":{"current_version":5}' in conflict
    assert not any(name == "Retry-After" for name, _ in error_headers(NotFound("map not found")))


async def test_session_caps_say_their_own_retry_after(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mcp_server, "SESSION_RETRY_AFTER", 7)
    server = await start_server(nursery, max_mcp_sessions=1)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        opened = await http.post("/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
        # A session that has made a request is not given up for a newcomer (a silent one is).
        in_use = {**MCP_ACCEPT, "mcp-session-id": opened.headers["mcp-session-id"]}
        tools_list = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        listed = await http.post("/mcp", json=tools_list, headers=in_use)
        assert listed.status_code == 200
        refused = await http.post("/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "7"
        assert refused.headers["x-content-type-options"] == "nosniff"
        async with http.stream("GET", "/sse") as first:
            assert first.status_code == 200
            second = await http.get("/sse")
            assert second.status_code == 503
            assert second.headers["retry-after"] == "7"
            assert second.json()["error"]["code"] == Unavailable.jsonrpc_code


async def test_stream_errors_are_json_and_nosniff(browser_factory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mapsrv.access")
    alice = browser_factory()
    map_id = await alice.new_map()
    missing = await alice.client.get("/m/" + "A" * 22 + "/events")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "map not found"}}
    assert missing.headers["x-content-type-options"] == "nosniff"
    wrong = await alice.client.post(f"/m/{map_id}/events")
    assert wrong.status_code == 405
    assert wrong.json() == {"error": {"code": "http", "message": "method not allowed"}}
    async with httpx.AsyncClient(base_url=alice.base, cookies=alice.client.cookies) as own:
        head = await own.head(f"/m/{map_id}/events")  # allowed, as for any GET
        assert head.status_code == 200 and head.headers["content-type"].startswith("text/event-stream")

    def logged() -> list[int]:
        return [r.status for r in caplog.records if getattr(r, "route", None) == "/m/{id}/events"]  # type: ignore[attr-defined]

    await wait_until(lambda: len(logged()) == 3)
    assert logged() == [404, 405, 200], "a stream's access line says how it was answered"


async def test_metrics_are_prometheus_text_or_a_404_when_turned_off(nursery: trio.Nursery) -> None:
    on, off = await start_server(nursery), await start_server(nursery, metrics=False)
    async with httpx.AsyncClient(base_url=on.url) as http:
        scraped = await http.get("/metrics")
        assert scraped.status_code == 200 and scraped.headers["x-content-type-options"] == "nosniff"
        assert scraped.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    async with httpx.AsyncClient(base_url=off.url) as http:
        # Quart reads the request in a task of its own; trio runs it before or after the answer
        # (its scheduling order is random): forty requests see both orders.
        for _ in range(40):
            missing = await http.get("/metrics")
            assert missing.status_code == 404 and "mapsrv_" not in missing.text


async def test_the_metrics_count_the_streams_the_dispatcher_opens(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    alice = Browser(server.url)
    map_id = await alice.new_map()

    async def opened() -> str:
        scraped = (await alice.client.get("/metrics")).text
        return re.findall(r'^mapsrv_sse_streams_total\{writer="socket"\} (\S+)$', scraped, re.M)[0]

    assert await opened() == "0.0"
    await open_stream(nursery, alice.client, f"/m/{map_id}/events")  # counted before its head
    assert await opened() == "1.0"
    await alice.aclose()


async def test_a_stream_resumes_from_its_last_event_id_with_the_configured_retry(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery, sse_retry=1.5)
    alice = Browser(server.url)
    map_id = await alice.new_map()
    for title in ("a", "b"):
        await alice.ops(map_id, {"op": "set_title", "title": title})
    resumed = await open_stream(nursery, alice.client, f"/m/{map_id}/events", last_event_id="1")
    with trio.fail_after(5):
        await resumed.wait_for(lambda events: len(events) >= 1)
    assert resumed.retry == 1500 and [(kind, id) for kind, id, _ in resumed.events] == [("change", "2")]
    await alice.ops(map_id, {"op": "set_title", "title": "c"})  # the stream stays open for more
    with trio.fail_after(5):
        await resumed.wait_for(lambda events: len(events) >= 2)
    assert [(kind, id) for kind, id, _ in resumed.events] == [("change", "2"), ("change", "3")]
    await alice.aclose()


async def test_ready_answers_503_once_the_server_drains(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, drain_delay=60)
    async with httpx.AsyncClient(base_url=server.url) as http:
        first = (await http.get("/ready")).json()
        told = {"places": first["places"], "memory": first["memory"]}  # tests/places/test_memory_told.py
        told["basemaps"] = first["basemaps"]  # tests/web/test_basemap_tiles.py
        assert first == {"ready": True, "store": "ok", "draining": False, **told}
        # the places load in the background at start: ready meanwhile, then told warm
        await wait_until(lambda: _places_warm(http), timeout=30)
        server.shutdown()  # draining: still serving, but no longer ready for new work
        drained = await http.get("/ready")
        assert drained.status_code == 503
        said = drained.json()
        assert {k: v for k, v in said.items() if k not in ("memory", "basemaps")} == {
            "ready": False,
            "store": "ok",
            "draining": True,
            "places": "warm",
        }
        # a new event stream goes elsewhere (a proxy retries a 503 on the next process); the page still works
        map_id = (await http.get("/", follow_redirects=False)).headers["location"].rsplit("/", 1)[1]
        async with http.stream("GET", f"/m/{map_id}/events") as refused:  # the head decides
            assert refused.status_code == 503, (
                f"a draining server opened a new event stream ({refused.status_code})"
            )
            assert refused.headers["retry-after"] == "1"
            assert "stopping" in json.loads(await refused.aread())["error"]["message"]
        assert (await http.get(f"/m/{map_id}")).status_code == 200


async def test_the_app_starts_through_its_lifespan_without_a_warning(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await start_server(nursery)  # hypercorn sends the lifespan events; a failure is a WARNING
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_view_stream_may_be_read_from_any_origin_and_the_owners_stream_may_not(
    browser_factory,
) -> None:
    alice = browser_factory()
    map_id = await alice.new_map()
    page = (await alice.client.get(f"/m/{map_id}")).text
    view_key = page.split('data-view-url="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]
    async with alice.client.stream("GET", f"/v/{view_key}/events") as view:
        assert view.status_code == 200 and view.headers.get_list("access-control-allow-origin") == ["*"]
    async with alice.client.stream("GET", f"/m/{map_id}/events") as own:
        assert own.status_code == 200 and "access-control-allow-origin" not in own.headers


async def _places_warm(http: httpx.AsyncClient) -> bool:
    places = (await http.get("/ready")).json()["places"]
    assert places in ("warming", "warm"), places
    return bool(places == "warm")
