"""Guards for hypercorn's private names that ``mapsrv.http.hypercorn`` uses: one test per name,
each checking hypercorn's own source (mapsrv patches the classes in place, so the classes in this
process are no witness) for the method, its signature, and the call that makes the patch matter.
The behaviour is tested in a real hypercorn by tests/http/test_connections.py, tests/http/test_keep_alive.py
and tests/gateway/test_gateway_limits.py; these say by name which private moved."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

import pytest


def _method(module: str, cls: str, name: str) -> tuple[ast.ClassDef, ast.AsyncFunctionDef]:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"hypercorn has no module {module} any more"
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read(), spec.origin)
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
    assert classes, f"{module} has no class {cls} any more"
    methods = [
        n for n in classes[0].body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
    ]
    if not methods:
        pytest.fail(f"hypercorn's {cls} has no {name} any more: mapsrv/http/hypercorn.py relies on it")
    method = methods[0]
    assert isinstance(method, ast.AsyncFunctionDef), f"hypercorn's {cls}.{name} is no coroutine now"
    return classes[0], method


def _arguments(method: ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in method.args.posonlyargs + method.args.args]


def _calls_self(node: ast.AST, name: str) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == name
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == "self"
        for n in ast.walk(node)
    )


def _method_body(cls: ast.ClassDef, name: str) -> ast.AST:
    found = [n for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name]
    assert found, f"hypercorn's {cls.name} has no {name} any more"
    return found[0]


def test_hypercorn_tcp_server_keeps_read_data() -> None:
    """``TCPServer._read_data(self)``, which ``run`` awaits to read until EOF:
    ``close_idle_connections_on_eof`` wraps it to end the keep-alive timer when it returns."""
    cls, method = _method("hypercorn.trio.tcp_server", "TCPServer", "_read_data")
    assert _arguments(method) == ["self"], f"TCPServer._read_data takes {_arguments(method)} now"
    assert _calls_self(_method_body(cls, "run"), "_read_data"), (
        "TCPServer.run no longer awaits self._read_data: closing idle connections at EOF does nothing"
    )


def test_hypercorn_tcp_server_keeps_initiate_server_close() -> None:
    """``TCPServer._initiate_server_close(self)``, what hypercorn's own idle timeout calls:
    ``KeepAliveTimer`` closes an idle connection with it."""
    cls, method = _method("hypercorn.trio.tcp_server", "TCPServer", "_initiate_server_close")
    assert _arguments(method) == ["self"], f"TCPServer._initiate_server_close takes {_arguments(method)} now"
    assert _calls_self(_method_body(cls, "_idle_timeout"), "_initiate_server_close"), (
        "hypercorn's own idle timeout no longer closes with _initiate_server_close: KeepAliveTimer,"
        " which does what it does, must follow"
    )


def test_hypercorn_makes_each_connections_protocol_by_the_name_h11protocol() -> None:
    """``ProtocolWrapper.__init__`` makes an HTTP/1.1 connection's protocol by the module name
    ``H11Protocol`` in hypercorn/protocol/__init__.py: ``mapsrv.http.h1.install`` replaces that
    name with ``H1Protocol``, and every connection would be parsed by h11 again if it changed."""
    spec = importlib.util.find_spec("hypercorn.protocol")
    assert spec is not None and spec.origin
    tree = ast.parse(Path(spec.origin).read_text())
    [wrapper] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ProtocolWrapper"]
    calls = [
        node.func.id
        for node in ast.walk(wrapper)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    assert "H11Protocol" in calls, "ProtocolWrapper no longer makes H11Protocol by its module name"


async def test_hypercorn_hands_the_app_a_trio_memory_channels_receive() -> None:
    """``TaskGroup.spawn_app`` gives the app a trio memory channel's ``receive``: the connection
    hygiene takes a body already there with the channel's ``receive_nowait``
    (``mapsrv.http.hygiene``), and would take every body the slow way if hypercorn gave another."""
    import trio
    from hypercorn.app_wrappers import ASGIWrapper
    from hypercorn.config import Config
    from hypercorn.trio.task_group import TaskGroup

    given: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        given.append(receive)
        await receive()

    async def app_send(message: Any) -> None:
        pass

    async with TaskGroup() as group:
        put = await group.spawn_app(ASGIWrapper(app), Config(), {"type": "http"}, app_send)
        await put({"type": "http.request", "body": b"", "more_body": False})
    [receive] = given
    assert isinstance(getattr(receive, "__self__", None), trio.MemoryReceiveChannel), receive


def test_hypercorn_read_loop_is_what_mapsrv_reads_without_a_timeout() -> None:
    """``mapsrv.http.hypercorn._read_until_eof`` stands in for ``TCPServer._read_data`` when no
    read timeout is set: hypercorn's loop must still read ``MAX_RECV`` bytes under its timeout,
    hand each read on as ``RawData``, stop at EOF or a closed or broken stream, and hand on
    ``Closed``; and nothing more, or mapsrv's loop would miss it."""
    _, method = _method("hypercorn.trio.tcp_server", "TCPServer", "_read_data")
    source = ast.unparse(method)
    for part in (
        "with trio.fail_after(self.config.read_timeout or inf):",
        "data = await self.stream.receive_some(MAX_RECV)",
        "except (trio.ClosedResourceError, trio.BrokenResourceError, trio.TooSlowError):",
        "await self.protocol.handle(RawData(bytes(data)))",
        "if data == b'':",
        "await self.protocol.handle(Closed())",
    ):
        assert part in source, f"hypercorn's TCPServer._read_data changed: {part!r} is gone\n{source}"
    awaited = [n for n in ast.walk(method) if isinstance(n, ast.Await)]
    assert len(awaited) == 3, f"hypercorn's TCPServer._read_data awaits something more now:\n{source}"
