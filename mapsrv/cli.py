"""``mapsrv serve`` and friends."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from mapsrv import __version__
from mapsrv.config import STDIO_ONLY, Config, ConfigError, add_arguments
from mapsrv.observability.collector import PROCESS
from mapsrv.observability.logs import setup_logging
from mapsrv.store import describe_store
from mapsrv.store.sqlite import StoreOpenError

if TYPE_CHECKING:
    from mapsrv.server import Server

__all__ = ["main"]

BASEMAP_CPU = 3600  # seconds of CPU the street basemap's build may take (a big region's: minutes)


async def _run(config: Config) -> None:
    from mapsrv.server import serve  # here, not at the top: a relaying stdio never needs it

    async with trio.open_nursery() as nursery:
        # what start-up built lives as long as the process: collected once and frozen, before it listens
        server: Server = await nursery.start(partial(serve, settle=PROCESS.settle), config)
        print(f"mapsrv {__version__}: {describe_store(config.store_url)}", file=sys.stderr, flush=True)
        routes = f"routes follow the roads ({config.router})" if config.router not in ("", "none") else None
        print(
            f"mapsrv {__version__}: {routes or 'routes are straight lines (no --router)'}",
            file=sys.stderr,
            flush=True,
        )
        print(f"mapsrv {__version__}: {server.mcp.places.describe()}", file=sys.stderr, flush=True)
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


async def _run_stdio(config: Config) -> None:
    # The stdio modules (and through them the SDK's client side) only when ``mapsrv stdio`` runs:
    # ``mapsrv serve`` never loads them (tests/test_cli_imports.py).
    from mapsrv.hub.local_files import allowed_folders
    from mapsrv.stdio.discovery import shared_server
    from mapsrv.stdio.pipes import open_stdio_streams
    from mapsrv.stdio.relay import Upstream, serve_link

    shared = await shared_server(config)
    if shared is None:
        await _run_stdio_here(config)
        return
    url, answering = shared
    note = "" if answering else " (not answering yet: each call fails until it does)"
    print(
        f"mapsrv {__version__}: MCP on stdio; maps shared with the server at {url}/{note}",
        file=sys.stderr,
        flush=True,
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_on_signal, nursery.cancel_scope)
        async with open_stdio_streams() as (read, write):
            # an import by path reads here: the folders named, else the one it started in
            folders = allowed_folders(config.files_dir or (os.getcwd(),))
            await serve_link(Upstream(url, config.server_key), read, write, folders)
        nursery.cancel_scope.cancel()


async def _cancel_on_signal(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()


async def _run_stdio_here(config: Config) -> None:
    """MCP on stdin/stdout for a desktop client, plus the web page on a local port so the user
    can watch the map the agent draws on. Ends when the client closes stdin."""
    from mapsrv.server import serve
    from mapsrv.stdio.pipes import open_stdio_streams

    if not config.files_dir:  # the person's own process: the folder they started it in (issue 73)
        config = config.replace(files_dir=(os.getcwd(),))
    async with trio.open_nursery() as nursery:
        private = partial(serve, private=True, settle=PROCESS.settle)  # settled before it listens
        try:
            server: Server = await nursery.start(private, config)
        except* OSError:  # the port is taken (another client's mapsrv?): take any free one
            server = await nursery.start(private, config.replace(port=0))
        where = describe_store(config.store_url)
        print(
            f"mapsrv {__version__}: MCP on stdio; {where}; pages at {server.url}", file=sys.stderr, flush=True
        )
        nursery.start_soon(_cancel_on_signal, nursery.cancel_scope)
        lowlevel = server.mcp.lowlevel
        async with open_stdio_streams() as (read, write):
            await lowlevel.run(read, write, lowlevel.create_initialization_options())
        server.shutdown()
        nursery.cancel_scope.cancel()


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
    add_arguments(serve_parser, exclude=STDIO_ONLY)
    stdio_parser = commands.add_parser(
        "stdio",
        help="speak MCP on stdin/stdout (for desktop clients) and serve the map pages",
        description="Speak MCP on stdin/stdout, as desktop MCP clients expect. When a mapsrv answers "
        "at --host/--port (a running `mapsrv serve`), or at --server, work on its maps: the codes its "
        "pages show work here too. Otherwise keep maps in this process and serve their pages on a "
        "local port (the given one, or any free one when it is taken). Logs go to stderr.",
    )
    add_arguments(stdio_parser)
    for name, text in (
        ("backup", "write every map of the store (state, history, links, owners) to FILE, a gzip file"),
        ("restore", "load the maps of a backup FILE into an empty store (--merge: into one with maps)"),
    ):
        sub = commands.add_parser(name, help=text, description=text + ". Safe against a running server.")
        sub.add_argument("file", metavar="FILE")
        sub.add_argument("--store", help="the store (default: MAPSRV_STORE, else the default SQLite file)")
        if name == "restore":
            sub.add_argument(
                "--merge", action="store_true", help="add to a store that has maps (skip those it has)"
            )
    _add_places(commands)
    commands.add_parser(  # parsed by mapsrv.gateway.cli; listed here for --help
        "gateway", help="serve stdio MCP servers over HTTP, a child process per session", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gateway"]:
        from mapsrv.gateway.cli import main as gateway_main

        return gateway_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command in ("backup", "restore"):
        return _backup_or_restore(args)
    if args.command == "places":
        return _places(args)
    overrides = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        config = Config.from_sources(os.environ, overrides)
    except ConfigError as exc:
        print(f"mapsrv: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    PROCESS.install()
    failed = False
    try:
        trio.run(_run_stdio if args.command == "stdio" else _run, config)
    except* StoreOpenError as group:
        for refused in group.exceptions:
            print(f"mapsrv: {refused}", file=sys.stderr)
        failed = True
    except* OSError as group:
        reason = "; ".join(str(getattr(e, "strerror", e)) for e in group.exceptions)
        print(f"mapsrv: cannot listen on {config.host}:{config.port}: {reason}", file=sys.stderr)
        failed = True
    return 1 if failed else 0


def _backup_or_restore(args: argparse.Namespace) -> int:
    from mapsrv.store.backup import BackupError, backup, restore

    try:
        config = Config.from_sources(os.environ, {"store": args.store} if args.store else {})
    except ConfigError as exc:
        print(f"mapsrv: {exc}", file=sys.stderr)
        return 2
    setup_logging("warning", "text")
    file = Path(args.file)
    refused: list[BaseException] = []
    try:
        if args.command == "backup":
            done = trio.run(backup, config.store_url, file)
            what = f"backed up {done.maps} maps ({done.bytes / 1024:,.0f} KiB) to {file}"
        else:
            done = trio.run(partial(restore, merge=args.merge), config.store_url, file)
            what = f"restored {done.maps} maps from {file}" + (
                f"; {done.skipped} were there already and were left alone" if done.skipped else ""
            )
    except* BackupError as group:
        refused += group.exceptions
    if refused:
        print(f"mapsrv: {refused[0]}", file=sys.stderr)
        return 1
    print(f"mapsrv: {what} in {done.seconds:.1f} s", file=sys.stderr)
    return 0


def _add_places(commands: Any) -> None:
    places = commands.add_parser(
        "places",
        help="the offline index of places: import an OpenStreetMap extract, list or remove regions",
        description="Keep an offline index of named places, points of interest, streets and addresses "
        "from OpenStreetMap extracts (.osm.pbf, e.g. from download.geofabrik.de), which serve and stdio "
        "search before the built-in city list.",
    )
    actions = places.add_subparsers(dest="action", required=True)
    for name, text in (
        ("import", "read FILE (.osm.pbf) into the index as a region, replacing one of that name"),
        ("list", "list the imported regions: counts, file size, when imported"),
        ("remove", "remove the region NAME from the index"),
    ):
        sub = actions.add_parser(name, help=text, description=text + ".")
        if name == "import":
            sub.add_argument("file", metavar="FILE")
            sub.add_argument(
                "--region", help="the region's name (default: from FILE's, e.g. portugal-latest)"
            )
            sub.add_argument(
                "--no-basemap",
                action="store_true",
                help="do not build the region's street basemap (vector tiles drawn under the map)",
            )
            sub.add_argument(
                "--basemap-memory",
                type=int,
                default=2048,
                metavar="MIB",
                help="the most memory the street basemap's build may take (default 2048 MiB)",
            )
        elif name == "remove":
            sub.add_argument("region", metavar="NAME")
        where = "the index's directory (default: MAPSRV_PLACES_DIR, else places/ beside maps.db)"
        sub.add_argument("--places-dir", help=where)


def _import(file: Path, directory: Path, region: str, args: argparse.Namespace) -> None:
    """The region's index, and its street basemap built beside it in a bounded child process (on
    another core meanwhile); with ``--no-basemap``, an old basemap removed (it would show streets
    the new index does not have)."""
    from mapsrv.places.offline_files import basemap_path
    from mapsrv.places.offline_import import check_extract, import_extract
    from mapsrv.places.street_build import BasemapRefused, finish_build, start_build, stop_build

    target = basemap_path(directory, region)
    check_extract(file)
    building = None if args.no_basemap else start_build(file, target, args.basemap_memory, BASEMAP_CPU)
    try:
        print(f"mapsrv: {import_extract(file, directory, region).describe()}", file=sys.stderr)
    except BaseException:
        if building is not None:
            stop_build(building, target)
        raise
    if building is None:
        target.unlink(missing_ok=True)
        return
    try:
        built = finish_build(building, file, args.basemap_memory, BASEMAP_CPU)
    except BasemapRefused as exc:
        target.unlink(missing_ok=True)
        print(f"mapsrv: no basemap for {region}: {exc}", file=sys.stderr)
        return
    print(f"mapsrv: {built.line}", file=sys.stderr)


def _places(args: argparse.Namespace) -> int:
    from mapsrv.places.offline_files import RegionNotFound, list_regions, region_from_file, remove_region
    from mapsrv.places.offline_import import ExtractError

    try:
        config = Config.from_sources(os.environ, {"places_dir": args.places_dir} if args.places_dir else {})
    except ConfigError as exc:
        print(f"mapsrv: {exc}", file=sys.stderr)
        return 2
    directory = config.places_path()
    try:
        if args.action == "import":
            file = Path(args.file)
            region = args.region if args.region is not None else region_from_file(file)
            _import(file, directory, region, args)
        elif args.action == "remove":
            print(f"mapsrv: removed {args.region} ({remove_region(directory, args.region)})", file=sys.stderr)
        else:
            regions = list_regions(directory)
            for info in regions:
                print(info.describe())
            if not regions:
                print(
                    f"mapsrv: no regions in {directory}; add one with mapsrv places import FILE.osm.pbf",
                    file=sys.stderr,
                )
    except (ExtractError, RegionNotFound, ValueError, OSError) as exc:
        print(f"mapsrv: {exc}", file=sys.stderr)
        return 1
    return 0
