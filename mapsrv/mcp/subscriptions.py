"""Change notifications on ``map://<id>`` resources, in both protocol eras.

- 2025-11-25 (sessions: stateful Streamable HTTP, legacy HTTP+SSE, stdio): ``resources/subscribe``
  starts watching a map for the session; each change then sends
  ``notifications/resources/updated`` on the session's standalone channel (the GET stream, the SSE
  stream, the pipe) until ``resources/unsubscribe`` or the end of the session.
- 2026-07-28 (no sessions): ``subscriptions/listen`` is a request whose response is the stream;
  its ``resourceSubscriptions`` name the maps, each change sends a stamped
  ``notifications/resources/updated`` on it, and the watch ends when the client drops the stream.

A watch is a viewer of the map like a browser tab (``hub.subscribe``): the same frames, the same
drop-when-slow rule, the same replication across processes. A notification is a level trigger
("this map changed; read it or ask ``changes``"), so the events of one write (a batch of frames,
published together) and anything that arrives while a notification is being sent are coalesced
into one. Every watch runs in this object's nursery under a scope that the session's end (the
SDK's per-connection exit stack) or the listen request's end cancels: none outlives its session.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio
from mcp import MCPError
from mcp.server import Server
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY
from mcp.types import (
    INVALID_REQUEST,
    EmptyResult,
    ResourceUpdatedNotification,
    ResourceUpdatedNotificationParams,
    SubscribeRequestParams,
    SubscriptionFilter,
    SubscriptionsAcknowledgedNotification,
    SubscriptionsAcknowledgedNotificationParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    UnsubscribeRequestParams,
)

from mapsrv.core.changes import agent_actor
from mapsrv.errors import InvalidInput, MapsrvError, TooManyRequests, Unavailable
from mapsrv.hub import MapEntry, MapHub
from mapsrv.hub.fanout import HEARTBEAT
from mapsrv.hub.presence import Member
from mapsrv.mcp.sdk import connection_of

__all__ = [
    "MAX_LISTEN_STREAMS",
    "MAX_LISTEN_STREAMS_PER_CLIENT",
    "MAX_MAPS_PER_SESSION",
    "MapWatchers",
    "SubscriptionStatistics",
    "agent_member",
    "clean_agent_name",
    "map_id_of",
]

log = logging.getLogger("mapsrv.mcp")

MAX_MAPS_PER_SESSION = 16  # maps one session (or one listen stream) may watch at once
MAX_LISTEN_STREAMS = 1024  # open 2026-07-28 listen streams per process
# ... and per client (its API key, else its address): 2026-07-28 has no sessions to cap
MAX_LISTEN_STREAMS_PER_CLIENT = 16
# How long a new 2025-11-25 session's first notification waits for the client's GET stream (the
# SDK's client opens it a few ms after initialize; one that never does gets notifications dropped
# as before, from then on without waiting), and how often it looks.
FIRST_NOTIFICATION_WAIT = 5.0
STREAM_POLL = 0.01
UPDATED = "notifications/resources/updated"
_STATE_KEY = "mapsrv.watches"
_MAP_URI = re.compile(r"map://([A-Za-z0-9_-]{1,64})")

EntryOf = Callable[[ServerRequestContext[Any, Any], str], Awaitable[MapEntry]]
ClientOf = Callable[[ServerRequestContext[Any, Any]], str]
StreamOpen = Callable[[str | None], bool]  # whether a session's GET stream is open (sdk.py)


def clean_agent_name(name: str | None) -> str:
    return agent_actor(name, "").name  # the name as attribution shows it ("an agent" for none)


def agent_member(ctx: ServerRequestContext[Any, Any]) -> Member:
    """The agent behind a watch, as the people on the map see it: its client's name."""
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else None
    return Member(id=secrets.token_hex(4), kind="agent", name=clean_agent_name(name), role="agent")


def map_id_of(uri: str) -> str | None:
    """The map id of a ``map://<id>`` URI, or None for any other URI."""
    found = _MAP_URI.fullmatch(uri)
    return found.group(1) if found else None


@dataclass(frozen=True)
class SubscriptionStatistics:
    watching: int  # maps watched for MCP subscribers now (one per session or stream and map)
    listen_streams: int  # open 2026-07-28 listen streams
    notifications: int  # notifications/resources/updated sent
    refused: int  # subscriptions refused past a cap


