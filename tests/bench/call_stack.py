"""What a stateless tool call costs mapsrv's own ASGI stack, without sockets (issue 74): the
server is started in this process with the settings ``tool_calls_per_core`` gives it (an API key,
the MCP rate limit checked), a map of 3 markers is drawn through the SDK's client, and then the
same 2026-07-28 ``read`` is handed to the stack's entry straight, one call after another, as
hypercorn would hand it (its scope, a body already read), and the process's CPU time is divided
by the calls. ``--layer`` starts lower down (``hygiene``, ``dispatch``, ``mcp``): the differences
are each layer's own cost. ``--fresh`` has ``read`` make the map's summary anew for every call (as
the first read after a change does), where it is otherwise answered again (the map is unchanged).

Low noise (a few µs between runs, where ``tool_calls_per_core`` moves by a tenth with the
machine): for before-and-after of a change to the request's path. What it leaves out (the
HTTP/1.1 parse, the task per request, the socket's two system calls) ``tool_calls_per_core``
measures.

    python -m tests.bench.call_stack [CALLS] [--layer observer|hygiene|dispatch|mcp] [--fresh]
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import trio
from support import start_server

from mapsrv.mcp.tools import reading

from . import tool_calls_per_core as bench

LAYERS = ("observer", "hygiene", "dispatch", "mcp")


class _Inbox:
    """A request's messages as hypercorn's exchange gives them: waiting for one, or taking one
    that is there (``receive_nowait``)."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages

    def receive_nowait(self) -> dict[str, Any]:
        if not self.messages:
            raise trio.WouldBlock
        return self.messages.pop()

    async def receive(self) -> dict[str, Any]:
        if self.messages:
            return self.messages.pop()
        await trio.sleep_forever()
        raise AssertionError


def _entry(server: Any, layer: str) -> Any:
    return {
        "observer": server.observer,
        "hygiene": server.connections,
        "dispatch": server.connections.app,
        "mcp": server.mcp,
    }[layer]


async def main(calls: int, layer: str, fresh: bool) -> None:
    logging.disable(logging.INFO)  # as --log-level warning: no access line per call
    async with trio.open_nursery() as nursery:
        server = await start_server(
            nursery, api_keys=(f"bench:{bench.SECRET}",), rate_mcp=10_000.0, burst_mcp=10_000_000
        )
        auth = {"authorization": f"Bearer {bench.SECRET}"}
        map_id = await bench.three_markers(server.url + "mcp", auth)
        body = json.dumps(bench.call(map_id, stateless=True)).encode()
        sent = {**bench.base_headers(auth, bench.MODERN), "mcp-method": "tools/call", "mcp-name": "read"}
        sent |= {"host": server.url.split("//")[1].rstrip("/"), "content-length": str(len(body))}
        headers = [(name.encode(), value.encode()) for name, value in sent.items()]
        app, answers = _entry(server, layer), []

        async def send(message: dict[str, Any]) -> None:
            answers.append(message)

        async def one() -> None:
            scope = {
                "type": "http", "http_version": "1.1", "asgi": {"spec_version": "2.1", "version": "3.0"},
                "method": "POST", "scheme": "http", "path": "/mcp", "raw_path": b"/mcp",
                "query_string": b"", "root_path": "", "headers": headers,
                "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 80), "state": {}, "extensions": {},
            }  # fmt: skip
            inbox = _Inbox([{"type": "http.request", "body": body, "more_body": False}])
            if fresh:
                reading._SUMMARIES.drop(map_id)  # the summary made again, as after a change
            await app(scope, inbox.receive, send)

        for _ in range(500):  # warm: every cache and layout learned
            await one()
        assert answers[0]["status"] == 200 and b"Paris" in answers[-1]["body"], answers[-1]
        answers.clear()
        started = time.process_time()
        for _ in range(calls):
            await one()
        took = time.process_time() - started
        assert len(answers) == 2 * calls
        made = "its summary made anew each time" if fresh else "an unchanged map's summary answered again"
        print(
            f"{layer}: {1e6 * took / calls:.1f} µs of CPU per stateless read ({made}), over {calls:,} calls"
        )
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    chosen = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--layer=")]
    if chosen and chosen[0] not in LAYERS:
        sys.exit(f"--layer: one of {', '.join(LAYERS)}")
    trio.run(
        main, int(args[0]) if args else 20_000, chosen[0] if chosen else "observer", "--fresh" in sys.argv
    )
