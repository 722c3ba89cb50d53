"""A real WMS for the tests: Debian's MapServer (``cgi-mapserver``) run as a CGI program per
request behind a tiny runner, with a mapfile of the tests' own data (one green box, -60..60 E,
-40..40 N, drawn on a transparent background)."""

from __future__ import annotations

import os
from pathlib import Path

import trio

from support.sources import http_answer

__all__ = ["MAPSERV", "GREEN", "wms_answer"]

MAPSERV = Path("/usr/lib/cgi-bin/mapserv")
GREEN = (0, 160, 0)
MAPFILE = """MAP
  NAME "tests"
  EXTENT -180 -85 180 85
  SIZE 256 256
  PROJECTION "init=epsg:4326" END
  WEB METADATA
    "wms_title" "mapsrv tests"
    "wms_srs" "EPSG:3857 EPSG:4326"
    "wms_enable_request" "*"
  END END
  OUTPUTFORMAT
    NAME "png" DRIVER AGG/PNG MIMETYPE "image/png" IMAGEMODE RGBA EXTENSION "png" TRANSPARENT ON
  END
  LAYER
    NAME "zones" TYPE POLYGON STATUS ON
    PROJECTION "init=epsg:4326" END
    METADATA "wms_title" "zones" END
    FEATURE POINTS -60 -40 60 -40 60 40 -60 40 -60 -40 END END
    CLASS STYLE COLOR 0 160 0 END END
  END
END
"""


def wms_answer(workdir: Path):  # type: ignore[no-untyped-def]
    """An answer (``support.sources``) that runs MapServer for each request's query."""
    (workdir / "test.map").write_text(MAPFILE)
    config = workdir / "mapserver.conf"
    config.write_text(f'CONFIG\n  ENV\n    MS_MAPFILE "{workdir / "test.map"}"\n  END\nEND\n')
    asked: list[str] = []

    async def answer(target: str, stream: trio.SocketStream) -> None:
        query = target.split("?", 1)[1] if "?" in target else ""
        asked.append(query)
        env = {**os.environ, "QUERY_STRING": query, "REQUEST_METHOD": "GET"}
        env["MAPSERVER_CONFIG_FILE"] = str(config)
        done = await trio.run_process([str(MAPSERV)], env=env, capture_stdout=True, check=False)
        head, _, body = done.stdout.partition(b"\r\n\r\n")
        content_type = head.decode().split(":", 1)[1].strip() if b":" in head else "text/plain"
        await stream.send_all(http_answer("200 OK", body, content_type))

    answer.asked = asked  # type: ignore[attr-defined]
    return answer
