"""Sources from elsewhere for the add_layer tests: a small HTTP server on 127.0.0.1 that answers
each path as a test says (tiles, a GeoJSON file, a WMS GetMap, a redirect, an endless body, a
hang, an HTML page), and PNG tiles made with Pillow."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from functools import partial

import trio
from PIL import Image

__all__ = ["Answer", "http_answer", "png_tile", "read_request", "serve_source"]

# path and query -> the stream to answer on
Answer = Callable[[str, trio.SocketStream], Awaitable[None]]


async def read_request(stream: trio.SocketStream) -> bytes | None:
    """What a client sent up to its request's blank line (and any of the body that came with it),
    or None when it closed first: a browser's preconnect, a client that gave up. A reset is the
    caller's to catch (``trio.BrokenResourceError``), with the answer's own."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = await stream.receive_some(65536)
        if not got:
            return None
        data += got
    return data


def png_tile(color: tuple[int, int, int], size: int = 256) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), color).save(out, "PNG")
    return out.getvalue()


def http_answer(status: str, body: bytes, content_type: str, **headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    head += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    head += ["Connection: close", "", ""]
    return "\r\n".join(head).encode() + body


async def serve_source(nursery: trio.Nursery, answer: Answer, host: str = "127.0.0.1", port: int = 0) -> int:
    """Serves ``answer`` for each request on ``host`` (and ``port``, by default a free one); the
    port."""

    async def one(stream: trio.SocketStream) -> None:
        try:
            data = await read_request(stream)
            if data is None:
                return
            target = data.split(b" ", 2)[1].decode()
            await answer(target, stream)
        except trio.BrokenResourceError:
            pass  # the client cut it off (a body past the cap, a reset)
        finally:
            await stream.aclose()

    listeners = await nursery.start(partial(trio.serve_tcp, one, port, host=host))
    return int(listeners[0].socket.getsockname()[1])
