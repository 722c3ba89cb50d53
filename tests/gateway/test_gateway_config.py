"""The gateway's settings: its own conversions (durations, sizes, lists, booleans), errors that
name the key and the value, and servers from the command or from an ``mcpServers`` file; and the
threads and processes a gateway instance leaves behind once it stops (none)."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest
import trio
from gateway_support import start_gateway
from support.procfs import no_zombies

from mapsrv.config import ConfigError
from mapsrv.gateway.config import GatewayConfig, load_servers
from mapsrv.gateway.forward import Owners


def test_settings_convert_from_text_as_mapsrv_serve_words_them() -> None:
    config = GatewayConfig.from_sources(
        {
            "MAPSRV_GATEWAY_GRACEFUL_TIMEOUT": "20s",
            "MAPSRV_GATEWAY_IDLE_TIMEOUT": "30m",
            "MAPSRV_GATEWAY_MAX_LINE": "16MiB",
            "MAPSRV_GATEWAY_CHILD_ENV": "PATH, HOME,LC_*",
            "MAPSRV_GATEWAY_METRICS": "off",
            "OTHER": "ignored",
        },
        {"port": "8_080", "warm": None},
    )
    assert (config.graceful_timeout, config.idle_timeout, config.max_line) == (20.0, 1800.0, 16 * 1024**2)
    assert config.child_env == ("PATH", "HOME", "LC_*") and config.metrics is False and config.port == 8080
    with pytest.raises(ConfigError, match=r"'kill_grace' has value 'soon'\. Not a valid number or duration"):
        GatewayConfig.from_sources({"MAPSRV_GATEWAY_KILL_GRACE": "soon"})
    with pytest.raises(ConfigError, match="Unknown setting MAPSRV_GATEWAY_PROT"):
        GatewayConfig.from_sources({"MAPSRV_GATEWAY_PROT": "1"})
    with pytest.raises(ConfigError, match=r"'warm' has value 5000\. It must be between 0 and 1000"):
        GatewayConfig(warm=5000)


def test_servers_come_from_the_command_or_a_file(tmp_path: Path) -> None:
    (one,) = load_servers(GatewayConfig(), ["uvx", "mcp-server-time"])
    assert (one.name, one.prefix, one.child.command) == ("default", "", ("uvx", "mcp-server-time"))
    path = tmp_path / "servers.json"
    path.write_text(json.dumps({"mcpServers": {"a": {"command": "x", "args": ["1"], "env": {"K": "v"}}}}))
    (named,) = load_servers(GatewayConfig(config=str(path)), [])
    assert (named.prefix, named.child.command, dict(named.child.env)) == ("/a", ("x", "1"), {"K": "v"})
    with pytest.raises(ConfigError, match="not both"):
        load_servers(GatewayConfig(config=str(path)), ["x"])
    for bad, message in [
        ({"mcpServers": {"metrics": {"command": "x"}}}, "not a route"),
        ({"mcpServers": {"a": {"args": []}}}, 'needs a "command"'),
        ({"mcpServers": {"a": {"command": "x", "url": "y"}}}, "unknown keys"),
        ({"servers": {}}, "expected"),
    ]:
        path.write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match=message):
            load_servers(GatewayConfig(config=str(path)), [])


async def test_a_stopped_gateway_leaves_no_thread_and_no_watchdog() -> None:
    before = {t.ident for t in threading.enumerate()}
    async with trio.open_nursery() as nursery:
        gateway = await start_gateway(nursery)
        watchdog = gateway.children._watchdog
        assert watchdog is not None
        gateway.shutdown()
    assert {t.ident for t in threading.enumerate()} - before == set()  # the spawner thread ended
    assert watchdog.process.returncode == 0
    assert gateway.children.groups == {}  # a spawn cut short is killed too
    await no_zombies()


def test_a_session_id_names_its_owner_and_cannot_be_forged() -> None:
    a = Owners("http://10.0.0.1:8080", "k" * 16)
    b = Owners("http://10.0.0.2:8080/", "k" * 16)
    session_id = a.new_id()
    assert a.owner_of(session_id) is None  # ours: served here
    assert b.owner_of(session_id) == "http://10.0.0.1:8080"
    nonce, owner, mac = session_id.split(".")
    evil = base64.urlsafe_b64encode(b"http://169.254.169.254").rstrip(b"=").decode()
    for forged in (f"{nonce}.{evil}.{mac}", f"{nonce}x.{owner}.{mac}", "plain", None, "a.b.c"):
        assert b.owner_of(forged) is None
    assert Owners("http://10.0.0.1:8080", "another-key-16ch").owner_of(session_id) is None
    with pytest.raises(ConfigError, match="go together"):
        GatewayConfig(peer_url="http://10.0.0.1:8080")
    with pytest.raises(ConfigError, match="Use http://HOST:PORT"):
        GatewayConfig(peer_url="10.0.0.1", peer_key="k" * 16)
