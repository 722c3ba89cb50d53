"""Logging: one event per line, as JSON for machines or as text for a terminal.

Nothing secret goes in: map ids, view keys and API keys are capabilities, so a map appears only as
``map_ref`` (a short hash that correlates log lines without granting anything), paths only as
route templates, and no map contents are logged.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

__all__ = ["JsonFormatter", "setup_logging"]

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                event[key] = value
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")]
        return f"{line} {' '.join(extras)}" if extras else line


def setup_logging(level: str, fmt: str) -> None:
    """Configure the root logger once, before the MCP SDK would (its MCPServer calls basicConfig)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # At DEBUG the SDK logs resource URIs (``map://<map id>``), session ids and tool results: all
    # capabilities or map contents. Its DEBUG lines never reach mapsrv's log, whatever our level.
    logging.getLogger("mcp").setLevel(max(logging.INFO, root.level))
    # The SDK logs every session start and stop at INFO; that is our access log's job.
    for noisy in (
        "mcp.server.streamable_http_manager",
        "mcp.server.streamable_http",
        "mcp.server.lowlevel.server",
        "httpx",
        "httpx2",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
