"""The gateway's typed configuration: defaults, then ``MAPSRV_GATEWAY_*`` variables, then flags.

Its own prefix, because ``mapsrv serve`` refuses unknown ``MAPSRV_*`` variables and the two
commands share no setting by meaning (the gateway's sessions are children, not maps). Values are
converted and errors worded as ``mapsrv serve`` words them (durations such as ``30s`` or ``5m``; sizes
such as ``32MiB`` too). Servers come from the command after
``--`` (one server, at ``/mcp`` and ``/sse``) or from ``--config FILE`` in the ``mcpServers``
shape desktop clients use (each at ``/<name>/mcp`` and ``/<name>/sse``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapsrv.config import (
    MIB,
    MINUTES,
    SECONDS,
    ConfigError,
    add_setting_flags,
    check_logging,
    check_range,
    settings_from_sources,
)
from mapsrv.config.sources import about
from mapsrv.gateway.runner import ChildSpec

__all__ = ["ENV_PREFIX", "GatewayConfig", "ServerSpec", "add_arguments", "load_servers"]

ENV_PREFIX = "MAPSRV_GATEWAY_"
DEFAULT_CHILD_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_*", "TZ", "TMPDIR", "TERM",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "VIRTUAL_ENV",
)  # fmt: skip
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class ServerSpec:
    name: str
    child: ChildSpec
    prefix: str  # URL path prefix: "" for the single server, "/<name>" otherwise


@dataclass(frozen=True)
class GatewayConfig:
    host: str = field(default="127.0.0.1", metadata=about("address to listen on"))
    port: int = field(default=8000, metadata=about("port to listen on (0 picks a free one)"))
    config: str = field(default="", metadata=about('a JSON file of servers by name ({"mcpServers": ...})'))
    shell: bool = field(default=False, metadata=about("run the command through /bin/sh -c"))
    warm: int = field(default=1, metadata=about("children kept spawned and waiting, per server"))
    stateless_children: int = field(
        default=1, metadata=about("children shared by stateless 2026-07-28 requests, per server (0: none)")
    )
    max_sessions: int = field(default=200, metadata=about("most open sessions (more get 503)"))
    max_line: int = field(default=32 * MIB, metadata=about("largest message relayed either way, in bytes"))
    max_body_size: int = field(default=32 * MIB, metadata=about("largest request body in bytes"))
    idle_timeout: float = field(default=30 * MINUTES, metadata=about("end a session idle this long"))
    heartbeat_interval: float = field(default=15 * SECONDS, metadata=about("seconds between SSE heartbeats"))
    kill_grace: float = field(default=5 * SECONDS, metadata=about("SIGTERM to SIGKILL delay for a child"))
    call_timeout: float = field(
        default=5 * MINUTES,
        metadata=about("end a session whose server sends nothing this long while a request waits"),
    )
    crash_limit: int = field(default=5, metadata=about("early child exits within crash-window that mean 503"))
    crash_window: float = field(default=30 * SECONDS, metadata=about("window for crash-limit"))
    child_env: tuple[str, ...] = field(
        default=DEFAULT_CHILD_ENV, metadata=about("gateway variables children see (comma-separated patterns)")
    )
    allowed_hosts: tuple[str, ...] = field(
        default=("localhost", "127.0.0.1", "[::1]"), metadata=about("Host header names accepted (* any)")
    )
    allowed_origins: tuple[str, ...] = field(default=(), metadata=about("extra Origins allowed"))
    api_keys: tuple[str, ...] = field(default=(), metadata=about("API keys as name:secret; none = open"))
    drain_delay: float = field(default=0.0, metadata=about("on SIGTERM, answer /ready 503 this long first"))
    graceful_timeout: float = field(
        default=10 * SECONDS, metadata=about("seconds to finish calls on SIGTERM")
    )
    peer_url: str = field(
        default="", metadata=about("this process's URL as other gateway processes reach it (forwarding)")
    )
    peer_key: str = field(
        default="", metadata=about("secret all gateway processes share to sign session ids")
    )
    peer_timeout: float = field(
        default=5 * SECONDS,
        metadata=about("a session's owner process that does not answer this long is down"),
    )
    log_level: str = field(default="info", metadata=about("debug, info, warning or error"))
    log_format: str = field(default="text", metadata=about("text or json"))
    metrics: bool = field(default=True, metadata=about("serve Prometheus metrics at /metrics"))

    def __post_init__(self) -> None:
        checks: dict[str, tuple[float, float]] = {
            "port": (0, 65535),
            "warm": (0, 1000),
            "stateless_children": (0, 1000),
            "max_sessions": (1, 1_000_000),
            "max_line": (1024, 1024 * MIB),
            "max_body_size": (1024, 1024 * MIB),
            "idle_timeout": (0.001, 365 * 86400),
            "heartbeat_interval": (0.001, 3600),
            "kill_grace": (0, 600),
            "call_timeout": (0.001, 7 * 86400),
            "peer_timeout": (0.001, 600),
            "crash_limit": (1, 1_000_000),
            "crash_window": (0.001, 86400),
            "drain_delay": (0, 3600),
            "graceful_timeout": (0, 3600),
        }
        for name, (low, high) in checks.items():
            check_range(self, name, low, high)
        check_logging(self)
        if bool(self.peer_url) != bool(self.peer_key) or (self.peer_key and len(self.peer_key) < 16):
            raise ConfigError(
                "Config 'peer_url' and 'peer_key' go together; the key is at least 16 characters."
            )
        if self.peer_url and not re.fullmatch(r"https?://[^/?#\s]+", self.peer_url):
            raise ConfigError(f"Config 'peer_url' has value {self.peer_url!r}. Use http://HOST:PORT.")

    @classmethod
    def from_sources(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> GatewayConfig:
        return cls(**settings_from_sources(cls, ENV_PREFIX, environ, overrides))

    def replace(self, **changes: Any) -> GatewayConfig:
        return dataclasses.replace(self, **changes)


def load_servers(config: GatewayConfig, command: list[str]) -> list[ServerSpec]:
    """The servers to serve: the command, or the ``mcpServers`` in ``config.config``."""
    if command and config.config:
        raise ConfigError("give either a command after -- or --config FILE, not both")
    if command:
        return [ServerSpec("default", ChildSpec(tuple(command), shell=config.shell), "")]
    if not config.config:
        raise ConfigError("no server to run: give a command after -- or --config FILE")
    try:
        document = json.loads(Path(config.config).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Config 'config' has value {config.config!r}. {exc}") from None
    entries = document.get("mcpServers") if isinstance(document, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f'{config.config}: expected {{"mcpServers": {{"name": {{"command": ...}}}}}}')
    return [_server_from_entry(config.config, name, entry) for name, entry in entries.items()]


def _server_from_entry(path: str, name: str, entry: Any) -> ServerSpec:
    where = f"{path}: server {name!r}"
    if not _NAME.fullmatch(name) or name in (
        "health",
        "ready",
        "status",
        "metrics",
        "mcp",
        "sse",
        "messages",
    ):
        raise ConfigError(f"{where}: a name is 1-64 letters, digits, '.', '_' or '-', and not a route")
    if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
        raise ConfigError(f'{where}: needs a "command" string')
    unknown = set(entry) - {"command", "args", "env", "cwd", "shell", "type", "disabled"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    args, env = entry.get("args", []), entry.get("env", {})
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError(f'{where}: "args" must be a list of strings')
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ConfigError(f'{where}: "env" must map names to strings')
    cwd = entry.get("cwd")
    child = ChildSpec((entry["command"], *args), env=env, cwd=cwd, shell=bool(entry.get("shell", False)))
    return ServerSpec(name, child, "/" + name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_setting_flags(parser, GatewayConfig, ENV_PREFIX, secrets=("api_keys", "peer_key"), switches=True)
