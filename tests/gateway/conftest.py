from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import trio
from support import wait_until
from support.procfs import proc_stats

from mapsrv.gateway.procs import set_child_subreaper
from mapsrv.gateway.runner import Children


@pytest.fixture(autouse=True)
def subreaper_only_here() -> Iterator[None]:
    """A gateway in this process makes it a subreaper (``set_child_subreaper``); after the test
    it is one no more. Otherwise the orphans of every later test's processes (run.sh's subshells)
    came to this process, nobody reaped them, and a gateway test after them in the same worker
    counted their zombies as the gateway's."""
    yield
    set_child_subreaper(False)


@pytest.fixture
async def children(nursery: trio.Nursery) -> Children:
    children = Children(allow_env=["PATH", "HOME", "LANG"], max_line=1024 * 1024, grace=0.5)
    await nursery.start(children.serve)
    return children


def _children_of_this_process() -> dict[int, bytes]:
    """This process's children and their states (b"Z" for a zombie), read from /proc."""
    me = os.getpid()
    return {pid: fields[0] for pid, fields in proc_stats().items() if int(fields[1]) == me}


@pytest.fixture
async def adopted() -> AsyncIterator[None]:
    """This test process as a subreaper while a test runs gateway processes: what they leave
    when they die (a wrapper's background child, a warm child started after the test looked at
    the tree) comes to us. At the end, every process that became our child during the test must
    be gone, and is reaped: a zombie left would fail every later test that counts them."""
    set_child_subreaper()
    before = set(_children_of_this_process())

    def gone_and_reaped() -> bool:
        for pid, state in _children_of_this_process().items():
            if pid not in before and state == b"Z":
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        return not [pid for pid in _children_of_this_process() if pid not in before]

    yield
    await wait_until(gone_and_reaped, timeout=15)
