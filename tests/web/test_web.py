"""The web app over real sockets: pages, the ops endpoint, event streams, isolation, bad input."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import httpx
import trio
from support import Browser, open_server, open_stream, start_server, wait_until

from mapsrv.core.history import person_actor
from mapsrv.server import Server

ROOT = Path(__file__).resolve().parents[2]  # the checkout
MARKER = {"op": "add_feature", "type": "marker", "coords": [48.8566, 2.3522], "label": "Paris"}


async def test_root_gives_each_browser_its_own_map(browser_factory):
    alice, bob = browser_factory(), browser_factory()
    a1 = await alice.new_map()
    a2 = await alice.new_map()
    b1 = await bob.new_map()
    assert a1 == a2, "a browser comes back to its map"
    assert a1 != b1
    cookie = alice.client.cookies.jar
    (morsel,) = [c for c in cookie if c.name == "mapsrv_user"]
    assert morsel.has_nonstandard_attr("HttpOnly")
    assert (await alice.client.get(f"/m/{a1}")).status_code == 200


async def test_foreign_unknown_and_view_links_look_the_same(browser_factory, nursery):
    alice, bob = browser_factory(), browser_factory()
    map_id = await alice.new_map()
    assert (await alice.ops(map_id, MARKER)).status_code == 200
    unknown = "A" * 22
    for path in (f"/m/{map_id}", f"/m/{map_id}/state", f"/m/{map_id}/geojson", f"/m/{unknown}", "/m/x/state"):
        response = await bob.client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"error": {"code": "not_found", "message": "map not found"}}
    foreign = await bob.ops(map_id, MARKER)
    assert foreign.status_code == 404
    assert (await bob.client.get(f"/m/{map_id}/events")).status_code == 404
    assert (await alice.state(map_id))["version"] == 1, "bob changed nothing"


async def test_view_link_reads_but_never_writes(browser_factory, nursery):
    alice, stranger = browser_factory(), browser_factory()
    map_id = await alice.new_map()
    page = (await alice.client.get(f"/m/{map_id}")).text
    view_url = page.split('data-view-url="', 1)[1].split('"', 1)[0]
    view_key = view_url.rsplit("/", 1)[1]
    assert view_key != map_id
    await alice.ops(map_id, MARKER)
    assert (await stranger.client.get(f"/v/{view_key}")).status_code == 200
    state = (await stranger.client.get(f"/v/{view_key}/state")).json()
    assert [f["label"] for f in state["features"]] == ["Paris"]
    person = person_actor(alice.client.headers.get("User-Agent"), alice.client.cookies["mapsrv_user"])
    assert [(a["summary"], a["by"]["id"]) for a in state["activity"]] == [("added 'Paris'", person.id)]
    geo = await stranger.client.get(f"/v/{view_key}/geojson")
    assert geo.headers["content-type"].startswith("application/geo+json")
    assert geo.json()["features"][0]["geometry"] == {"type": "Point", "coordinates": [2.3522, 48.8566]}
    for path in (f"/v/{view_key}/ops", f"/m/{view_key}/ops"):
        response = await stranger.client.post(path, json={"ops": [MARKER]})
        assert response.status_code in (404, 405), path
    stream = await open_stream(nursery, stranger.client, f"/v/{view_key}/events")
    with trio.fail_after(5):
        await stream.wait_for(lambda ev: len(ev) >= 1)
    assert stream.events[0][0] == "snapshot"
    assert (await alice.state(map_id))["version"] == 1


async def test_stream_snapshot_then_live_changes(browser_factory, nursery):
    alice = browser_factory()
    map_id = await alice.new_map()
    await alice.ops(map_id, MARKER, {"op": "set_title", "title": "Trip"})
    stream = await open_stream(nursery, alice.client, f"/m/{map_id}/events")
    assert stream.status == 200
    with trio.fail_after(5):
        await stream.wait_for(lambda ev: len(ev) >= 1)
    kind, event_id, snapshot = stream.events[0]
    assert (kind, event_id) == ("snapshot", "2")
    assert snapshot["title"] == "Trip" and len(snapshot["features"]) == 1
    assert [a["summary"] for a in snapshot["activity"]] == ["set the title to 'Trip', added 'Paris'"]
    assert stream.retry == 2000
    response = await alice.ops(
        map_id,
        {"op": "add_feature", "id": "route", "type": "polyline", "coords": [[48.85, 2.35], [45.76, 4.83]]},
        {"op": "set_view", "center": [47, 3], "zoom": 6},
    )
    assert response.json() == {"version": 4}
    with trio.fail_after(5):
        await stream.wait_for(lambda ev: len(ev) >= 3)
    assert [(k, i, d["kind"]) for k, i, d in stream.events[1:]] == [
        ("change", "3", "upsert"),
        ("change", "4", "view"),
    ]
    assert stream.events[1][2]["features"][0]["id"] == "route"


async def test_resume_by_last_event_id_and_fallback_snapshot(nursery):
    server = await start_server(nursery, event_log_size=3)
    alice = Browser(server.url)
    map_id = await alice.new_map()
    for i in range(4):
        await alice.ops(map_id, {**MARKER, "id": f"p{i}"})
    resumed = await open_stream(nursery, alice.client, f"/m/{map_id}/events", last_event_id="2")
    with trio.fail_after(5):
        await resumed.wait_for(lambda ev: len(ev) >= 2)
    assert [(k, i) for k, i, _ in resumed.events] == [("change", "3"), ("change", "4")]
    # version 0 is older than the 3 events the log keeps: a fresh snapshot instead
    fallback = await open_stream(nursery, alice.client, f"/m/{map_id}/events", last_event_id="0")
    with trio.fail_after(5):
        await fallback.wait_for(lambda ev: len(ev) >= 1)
    assert fallback.events[0][0] == "snapshot" and fallback.events[0][1] == "4"
    # an id from the future (another server, a restart) or garbage: a snapshot too
    for odd in ("99", "x-1"):
        stream = await open_stream(nursery, alice.client, f"/m/{map_id}/events", last_event_id=odd)
        with trio.fail_after(5):
            await stream.wait_for(lambda ev: len(ev) >= 1)
        assert stream.events[0][0] == "snapshot"
    await alice.ops(map_id, {**MARKER, "id": "p9"})
    with trio.fail_after(5):
        await resumed.wait_for(lambda ev: len(ev) >= 3)
    assert resumed.events[2][1] == "5"
    await alice.aclose()


async def test_many_tabs_all_see_every_change(browser_factory, nursery):
    alice = browser_factory()
    map_id = await alice.new_map()
    tabs = [await open_stream(nursery, alice.client, f"/m/{map_id}/events") for _ in range(5)]
    for i in range(10):
        await alice.ops(map_id, {**MARKER, "id": f"m{i}"})
    with trio.fail_after(5):
        for tab in tabs:
            await tab.wait_for(lambda ev: len(ev) >= 11)
    for tab in tabs:
        assert [i for _, i, _ in tab.events] == [str(v) for v in range(11)]


async def test_bad_input_gets_clear_errors_and_server_keeps_serving(browser_factory, server: Server):
    alice = browser_factory()
    map_id = await alice.new_map()
    post = alice.client.post
    url = f"/m/{map_id}/ops"
    cases = [
        (
            post(url, content=b"{not json", headers={"content-type": "application/json"}),
            400,
            "not valid json",
        ),
        (
            post(
                url,
                content=b'{"op":"set_view","center":[NaN,1],"zoom":2}',
                headers={"content-type": "application/json"},
            ),
            400,
            "nan",
        ),
        (
            alice.ops(map_id, {"op": "set_view", "center": [123, 2], "zoom": 3}),
            400,
            "latitude must be between -90 and 90, got 123",
        ),
        (
            alice.ops(map_id, {"op": "set_view", "center": [1, 2], "zoom": 40}),
            400,
            "zoom must be between 0 and 22",
        ),
        (
            alice.ops(map_id, {"op": "add_feature", "type": "marker", "coords": ["a", 1]}),
            400,
            "must be a number",
        ),
        (alice.ops(map_id, {"op": "explode"}), 400, "unknown op"),
        (alice.ops(map_id, {"op": "remove_features", "ids": ["nope"]}), 404, "feature 'nope' not found"),
        (alice.ops(map_id, MARKER, expected_version=7), 409, "not 7"),
        (
            post(url, content=b"x" * (10 * 1024 * 1024), headers={"content-type": "application/json"}),
            413,
            "larger than",
        ),
        (post(url, content=b"{}", headers={"content-type": "text/plain"}), 400, "application/json"),
        (post(url, json={"ops": [MARKER]}, headers={"origin": "https://evil.example"}), 403, "cross-origin"),
        (post(url, json=[1, 2]), 400, "json object"),
        (post(url, json={"ops": []}), 400, "non-empty"),
    ]
    for request, status, needle in cases:
        response = await request
        assert response.status_code == status, (needle, response.text)
        assert needle.lower() in response.json()["error"]["message"].lower()
    conflict = await alice.ops(map_id, MARKER, expected_version=7)
    assert conflict.json()["error"]["current_version"] == 0
    # a batch is all or nothing
    partial = await alice.ops(map_id, MARKER, {"op": "set_view", "center": [0, 0], "zoom": 99})
    assert partial.status_code == 400 and "op 1" in partial.json()["error"]["message"]
    assert (await alice.state(map_id))["version"] == 0
    ok = await alice.ops(map_id, MARKER, expected_version=0)
    assert ok.json() == {"version": 1}
    assert (await alice.client.get("/health")).json() == {"status": "ok"}


async def test_host_header_is_checked(server: Server):
    async with httpx.AsyncClient(base_url=server.url) as client:
        bad = await client.get("/", headers={"host": "attacker.example"})
        assert bad.status_code == 421
        good = await client.get("/", headers={"host": "localhost:1234"})
        assert good.status_code == 303


async def test_page_is_locked_down(browser_factory):
    alice = browser_factory()
    map_id = await alice.new_map()
    response = await alice.client.get(f"/m/{map_id}")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in response.text
    for path in (
        "/static/map.js",
        "/static/map.css",
        "/static/leaflet/leaflet.js",
        "/static/leaflet/leaflet.css",
    ):
        assert (await alice.client.get(path)).status_code == 200, path
    assert (await alice.client.get("/static/../mapsrv/web.py")).status_code == 404
    assert (await alice.client.get("/static/leaflet/../../../../etc/passwd")).status_code == 404
    # index.html is the page's template, with {{placeholders}}: never served raw, however spelled
    # (raw requests: httpx would normalise the dot segments away before sending)
    url = httpx.URL(alice.base)
    for path in (
        "/static/index.html",
        "/static/./index.html",
        "/static/x/../index.html",
        "/static//index.html",
    ):
        status, body = await raw_get(url.host, url.port or 80, path)
        assert status in (308, 400, 404), path  # 308: werkzeug merges the slashes, then 400
        assert b"{{" not in body, path


async def raw_get(host: str, port: int, path: str) -> tuple[int, bytes]:
    """One HTTP/1.1 GET with the path sent exactly as given; the body read by its length (a
    client's Connection: close is not honoured yet, issue 12)."""
    async with await trio.open_tcp_stream(host, port) as stream:
        await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        data = b""
        with trio.fail_after(5):
            while b"\r\n\r\n" not in data:
                data += await stream.receive_some(65536)
            head, body = data.split(b"\r\n\r\n", 1)
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(body) < length:
                body += await stream.receive_some(65536)
    return int(head.split(b" ", 2)[1]), body


async def test_title_is_escaped_in_page(browser_factory):
    alice = browser_factory()
    map_id = await alice.new_map()
    await alice.ops(map_id, {"op": "set_title", "title": '</title><script>alert(1)</script>"'})
    text = (await alice.client.get(f"/m/{map_id}")).text
    assert "<script>alert" not in text
    assert "&lt;/title&gt;&lt;script&gt;" in text


async def test_graceful_shutdown_ends_streams_with_a_retry_hint(nursery):
    server = await start_server(nursery)
    alice = Browser(server.url)
    map_id = await alice.new_map()
    stream = await open_stream(nursery, alice.client, f"/m/{map_id}/events")
    with trio.fail_after(5):
        await stream.wait_for(lambda ev: len(ev) >= 1)
        server.shutdown()
        await stream.ended.wait()
    await alice.aclose()


async def test_disconnect_leaves_nothing_behind(browser_factory, server: Server, nursery):
    alice = browser_factory()
    map_id = await alice.new_map()
    streams = [await open_stream(nursery, alice.client, f"/m/{map_id}/events") for _ in range(3)]
    with trio.fail_after(5):
        for stream in streams:
            await stream.wait_for(lambda ev: len(ev) >= 1)
    assert server.hub.statistics().subscribers == 3
    await alice.aclose()  # every connection of this browser goes away
    await wait_until(lambda: server.hub.statistics().subscribers == 0)
    assert (await server.hub.get(map_id)).subscribers == set()


def test_static_files_are_found_beside_the_mapsrv_that_runs():
    """Package data of the mapsrv that runs (a checkout, or under tox the installed wheel): the
    served files in ``mapsrv/web/static``, the templates in ``templates/`` of web and mcp, never a
    template among the served files, and no second copy at the top of the checkout."""
    import importlib

    import mapsrv.web
    from mapsrv.http.templates import environment
    from mapsrv.web import find_static_dir
    from mapsrv.web.static import TEMPLATES, served_files

    web = Path(mapsrv.web.__file__).resolve().parent
    assert find_static_dir() == web / "static"
    served = served_files(find_static_dir())
    assert {"map.js", "map.css", "page.css", "write.js", "render.js", "render.css", "app.js"} <= served
    assert not [name for name in served if name.endswith(".html")], "templates are not served files"
    for package, names in (("mapsrv.web", TEMPLATES), ("mapsrv.mcp", {"app.html"})):
        folder = Path(importlib.import_module(package).__file__).resolve().parent / "templates"
        for name in names:
            assert Path(environment(package).get_template(name).filename).resolve() == folder / name
    assert not (Path(__file__).resolve().parents[2] / "static").exists(), "one place, in the package"


async def test_static_files_are_found_when_installed(tmp_path: Path) -> None:
    """Built into a wheel and installed into a prefix of its own (as ``pip install --user`` or
    ``--prefix`` do), the page's files and templates come with the package (setup.cfg's
    package_data): the wheel carries them, and ``mapsrv serve`` from that install serves pages."""
    import os
    import shutil
    import sys
    import zipfile

    source = tmp_path / "src"  # a copy: building leaves build/ and *.egg-info behind
    shutil.copytree(
        ROOT / "mapsrv", source / "mapsrv", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    for name in ("setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md", "CHANGELOG.md"):
        shutil.copy(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("MAPSRV_")}
    pip = [sys.executable, "-m", "pip"]
    await trio.run_process([*pip, "wheel", "-q", "--no-deps", "-w", tmp_path / "dist", source], env=env)
    (wheel,) = (tmp_path / "dist").glob("mapsrv-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, files in (
        ("mapsrv/web/static", ("map.js", "map.css", "page.css")),
        ("mapsrv/web/templates", ("index.html", "claim.html", "gone.html")),
        ("mapsrv/mcp/templates", ("app.html",)),
    ):
        shipped = {n.rsplit("/", 1)[1] for n in names if n.rsplit("/", 1)[0] == folder}
        assert set(files) <= shipped, folder
        assert shipped == {p.name for p in (ROOT / folder).iterdir()}, f"all of {folder}, and only it"
    assert not [n for n in names if n.startswith("mapsrv/static/")], "no copy step any more"
    prefix = tmp_path / "prefix"
    # --ignore-installed: under tox this interpreter already has mapsrv, and pip would skip the prefix
    install = [*pip, "install", "-q", "--no-deps", "--ignore-installed", "--prefix", prefix, wheel]
    await trio.run_process(install, env=env)
    (site,) = prefix.glob("lib/python*/site-packages")
    env["PYTHONPATH"] = str(site)
    script = (
        "import mapsrv.web, mapsrv.http.templates as t; print(mapsrv.web.__file__);"
        " print(mapsrv.web.find_static_dir());"
        " print(t.environment('mapsrv.mcp').get_template('app.html').filename)"
    )
    out = await trio.run_process(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr.decode()
    module, static, app_page = out.stdout.decode().split("\n")[:3]
    assert module.startswith(str(site)), "the installed copy, not the checkout"
    assert static == str(site / "mapsrv" / "web" / "static")
    assert app_page == str(site / "mapsrv" / "mcp" / "templates" / "app.html")
    assert not (prefix / "share" / "mapsrv").exists()

    # from tmp_path: `python -m` puts the working directory first on the path, so not the checkout
    async with (
        open_server(base_env=env, cwd=tmp_path) as served,
        httpx.AsyncClient(base_url=served.url, follow_redirects=True, timeout=10) as browser,
    ):
        page = await browser.get("/")
        map_id = page.url.path.rsplit("/", 1)[1]
        assert page.status_code == 200 and page.url.path == f"/m/{map_id}"
        assert f'data-map-id="{map_id}"' in page.text and "{{" not in page.text
        assert (await browser.get("/static/map.js")).status_code == 200
        assert (await browser.get("/static/index.html")).status_code in (400, 404)
        gone = await browser.get("/m/" + "A" * 22, headers={"Accept": "text/html"})
        assert gone.status_code == 404 and "This map does not open in this browser" in gone.text


class _Page(HTMLParser):
    """What a browser's tokenizer makes of a page: each start tag's attributes, and the text of
    ``<title>`` and of each ``<script>`` by id."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, str] = {}
        self._in: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = "title" if tag == "title" else dict(attrs).get("id") if tag == "script" else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.text[self._in] = self.text.get(self._in, "") + data

    def attributes(self, tag: str) -> dict[str, str | None]:
        (found,) = [attrs for name, attrs in self.tags if name == tag]
        return found


HOSTILE = """</title><script>alert("x")</script>' onload='alert(1)' & </script><!--"""


async def test_a_hostile_title_and_attribution_stay_text_in_the_page(nursery):
    """Autoescaped: the title and the attribution (from the configuration) come back as the same
    text, in the title and in their data attributes, and nothing of them became markup."""
    server = await start_server(nursery, tile_attribution=HOSTILE)
    alice = Browser(server.url)
    map_id = await alice.new_map()
    await alice.ops(map_id, {"op": "set_title", "title": HOSTILE})
    text = (await alice.client.get(f"/m/{map_id}")).text
    page = _Page(text)
    assert page.text["title"] == HOSTILE
    body = page.attributes("body")
    assert body["data-tile-attribution"] == HOSTILE and body["data-map-id"] == map_id
    assert all(name.startswith("data-") for name in body), "no attribute of the title's making"
    scripts = [attrs["src"] for tag, attrs in page.tags if tag == "script"]
    assert "/static/main.js" in scripts, scripts
    assert all(src and src.startswith("/static/") for src in scripts), scripts
    assert "<script>alert" not in text
    assert "&lt;/title&gt;&lt;script&gt;alert(&#34;x&#34;)" in text
    await alice.aclose()


async def test_the_app_config_stays_inside_its_script_and_parses_back(nursery):
    """The MCP App page's config is JSON in a ``<script type="application/json">`` (``|tojson``,
    not HTML escaping: a script's content is raw text): a ``</script>`` in the attribution
    neither ends the element nor changes the value."""
    from mcp import Client

    server = await start_server(nursery, tile_attribution=HOSTILE)
    async with Client(server.url + "mcp") as client:
        (content,) = (await client.read_resource("ui://mapsrv/map")).contents
    page = _Page(content.text)
    config = json.loads(page.text["mapsrv-config"])
    origin = server.url.rstrip("/")
    assert config["attribution"] == HOSTILE and config["origin"] == origin
    assert page.text["mapsrv-config"].count("<") == 0, "<, >, & and ' are JSON escapes"
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert [s.get("id") or s.get("src") for s in scripts] == [
        f"{origin}/static/leaflet/leaflet.js",
        f"{origin}/static/app.js",  # the module that draws with the page's renderer
        "mapsrv-config",
    ]


def test_a_missing_template_value_fails_loudly():
    """StrictUndefined: a value the caller forgot raises instead of rendering an empty attribute."""
    import jinja2
    import pytest

    from mapsrv.http.templates import render

    values = {"map_id": "m", "view_url": "", "actor": "", "mcp_url": "/mcp", "events": "/e", "geojson": "/g"}
    values |= {"mode": "edit", "tile_url": "t", "tile_attribution": "a", "title": "t", "image_url": "/i"}
    values |= {"basemaps": "[]", "router": ""}
    values |= {"role": "owner", "edit_url": "", "name": "", "suggested_name": "Teal Otter", "here": "/m/m"}
    values |= {"account": {"sign_in": False, "signed_in": False, "name": ""}}
    assert 'data-map-id="m"' in render("mapsrv.web", "index.html", **values)
    del values["tile_attribution"]
    with pytest.raises(jinja2.UndefinedError, match="tile_attribution"):
        render("mapsrv.web", "index.html", **values)
    with pytest.raises(jinja2.UndefinedError, match="config"):
        render("mapsrv.mcp", "app.html", origin="http://localhost")


async def test_probes_answer_any_host(server: Server):
    async with httpx.AsyncClient(base_url=server.url) as client:
        for path in ("/health", "/ready", "/metrics"):
            response = await client.get(path, headers={"host": "10.1.2.3:8000"})
            assert response.status_code == 200, path
        assert (await client.get("/", headers={"host": "10.1.2.3:8000"})).status_code == 421


async def test_a_view_link_never_reveals_the_edit_capability(browser_factory, nursery):
    alice, bob = browser_factory(), browser_factory()
    map_id = await alice.new_map()
    page = (await alice.client.get(f"/m/{map_id}")).text
    view_key = page.split('data-view-url="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]
    await alice.ops(map_id, {"op": "set_title", "title": "secret-free"})
    assert map_id not in (await bob.client.get(f"/v/{view_key}")).text
    assert map_id not in (await bob.client.get(f"/v/{view_key}/state")).text
    assert map_id not in (await bob.client.get(f"/v/{view_key}/geojson")).text
    stream = await open_stream(nursery, bob.client, f"/v/{view_key}/events")
    with trio.fail_after(5):
        await stream.wait_for(lambda ev: len(ev) >= 1)
    assert map_id not in str(stream.events)
