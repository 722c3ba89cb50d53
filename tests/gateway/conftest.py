from __future__ import annotations

import pytest
import trio

from mapsrv.gateway.runner import Children


@pytest.fixture
async def children(nursery: trio.Nursery) -> Children:
    children = Children(allow_env=["PATH", "HOME", "LANG"], max_line=1024 * 1024, grace=0.5)
    await nursery.start(children.serve)
    return children
