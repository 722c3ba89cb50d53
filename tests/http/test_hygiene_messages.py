"""``ConnectionHygiene`` takes the first message of an MCP POST if the server has it already
(``receive_nowait``): a whole body goes to the app as it is, with the server's own ``send`` (no
wrapper per message); a part of one is given to the app first, then the rest as it comes, and
the body's deadline still counts from the request's start. Unit tests of the middleware alone:
the server side is a fake inbox, as hypercorn's exchange offers it."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from mapsrv.http.hygiene import ConnectionCounts, ConnectionHygiene

Message = dict[str, Any]


class Inbox:
    """The server's side of one request: messages there already, and one that comes later."""

    def __init__(self, ready: list[Message], later: list[Message]) -> None:
        self.ready, self.later = ready, later
        self.arrived = trio.Event()

    def receive_nowait(self) -> Message:
        if not self.ready:
            raise trio.WouldBlock
        return self.ready.pop(0)

    async def receive(self) -> Message:
        if self.ready:
            return self.ready.pop(0)
        await self.arrived.wait()
        return self.later.pop(0)


def scope(length: int) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/mcp",
        "headers": [(b"content-length", str(length).encode()), (b"content-type", b"application/json")],
    }


async def run(inbox: Inbox, length: int, body_timeout: float = 5.0) -> tuple[list[Message], list[Any]]:
    """What the app read, and the sends it was given and what went out through them."""
    read: list[Message] = []
    seen: list[Any] = []
    sent: list[Message] = []

    async def server_send(message: Message) -> None:
        sent.append(message)

    async def app(_: Any, receive: Any, send: Any) -> None:
        seen.append(send)
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    hygiene = ConnectionHygiene(app, ConnectionCounts(), max_body_size=1 << 20, body_timeout=body_timeout)
    await hygiene(scope(length), inbox.receive, server_send)
    return read, [seen[0] is server_send, [m.get("status", m["type"]) for m in sent]]


async def test_a_whole_body_goes_straight_to_the_app() -> None:
    body = {"type": "http.request", "body": b'{"a": 1}', "more_body": False}
    read, (straight, sent) = await run(Inbox([body], []), 8)
    assert read == [body]
    assert straight, "the app answers with the server's own send"
    assert sent == [200, "http.response.body"]


async def test_a_part_of_the_body_is_read_first_then_the_rest() -> None:
    first = {"type": "http.request", "body": b'{"a":', "more_body": True}
    rest = {"type": "http.request", "body": b" 1}", "more_body": False}
    inbox = Inbox([first], [rest])
    async with trio.open_nursery() as nursery:
        got: list[Any] = []

        async def go() -> None:
            got.append(await run(inbox, 8))

        nursery.start_soon(go)
        await trio.testing.wait_all_tasks_blocked()
        inbox.arrived.set()
    read, (straight, sent) = got[0]
    assert [m["body"] for m in read] == [b'{"a":', b" 1}"]
    assert not straight
    assert sent == [200, "http.response.body"]


async def test_a_part_of_the_body_and_then_nothing_is_cut_off_at_its_deadline(autojump_clock: Any) -> None:
    first = {"type": "http.request", "body": b'{"a":', "more_body": True}
    read, (_, sent) = await run(Inbox([first], []), 8, body_timeout=0.5)
    assert read[0] == first and read[-1] == {"type": "http.disconnect"}
    assert sent == [408, "http.response.body"]
