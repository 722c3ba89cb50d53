"""core.kept: values kept per key while their owner lives, the least recently asked dropped."""

from __future__ import annotations

import gc

from mapsrv.core.kept import Kept


class Owner:
    pass


def test_a_value_is_made_once_per_owner_and_key() -> None:
    kept: Kept[str, Owner, list[int]] = Kept(4)
    owner, made = Owner(), []

    def make() -> list[int]:
        made.append(1)
        return [len(made)]

    first = kept.made("k", owner, make)
    assert kept.made("k", owner, make) is first and made == [1]
    assert kept.holds("k", owner) and not kept.holds("k", Owner())
    other = Owner()  # another owner at the same key (a new object at a reused id) is not answered
    assert kept.made("k", other, make) == [2] and kept.get("k", owner) is None


def test_at_most_size_kept_the_least_recently_asked_dropped() -> None:
    kept: Kept[int, Owner, int] = Kept(3)
    owners = [Owner() for _ in range(4)]
    for i in range(3):
        kept.put(i, owners[i], i)
    assert kept.get(0, owners[0]) == 0  # asked: now the most recent
    kept.put(3, owners[3], 3)
    assert len(kept) == 3 and 1 not in kept and all(k in kept for k in (0, 2, 3))


def test_an_owner_let_go_of_takes_its_value_along() -> None:
    kept: Kept[str, Owner, bytes] = Kept(4)
    owner = Owner()
    kept.put("k", owner, b"x" * 1000)
    assert "k" in kept
    del owner
    gc.collect()
    assert "k" not in kept and len(kept) == 0


def test_a_value_dropped_is_made_again() -> None:
    kept: Kept[str, Owner, int] = Kept(4)
    owner, other = Owner(), Owner()
    kept.put("k", owner, 1)
    kept.put("j", other, 2)
    kept.drop("k")
    kept.drop("absent")  # nothing kept there: nothing happens
    assert "k" not in kept and kept.get("k", owner) is None and kept.get("j", other) == 2
    assert kept.made("k", owner, lambda: 3) == 3
