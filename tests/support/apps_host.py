"""An MCP Apps host for tests, built around the official ``AppBridge``
(``@modelcontextprotocol/ext-apps``, installed with Node by scripts/gateway-node.sh): esbuild
bundles ``tests/mcp/apps_host/host.js`` once per test session, and ``host_page`` makes one page of
it that renders an app's HTML in an iframe the way real hosts do (``kind``: ``grow``, ``fixed`` or
``dom``; see host.js). The page is served from loopback by ``serve_page``; the test reads what the
app asked of the host from ``window.host``."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from .sources import read_request
from .waiting import require

__all__ = ["HOST_JS", "NODE_HOME", "AppCall", "app_draw", "host_bundle", "host_page", "serve_page"]

ROOT = Path(__file__).resolve().parents[2]
NODE_HOME = Path(os.environ.get("GATEWAY_NODE_HOME") or ROOT / ".tox" / "gateway-node")
MODULES = NODE_HOME / "node_modules"
ESBUILD = MODULES / ".bin" / "esbuild"
HOST_JS = ROOT / "tests" / "mcp" / "apps_host" / "host.js"


@functools.cache
def _bundle() -> str:
    env = {
        **os.environ,
        "NODE_PATH": str(MODULES),
        "PATH": f"{MODULES / '.bin'}:{os.environ.get('PATH', '')}",
    }
    done = subprocess.run(
        [str(ESBUILD), str(HOST_JS), "--bundle", "--format=esm", "--minify", "--log-level=warning"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"esbuild could not bundle the test host: {done.stderr}")
    return done.stdout


def host_bundle() -> str:
    """The test host and AppBridge as one ES module (built once per session)."""
    require(
        ESBUILD.exists() and (MODULES / "@modelcontextprotocol" / "ext-apps").exists(),
        "@modelcontextprotocol/ext-apps and esbuild (scripts/gateway-node.sh)",
    )
    return _bundle()


def host_page(
    kind: str,
    html: str,
    ui: dict[str, Any],
    *,
    call: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    width: int = 720,
    height: int = 500,
    max_height: int = 900,
) -> str:
    """A host page that renders ``html`` (an app's resource text, with ``ui`` its ``_meta.ui``) as
    ``kind``, and once the app is initialized sends it ``call`` as the tool input and ``result``
    (a ``CallToolResult`` as JSON) as the tool result."""
    assert kind in ("grow", "fixed", "dom"), kind
    setup = {
        "kind": kind,
        "html": html,
        "csp": ui.get("csp", {}),
        "call": call,
        "result": result,
        "width": width,
        "height": height,
        "maxHeight": max_height,
    }
    data = json.dumps(setup).replace("<", "\\u003c")
    script = host_bundle().replace("</script", "<\\/script")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>test host ({kind})</title>
<style>body{{margin:0;font:14px sans-serif}} iframe{{border:0;display:block;width:100%}}</style>
</head><body><div id="box"><iframe id="app" title="mapsrv app"></iframe></div>
<script id="setup" type="application/json">{data}</script>
<script type="module">{script}</script></body></html>"""


async def serve_page(
    page: list[str], *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    """The host's own origin: a loopback server answering every request with ``page[0]``
    (Chromium lets an iframe of a page load from loopback only when that page came from loopback
    too, as mapsrv does)."""

    async def answer(stream: trio.SocketStream) -> None:
        # Chromium opens sockets it may close unused (a preconnect) or drop mid-answer (a tab
        # closed, a favicon no longer wanted): such a socket is let go, not allowed to take the
        # host and every test page on it down with a broken pipe.
        async with stream:
            with contextlib.suppress(trio.BrokenResourceError):
                if await read_request(stream) is None:
                    return
                body = page[0].encode()
                head = "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n"
                head += f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
                await stream.send_all(head.encode() + body)

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/")
    await trio.serve_listeners(answer, listeners)


@dataclass(frozen=True)
class AppCall:
    """What a host shows for an agent's ``draw``: the app's page (its resource text), its
    ``_meta.ui``, the tool's result as JSON, and the map drawn."""

    html: str
    ui: dict[str, Any]
    result: dict[str, Any]
    map_id: str


async def app_draw(client: Any, call: dict[str, Any]) -> AppCall:
    """The app's resource read, then ``draw`` called with ``call`` by ``client`` (an MCP SDK
    client), as a host does before it shows the app."""
    (content,) = (await client.read_resource("ui://mapsrv/map")).contents
    drawn = await client.call_tool("draw", call)
    assert not drawn.is_error, drawn.content
    result = drawn.model_dump(mode="json", by_alias=True, exclude_none=True)
    return AppCall(content.text, (content.meta or {})["ui"], result, drawn.structured_content["map_id"])
