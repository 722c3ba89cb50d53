"""``/health`` (the process answers) and ``/ready`` (send it traffic)."""

from __future__ import annotations

import os
from typing import Any

from quart import Blueprint, Response

from mapsrv.core.codec import dumps
from mapsrv.web.context import web_context

__all__ = ["health", "probes", "ready", "rss_mb"]

probes = Blueprint("probes", __name__)


def rss_mb() -> float:
    """This process's resident memory now, in MiB (Linux's /proc; 0 where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


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
    body["memory"] = {"rss_mb": rss_mb(), "maps_held": ctx.hub.statistics().maps, **ctx.places.loaded()}
    if ctx.basemaps is not None:  # the street basemaps: which, the tiles cached, archives that would not open
        await ctx.basemaps.maps()
        body["basemaps"] = ctx.basemaps.statistics()
    return Response(dumps(body), status=200 if is_ready else 503, content_type="application/json")
