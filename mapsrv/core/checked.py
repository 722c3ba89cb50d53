"""A map's features gone through by a worker that stops once its call is cancelled: ``checked``
(``mapsrv.workers`` hands it to writers: an export, a ``read``, which need not know about
cancelling). The steps are core's (``pace``): a worker's call binds them to its
``stop_if_cancelled``; elsewhere a step is nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from typing import TypeVar

from mapsrv.core import pace
from mapsrv.core.model import Feature, MapState

__all__ = ["CHECK_EVERY", "checked"]

T = TypeVar("T")
CHECK_EVERY = 64  # features a writer goes through between checks for cancellation (checked)


class _Checked(Mapping[str, Feature]):
    """A map's features that stop the worker going through them once its call is cancelled:
    a step every ``CHECK_EVERY`` features, whichever way they are gone through."""

    __slots__ = ("_features",)

    def __init__(self, features: Mapping[str, Feature]) -> None:
        self._features = features

    def __getitem__(self, key: str) -> Feature:
        return self._features[key]

    def __len__(self) -> int:
        return len(self._features)

    def __iter__(self) -> Iterator[str]:
        return _every(iter(self._features))

    def values(self) -> ValuesView[Feature]:
        return _Values(self)

    def items(self) -> ItemsView[str, Feature]:
        return _Items(self)


class _Values(ValuesView[Feature]):
    def __iter__(self) -> Iterator[Feature]:
        return _every(iter(self._mapping._features.values()))  # type: ignore[attr-defined]


class _Items(ItemsView[str, Feature]):
    def __iter__(self) -> Iterator[tuple[str, Feature]]:
        return _every(iter(self._mapping._features.items()))  # type: ignore[attr-defined]


def _every(items: Iterator[T]) -> Iterator[T]:
    """``items``, with ``stop_if_cancelled`` before each run of ``CHECK_EVERY`` (or of 2 ms:
    ``mapsrv.core.pace``, which a worker's call binds to it)."""
    return iter(pace.paced(items, CHECK_EVERY))


def checked(state: MapState) -> MapState:
    """``state``, its features gone through by a worker that stops once its call is cancelled
    (a step every ``CHECK_EVERY`` features): what an export or a ``read`` hands to
    a writer, which need not know about cancelling."""
    if isinstance(state.features, _Checked):
        return state
    return dataclasses.replace(state, features=_Checked(state.features))
