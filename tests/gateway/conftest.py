from __future__ import annotations

import pytest
import trio
from gateway_support import MISBEHAVE

from mapsrv.gateway.config import GatewayConfig, load_servers
from mapsrv.gateway.runner import Children
from mapsrv.gateway.serve import Gateway, serve_gateway


@pytest.fixture
async def children(nursery: trio.Nursery) -> Children:
    children = Children(allow_env=["PATH", "HOME", "LANG"], max_line=1024 * 1024, grace=0.5)
    await nursery.start(children.serve)
    return children


async def start_gateway(
    nursery: trio.Nursery, command: tuple[str, ...] | None = None, **changes: object
) -> Gateway:
    """A gateway on port 0 in the test's nursery, serving ``command`` (default: the fixture)."""
    config = GatewayConfig(port=0, kill_grace=1.0, graceful_timeout=1.0, warm=1).replace(**changes)
    servers = load_servers(config, [] if config.config else list(command or MISBEHAVE))
    gateway: Gateway = await nursery.start(serve_gateway, config, servers)
    return gateway
