"""Where the people editing a map point, and which part of it each has in view: shown on the
other people's pages as a coloured dot and a dashed rectangle.

A page sends its person's pointer and view at most twice a second (``POST <prefix>/pointer``);
updates closer than ``MIN_GAP`` are dropped here. Every ``INTERVAL`` the map's viewers get one
``pointers`` frame with what changed since the last (``p``: pointers, ``v``: views, ``gone``:
people who left), so ten people moving at once cost each page about one frame of ten entries
per interval. Other processes hear the same changes as a ``{"pointers": ...}`` notice
(``Store.notify``), at the same pace. Never stored: a pointer not moved for ``STALE`` seconds,
or whose person left, is dropped."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from mapsrv.core.codec import dumps
from mapsrv.core.ids import map_ref
from mapsrv.core.sse import frame
from mapsrv.store import Store, StoreUnavailable

__all__ = ["INTERVAL", "MIN_GAP", "STALE", "Pointer", "Pointers", "check_pointer"]

log = logging.getLogger("mapsrv.hub")

INTERVAL = 0.5  # seconds between pointer frames of a map (and notices to other processes)
MIN_GAP = 0.1  # seconds: a person's updates closer together than this are dropped
STALE = 30.0  # seconds a pointer that has not moved is kept
MAX_POINTERS = 50  # per map: people past this are not drawn (the presence list still counts them)


@dataclass(frozen=True)
class Pointer:
    at: tuple[float, float] | None  # lat, lon; None: the pointer is off the map
    view: tuple[float, float, float, float] | None  # south, west, north, east
    moved: float  # trio's clock


def _number(value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("not a number")
    if not low <= value <= high:
        raise ValueError("out of range")
    return round(float(value), 5)  # about a metre: more says nothing on a screen


def check_pointer(at: object, view: object) -> tuple[tuple[float, float] | None, tuple[float, ...] | None]:
    """``at`` [lat, lon] or None, ``view`` [[south, west], [north, east]] or None; ValueError
    naming nothing for anything else (the caller says what was expected)."""
    point = None
    if at is not None:
        if not isinstance(at, list) or len(at) != 2:
            raise ValueError("at")
        point = (_number(at[0], -90, 90), _number(at[1], -180, 180))
    box = None
    if view is not None:
        if not (
            isinstance(view, list)
            and len(view) == 2
            and all(isinstance(c, list) and len(c) == 2 for c in view)
        ):
            raise ValueError("view")
        (south, west), (north, east) = view
        box = (
            _number(south, -90, 90),
            _number(west, -540, 540),
            _number(north, -90, 90),
            _number(east, -540, 540),
        )
    return point, box


class Pointers:
    def __init__(self, store: Store, sender: str, broadcast: Callable[[str, bytes], None]) -> None:
        self.store = store
        self.sender = sender
        self.broadcast = broadcast
        self._now: dict[str, dict[str, Pointer]] = {}  # map -> actor -> where (here and elsewhere)
        self._changed: dict[str, set[str]] = {}  # map -> actors moved or gone since the last frame
        self._views: dict[str, set[str]] = {}  # map -> actors whose view changed since then
        self._tell: dict[str, set[str]] = {}  # map -> actors of this process to tell the others
        self.frames = 0  # frames sent (tests and benchmarks read it)

    def point(self, map_id: str, actor: str, at: tuple[float, float] | None, view: Any) -> bool:
        """A person's pointer and view; False when it came sooner than ``MIN_GAP`` after the last."""
        now = trio.current_time()
        pointers = self._now.setdefault(map_id, {})
        last = pointers.get(actor)
        if last is not None and now - last.moved < MIN_GAP:
            return False
        if last is None and len(pointers) >= MAX_POINTERS:
            return False
        view = view if view is not None else (last.view if last else None)
        pointers[actor] = Pointer(at, view, now)
        if last is None or last.at != at or last.view != view:
            self._changed.setdefault(map_id, set()).add(actor)
            if view != (last.view if last else None):
                self._views.setdefault(map_id, set()).add(actor)
        else:
            return True  # nothing moved: nothing to tell
        if self.store.shared:
            self._tell.setdefault(map_id, set()).add(actor)
        return True

    def tracks(self, map_id: str, actor: str | None = None) -> bool:
        """Whether the map has pointers (``actor``'s, when given)."""
        pointers = self._now.get(map_id)
        return bool(pointers) and (actor is None or actor in pointers)  # type: ignore[operator]

    def drop(self, map_id: str, actor: str) -> None:
        """The person left the map (their last page here closed)."""
        pointers = self._now.get(map_id)
        if pointers is not None and pointers.pop(actor, None) is not None:
            self._changed.setdefault(map_id, set()).add(actor)
            if self.store.shared:
                self._tell.setdefault(map_id, set()).add(actor)

    def heard(self, map_id: str, text: bytes | str) -> None:
        """Another process's ``{"pointers": {"p": [...], "v": [...], "gone": [...]}}``."""
        try:
            told = json.loads(text)["pointers"]
            now = trio.current_time()
            pointers = self._now.setdefault(map_id, {})
            views = {
                str(v[0]): (float(v[1]), float(v[2]), float(v[3]), float(v[4])) for v in told.get("v", ())
            }
            for actor, view in views.items():
                old = pointers.get(actor)
                if old is None or old.view != view:
                    self._views.setdefault(map_id, set()).add(actor)
            for actor, lat, lon in told.get("p", ()):
                old = pointers.get(str(actor))
                box = views.get(str(actor), old.view if old else None)
                pointers[str(actor)] = Pointer((float(lat), float(lon)), box, now)
                self._changed.setdefault(map_id, set()).add(str(actor))
            for actor, view in views.items():
                old = pointers.get(actor)
                pointers[actor] = Pointer(old.at if old else None, view, now)
                self._changed.setdefault(map_id, set()).add(actor)
            for actor in told.get("gone", ()):
                if pointers.pop(str(actor), None) is not None:
                    self._changed.setdefault(map_id, set()).add(str(actor))
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("map %s: a pointers notice could not be read", map_ref(map_id))

    def delta(self, map_id: str, actors: set[str], views: set[str] | None = None) -> dict[str, Any]:
        """What changed of ``actors``: their pointers, their views (only those in ``views``,
        when given: a view changes far less often than a pointer), and who is gone."""
        pointers = self._now.get(map_id, {})
        out: dict[str, Any] = {"p": [], "v": [], "gone": []}
        for actor in sorted(actors):
            where = pointers.get(actor)
            if where is None:
                out["gone"].append(actor)
                continue
            if where.at is not None:
                out["p"].append([actor, *where.at])
            if where.view is not None and (views is None or actor in views):
                out["v"].append([actor, *where.view])
        return {key: value for key, value in out.items() if value}

    def frame(self, map_id: str, actors: set[str] | None = None) -> bytes:
        """A ``pointers`` frame: ``actors``' changes, or everyone's (a page just opened)."""
        chosen = set(self._now.get(map_id, {})) if actors is None else actors
        return frame(dumps(self.delta(map_id, chosen)), event="pointers")

    def _expire(self, now: float) -> None:
        for map_id, pointers in list(self._now.items()):
            for actor in [a for a, p in pointers.items() if now - p.moved > STALE]:
                del pointers[actor]
                self._changed.setdefault(map_id, set()).add(actor)
            if not pointers and map_id not in self._changed:
                del self._now[map_id]

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Every ``INTERVAL``: one frame per map whose pointers changed, one notice per map
        whose changes here the other processes have not heard."""
        task_status.started()
        while True:
            await trio.sleep(INTERVAL)
            self._expire(trio.current_time())
            changed, self._changed = self._changed, {}
            views, self._views = self._views, {}
            for map_id, actors in changed.items():
                self.frames += 1
                data = dumps(self.delta(map_id, actors, views.get(map_id, set())))
                self.broadcast(map_id, frame(data, event="pointers"))
            tell, self._tell = self._tell, {}
            for map_id, actors in tell.items():
                delta = self.delta(map_id, actors)  # every view: the others keep what they hear
                text = dumps({"pointers": {"from": self.sender, **delta}})
                try:
                    await self.store.notify(map_id, text)
                except StoreUnavailable:
                    pass  # the next move tells them
                except Exception:
                    log.exception("map %s: pointers could not be shared", map_ref(map_id))
