"""The hot maps this process holds: entries by id and by view key, each browser user's last map,
the tokens that name them, and which of them have gone idle."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import trio

from mapsrv.core import Event, MapState
from mapsrv.core.codec import dumps
from mapsrv.core.geojson import to_geojson
from mapsrv.core.history import History
from mapsrv.errors import Unavailable
from mapsrv.hub.fanout import SNAPSHOT_THREAD, FrameLog, Viewer, snapshot_json, with_activity
from mapsrv.hub.presence import Member
from mapsrv.hub.recovery import HeldWrites
from mapsrv.store import LoadedMap, MapMeta, Touched
from mapsrv.workers import checked, run

__all__ = ["UNUSED_MAP_TIMEOUT", "MapEntry", "Registry", "new_token"]

RETIRED_EDIT_KEYS = 16  # turned-off edit keys a map remembers here, to answer "turned off"
GONE_KEYS = 100_000  # keys of deleted maps remembered here, to answer 410 (memory://: the only record)
UNUSED_MAP_TIMEOUT = 600.0  # seconds before a never-written, unwatched map is forgotten


def new_token() -> str:
    """128 random bits, URL-safe: map ids, view keys and user ids are all capabilities. Never
    with a leading "-": a turned-off edit key is stored as "-<map id>" (Redis), and one in 64 map
    ids read as one; a command line would take one for an option too."""
    while (token := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return token


@dataclass
class MapEntry:
    """One hot map and everything the hub keeps beside its state."""

    id: str
    view_key: str
    owner: str | None  # browser user id; None until a browser claims an agent-made map
    principal: str | None  # API key name the map was made with, if any
    state: MapState
    last_used: float
    frames: FrameLog
    subscribers: set[Viewer] = field(default_factory=set)
    lock: trio.Lock = field(default_factory=trio.Lock)  # one writer at a time; held across store calls
    held: HeldWrites | None = None  # writes the store has not got yet
    synced_version: int = 0  # the version the store has, as far as this copy knows
    inbox: deque[Event] = field(default_factory=deque)  # events from the feed waiting for the lock
    draining: bool = False  # a task is applying ``inbox``
    history: History = field(default_factory=History)  # the map's changes, fed with every event
    edit_key: str | None = None  # the editors' link, None while there is none (MapMeta.edit_key)
    members: dict[Viewer, Member] = field(default_factory=dict)  # who each viewer is (presence)
    retired_edit_keys: deque[str] = field(default_factory=lambda: deque(maxlen=RETIRED_EDIT_KEYS))
    maker: str | None = None  # the agent that made the map (MapMeta.maker)
    created: float = field(default_factory=time.time)  # unix seconds (memory:// lists; stores keep theirs)

    @property
    def meta(self) -> MapMeta:
        return MapMeta(self.id, self.view_key, self.owner, self.principal, self.edit_key, self.maker)

    def snapshot_frame(self) -> bytes:
        """The whole state as one SSE frame, built at most once per version."""
        return self.frames.snapshot_frame(self.state)

    def state_json(self) -> dict[str, Any]:
        """The state as the snapshot frame and ``/state`` give it: with recent activity."""
        return snapshot_json(self.state, self.history)

    async def geojson_body(self) -> str:
        """The map as GeoJSON text; a big map's encoded by an ``encode`` worker, which stops if
        the caller is cancelled (the client left)."""
        state = self.state
        if len(state.features) < SNAPSHOT_THREAD:
            return dumps(to_geojson(state))
        whole = checked(state)
        return await run("encode", lambda: dumps(to_geojson(whole)))

    async def state_body(self) -> str:
        """``state_json`` as JSON text; a big map's encoded in a ``snapshot`` worker (its state
        is immutable, its activity copied first), so it never stops the other maps' streams; a
        full queue refuses it (503, with when to retry)."""
        if len(self.state.features) < SNAPSHOT_THREAD:
            return dumps(self.state_json())
        state, activity = self.state, self.history.activity()
        return await run("snapshot", lambda: dumps(with_activity(state, activity)))


def _nothing(map_id: str) -> None:
    pass


class Registry:
    def __init__(
        self,
        *,
        max_maps: int,
        idle_timeout: float,
        frame_log_size: int,
        follow: Callable[[str], None] = _nothing,
        unfollow: Callable[[str], None] = _nothing,
    ) -> None:
        self.follow = follow  # told of every map held from now on (``Store.follow``)
        self.unfollow = unfollow  # ... and of every map forgotten
        self.max_maps = max_maps
        self.idle_timeout = idle_timeout
        self.frame_log_size = frame_log_size
        self.expired = 0
        self._maps: dict[str, MapEntry] = {}
        self._by_view_key: dict[str, str] = {}
        # edit key -> (map id, still opens it): a turned-off key is remembered, so that its
        # holder hears "turned off" rather than "not found" (what the store says across processes)
        self._by_edit_key: dict[str, tuple[str, bool]] = {}
        self._last_map_of_user: dict[str, str] = {}
        self._gone: OrderedDict[str, None] = OrderedDict()  # keys of maps deleted here
        self.opened: dict[str, set[str]] = {}  # browser user -> maps opened through an edit link

    def __len__(self) -> int:
        return len(self._maps)

    def __iter__(self) -> Iterator[MapEntry]:
        return iter(self._maps.values())

    def new_entry(
        self, *, owner: str | None, principal: str | None, title: str, maker: str | None = None
    ) -> MapEntry:
        if len(self._maps) >= self.max_maps:
            raise Unavailable(
                f"this server holds its limit of {self.max_maps} maps; retry later", retry_after=60
            )
        map_id = new_token()
        meta = MapMeta(map_id, new_token(), owner, principal, edit_key=new_token(), maker=maker)
        return self._entry(meta, MapState(id=map_id, title=title))

    def loaded_entry(self, loaded: LoadedMap) -> MapEntry:
        entry = self._entry(loaded.meta, loaded.state)
        entry.synced_version = loaded.state.version
        entry.history.load(loaded.log, loaded.state.version)
        return entry

    def _entry(self, meta: MapMeta, state: MapState) -> MapEntry:
        history = History(state.version)
        return MapEntry(
            id=meta.id,
            view_key=meta.view_key,
            owner=meta.owner,
            principal=meta.principal,
            edit_key=meta.edit_key,
            maker=meta.maker,
            state=state,
            last_used=trio.current_time(),
            frames=FrameLog(self.frame_log_size, history),
            history=history,
        )

    def hold(self, entry: MapEntry) -> MapEntry:
        """Keep ``entry``; if the map was loaded twice at once, the first copy wins."""
        existing = self._maps.get(entry.id)
        if existing is not None:
            return existing
        self._maps[entry.id] = entry
        self._by_view_key[entry.view_key] = entry.id
        if entry.edit_key:
            self._by_edit_key[entry.edit_key] = (entry.id, True)
        self.follow(entry.id)
        return entry

    def find(self, map_id: str) -> MapEntry | None:
        return self._maps.get(map_id)

    def map_for_view_key(self, view_key: str) -> str | None:
        return self._by_view_key.get(view_key)

    def map_for_edit_key(self, edit_key: str) -> tuple[str, bool] | None:
        return self._by_edit_key.get(edit_key)

    def relink(self, entry: MapEntry, meta: MapMeta) -> None:
        """The map's keys are now ``meta``'s (the owner made new ones, here or elsewhere)."""
        if entry.edit_key and entry.edit_key != meta.edit_key:
            for maps in self.opened.values():  # who opened the old link loses the map
                maps.discard(entry.id)
            if len(entry.retired_edit_keys) == RETIRED_EDIT_KEYS:
                self._by_edit_key.pop(entry.retired_edit_keys[0], None)
            entry.retired_edit_keys.append(entry.edit_key)
            self._by_edit_key[entry.edit_key] = (entry.id, False)
        if meta.edit_key:
            self._by_edit_key[meta.edit_key] = (entry.id, True)
        if entry.view_key != meta.view_key:
            self._by_view_key.pop(entry.view_key, None)
            self._by_view_key[meta.view_key] = entry.id
        entry.view_key, entry.edit_key = meta.view_key, meta.edit_key

    def last_map_of(self, owner: str) -> str | None:
        return self._last_map_of_user.get(owner)

    def remember_last_map(self, owner: str, map_id: str) -> None:
        self._last_map_of_user[owner] = map_id

    def keep_watched(self, now: float, recently: float) -> list[Touched]:
        """Maps with viewers stay hot (their clock restarts when the last viewer leaves); returns
        the (id, view key, edit key) of every map used since ``recently``."""
        in_use = []
        for entry in self._maps.values():
            if entry.subscribers:
                entry.last_used = now
            if entry.last_used > recently:
                in_use.append((entry.id, entry.view_key, entry.edit_key))
        return in_use

    def expire_idle(self, now: float) -> int:
        """Forget maps nobody has used or watched for ``idle_timeout`` seconds (never one that
        holds writes the store has not got yet)."""
        deadline = now - self.idle_timeout
        # A map nobody ever drew on goes sooner, so that a flood of "/" visits or create_map
        # calls cannot hold the map cap for a whole idle timeout.
        unused_deadline = now - min(self.idle_timeout, UNUSED_MAP_TIMEOUT)
        idle = [
            e
            for e in self._maps.values()
            if not e.subscribers
            and e.held is None
            and (e.last_used <= deadline or (e.state.version == 0 and e.last_used <= unused_deadline))
        ]
        for entry in idle:
            self.drop(entry)
        self.expired += len(idle)
        return len(idle)

    def drop(self, entry: MapEntry, *, gone: bool = False) -> None:
        """Forget the map here; ``gone``: it was deleted, and its id and keys answer so."""
        if self._maps.get(entry.id) is not entry:
            return
        del self._maps[entry.id]
        self.unfollow(entry.id)
        self._by_view_key.pop(entry.view_key, None)
        for key in (entry.edit_key, *entry.retired_edit_keys):
            if key:
                self._by_edit_key.pop(key, None)
        if entry.owner is not None and self._last_map_of_user.get(entry.owner) == entry.id:
            del self._last_map_of_user[entry.owner]
        if gone:
            for key in (entry.id, entry.view_key, entry.edit_key, *entry.retired_edit_keys):
                if key:
                    self._gone[key] = None
            while len(self._gone) > GONE_KEYS:
                self._gone.popitem(last=False)
            for maps in self.opened.values():
                maps.discard(entry.id)

    def gone(self, key: str) -> bool:
        """Whether ``key`` belonged to a map deleted here."""
        return key in self._gone
