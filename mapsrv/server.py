"""``serve(config)``: one nursery that wires the hub, the web app and hypercorn together."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import hypercorn.trio
import trio

from mapsrv import workers
from mapsrv.config import Config
from mapsrv.core import Limits
from mapsrv.dispatch import Dispatcher
from mapsrv.http.hygiene import ConnectionCounts, ConnectionHygiene
from mapsrv.http.hypercorn import hypercorn_config
from mapsrv.http.observe import Observer
from mapsrv.http.pacing import cap_ready_sockets
from mapsrv.http.pacing import connections as storms
from mapsrv.http.throttle import RateLimits, Throttle
from mapsrv.hub import MapHub
from mapsrv.hub.local_files import allowed_folders
from mapsrv.hub.reader import ReadLimits, serve_reader
from mapsrv.hub.registry import UNUSED_MAP_TIMEOUT
from mapsrv.mcp.endpoints import McpEndpoints
from mapsrv.mcp.tools.outlines import warm_outlines
from mapsrv.observability import collector
from mapsrv.observability.memory import Held
from mapsrv.observability.metrics import Metrics
from mapsrv.observability.stalls import LoopWatch
from mapsrv.observability.statistics import ServerStatistics
from mapsrv.places.offline_areas import kept_outline_bytes
from mapsrv.places.service import PlaceService, place_service_for
from mapsrv.routing import router_for, serve_router
from mapsrv.store import open_store_from_url
from mapsrv.web.stream import StreamCounts

__all__ = ["Server", "held_by", "places_for", "serve", "serve_places", "warm_places"]

log = logging.getLogger("mapsrv")


@dataclass
class Server:
    """What ``serve`` hands to whoever started it."""

    config: Config
    hub: MapHub
    mcp: McpEndpoints
    url: str  # where people open the map
    binds: list[str]
    connections: ConnectionHygiene
    observer: Observer  # requests in flight, among others
    throttle: Throttle
    watch: LoopWatch  # the event loop's stalls
    _shutdown: trio.Event = field(default_factory=trio.Event)

    def shutdown(self) -> None:
        """Begin a graceful shutdown: end every event stream, stop accepting, finish in-flight
        requests, then return from ``serve``."""
        self._shutdown.set()


def held_by(places: PlaceService, mcp: McpEndpoints) -> Held:
    """What the places and the caches keep now (``mapsrv.observability.memory``)."""
    loaded = places.loaded()
    caches = {"area_outlines": kept_outline_bytes(), "street_tiles": mcp.basemaps.cached_bytes}
    return Held(
        border_points_kept=loaded.get("outline_points_kept", 0),
        join_outlines_loaded=bool(loaded.get("join_outlines_loaded")),
        cache_bytes=caches,
    )


async def serve(
    config: Config,
    *,
    private: bool = False,
    settle: Callable[[], None] = lambda: None,
    task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """``private``: one person's process (``mapsrv stdio`` on a store of its own): every map in
    the store is theirs, in their browser's list and their agent's. ``settle`` runs once all is
    built and before the socket is bound (the process's collector pass, ~100 ms: nobody can be
    waiting yet); the loop is watched for stalls from then on, as it serves."""
    _tune_the_run()
    hub = _open_hub(config, private)
    store = hub.store
    public: list[str] = []  # the URL people open, known once hypercorn has bound its socket
    router = router_for(config.router, config.router_timeout)  # routes along the roads, if set
    places = places_for(config)  # names, addresses and shops: the index, the geocoder, the city list
    mcp = McpEndpoints(config, hub, lambda: public[0] if public else "", router, places)
    shutdown = trio.Event()
    connections = ConnectionCounts(storms())
    throttle = Throttle(RateLimits.from_config(config), mcp.clients, mcp.keys, shared=store)

    streams = StreamCounts()
    watch = LoopWatch(collector.PROCESS.total_seconds)

    def statistics() -> ServerStatistics:
        return ServerStatistics(
            hub=hub.statistics(),
            mcp=mcp.statistics(),
            store=store.statistics(),
            connections=connections.statistics(),
            throttle=throttle.statistics(),
            streams=replace(streams),
            ready=hub.ready and not shutdown.is_set(),
            collector=collector.PROCESS.statistics(),
            stalls=watch.statistics(),
            sources=mcp.sources.origins.statistics(),
            work=workers.workers().statistics(),
            held=held_by(places, mcp),
        )

    metrics = Metrics(statistics)
    hub.observe_commit = metrics.replication_latency.observe
    hub.fanout.observe_crowd = metrics.crowd_delivery.observe
    dispatcher = Dispatcher(config, hub, mcp, metrics, throttle, shutdown.is_set, streams)
    hygienic = ConnectionHygiene(
        dispatcher, connections, max_body_size=config.max_body_size, body_timeout=config.body_timeout
    )
    app = Observer(hygienic, metrics)
    asgi_app: Any = app  # hypercorn types scopes as TypedDicts; the app takes plain dicts
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_router, router)
        nursery.start_soon(serve_places, places)
        store_messages = await nursery.start(store.serve)
        await nursery.start(hub.serve_replication, store_messages)
        await nursery.start(hub.serve_expiry)
        await nursery.start(hub.serve_heartbeats, config.heartbeat_interval)
        await nursery.start(hub.serve_presence)
        await nursery.start(mcp.serve)
        if mcp.issuer is not None:  # a typo in --oidc-issuer, or an issuer down, is logged now
            nursery.start_soon(mcp.issuer.discover)
        server = Server(
            config=config,
            hub=hub,
            mcp=mcp,
            url="",
            binds=[],
            connections=hygienic,
            observer=app,
            throttle=throttle,
            watch=watch,
            _shutdown=shutdown,
        )
        http_done = trio.Event()
        stopping = trio.Event()

        async def serve_http(*, task_status: trio.TaskStatus[list[str]]) -> None:
            try:
                await hypercorn.trio.serve(
                    asgi_app,
                    _http_config(config),
                    shutdown_trigger=stopping.wait,
                    task_status=task_status,
                )
            finally:
                http_done.set()

        settle()
        await nursery.start(watch.serve)
        server.binds = await nursery.start(serve_http)
        server.url = (config.public_url.rstrip("/") or server.binds[0]) + "/"
        public.append(server.url)
        log.info("mapsrv listening on %s", server.url)
        task_status.started(server)
        nursery.start_soon(warm_places, places)  # after start-up's collector pass (settle)
        await nursery.start(serve_reader)
        await shutdown.wait()
        await _drain(config, hub, app, stopping, http_done)
        log.info("stopped")
        nursery.cancel_scope.cancel()


def _open_hub(config: Config, private: bool) -> MapHub:
    """The maps, on the store ``config`` names."""
    unused = min(config.idle_timeout, UNUSED_MAP_TIMEOUT)  # how long Redis keeps a map nobody drew on
    store = open_store_from_url(config.store_url, ttl=unused, log_size=config.event_log_size)
    hub = MapHub(
        store=store,
        limits=Limits(max_features=config.max_features),
        event_log_size=config.event_log_size,
        subscriber_buffer=config.subscriber_buffer,
        idle_timeout=config.idle_timeout,
        max_maps=config.max_maps,
        retention=config.retention or None,
        end_soon=storms().soon,  # streams read from a channel end a few per loop turn in a storm
    )
    hub.private = private and not store.shared
    hub.files_dirs = allowed_folders(config.files_dir)
    hub.max_file_size = config.max_file_size
    hub.read_limits = ReadLimits(
        memory=config.import_memory, cpu=max(1, round(config.import_cpu)), wall=config.import_timeout
    )
    return hub


def _http_config(config: Config) -> Any:
    return hypercorn_config(
        config.host,
        config.port,
        graceful_timeout=config.graceful_timeout,
        log="mapsrv.http",
        keep_alive=config.keep_alive_timeout,
        header_timeout=config.header_timeout,
    )


async def _drain(
    config: Config, hub: MapHub, app: Observer, stopping: trio.Event, http_done: trio.Event
) -> None:
    """SIGTERM. /ready answers 503 so load balancers send new work elsewhere; after drain_delay
    every browser stream ends with a retry hint (browsers reconnect elsewhere and resume by
    Last-Event-ID), in batches over drain_spread so that the other processes are not hit by all
    of them at once; then hypercorn stops accepting, and requests in flight get up to
    graceful_timeout to finish."""
    log.info("draining: not ready; stopping in %g s", config.drain_delay)
    await trio.sleep(config.drain_delay)
    if config.drain_spread:
        log.info("draining: ending the event streams over %g s", config.drain_spread)
    ended = await hub.end_streams(over=config.drain_spread)
    log.info("draining: %d event streams ended", ended)
    stopping.set()
    with trio.move_on_after(config.graceful_timeout):
        await app.wait_quiet()
    with trio.move_on_after(0.5):
        await http_done.wait()


def _tune_the_run() -> None:
    cap_ready_sockets()  # a storm of sockets closing at once wakes its tasks a few hundred a turn
    workers.hand_over_often()  # a busy worker thread leaves the loop the interpreter sooner


async def warm_places(places: PlaceService) -> None:
    """Load what a first question about places would (the gazetteer, the outlines) in workers,
    in the background: the loop, /health and /ready answer meanwhile, and a question that comes
    first waits for the same load, never a second one. All of it lives as long as the process:
    the collector freezes it as it is built (``Collector.keeping``)."""
    started = time.perf_counter()
    background = workers.Background()  # the viewers a deploy sends a new process go first
    with collector.PROCESS.keeping():
        await places.warm(background)
        await workers.run("geometry", warm_outlines, background=background)
    log.info("places warm in %.1f s", time.perf_counter() - started)


def places_for(config: Config) -> PlaceService:
    """The place sources ``config`` names: the offline index of imported extracts (when any) and a
    geocoder (``--geocoder``), before the built-in city list."""
    return place_service_for(
        config.places_path(), config.geocoder, config.geocoder_timeout, config.public_url
    )


async def serve_places(places: PlaceService) -> None:
    """Hold the place sources' connections and files for as long as this task runs."""
    try:
        await trio.sleep_forever()
    finally:
        await places.aclose()
