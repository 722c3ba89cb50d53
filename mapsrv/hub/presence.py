"""Who is on a map right now: a person for each open page (one event stream each) and an agent for
each ``map://`` watch, shown to every page as an SSE ``presence`` frame and to agents by ``read``.

Presence is ephemeral: never in the history, the store's log or a snapshot. Each process knows its
own members of a map; it shares them through the store (``Store.share_presence``) at once when they
change and again every ``SHARE_INTERVAL`` seconds, and what it shared is good for ``TTL`` seconds.
Other processes hear the share as a notice on the map's channel, so a tab closed anywhere is gone
from every page within a round trip, and a killed process's people within ``TTL`` + ``SWEEP``.

The frame lists at most ``LISTED`` members (owners and editors first), and says how many more
there are; a process tracks at most ``MAX_LOCAL`` members per map (the rest are counted). A frame
goes to the map's viewers only when it differs from the last one they were sent.
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import trio

from mapsrv.core.codec import dumps
from mapsrv.core.ids import map_ref
from mapsrv.core.sse import frame
from mapsrv.store import Store, StoreUnavailable

__all__ = [
    "COALESCE",
    "CROWD",
    "FRAMES_PER_SECOND",
    "LISTED",
    "MAX_LOCAL",
    "ROLES",
    "SHARE_INTERVAL",
    "SWEEP",
    "TTL",
    "Member",
    "Presence",
    "colour_of",
]

log = logging.getLogger("mapsrv.hub")

TTL = 8.0  # seconds a process's share of a map's presence holds unless shared again
SHARE_INTERVAL = 2.5  # seconds between shares of an unchanged presence (a heartbeat)
SWEEP = 1.0  # seconds between looks for shares past their time (a killed process)
COALESCE = 0.02  # seconds within which changes of a map's presence go out as one frame and one share
# A crowd's frames go out less often: at most this many presence frames a second to a map's
# viewers here, in all (10,000 viewers: one frame each 2 s; 500: each 0.1 s). Each frame is one
# write per viewer, ~10 us: this keeps presence under 5 % of a core however big the crowd. A
# deploy that brought 10,000 viewers at once sent each of them a frame every 20 ms (the loop
# stalled: issue 37); at 25,000 a second, presence still took 40 % of the loop's time then.
FRAMES_PER_SECOND = 5_000
CROWD = 100  # members here past which a newcomer's first frame is the last one sent, not a new one
LISTED = 20  # members a presence frame lists; the rest are counted in "more"
MAX_LOCAL = 200  # members one process tracks per map; past that a join is only counted
ROLES = ("owner", "editor", "agent", "viewer")  # the order a frame lists them in

# Twelve colours apart enough to tell avatars by, each dark enough for white initials.
_COLOURS = (
    "#1f78b4", "#33a02c", "#e31a1c", "#d9480f", "#6a3d9a", "#b15928",
    "#0b7285", "#5f3dc4", "#c2255c", "#2b8a3e", "#e67700", "#495057",
)  # fmt: skip


def colour_of(seed: str) -> str:
    """The same colour for the same person on every page and process."""
    return _COLOURS[zlib.crc32(seed.encode()) % len(_COLOURS)]


@dataclass(frozen=True)
class Member:
    id: str  # random per stream or watch; not a capability
    kind: str  # "person" or "agent"
    name: str  # display name, person- or agent-written text: pages render it as text
    role: str  # "owner", "editor", "viewer" or "agent"
    actor: str | None = None  # "person:<hash>" or "agent:<hash>", the id changes are attributed to
    key: str = ""  # the edit key a person's stream came through; never shared or shown

    def to_json(self) -> dict[str, Any]:
        seed = self.actor or self.id
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "role": self.role,
            "actor": self.actor,
            "colour": colour_of(seed),
        }


class _Map:
    __slots__ = ("local", "overflow", "remote", "sent", "sent_at", "shared_at")

    def __init__(self) -> None:
        self.local: dict[str, Member] = {}
        self.overflow = 0  # members past MAX_LOCAL, counted only
        self.remote: dict[
            str, tuple[list[dict[str, Any]], int, float]
        ] = {}  # sender -> (listed, more, until)
        self.sent = b""  # the last frame its viewers were sent
        self.sent_at = -math.inf  # when (trio's clock)
        self.shared_at = -math.inf  # when this process last shared the map's members


class Presence:
    """Presence for every map this process holds. ``broadcast(map_id, frame)`` offers a frame to
    the map's viewers here; ``share`` runs in ``serve``."""

    def __init__(
        self,
        store: Store,
        sender: str,
        broadcast: Callable[[str, bytes], None],
        broadcast_paced: Callable[[str, bytes], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.sender = sender  # this process, in shares
        self.broadcast = broadcast
        # a crowd's frame, from ``serve``: a slice of its viewers per loop turn
        self.broadcast_paced = broadcast_paced
        self._maps: dict[str, _Map] = {}
        self._due: set[str] = set()  # maps whose change is not shared yet
        self._later: dict[str, float] = {}  # maps whose viewers get a frame at this time
        self._wake = trio.Event()
        self.shares = 0  # shares sent (the metrics and tests read it)

    # --- this process's members --------------------------------------------------------------

    def join(self, map_id: str, member: Member) -> None:
        m = self._maps.setdefault(map_id, _Map())
        if len(m.local) >= MAX_LOCAL:
            m.overflow += 1
        else:
            m.local[member.id] = member
        self._changed(map_id)

    def leave(self, map_id: str, member: Member) -> None:
        m = self._maps.get(map_id)
        if m is None:
            return
        if m.local.pop(member.id, None) is None:
            m.overflow = max(0, m.overflow - 1)
        self._changed(map_id)

    def knows(self, map_id: str) -> bool:
        return map_id in self._maps

    def local(self, map_id: str) -> list[Member]:
        m = self._maps.get(map_id)
        return list(m.local.values()) if m else []

    def forget(self, map_id: str) -> None:
        """The map left this process (expired here): nothing of it is kept or shared."""
        self._maps.pop(map_id, None)
        self._due.discard(map_id)

    # --- everyone ----------------------------------------------------------------------------

    def present(self, map_id: str) -> tuple[list[dict[str, Any]], int]:
        """Who is on the map, across processes: the listed members and how many more."""
        m = self._maps.get(map_id)
        if m is None:
            return [], 0
        now = trio.current_time()
        members = [member.to_json() for member in m.local.values()]
        more = m.overflow
        for listed, extra, until in m.remote.values():
            if until > now:
                members.extend(listed)
                more += extra
        members.sort(key=_order)
        return members[:LISTED], more + max(0, len(members) - LISTED)

    def frame(self, map_id: str) -> bytes:
        listed, more = self.present(map_id)
        return frame(dumps({"present": listed, "more": more}), event="presence")

    def first_frame(self, map_id: str) -> bytes:
        """A newcomer's first presence frame: on a crowded map the one its viewers were last sent
        (the next, due within the window, lists the newcomer too), so that a thousand arrivals do
        not each build one."""
        m = self._maps.get(map_id)
        if m is not None and m.sent and len(m.local) + m.overflow > CROWD:
            return m.sent
        return self.frame(map_id)

    def _changed(self, map_id: str) -> None:
        self._send(map_id)
        if self.store.shared:
            self._due.add(map_id)
            self._wake.set()

    def _send(self, map_id: str) -> None:
        """A frame to the map's viewers now, unless one went out less than a window ago: then
        one when the window has passed, with whatever else changed meanwhile (1,000 people
        opening a map in a second get at most 25 frames each, not 1,000). The window is
        ``COALESCE``, longer for a crowd (``FRAMES_PER_SECOND``)."""
        m = self._maps.get(map_id)
        if m is None:
            return
        now = trio.current_time()
        crowd = len(m.local) + m.overflow
        window = max(COALESCE, crowd / FRAMES_PER_SECOND)
        if now - m.sent_at >= window and crowd <= CROWD:
            self._flush(map_id, m, now)
        elif map_id not in self._later:
            # A crowd's frame waits a window even after a quiet spell: when a crowd leaves at
            # once, its streams' ends are seen meanwhile, and the frame goes to who stayed rather
            # than to thousands of sockets already closed.
            self._later[map_id] = (
                max(m.sent_at + window, now + COALESCE) if crowd > CROWD else m.sent_at + window
            )
            self._wake.set()

    def _flush(self, map_id: str, m: _Map, now: float) -> None:
        if (data := self._next_frame(map_id, m, now)) is not None:
            self.broadcast(map_id, data)

    def _next_frame(self, map_id: str, m: _Map, now: float) -> bytes | None:
        """The frame the map's viewers get now; None when it is the one they had."""
        m.sent_at = now
        data = self.frame(map_id)
        if data == m.sent:
            return None
        m.sent = data
        return data

    # --- other processes ---------------------------------------------------------------------

    def heard(self, map_id: str, text: bytes | str) -> None:
        """Another process's share of ``map_id`` (the notice's JSON: ``{"presence": {...}}``)."""
        m = self._maps.get(map_id)
        if m is None:
            return
        try:
            shared = json.loads(text)["presence"]
            self._take(m, shared)
        except (ValueError, KeyError, TypeError):
            log.warning("map %s: a presence notice could not be read", map_ref(map_id))
            return
        self._send(map_id)

    async def load(self, map_id: str) -> None:
        """What the other processes last shared of a map this process starts watching."""
        if not self.store.shared:
            return
        # Known from now on: a crowd arriving together loads it once (3,000 loads at once queued
        # behind each other in the Redis link), the others start with the next frame.
        m = self._maps.setdefault(map_id, _Map())
        try:
            texts = await self.store.presence_of(map_id)
        except StoreUnavailable:
            return
        for text in texts:
            try:
                self._take(m, json.loads(text))
            except (ValueError, KeyError, TypeError):
                continue
        self._send(map_id)

    def _take(self, m: _Map, shared: dict[str, Any]) -> None:
        sender = str(shared["from"])
        if sender == self.sender:
            return
        listed = [member for member in shared["members"] if isinstance(member, dict)][:LISTED]
        more = int(shared.get("more", 0)) + max(0, len(shared["members"]) - LISTED)
        if listed or more:
            m.remote[sender] = (listed, more, trio.current_time() + TTL)
        else:
            m.remote.pop(sender, None)

    def sweep(self) -> None:
        """Drop shares past their time (their process stopped sharing: killed, or cut off)."""
        now = trio.current_time()
        for map_id, m in list(self._maps.items()):
            stale = [sender for sender, (_, _, until) in m.remote.items() if until <= now]
            for sender in stale:
                del m.remote[sender]
            if stale:
                self._send(map_id)
            if not m.local and not m.remote and not m.overflow:
                del self._maps[map_id]

    # --- sharing -----------------------------------------------------------------------------

    def _share_text(self, map_id: str) -> str:
        m = self._maps.get(map_id)
        members = [member.to_json() for member in m.local.values()] if m else []
        return dumps({"from": self.sender, "members": members[:LISTED], "more": (m.overflow if m else 0)
                      + max(0, len(members) - LISTED)})  # fmt: skip

    async def _share(self, map_ids: Iterable[str]) -> None:
        for map_id in map_ids:
            m = self._maps.get(map_id)
            if m is not None:
                m.shared_at = trio.current_time()
            try:
                await self.store.share_presence(map_id, self.sender, self._share_text(map_id), TTL)
                self.shares += 1
            except StoreUnavailable:
                pass  # shared again on the next heartbeat; meanwhile the others keep ours until TTL
            except Exception:
                log.exception("map %s: presence could not be shared", map_ref(map_id))

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Share changes at once, every map with members here each ``SHARE_INTERVAL``, and drop
        other processes' shares past their time each ``SWEEP``."""
        task_status.started()
        next_beat = next_sweep = trio.current_time()
        held = math.inf  # the earliest a share held back by COALESCE may go
        while True:
            with trio.move_on_at(min(next_beat, next_sweep, held, *self._later.values())):
                await self._wake.wait()
            self._wake = trio.Event()
            now = trio.current_time()
            for map_id, at in list(self._later.items()):
                if at <= now:
                    del self._later[map_id]
                    m = self._maps.get(map_id)
                    if m is None or (data := self._next_frame(map_id, m, now)) is None:
                        continue
                    if self.broadcast_paced is not None:
                        await self.broadcast_paced(map_id, data)
                    else:
                        self.broadcast(map_id, data)
            if now >= next_sweep:
                self.sweep()
                next_sweep = now + SWEEP
            if not self.store.shared:
                self._due.clear()
                next_beat = now + SHARE_INTERVAL
                continue
            if now >= next_beat:
                # Every map with members here; and one last (empty) share for maps just left.
                due = self._due | {map_id for map_id, m in self._maps.items() if m.local or m.overflow}
                next_beat = now + SHARE_INTERVAL
            else:
                due = set(self._due)
            # A map shared less than COALESCE ago waits for the rest of it (a burst of joins
            # is one share, not one each).
            waiting = {map_id: self._maps[map_id].shared_at + COALESCE for map_id in due
                       if map_id in self._maps and self._maps[map_id].shared_at + COALESCE > now}  # fmt: skip
            self._due = set(waiting)
            held = min(waiting.values(), default=math.inf)
            await self._share(sorted(due - self._due))


def _order(member: dict[str, Any]) -> tuple[int, str, str]:
    role = member.get("role")
    return (
        ROLES.index(role) if role in ROLES else len(ROLES),
        str(member.get("name")),
        str(member.get("id")),
    )
