"""``/health`` (the process answers) and ``/ready`` (send it traffic)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from mapsrv.core.codec import dumps
from mapsrv.observability.memory import resident
from mapsrv.web.context import web_context

__all__ = ["health", "probes", "ready"]

probes = Blueprint("probes", __name__)


@probes.get("/health")
async def health() -> Response:
    return Response(dumps({"status": "ok"}), content_type="application/json")


@probes.get("/ready")
async def ready() -> Response:
    # Ready while the store answers and we are not draining: a load balancer sends new work
    # elsewhere otherwise, though held maps keep working (docs/scaling.md).
    ctx = web_context()
    draining = ctx.draining()
    is_ready = ctx.hub.ready and not draining
    body: dict[str, Any] = {
        "ready": is_ready,
        "store": "ok" if ctx.hub.ready else "unreachable",
        "draining": draining,
    }
    # Places load in the background at start (the first question about one waits for that load,
    # never a second one): told, not waited for, so that a benchmark can start once they are.
    body["places"] = "warm" if ctx.places.warmed else "warming"
    # what this process holds, for an operator: its memory, the maps, the places read so far
    held = ctx.hub.statistics()
    now = resident()  # this process and its child processes (readers, process workers)
    body["memory"] = {
        "rss_mb": round(now.server / 2**20, 1),
        "workers_mb": round(now.workers / 2**20, 1),
        "worker_processes": now.worker_processes,
        "maps_held": held.maps,
        "features_held": held.features,
        **ctx.places.loaded(),
    }
    if ctx.basemaps is not None:  # the street basemaps: which, the tiles cached, archives that would not open
        await ctx.basemaps.maps()
        body["basemaps"] = ctx.basemaps.statistics()
    return Response(dumps(body), status=200 if is_ready else 503, content_type="application/json")