class _Owed:
    """The maps whose change one session (or one listen stream) has not been told of yet."""

    def __init__(self) -> None:
        self.uris: dict[str, None] = {}
        self._wake = trio.Event()

    def changed(self, uri: str) -> None:
        self.uris[uri] = None
        self._wake.set()

    async def take(self) -> list[str]:
        await self._wake.wait()
        self._wake = trio.Event()
        uris, self.uris = list(self.uris), {}
        return uris


@dataclass
class _Session:
    """A 2025-11-25 session's watches: one task per map, under one scope."""

    scope: trio.CancelScope
    nursery: trio.Nursery
    owed: _Owed
    watches: dict[str, trio.CancelScope]


class MapWatchers:
    """The watches of this process's MCP subscribers. ``serve`` runs their nursery; ``install``
    puts the three request handlers on the SDK's low-level server (which makes it advertise
    ``resources.subscribe``)."""

    def __init__(
        self,
        hub: MapHub,
        entry_of: EntryOf,
        client_of: ClientOf = lambda ctx: "",
        stream_open: StreamOpen = lambda session_id: True,
    ) -> None:
        self.hub = hub
        self._entry_of = entry_of
        self._client_of = client_of
        self._stream_open = stream_open
        self._listening: Counter[str] = Counter()
        self._nursery: trio.Nursery | None = None
        self.watching = 0
        self.listen_streams = 0
        self.notifications = 0
        self.refused = 0

    def install(self, lowlevel: Server[Any]) -> None:
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe)
        lowlevel.add_request_handler("subscriptions/listen", SubscriptionsListenRequestParams, self._listen)

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def statistics(self) -> SubscriptionStatistics:
        return SubscriptionStatistics(self.watching, self.listen_streams, self.notifications, self.refused)

    # --- one map ----------------------------------------------------------------------------

    async def _watch(
        self,
        entry: MapEntry,
        uri: str,
        changed: Callable[[str], None],
        member: Member | None = None,
        *,
        task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Call ``changed(uri)`` after each change of the map (and each time someone comes or
        goes), until cancelled. ``member``: the agent, shown on the map while it watches."""
        self.watching += 1
        try:
            with trio.CancelScope() as scope:
                seen: str | None = str(entry.state.version)
                while True:
                    async with self.hub.subscribe(entry, seen, member) as sub:
                        if seen is None or sub.initial:
                            changed(uri)  # a change between the request and now, or a restart
                        if seen is not None:
                            task_status.started(scope)
                            seen = None
                        async for data in sub.receive:
                            # One write publishes its events' frames together: take them all,
                            # then owe one notification.
                            frames = [data]
                            while True:
                                try:
                                    frames.append(sub.receive.receive_nowait())
                                except (trio.WouldBlock, trio.EndOfChannel):
                                    break
                            if any(frame is not HEARTBEAT for frame in frames):
                                changed(uri)
                    # The stream ended: dropped for being slow, or the map's history here was
                    # rewritten. Watch again (the change is owed: ``seen`` is None).
        finally:
            self.watching -= 1

    async def _entry(self, ctx: ServerRequestContext[Any, Any], uri: str) -> MapEntry:
        map_id = map_id_of(uri)
        if map_id is None:
            raise InvalidInput(f"uri must be map://<map_id>, got {uri[:80]!r}; subscribe to a map's uri")
        return await self._entry_of(ctx, map_id)

    # --- 2025-11-25: resources/subscribe ----------------------------------------------------

    async def _serve_session(
        self, connection: Connection, *, task_status: trio.TaskStatus[_Session] = trio.TASK_STATUS_IGNORED
    ) -> None:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                session = _Session(scope, nursery, _Owed(), {})
                task_status.started(session)
                uris = await session.owed.take()
                # A client opens its GET stream, the only way to a notification, after its
                # initialize: until then the SDK would drop it. Hold the first one (bounded). The
                # SDK signals nothing when the stream opens (sdk.standalone_stream_open): look.
                for _ in range(round(FIRST_NOTIFICATION_WAIT / STREAM_POLL)):
                    if self._stream_open(connection.session_id):
                        break
                    await trio.sleep(STREAM_POLL)
                while True:
                    for uri in uris:
                        self.notifications += 1
                        # never raises: a session whose stream has gone drops it
                        await connection.notify(UPDATED, {"uri": uri})
                    uris = await session.owed.take()

    async def _subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        try:
            entry = await self._entry(ctx, params.uri)
        except MapsrvError as exc:
            raise MCPError(exc.jsonrpc_code, exc.message) from None
        connection = connection_of(ctx)
        session: _Session | None = connection.state.get(_STATE_KEY)
        if session is not None and params.uri in session.watches:
            return EmptyResult()
        if session is not None and len(session.watches) >= MAX_MAPS_PER_SESSION:
            self.refused += 1
            raise MCPError(
                TooManyRequests.jsonrpc_code,
                f"this session watches {MAX_MAPS_PER_SESSION} maps, its most;"
                " resources/unsubscribe one first",
            )
        if session is None:
            if self._nursery is None:
                raise MCPError(Unavailable.jsonrpc_code, "subscriptions are not being served")
            session = await self._nursery.start(self._serve_session, connection)
            connection.state[_STATE_KEY] = session
            connection.exit_stack.callback(session.scope.cancel)
        session.watches[params.uri] = await session.nursery.start(
            self._watch, entry, params.uri, session.owed.changed, agent_member(ctx)
        )
        return EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        session: _Session | None = connection_of(ctx).state.get(_STATE_KEY)
        if session is not None:
            scope = session.watches.pop(params.uri, None)
            if scope is not None:
                scope.cancel()
        return EmptyResult()

    # --- 2026-07-28: subscriptions/listen ---------------------------------------------------

    async def _listen(
        self, ctx: ServerRequestContext[Any, Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        subscription_id = ctx.request_id
        if subscription_id is None:
            raise MCPError(INVALID_REQUEST, "subscriptions/listen requires a request id")
        uris = list(dict.fromkeys(params.notifications.resource_subscriptions or ()))
        if len(uris) > MAX_MAPS_PER_SESSION:
            self.refused += 1
            raise MCPError(
                InvalidInput.jsonrpc_code,
                f"resourceSubscriptions holds {len(uris)} uris, more than {MAX_MAPS_PER_SESSION};"
                " listen to fewer maps per stream",
            )
        if self.listen_streams >= MAX_LISTEN_STREAMS:
            self.refused += 1
            raise MCPError(Unavailable.jsonrpc_code, "too many listen streams; retry later")
        client = self._client_of(ctx)
        if self._listening[client] >= MAX_LISTEN_STREAMS_PER_CLIENT:
            self.refused += 1
            raise MCPError(
                TooManyRequests.jsonrpc_code,
                f"this client holds {MAX_LISTEN_STREAMS_PER_CLIENT} listen streams, its most;"
                " close one, or listen to several maps on one stream",
            )
        # Only map changes are ever published (the tool, prompt and resource lists never change),
        # so only resource subscriptions are honored. An unknown or foreign map is honored too and
        # never fires: the answer does not tell whether a map exists.
        entries: list[tuple[str, MapEntry]] = []
        for uri in uris:
            try:
                entries.append((uri, await self._entry(ctx, uri)))
            except MapsrvError:
                pass
        meta: dict[str, Any] = {SUBSCRIPTION_ID_META_KEY: subscription_id}
        honored = SubscriptionFilter(resource_subscriptions=uris or None)
        owed = _Owed()
        self.listen_streams += 1
        self._listening[client] += 1
        try:
            async with trio.open_nursery() as nursery:
                for uri, entry in entries:
                    await nursery.start(self._watch, entry, uri, owed.changed, agent_member(ctx))
                # The ack is the stream's first frame; watches started before it miss nothing.
                await ctx.session.send_notification(
                    SubscriptionsAcknowledgedNotification(
                        params=SubscriptionsAcknowledgedNotificationParams(notifications=honored, _meta=meta)
                    ),
                    related_request_id=subscription_id,
                )
                while True:
                    for uri in await owed.take():
                        self.notifications += 1
                        await ctx.session.send_notification(
                            ResourceUpdatedNotification(
                                params=ResourceUpdatedNotificationParams(uri=uri, _meta=meta)
                            ),
                            related_request_id=subscription_id,
                        )
        finally:
            self.listen_streams -= 1
            self._listening[client] -= 1
            if not self._listening[client]:
                del self._listening[client]
