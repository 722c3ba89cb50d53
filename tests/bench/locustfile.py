"""mapsrv's load test with Locust, against any deployment:

    locust -f tests/bench/locustfile.py --host https://maps.example.com --headless -u 110 -r 20 -t 5m

The default is the seeds' profile: 100 people holding a map's live stream (the view link's SSE),
5 agents calling tools over Streamable HTTP (a session each: ``draw``, then ``read``), and 5 page
writers adding markers the way the map page does, together about 1,000 requests a minute. Each
writer draws on a map of its own that viewers follow; every marker carries the time it was sent,
so each viewer reports **SSE delivery** (write sent to frame received) as a request of its own
(type ``SSE``, name ``delivery``) beside the HTTP requests. Load generator and server must share a
clock (one machine, or NTP).

Options (after the file): ``--viewers 100 --agents 5 --writers 5 --per-minute 1000`` (``-u`` must
be their sum), ``--api-key SECRET`` when the server wants one for MCP. Every user comes from this
machine's address, which a server counts as one client: give the server room for them
(``--max-streams-per-client``, ``--rate-streams``, ``--rate-writes``, ``--rate-mcp``; see README,
"Load testing") or run Locust workers from several machines. ``--csv PREFIX`` writes the numbers;
Locust exits 1 when any request failed.

Locust (gevent) runs in its own process: nothing here is imported by mapsrv or its tests.
"""

from __future__ import annotations

import json
import random
import re
import time
from typing import Any

from locust import HttpUser, constant, events, task
from locust.env import Environment

PROTOCOL = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
SENT = re.compile(r'"label":"load (\d+\.\d+)"')
MAPS: list[str] = []  # view links of the writers' maps, for viewers to follow (in this process)


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--viewers", type=int, default=100, help="people holding a map's stream")
    parser.add_argument("--agents", type=int, default=5, help="MCP agents calling tools")
    parser.add_argument("--writers", type=int, default=5, help="page writers adding markers")
    parser.add_argument(
        "--per-minute", type=float, default=1000, help="agent and writer requests per minute, in all"
    )
    parser.add_argument("--api-key", default="", help="the MCP API key, if the server wants one")


@events.init.add_listener
def _counts(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    if options is None:
        return
    Viewer.fixed_count, Agent.fixed_count, Writer.fixed_count = (
        options.viewers,
        options.agents,
        options.writers,
    )
    per_user = options.per_minute / 60 / max(1, options.agents + options.writers)
    Agent.per_second = Writer.per_second = per_user


class Paced(HttpUser):
    """A user making about ``per_second`` requests a second."""

    abstract = True
    per_second = 1.0

    def wait_time(self) -> float:
        return random.expovariate(self.per_second) if self.per_second > 0 else 1.0


class Writer(Paced):
    """A person on the map page adding markers (``POST /m/<id>/ops``, as the page does)."""

    def on_start(self) -> None:
        made = self.client.get("/", name="/ (new map)", allow_redirects=False)
        self.map_id = made.headers["location"].rstrip("/").rsplit("/", 1)[1]
        state = self.client.get(f"/m/{self.map_id}/state", name="/m/{id}/state").json()
        MAPS.append(state["view_url"])
        self.n = 0

    @task
    def add_marker(self) -> None:
        self.n += 1
        op = {
            "op": "add_feature",
            "type": "marker",
            "coords": [random.uniform(-60, 60), random.uniform(-170, 170)],
            "label": f"load {time.time():.6f}",
        }
        if self.n % 50 == 0:  # keep the map small: the stream's snapshot stays cheap
            op = {"op": "clear"}
        headers = {"origin": self.host.rstrip("/")}
        self.client.post(f"/m/{self.map_id}/ops", json={"ops": [op]}, headers=headers, name="/m/{id}/ops")


class Agent(Paced):
    """An MCP client over Streamable HTTP: a session, then tool calls."""

    def on_start(self) -> None:
        self.headers = {"accept": ACCEPT}
        if self.environment.parsed_options and self.environment.parsed_options.api_key:
            self.headers["authorization"] = f"Bearer {self.environment.parsed_options.api_key}"
        hello = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "locust", "version": "1"},
            },
        }
        answer = self.client.post("/mcp", json=hello, headers=self.headers, name="mcp initialize")
        self.headers["mcp-session-id"] = answer.headers.get("mcp-session-id", "")
        self.headers["mcp-protocol-version"] = PROTOCOL
        done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        self.client.post("/mcp", json=done, headers=self.headers, name="mcp notifications/initialized")
        self.calls = 0
        self.map_id = ""
        # as real clients do, the tools are listed at once: a session with no request after its
        # initialize is closed after --mcp-handshake-timeout (10 s), and read has nothing to read yet
        self.request("tools/list", {})

    def request(self, method: str, params: dict[str, Any], name: str = "") -> dict[str, Any]:
        """One JSON-RPC request's result, {} (counted as a failure) when there is none, or a tool
        call's error."""
        self.calls += 1
        message = {"jsonrpc": "2.0", "id": self.calls, "method": method, "params": params}
        with self.client.post(
            "/mcp", json=message, headers=self.headers, name=f"mcp {name or method}", catch_response=True
        ) as answer:
            try:
                result = dict(answer.json()["result"])
            except (ValueError, KeyError, TypeError):
                answer.failure(f"no result: {answer.text[:200]}")
                return {}
            if result.get("isError"):
                answer.failure(f"tool error: {json.dumps(result.get('content'))[:200]}")
                return {}
            return result

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        params = {"name": tool, "arguments": arguments}
        result = self.request("tools/call", params, name=f"tools/call {tool}")
        return dict(result.get("structuredContent") or {})

    @task(1)
    def draw(self) -> None:
        items = [{"at": [random.uniform(-60, 60), random.uniform(-170, 170)], "label": "agent"}]
        arguments: dict[str, Any] = {"items": items}
        if self.map_id and self.calls % 40:
            arguments["map_id"] = self.map_id
        drawn = self.call("draw", arguments)
        self.map_id = drawn.get("map_id", self.map_id)

    @task(2)
    def read(self) -> None:
        if self.map_id:
            self.call("read", {"map_id": self.map_id})


class Viewer(HttpUser):
    """A person with a map open: its live stream, held; each change's delivery time reported.
    The stream's request counts once, when its headers arrive."""

    wait_time = constant(1)

    @task
    def watch(self) -> None:
        while not MAPS:  # until a writer has made a map (gevent's sleep: other users run)
            time.sleep(0.1)
        view = random.choice(MAPS)
        path = view.split("://", 1)[-1].split("/", 1)[1]
        stream = self.client.get(f"/{path}/events", stream=True, name="/v/{key}/events")
        try:
            event = ""
            for raw in stream.iter_lines(decode_unicode=True):
                if raw.startswith("event:"):
                    event = raw[6:].strip()
                elif raw.startswith("data:") and event == "change":
                    received = time.time()
                    for sent in SENT.findall(raw):
                        self.environment.events.request.fire(
                            request_type="SSE",
                            name="delivery",
                            response_time=(received - float(sent)) * 1000,
                            response_length=len(raw),
                            exception=None,
                            context={},
                        )
                elif not raw:
                    event = ""
        finally:
            stream.close()
