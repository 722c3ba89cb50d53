"""What is made from an object, kept while the object lives: a map version's spatial index, an
area's grid, a map's anchors. Each is kept by a key (a map's id and version, an area's ``id``)
beside a weak reference to its object, so that an object let go of takes what was made from it
along, and a key whose object was replaced (a new area at a reused ``id``) is not answered from
the old one. At most ``size`` are kept, the least recently asked dropped first.

Safe from several threads (worker threads build indexes and grids). The lock is re-entrant: an
object collected while it is held runs its weak reference's callback in the same thread.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Kept"]

K = TypeVar("K", bound=Hashable)
O = TypeVar("O")  # noqa: E741
V = TypeVar("V")


class Kept(Generic[K, O, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._held: OrderedDict[K, tuple[weakref.ref[O], V]] = OrderedDict()
        self._lock = threading.RLock()

    def get(self, key: K, owner: O) -> V | None:
        """What was kept for ``owner`` at ``key``; None when nothing is, or it was another's."""
        with self._lock:
            held = self._held.get(key)
            if held is None or held[0]() is not owner:
                return None
            self._held.move_to_end(key)
            return held[1]

    def put(self, key: K, owner: O, value: V) -> V:
        """Keep ``value`` for ``owner`` at ``key`` (the least recently asked go past ``size``)."""
        with self._lock:
            self._held[key] = (weakref.ref(owner, lambda _, key=key: self._forget(key)), value)  # type: ignore[misc]
            while len(self._held) > self.size:
                self._held.popitem(last=False)
        return value

    def made(self, key: K, owner: O, make: Callable[[], V]) -> V:
        """The value kept for ``owner`` at ``key``, else ``make()`` (outside the lock: two
        threads asking at once may both make it; the last is kept) kept and returned."""
        found = self.get(key, owner)
        return found if found is not None else self.put(key, owner, make())

    def holds(self, key: K, owner: O) -> bool:
        """Whether a value is kept for ``owner`` at ``key`` (its order left as it was)."""
        with self._lock:
            held = self._held.get(key)
            return held is not None and held[0]() is owner

    def __contains__(self, key: K) -> bool:
        """Whether anything is kept at ``key`` (an owner collected takes its entry along)."""
        with self._lock:
            return key in self._held

    def __len__(self) -> int:
        return len(self._held)

    def drop(self, key: K) -> None:
        """Keep nothing at ``key`` (what was kept is made again when next asked)."""
        with self._lock:
            self._held.pop(key, None)

    def _forget(self, key: K) -> None:
        with self._lock:
            held = self._held.get(key)
            if held is not None and held[0]() is None:
                del self._held[key]
