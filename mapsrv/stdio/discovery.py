"""Which maps ``mapsrv stdio`` works on: those of a mapsrv that answers (named by ``--server``, or
found at the address ``mapsrv serve`` would listen on), or maps of its own."""

from __future__ import annotations

import httpx2
import trio

from mapsrv.config import Config

__all__ = ["PROBE_TIMEOUT", "local_url", "probe", "server_url", "shared_server"]

PROBE_TIMEOUT = 0.3  # seconds: a local server answers in a few ms; a desktop client waits on us


async def shared_server(config: Config) -> tuple[str, bool] | None:
    """The mapsrv whose maps ``mapsrv stdio`` works on, and whether it answers now; None for maps
    of its own. Without --server: the one at --host/--port if a mapsrv answers there (never with
    --port 0, nor with a --store of its own, whose maps are shared already)."""
    if config.server == "none":
        return None
    if config.server:
        url = server_url(config.server)
        return url, await probe(url)
    if config.port == 0 or config.store:
        return None
    url = local_url(config.host, config.port)
    return (url, True) if await probe(url) else None


def server_url(url: str) -> str:
    """``http://host:port`` from what a person may write: a trailing ``/`` or ``/mcp`` is dropped."""
    url = url.strip().rstrip("/")
    return url[: -len("/mcp")] if url.endswith("/mcp") else url


def local_url(host: str, port: int) -> str:
    """Where ``mapsrv serve --host HOST --port PORT`` answers on this machine."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host and not host.startswith("[") else f"http://{host}:{port}"


async def probe(url: str, *, timeout: float = PROBE_TIMEOUT) -> bool:  # noqa: ASYNC109
    """Whether a mapsrv answers at ``url``: its ``/ready`` says ready, store and draining (a
    503 while it drains or while its Redis is away is still a mapsrv; the gateway's ``/ready``
    says only ready, and is no map server)."""
    # Building a TLS context took 60-300 ms on a busy machine, as long as the whole probe may take:
    # a plain http:// URL needs none, and the client is built before the clock starts.
    async with httpx2.AsyncClient(timeout=timeout, verify=not url.startswith("http://")) as client:
        with trio.move_on_after(timeout):
            try:
                response = await client.get(url + "/ready")
                body = response.json()
            except (httpx2.HTTPError, ValueError):
                return False
            return (
                response.status_code in (200, 503)
                and isinstance(body, dict)
                and {"ready", "store", "draining"} <= body.keys()
            )
    return False
