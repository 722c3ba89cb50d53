"""``mapsrv.workers``' wait for the busy loop from a worker's collector pass, where the pass can
start: anywhere a worker thread allocates, also inside that wait (tests/test_workers.py holds
the wait itself)."""

from __future__ import annotations

import gc
import threading

from mapsrv import workers
from mapsrv.workers import hand_over_often


class PassInsideTheWait(threading.Event):
    """The loop's busy flag, in whose ``wait`` a collector pass starts while the wait holds the
    Event's lock, as any allocation there may start one. It happened once in a test run, in the
    places warming at a server's start: the test stood still for 20 minutes."""

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:  # type: ignore[attr-defined]
            gc.collect()
        return super().wait(timeout)


def test_a_collector_pass_begun_inside_a_workers_wait_does_not_wait_again() -> None:
    """The pass's own wait for the busy loop (``hand_over_often`` installs it) waited for the lock
    its thread held: the worker hung for ever, and with it whoever waited for its call (the
    cancellation of a call waits for its thread). It goes on now, its wait ended in its time."""
    hand_over_often()
    loop = workers._LoopFirst()  # never told that the loop waits: busy throughout
    loop.waiting = PassInsideTheWait()
    call = workers._Call(loop)

    def step_in_a_worker() -> None:
        workers._call.set(call)
        call.give_way()

    worker = threading.Thread(target=step_in_a_worker, daemon=True)  # daemon: it may hang
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "the worker's step hangs in its own collector pass's wait"
    assert call.until > 0, "the step waited GIVE_WAY for the busy loop, and runs on for as long"
