"""The live map as an MCP App, in a real Chromium: a host page of our own (what an MCP host does,
in miniature) reads ``ui://mapsrv/map`` with the SDK's client, renders it in a sandboxed iframe
under the Content-Security-Policy built from the resource's ``_meta.ui.csp``, speaks the MCP Apps
postMessage protocol with it (``ui/initialize``, ``ui/notifications/initialized``, then the tool's
input and result), and the app shows the features of the map the ``draw`` result names, and then
the agent's next change, live. The screenshot is kept as agent-app.png in $TEST_ARTIFACTS_DIR."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import trio
from mcp import Client
from support import require, start_server
from support.aio import use_plain_asyncio
from support.apps_host import serve_page

from mapsrv.server import Server

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - reported by require()
    sync_playwright = None

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # nothing answers: tiles fail, nothing leaves the host
CSP_SPY = (
    "window.__csp = []; document.addEventListener('securitypolicyviolation',"
    " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def csp_of(ui: dict[str, Any]) -> str:
    """The iframe's policy as a host builds it from the resource's declarations."""
    resources = " ".join(ui["csp"].get("resourceDomains", []))
    connect = " ".join(ui["csp"].get("connectDomains", []))
    return (
        f"default-src 'none'; script-src 'unsafe-inline' {resources}; style-src 'unsafe-inline' {resources};"
        f" img-src data: {resources}; font-src {resources}; connect-src {connect}; frame-src 'none';"
        " base-uri 'none'"
    )


def host_page(html: str, ui: dict[str, Any], call: dict[str, Any], result: dict[str, Any]) -> str:
    """The host: renders the app in a sandboxed iframe (scripts only: an opaque origin) under the
    CSP its declarations allow, answers ui/initialize, and after ui/notifications/initialized
    sends the tool input and result, as the MCP Apps spec has hosts do."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{csp_of(ui)}">'
    document = html.replace("<head>", "<head>" + meta, 1)
    data = json.dumps({"html": document, "call": call, "result": result}).replace("<", "\\u003c")
    return f"""<!doctype html><html><body style="margin:0">
<iframe id="app" sandbox="allow-scripts" style="border:0;width:900px;height:560px"></iframe>
<script id="data" type="application/json">{data}</script>
<script>
const data = JSON.parse(document.getElementById('data').textContent);
const frame = document.getElementById('app');
window.hostLog = [];
window.addEventListener('message', (event) => {{
  if (event.source !== frame.contentWindow) return;
  const msg = event.data;
  window.hostLog.push(msg.method || 'response');
  const reply = (m) => frame.contentWindow.postMessage(m, '*');
  if (msg.method === 'ui/initialize') {{
    reply({{jsonrpc: '2.0', id: msg.id, result: {{protocolVersion: msg.params.protocolVersion,
      hostInfo: {{name: 'test-host', version: '1'}}, hostCapabilities: {{}},
      hostContext: {{theme: 'light', displayMode: 'inline'}}}}}});
  }} else if (msg.method === 'ui/notifications/initialized') {{
    reply({{jsonrpc: '2.0', method: 'ui/notifications/tool-input', params: {{arguments: data.call}}}});
    reply({{jsonrpc: '2.0', method: 'ui/notifications/tool-result', params: data.result}});
  }}
}});
frame.srcdoc = data.html;
</script></body></html>"""


async def test_the_app_shows_the_map_the_tool_result_names_live(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    require(HAVE_CHROMIUM, "chromium")
    require(sync_playwright is not None, "playwright")
    out = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path) / "agent-app.png"
    server: Server = await start_server(nursery, tile_url=TILES, sse_retry=0.2)
    async with Client(server.url + "mcp") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        linked = {name for name, tool in tools.items() if (tool.meta or {}).get("ui")}
        assert linked == {"create_map", "draw"}
        assert tools["draw"].meta == {"ui": {"resourceUri": "ui://mapsrv/map"}}
        read = await client.read_resource("ui://mapsrv/map")
        (content,) = read.contents
        assert content.mime_type == "text/html;profile=mcp-app"
        ui = (content.meta or {})["ui"]
        origin = server.url.rstrip("/")
        assert ui["csp"] == {"connectDomains": [origin], "resourceDomains": [origin, "http://127.0.0.1:9"]}
        call = {
            "items": [
                {
                    "type": "route",
                    "points": [[38.7223, -9.1393], [38.7139, -9.1334], [38.6979, -9.2063]],
                    "color": "crimson",
                    "id": "walk",
                    "label": "Walk",
                },
                {
                    "at": [38.7169, -9.1399],
                    "symbol": "H",
                    "color": "#0f766e",
                    "label": "Hotel",
                    "id": "hotel",
                },
            ],
            "title": "Lisbon",
        }
        drawn = await client.call_tool("draw", call)
        assert not drawn.is_error, drawn.content
        map_id = drawn.structured_content["map_id"]
        result = drawn.model_dump(mode="json", by_alias=True, exclude_none=True)
        assert result["_meta"]["mapsrv/view"].startswith(origin + "/v/")
        assert "mapsrv/view" not in drawn.content[0].text, "the model's text keeps the plain url"
        page = [host_page(content.text, ui, call, result)]
        host = await nursery.start(serve_page, page)

        async def agent_adds_a_marker() -> None:
            more = {"map_id": map_id, "items": [{"at": [38.7253, -9.15], "label": "Garden", "id": "garden"}]}
            assert not (await client.call_tool("draw", more)).is_error

        def body() -> tuple[bytes, list[str], list[str]]:
            use_plain_asyncio()
            with sync_playwright() as pw:
                chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                try:
                    context = chromium.new_context(viewport={"width": 900, "height": 560})
                    context.set_default_timeout(10_000)
                    context.add_init_script(CSP_SPY)
                    tab = context.new_page()
                    errors: list[str] = []
                    tab.on("pageerror", lambda e: errors.append(str(e)))
                    tab.goto(host)
                    app = tab.frame_locator("#app")
                    # the route, its 3 numbered stops and the hotel
                    app.locator("body[data-features='5']").wait_for()
                    app.locator("#status", has_text="live").wait_for()
                    app.locator("[data-feature-id='hotel']").wait_for()
                    trio.from_thread.run(agent_adds_a_marker)
                    app.locator("body[data-features='6']").wait_for()
                    app.locator("[data-feature-id='garden']").wait_for()
                    assert app.locator("#title").inner_text() == "Lisbon"
                    log = tab.evaluate("window.hostLog")
                    frame = tab.frames[1]
                    violations = frame.evaluate("window.__csp") + tab.evaluate("window.__csp")
                    png = tab.screenshot(animations="disabled")
                    return png, log, violations + errors
                finally:
                    chromium.close()

        png, log, problems = await trio.to_thread.run_sync(body)
    # the app reports the height it chose once initialized (this host gives no dimensions)
    assert log[:3] == ["ui/initialize", "ui/notifications/initialized", "ui/notifications/size-changed"]
    assert problems == []
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)
