"""The page's writes (ops, undo, redo) are answered below Quart (``mapsrv.web.writes``): what a
client can tell of that answer is what Quart's pages say (headers, error shapes), and the edges
Quart used to cover are covered here: other methods, a body streamed past the limit, a body that
arrives in pieces or never, a failure nobody expected. Real sockets, an in-process server."""

from __future__ import annotations

import json
import logging

import pytest
import trio
from support import Browser, start_server
from support.raw_http import RawConnection

from mapsrv.server import Server

PIN = {"op": "add_feature", "id": "pin", "type": "marker", "coords": [38.72, -9.14], "label": "Pin"}
SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options")


async def owned_map(server: Server) -> tuple[Browser, str, str]:
    """A browser, a map it owns, and its cookie header."""
    browser = Browser(server.url)
    map_id = await browser.new_map()
    return browser, map_id, f"mapsrv_user={browser.client.cookies['mapsrv_user']}"


def request(method: str, path: str, server: Server, *headers: str, body: bytes = b"") -> bytes:
    host = server.url.split("://", 1)[1].rstrip("/")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def ops_head(server: Server, map_id: str, cookie: str, *headers: str) -> bytes:
    """The head of a page write on a raw connection: the map's ops route, its owner's cookie."""
    return request("POST", f"/m/{map_id}/ops", server, f"Cookie: {cookie}", *headers)


async def connect(server: Server) -> RawConnection:
    host, port = server.url.split("://", 1)[1].rstrip("/").rsplit(":", 1)
    return await RawConnection.open(host, int(port))


async def test_a_write_is_answered_with_the_headers_of_every_page_answer(server: Server) -> None:
    alice, map_id, _ = await owned_map(server)
    written = await alice.ops(map_id, PIN)
    assert written.status_code == 200 and written.json() == {"version": 1}
    assert written.headers["content-type"] == "application/json"
    assert written.headers["cache-control"] == "no-store"
    assert int(written.headers["content-length"]) == len(written.content)
    state = await alice.client.get(f"/m/{map_id}/state")  # answered by Quart
    for name in SECURITY:
        assert written.headers[name] == state.headers[name], name
    undone = await alice.client.post(f"/m/{map_id}/undo")
    assert undone.json() == {"version": 2} and (await alice.state(map_id))["features"] == []
    redone = await alice.client.post(f"/m/{map_id}/redo")
    assert redone.json() == {"version": 3} and len((await alice.state(map_id))["features"]) == 1
    await alice.aclose()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_any_other_method_is_refused_with_what_is_allowed(server: Server, method: str) -> None:
    alice, map_id, _ = await owned_map(server)
    for action in ("ops", "undo", "redo"):
        refused = await alice.client.request(method, f"/m/{map_id}/{action}")
        assert refused.status_code == 405, action
        assert refused.headers["allow"] == "POST"
        assert refused.json()["error"]["message"] == "method not allowed"
    assert (await alice.state(map_id))["version"] == 0
    await alice.aclose()


@pytest.mark.parametrize(
    ("framing", "parts"),
    [
        ("Transfer-Encoding: chunked", [b"3e8\r\n" + b" " * 1000 + b"\r\n"] * 3),  # over in the third
        ("Content-Length: 10485760", []),  # a client waiting to be told before it sends 10 MB
    ],
)
async def test_a_body_over_the_limit_is_refused_and_the_connection_closed(
    nursery: trio.Nursery, framing: str, parts: list[bytes]
) -> None:
    """Counted as it comes when no Content-Length says its size, refused at once when one does
    (not after the 10 s body timeout a server reading first would take)."""
    server = await start_server(nursery, max_body_size=2048)
    alice, map_id, cookie = await owned_map(server)
    connection = await connect(server)
    with trio.fail_after(5):
        await connection.send(ops_head(server, map_id, cookie, "Content-Type: application/json", framing))
        for part in parts:
            await connection.send(part)
        answer = await connection.read_response()
        assert answer.status == 413 and answer.headers["connection"] == "close"
        error = json.loads(answer.body)["error"]
        assert error["code"] == "too_large"
        assert error["message"].startswith("request body is larger than 2048 bytes, the most this server")
        assert await connection.closed_by_server()
    assert (await alice.state(map_id))["version"] == 0
    assert (await alice.ops(map_id, PIN)).status_code == 200  # the server serves on
    await alice.aclose()


async def test_a_body_that_arrives_in_pieces_is_read_whole(server: Server) -> None:
    alice, map_id, cookie = await owned_map(server)
    body = b'{"ops": [{"op": "set_title", "title": "in pieces"}]}'
    connection = await connect(server)
    head = ops_head(
        server,
        map_id,
        cookie,
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
    )
    with trio.fail_after(10):
        await connection.send(head)
        for start in range(0, len(body), 10):
            await connection.send(body[start : start + 10])
        answer = await connection.read_response()
        assert answer.status == 200, answer.body
        # the same keep-alive connection carries the next request
        await connection.send(request("GET", "/health", server))
        assert (await connection.read_response()).status == 200
    assert (await alice.state(map_id))["title"] == "in pieces"
    await connection.aclose()
    await alice.aclose()


