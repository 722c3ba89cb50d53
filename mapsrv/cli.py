"""``mapsrv serve`` and friends."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence

import trio

from mapsrv import __version__
from mapsrv.config import Config, ConfigError, add_arguments
from mapsrv.server import Server, serve

__all__ = ["main"]


async def _run(config: Config) -> None:
    async with trio.open_nursery() as nursery:
        server: Server = await nursery.start(serve, config)
        print(
            f"mapsrv {__version__}: open {server.url} in your browser (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                logging.getLogger("mapsrv").info("%s: shutting down", signal.Signals(signum).name)
                server.shutdown()
                break


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mapsrv", description="A live map that AI agents draw on.")
    parser.add_argument("--version", action="version", version=f"mapsrv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser(
        "serve",
        help="serve the map on HTTP",
        description="Serve the map pages, the browser event streams and the JSON API on HTTP. "
        "Every flag can also be set as a MAPSRV_* environment variable; flags win.",
    )
    add_arguments(serve_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        config = Config.from_sources(os.environ, overrides)
    except ConfigError as exc:
        print(f"mapsrv: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    failed = False
    try:
        trio.run(_run, config)
    except* OSError as group:
        reason = "; ".join(str(getattr(e, "strerror", e)) for e in group.exceptions)
        print(f"mapsrv: cannot listen on {config.host}:{config.port}: {reason}", file=sys.stderr)
        failed = True
    return 1 if failed else 0
