"""``mapsrv gateway [flags] -- COMMAND [ARGS...]`` and ``mapsrv gateway --config FILE``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

import trio

from mapsrv import __version__
from mapsrv.config import ConfigError
from mapsrv.gateway.config import GatewayConfig, ServerSpec, add_arguments, load_servers
from mapsrv.gateway.serve import Gateway, serve_gateway
from mapsrv.observability.logs import setup_logging

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mapsrv gateway",
        description="Serve stdio MCP servers over Streamable HTTP (/mcp) and HTTP+SSE (/sse), a child "
        "process per session. Every flag is also a MAPSRV_GATEWAY_* environment variable; flags win.",
        usage="mapsrv gateway [flags] -- COMMAND [ARGS...]  |  mapsrv gateway --config FILE [flags]",
    )
    add_arguments(p)
    return p


async def _run(config: GatewayConfig, servers: list[ServerSpec]) -> None:
    async with trio.open_nursery() as nursery:
        gateway: Gateway = await nursery.start(serve_gateway, config, servers)
        print(f"mapsrv {__version__} gateway on {gateway.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                gateway.shutdown()
                break


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    command: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, command = argv[:split], argv[split + 1 :]
    args = parser().parse_args(argv)
    try:
        config = GatewayConfig.from_sources(os.environ, vars(args))
        servers = load_servers(config, command)
    except ConfigError as exc:
        print(f"mapsrv gateway: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    failed = False
    try:
        trio.run(_run, config, servers)
    except* OSError as group:
        reason = "; ".join(str(getattr(e, "strerror", e)) for e in group.exceptions)
        print(f"mapsrv gateway: cannot listen on {config.host}:{config.port}: {reason}", file=sys.stderr)
        failed = True
    return 1 if failed else 0