async def test_only_the_content_length_header_declares_the_bodys_size(server: Server) -> None:
    """Another header whose value is a number says nothing of the body's size."""
    alice, map_id, cookie = await owned_map(server)
    body = b'{"ops": [{"op": "set_title", "title": "numbers"}]}'
    head = ops_head(
        server,
        map_id,
        cookie,
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "X-Request-Id: 99999999999",  # after the Content-Length, so it would have the last word
    )
    connection = await connect(server)
    with trio.fail_after(10):
        await connection.send(head + body)
        answer = await connection.read_response()
    assert answer.status == 200, answer.body
    assert (await alice.state(map_id))["title"] == "numbers"
    await connection.aclose()
    await alice.aclose()


async def test_a_client_that_leaves_before_its_body_arrives_changes_nothing(server: Server) -> None:
    alice, map_id, cookie = await owned_map(server)
    connection = await connect(server)
    head = ops_head(server, map_id, cookie, "Content-Type: application/json", "Content-Length: 200")
    with trio.fail_after(10):
        await connection.send(head + b'{"ops": [{"op": "set_title", "title": "never"')
        await connection.aclose()
        # the server finishes with that request, and serves the next one
        assert (await alice.ops(map_id, {"op": "set_title", "title": "later"})).json() == {"version": 1}
    assert (await alice.state(map_id))["title"] == "later"
    await alice.aclose()


async def test_a_failure_nobody_expected_is_a_500_logged_without_the_map_id(
    server: Server, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, map_id, _ = await owned_map(server)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patched:
        patched.setattr(server.hub, "apply", broken)
        with caplog.at_level(logging.ERROR, logger="mapsrv.web"):
            failed = await alice.ops(map_id, PIN)
    assert failed.status_code == 500
    assert failed.json()["error"]["message"] == "internal server error"
    [logged] = [r for r in caplog.records if r.name == "mapsrv.web"]
    assert logged.getMessage() == "exception on POST /m/{id}/ops" and logged.exc_info is not None
    assert map_id not in logged.getMessage()
    assert (await alice.ops(map_id, PIN)).json() == {"version": 1}  # and serves on
    await alice.aclose()


async def test_each_refusal_says_what_to_fix(server: Server) -> None:
    """Status, code and message of each refusal (the messages are an agent's and a page's only
    guide); and what is accepted at the edges: a version 0 base, a content type with parameters."""
    alice, map_id, _ = await owned_map(server)
    url = f"/m/{map_id}/ops"
    title = {"op": "set_title", "title": "ok"}

    async def post(content: bytes, content_type: str = "application/json") -> tuple[int, dict[str, str]]:
        answer = await alice.client.post(url, content=content, headers={"content-type": content_type})
        return answer.status_code, answer.json().get("error", {})

    status, error = await post(b"{}", "text/plain")
    assert (status, error["message"]) == (400, "send the ops as application/json")
    status, error = await post(b"[1, 2]")
    assert (status, error["code"]) == (400, "invalid") and "must be a JSON object, got list" in error[
        "message"
    ]
    status, error = await post(b'{"ops": [{"op": "set_view", "center": [NaN, 0], "zoom": 3}]}')
    assert (status, error["message"]) == (400, "body is not valid JSON: NaN is not a JSON number")
    status, error = await post(b'{"ops": [')
    assert status == 400 and error["message"].startswith("body is not valid JSON: Expecting value")
    for base in (-1, True, "3"):
        status, error = await post(json.dumps({"ops": [title], "base_version": base}).encode())
        assert status == 400, base
        assert error["message"] == f"base_version must be a version (an integer >= 0), got {base!r}"
    status, error = await post(json.dumps({"ops": [title], "expected_version": 7}).encode())
    assert status == 409 and error["code"] == "conflict"
    assert (await alice.state(map_id))["version"] == 0, "no refusal wrote anything"
    assert await post(json.dumps({"ops": [title], "base_version": 0}).encode()) == (200, {})
    assert await post(json.dumps({"ops": [title]}).encode(), "Application/JSON; charset=utf-8; x=y") == (
        200,
        {},
    )
    await alice.aclose()


async def test_a_body_of_exactly_the_limit_is_taken_and_one_byte_more_is_not(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, max_body_size=2048)
    alice, map_id, _ = await owned_map(server)
    bare = json.dumps({"ops": [{"op": "set_title", "title": "edge"}]}).encode()
    exact = bare[:-1] + b" " * (2048 - len(bare)) + b"}"
    assert len(exact) == 2048
    for body, status in ((exact, 200), (exact + b" ", 413)):
        answer = await alice.client.post(
            f"/m/{map_id}/ops", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == "too_large"
    assert (await alice.state(map_id))["title"] == "edge"
    await alice.aclose()
