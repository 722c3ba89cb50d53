"""``deploy/local/run.sh`` stops every child it started, whatever order its signals come in:
SIGTERM while a SIGHUP restart waits for a new mapsrv (started, not ready, not printed yet), and
SIGHUP, SIGINT or a second SIGTERM while it is stopping. Real redis-server, mapsrv and nginx. The
moments are held, not hoped for: a child frozen with SIGSTOP keeps run.sh waiting exactly where
the test wants it, and the test lets it go once /proc shows the SIGTERM run.sh sent it.

``open_topology`` (shared with tests/system/test_failover.py) checks at the end that no process of the
topology is left, printed or not, and that run.sh ended by the first SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import trio
from support import wait_until
from support.procfs import described, proc_stats, with_default_signals
from test_failover import RUN_SH, Topology, open_topology, running


def pending(pid: int) -> set[signal.Signals]:
    """The signals sent to ``pid`` that it has not handled yet (a stopped process keeps them)."""
    mask = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("SigPnd:", "ShdPnd:")):
                mask |= int(line.split()[1], 16)
    return {s for s in signal.Signals if mask >> (s - 1) & 1}


async def freeze(pid: int) -> None:
    """SIGSTOP, until it has stopped: a signal sent before that could still be handled."""
    os.kill(pid, signal.SIGSTOP)

    def frozen() -> bool:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "T"

    await wait_until(frozen, timeout=10)


async def kill_9(topology: Topology, name: str) -> None:
    """``kill -9`` a mapsrv, until it has died (run.sh may not have reaped it yet)."""
    pid = topology.components[name].pid
    os.kill(pid, signal.SIGKILL)
    await wait_until(lambda: not running(pid), timeout=10)


async def stopped(topology: Topology) -> None:
    with trio.fail_after(60):
        await topology.process.wait()


async def test_sigterm_during_a_restart_stops_the_new_process_with_its_peer_before_redis(
    tmp_path: Path,
) -> None:
    async with open_topology(tmp_path / "local") as topology:
        dead = topology.components["mapsrv-a"]
        printed = {c.pid for c in topology.components.values()}
        await kill_9(topology, "mapsrv-a")
        os.kill(topology.pid, signal.SIGHUP)
        # The new process, caught before it is ready: frozen, it never will be, so run.sh stays
        # inside its SIGHUP handler waiting for it, with the new PID not printed. (Python takes
        # about a second to import mapsrv: time enough to catch it.)
        with trio.move_on_after(30):
            await wait_until(lambda: newborns(topology, printed), timeout=31)
        assert newborns(topology, printed), f"no new mapsrv in 30 s: run.sh is {described(topology.pid)}"
        (newborn,) = newborns(topology, printed)
        await freeze(newborn)
        assert topology.components["mapsrv-a"] == dead, "too late: it was ready before it froze"

        os.kill(topology.pid, signal.SIGTERM)
        await wait_until(lambda: signal.SIGTERM in pending(newborn) or topology.ended, timeout=30)
        assert not topology.ended, "run.sh ended without stopping the mapsrv it was restarting"
        # Stopped with mapsrv-b, before the Redis it flushes to.
        assert running(topology.components["redis"].pid)
        os.kill(newborn, signal.SIGCONT)
        await stopped(topology)


def newborns(topology: Topology, printed: set[int]) -> set[int]:
    """The topology's processes run.sh started since ``printed``, its own children only: a
    process the new mapsrv forks (a library's helper, between its fork and its exec) has the
    same command line for a moment, and was once taken for a second new mapsrv."""
    stats = proc_stats()
    return {p for p in set(topology.processes()) - printed if p in stats and int(stats[p][1]) == topology.pid}


@pytest.mark.parametrize("second", [signal.SIGHUP, signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
async def test_a_signal_while_stopping_does_not_cut_the_stop_short(
    tmp_path: Path, second: signal.Signals
) -> None:
    async with open_topology(tmp_path / "local") as topology:
        nginx = topology.components["nginx"].pid
        # run.sh stops nginx first and waits for it: frozen, it holds run.sh in its cleanup.
        await freeze(nginx)
        os.kill(topology.pid, signal.SIGTERM)
        await wait_until(lambda: signal.SIGTERM in pending(nginx), timeout=30)
        os.kill(topology.pid, second)
        os.kill(nginx, signal.SIGCONT)
        await stopped(topology)


@pytest.mark.parametrize("order", [("SIGHUP", "SIGTERM"), ("SIGTERM", "SIGHUP")], ids="-then-".join)
async def test_sighup_and_sigterm_back_to_back_after_a_kill_9(tmp_path: Path, order: tuple[str, str]) -> None:
    """Unheld: wherever the second signal lands (restart started or not, cleanup started or
    not), nothing is left. Three runs, each a new topology."""
    for run in range(3):
        async with open_topology(tmp_path / f"local-{run}") as topology:
            await kill_9(topology, "mapsrv-b")
            for name in order:
                os.kill(topology.pid, signal.Signals[name])
            await stopped(topology)


@pytest.mark.parametrize("ignored", [False, True], ids=["as-from-a-terminal", "under-nohup"])
async def test_a_sighup_ignored_at_start_is_said_at_once(tmp_path: Path, ignored: bool) -> None:
    """nohup starts run.sh with SIGHUP ignored, and a script cannot trap a signal it started
    ignoring (bash says nothing): run.sh says so as it starts, rather than let a later kill -HUP
    restart nothing. Here it then stops at once: its Redis port is taken."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        command = ["bash", str(RUN_SH), "--redis-port", str(taken.getsockname()[1])]
        if ignored:
            command = ["env", "--ignore-signal=HUP", *command]
        with trio.fail_after(60):
            result = await trio.run_process(
                with_default_signals(command),
                env={**os.environ, "MAPSRV_LOCAL_DIR": str(tmp_path / "local")},
                check=False,
                capture_stdout=True,
                capture_stderr=True,
                stdin=subprocess.DEVNULL,
            )
    said = result.stderr.decode()
    assert result.returncode == 1, said
    assert "redis exited during startup" in said
    assert ("SIGHUP was ignored when run.sh started" in said) == ignored, said
    assert "SIGINT was ignored" not in said and "SIGTERM was ignored" not in said, said
