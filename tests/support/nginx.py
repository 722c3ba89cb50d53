"""nginx-light in front of mapsrv servers, from the shipped ``deploy/local/nginx.conf.template``
(filled in as ``deploy/local/run.sh`` does), run unprivileged from a temp dir and stopped by PID."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from .processes import free_port, wait_for_port
from .waiting import require

__all__ = ["Proxy", "nginx_binary", "open_nginx", "render_nginx_conf"]

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "local" / "nginx.conf.template"


@dataclass(frozen=True)
class Proxy:
    port: int
    pid: int

    @property
    def host_port(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    require(found is not None, "nginx")
    assert found is not None
    return found


def render_nginx_conf(directory: Path, listen_port: int, backends: Sequence[int], binary: str) -> str:
    user = ""
    if os.geteuid() == 0:
        user = "user nobody nogroup;"
    built = subprocess.run([binary, "-V"], capture_output=True, text=True, check=False).stderr
    other = "\n".join(
        f"    {module}_temp_path {directory}/nginx-temp/{module};"
        for module in ("fastcgi", "uwsgi", "scgi")
        if f"--without-http_{module}_module" not in built
    )
    a_port, b_port = backends[0], backends[-1]
    text = TEMPLATE.read_text()
    for name, value in {
        "@@DIR@@": str(directory),
        "@@USER@@": user,
        "@@LISTEN@@": f"127.0.0.1:{listen_port}",
        "@@A_PORT@@": str(a_port),
        "@@B_PORT@@": str(b_port),
    }.items():
        text = text.replace(name, value)
    return "\n".join(other if line == "@@OTHER_TEMP_PATHS@@" else line for line in text.splitlines()) + "\n"


@asynccontextmanager
async def open_nginx(directory: Path, backends: Sequence[int]) -> AsyncIterator[Proxy]:
    binary = nginx_binary()
    port = free_port()
    (directory / "nginx-temp").mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(render_nginx_conf(directory, port, backends, binary))
    process = await trio.lowlevel.open_process(
        [binary, "-p", str(directory), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_for_port(port)
        yield Proxy(port=port, pid=process.pid)
    finally:
        process.terminate()
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()
