"""Tool calls answered by mapsrv itself, beside the SDK (issue 47): a 2026-07-28 ``tools/call``,
and one in a 2025-11-25 Streamable HTTP session.

A tool call is one POST and one JSON answer, and it is what agents send most. The SDK's entry
(mcp 2.3) builds for each a Starlette request and validates the JSON-RPC envelope and the tool's
parameters with pydantic; a modern call then runs a ``ServerRunner`` and its middleware, a session's
call goes through the session's memory streams to its message loop, a dispatcher task and the
runner; then a ``Context``, the tool manager and its argument model, and the result is validated
and dumped twice more: about half of a small call's server CPU (profiled, docs/benchmarks.md
"Round three" and "Round four"). ``DirectCalls`` answers the common case with the same tools
(``ToolRunner``), the same ``ToolContext`` (``ToolContexts.of_request``, ``of_session``) and the
SDK's own public checks, in its order.

A 2026-07-28 call (``__call__``):

- the request's own checks, as ``handle_modern_request`` makes them: a JSON ``Content-Type``, an
  ``Accept`` that takes JSON, no routing header twice (``find_duplicated_routing_header``), the
  envelope ladder (``classify_inbound_request``: version, method and name headers against the
  body, the ``_meta`` envelope), the tool's parameters for the version
  (``validate_client_request``), and the client's identity as ``Connection.from_envelope`` reads
  it (the agent's name, whether it can be asked): the last three together, ``modern_call``;
- the result through the version's sieve (``serialize_server_result``), ``resultType`` and the
  ``serverInfo`` stamp, as ``ServerRunner`` shapes it (``mapsrv.mcp.result_layout``);
- the answer as ``json.dumps`` writes it (``mapsrv.core.json_bytes``).

A call in a session (``in_session``), once ``McpEndpoints`` has found the session live, bound to
the request's credential, and its ``initialize`` read (``InSession``):

- the transport's checks, as ``StreamableHTTPServerTransport`` makes them in JSON-response mode:
  the body read by its parser (pydantic-core's ``from_json``, where the modern entry's is
  ``json.loads``: they differ on a lone surrogate escape),
  ``Content-Type`` exactly ``application/json``, an ``Accept`` that takes JSON; a version header,
  if any, of the handshake era (another goes to the SDK's modern entry); the parameters for the
  session's version (``validate_client_request``);
- the session's agent (``session_agent``: its client's name, keyed by the session), and no asking
  (a JSON answer has no back channel: the SDK's path cannot ask either);
- the result through the version's sieve, as one JSON-RPC response with the session's id, as the
  transport writes it.

Anything else goes to the SDK untouched, its body replayed: another method, a request that fails
a check (the SDK answers it, with the error it always gave), an unknown tool, a second round of a
call that asked its person (``inputResponses``, ``requestState``: sealed by the SDK), a tool whose
schema annotates ``Mcp-Param-*`` headers, a modern envelope inside a session, a body over the
limit. Authentication, scopes, rate limits and Host and Origin checks all run before either path.
tests/mcp/test_direct.py holds both paths to the same bytes for every tool, in both eras.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio
from mcp import MCPError
from mcp.server.lowlevel import Server
from mcp.server.streamable_http import REQUEST_CANCELLED
from mcp.types import CallToolResult, ClientCapabilities, InputRequiredResult, TextContent
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic_core import from_json, to_json
from starlette.requests import Request

from mapsrv.core import json_bytes
from mapsrv.core.json_pieces import is_big
from mapsrv.http.types import Message, Receive, Scope, Send, replaying
from mapsrv.mcp import answer_bytes
from mapsrv.mcp.building import ToolContexts
from mapsrv.mcp.request_checks import headers_read, modern_call, params_valid, takes_json
from mapsrv.mcp.result_layout import ResultShapes, TextLayout, error_member
from mapsrv.mcp.sessions import leavable
from mapsrv.mcp.tools import ToolContext
from mapsrv.mcp.tools.asking import first_round_asker
from mapsrv.mcp.tools.registry import ToolRunner
from mapsrv.mcp.tools.results import written_json
from mapsrv.workers import run

__all__ = ["DirectCalls", "InSession"]

log = logging.getLogger("mapsrv.mcp")

# the SDK's entry, given the request and its body to read again: it writes its own answer
Fallback = Callable[[Scope, Receive], Awaitable[None]]

_ENVELOPE = frozenset({"jsonrpc", "id", "method", "params"})
BIG_BODY = 256 * 1024  # bytes of a request, or of an answer's text, from which it is handled in a worker
# a later round of a call that asked its person: the SDK unseals and checks its state
_LATER_ROUND = ("inputResponses", "requestState")
_RESERVED_META = "io.modelcontextprotocol/"  # a modern envelope's keys in ``_meta``
# a call's HTTP status, its JSON-RPC ``result`` or ``error`` member, and, when known, its
# structured content and that content's JSON (``answer_bytes``)
_Ran = tuple[int, dict[str, Any], str | None, Any]


@dataclass(frozen=True, slots=True)
class InSession:
    """The Streamable HTTP session a call arrives in: its id, and what its ``initialize``
    settled (``mapsrv.mcp.sessions.handshake``)."""

    id: str
    version: str
    client_name: str


@dataclass(slots=True)
class _Call:
    """A tool call the direct path answers: its tool, id, arguments, and what a modern call's
    envelope says of its client (``modern_call``: made where the call is decided, in a
    worker for a big body)."""

    runner: ToolRunner
    id: int | str
    arguments: dict[str, Any]
    version: str
    reported: str | None = None  # the client's name; a session's call has its handshake's
    capabilities: ClientCapabilities | None = None


def _modern_json(body: bytes) -> Any:
    """A 2026-07-28 body as the SDK's modern entry reads it (``json.loads``), decoded first: on
    bytes ``json.loads`` looks for UTF-16 and -32 (0.5 µs a call). What is not UTF-8, or begins
    with a byte order mark, fails here and goes to the SDK, which answers it as it always did."""
    return json.loads(body.decode())


class DirectCalls:
    """Answers a 2026-07-28 ``tools/call`` POST, or hands it to ``fallback`` (the SDK)."""

    def __init__(
        self, lowlevel: Server[Any], runners: Mapping[str, ToolRunner], contexts: ToolContexts, max_body: int
    ) -> None:
        self.lowlevel, self.runners, self.contexts, self.max_body = lowlevel, runners, contexts, max_body
        # the stamp is fixed when the server is built; serialized into each answer, never handed out
        self.shapes = ResultShapes(lowlevel.server_info_stamp)
        self.answered = 0  # 2026-07-28 requests this path answered
        self.handed_on = 0  # ... and those it handed to the SDK
        # long calls in sessions, by session and request id: a notifications/cancelled ends them
        self.leavable: dict[tuple[str, int | str], trio.CancelScope] = {}

    def cancel(self, session_id: str, request_id: int | str) -> bool:
        """Cancel the long call ``request_id`` of ``session_id`` that this path runs (the session's
        client sent ``notifications/cancelled``, which the SDK cannot apply to a call it never saw);
        whether there was one."""
        scope = self.leavable.get((session_id, request_id))
        if scope is not None:
            scope.cancel()
        return scope is not None

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, client: str, fallback: Fallback
    ) -> None:
        read: list[Message] = []
        body = await self._body(receive, read) if scope["method"] == "POST" else None
        call = await _off_loop_if(body, self._call, scope, body) if body is not None else None
        if call is None:
            self.handed_on += 1
            await fallback(scope, replaying(read, receive))
            return
        self.answered += 1
        asker = partial(first_round_asker, call.capabilities)
        tc = self.contexts.of_request(scope, client, call.reported, asker)
        ran = await self._run(call, tc, receive)
        if ran is not None:  # None: the client left, and nobody is there to answer
            await self._answer(send, call.id, *ran, layout=self.shapes.layout(call.version))

    async def in_session(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        session: InSession,
        fallback: Fallback,
        answering: Callable[[], None],
    ) -> None:
        """Answer a POST in ``session`` (``answering`` is called once the answer is ready, before
        it is written), or hand it to ``fallback``."""
        read: list[Message] = []
        body = await self._body(receive, read)
        call = (
            await _off_loop_if(body, self._session_call, scope, body, session.version)
            if body is not None
            else None
        )
        if call is None:
            await fallback(scope, replaying(read, receive))
            return
        tc = self.contexts.of_session(scope, session.id, session.client_name)
        ran = await self._run(call, tc, receive, (session.id, call.id))
        if ran is None:
            return  # the client left
        _, member, text, structured = ran  # the transport answers an error with 200 too
        if text is not None and len(text) < BIG_BODY:
            message = answer_bytes.in_session(call.id, member, text, structured)
        else:
            message = to_json({"jsonrpc": "2.0", "id": call.id, **member})
        answering()
        await self._write(send, 200, message, (b"mcp-session-id", session.id.encode("latin-1")))

    async def _body(self, receive: Receive, read: list[Message]) -> bytes | None:
        """The request's body, or None (too large, or the client left): the SDK then answers."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _call(self, scope: Scope, body: bytes) -> _Call | None:
        """The 2026-07-28 tool call this request makes, if this path answers it exactly as the
        SDK would."""
        read = headers_read(scope)
        if read is None:
            return None
        headers, param_named = read
        if not headers.get("content-type", "").lower().startswith("application/json"):
            return None
        if not takes_json(headers.get("accept", "")):
            return None
        found = self._envelope(body)
        if found is None:
            return None
        decoded, runner = found
        if param_named or self._checks_param_headers(runner.spec.name):
            return None
        made = modern_call(decoded, headers)
        if made is None:
            return None
        return _call_of(runner, decoded, made.version, made.reported, made.capabilities)

    def _session_call(self, scope: Scope, body: bytes, version: str) -> _Call | None:
        """The tool call this POST makes in a session of ``version``, if this path answers it
        exactly as the SDK's transport and the session's runner would."""
        request = Request(scope)
        headers = request.headers
        types = headers.get("content-type", "").split(";")[0].split(",")
        if not any(part.strip() == "application/json" for part in types):
            return None
        if not takes_json(headers.get("accept", "")):
            return None
        asked = headers.get("mcp-protocol-version")
        if asked is not None and asked not in HANDSHAKE_PROTOCOL_VERSIONS:
            return None  # the SDK's modern entry answers it
        found = self._envelope(body, from_json)  # the session transport's parser
        if found is None:
            return None
        decoded, runner = found
        meta = decoded["params"].get("_meta")
        if isinstance(meta, dict) and any(key.startswith(_RESERVED_META) for key in meta):
            return None
        return _valid(runner, decoded, version)

    def _envelope(
        self, body: bytes, parse: Callable[[bytes], Any] = _modern_json
    ) -> tuple[dict[str, Any], ToolRunner] | None:
        """``body`` as one JSON-RPC ``tools/call`` request of a tool this path runs (a first
        round), and that tool's runner, read as the SDK's entry for the era reads it (``parse``):
        what that refuses, the SDK answers."""
        try:
            decoded = parse(body)
        except (ValueError, RecursionError):  # UnicodeDecodeError too
            return None
        if not isinstance(decoded, dict) or decoded.keys() != _ENVELOPE or decoded["jsonrpc"] != "2.0":
            return None
        params = decoded["params"]
        if (
            decoded["method"] != "tools/call"
            or type(decoded["id"]) not in (int, str)
            or not isinstance(params, dict)
        ):
            return None
        runner = self.runners.get(params.get("name"))  # type: ignore[arg-type]
        if runner is None or any(key in params for key in _LATER_ROUND):
            return None
        return decoded, runner

    def _checks_param_headers(self, name: str) -> bool:
        """Whether the SDK would compare ``Mcp-Param-*`` headers with this call's arguments
        because its tool's schema annotates some (``mapsrv.mcp.param_headers``)."""
        lookup = self.lowlevel.get_tool_input_schema
        return lookup is None or lookup(name) is not None

    async def _run(
        self, call: _Call, tc: ToolContext, receive: Receive, in_session: tuple[str, int | str] | None = None
    ) -> _Ran | None:
        """The call's HTTP status and its JSON-RPC ``result`` or ``error`` member (``_Ran``); None if the
        client left during a long call (``sessions.leavable``: an import cancelled before its write
        stores nothing), which was then cancelled, so its worker is
        freed (issue 60). Only long calls are watched: the watch is a task per call, which a
        small call's CPU budget does not have. A client that half-closes after its request (``nc``)
        is told ``http.disconnect`` too (``mapsrv.http.h1``), so it is taken as gone as well. A
        call ``in_session`` (its session and request id) can be cancelled by ``cancel`` too: it
        is answered then as the SDK's transport answers a cancelled request (``REQUEST_CANCELLED``)."""
        if not leavable(call.runner.spec.name, call.arguments):
            return await self._result(call, tc)
        ran, gone = [], []
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                gone.append(True)
                nursery.cancel_scope.cancel()

            if in_session is not None:
                self.leavable[in_session] = nursery.cancel_scope
            try:
                nursery.start_soon(watch)
                ran.append(await self._result(call, tc))
                nursery.cancel_scope.cancel()
            finally:
                if in_session is not None and self.leavable.get(in_session) is nursery.cancel_scope:
                    del self.leavable[in_session]
        if not ran and not gone:
            cancelled = {"code": REQUEST_CANCELLED, "message": "Request cancelled"}
            return (*error_member(REQUEST_CANCELLED, cancelled), None, None)
        return ran[0] if ran else None

    async def _result(self, call: _Call, tc: ToolContext) -> _Ran:
        name = call.runner.spec.name
        try:
            result: CallToolResult | InputRequiredResult = await call.runner(tc, call.arguments)
        except MCPError as exc:
            error = exc.error.model_dump(mode="json", by_alias=True, exclude_none=True)
            return (*error_member(exc.error.code, error), None, None)
        except Exception:
            # as the SDK answers a crash: logged here, and nothing of it reaches the client
            log.exception("Tool %r raised an unexpected exception", name)
            said = TextContent(type="text", text=f"Error executing tool {name}")
            result = CallToolResult(content=[said], is_error=True)
        if not isinstance(result, CallToolResult):
            return (*self.shapes(call.version, result), None, None)
        written = written_json(result)  # the structured content's JSON, its one text
        if len(written) >= BIG_BODY if written is not None else _big_result(result):
            shaped = await run("encode", self.shapes, call.version, result)
            return (*shaped, written, result.structured_content)
        return (*self.shapes(call.version, result), written, result.structured_content)

    async def _answer(
        self,
        send: Send,
        request_id: int | str,
        status: int,
        member: dict[str, Any],
        text: str | None,
        structured: Any,
        *,
        layout: TextLayout | None,
    ) -> None:
        body = None
        if text is not None and len(text) < BIG_BODY:
            body = answer_bytes.modern(request_id, member, text, structured, layout)
        if body is None:
            whole = {"jsonrpc": "2.0", "id": request_id, **member}
            body = await run("encode", json_bytes.dumps, whole) if is_big(whole) else json_bytes.dumps(whole)
        await self._write(send, status, body)

    async def _write(self, send: Send, status: int, body: bytes, *more: tuple[bytes, bytes]) -> None:
        headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
            *more,
            (b"x-content-type-options", b"nosniff"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


async def _off_loop_if(body: bytes, decide: Callable[..., _Call | None], *args: Any) -> _Call | None:
    """``decide(*args)``: for a body of ``BIG_BODY`` or more in a worker (parsing and checking a
    5 MB import took the loop 100-270 ms)."""
    if len(body) >= BIG_BODY:
        return await run("encode", decide, *args)
    return decide(*args)


def _big_result(result: CallToolResult) -> bool:
    """Whether turning ``result`` into its JSON-RPC member is worth a worker: a big structured
    answer, or a long text."""
    texts = sum(len(c.text) for c in result.content if isinstance(c, TextContent))
    return texts >= BIG_BODY or is_big(result.structured_content)


def _valid(runner: ToolRunner, decoded: dict[str, Any], version: str) -> _Call | None:
    """The call, if its parameters are valid for ``version`` as the SDK checks them."""
    return _call_of(runner, decoded, version) if params_valid(version, decoded["params"]) else None


def _call_of(runner: ToolRunner, decoded: dict[str, Any], version: str, *identity: Any) -> _Call:
    arguments = decoded["params"].get("arguments")
    return _Call(runner, decoded["id"], arguments if arguments is not None else {}, version, *identity)
