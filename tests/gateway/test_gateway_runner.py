"""The child runner against a misbehaving stdio server of our own, with real processes."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from gateway_support import MISBEHAVE, alive, processes_in, request, tool_call
from support import wait_until
from support.procfs import no_zombies

from mapsrv.gateway.framing import Line, LineSplitter, Oversize
from mapsrv.gateway.procs import Spawner, set_parent_death_signal, setpriv, with_parent_death_signal
from mapsrv.gateway.runner import Child, Children, ChildSpec, ExitReason, Frames, child_environment


def test_splitter_frames_across_chunks_and_skips_oversize_lines() -> None:
    splitter = LineSplitter(10)
    assert splitter.feed(b'{"a"') == []
    assert splitter.feed(b":1}\r\n{}\n") == [Line(b'{"a":1}'), Line(b"{}")]
    big = splitter.feed(b'{"id":7,' + b"x" * 20)
    assert big == [] and splitter.pending == 0
    assert splitter.feed(b"yy\nok\n") == [Oversize(b'{"id":7,' + b"x" * 20, 30), Line(b"ok")]


def test_splitter_is_linear_in_line_length() -> None:
    splitter = LineSplitter(64 * 1024 * 1024)
    chunk = b"x" * 65536
    for _ in range(512):  # 32 MiB in 64 KiB reads: one pass, not one per read
        assert splitter.feed(chunk) == []
    assert splitter.feed(b"\n") == [Line(chunk * 512)]


def test_environment_allowlist_keeps_the_gateways_secrets() -> None:
    spec = ChildSpec(("x",), env={"TOKEN_FOR_CHILD": "1"})
    env = child_environment(spec, {"PATH": "/bin", "MAPSRV_API_KEYS": "a:b", "LC_ALL": "C"}, ["PATH", "LC_*"])
    assert env == {"PATH": "/bin", "LC_ALL": "C", "TOKEN_FOR_CHILD": "1"}


async def receive_message(child_frames: Frames) -> dict[str, object]:
    with trio.fail_after(10):
        while True:
            frame = await child_frames.receive()
            if isinstance(frame, Line) and frame.data.startswith(b"{"):
                return dict(json.loads(frame.data))


async def test_round_trip_and_a_clean_stop(children: Children) -> None:
    child = await children.spawn(ChildSpec(MISBEHAVE), "t1")
    await child.send(tool_call(1, "echo", text="hello"))
    answer = await receive_message(child.frames)
    assert answer["id"] == 1 and answer["result"]["content"][0]["text"] == "hello"  # type: ignore[index]
    child.stop()
    with trio.fail_after(5):
        await child.gone.wait()
    assert child.reason == ExitReason.STOPPED
    assert processes_in(child.pid) == []
    await no_zombies()


async def test_garbage_lines_reach_the_owner_as_lines(children: Children) -> None:
    child = await children.spawn(ChildSpec((*MISBEHAVE, "--garbage-at-start")), "t2")
    await child.send(tool_call(1, "garbage"))
    frames = []
    with trio.fail_after(10):
        while not frames or not frames[-1].startswith(b"{"):
            frame = await child.frames.receive()
            assert isinstance(frame, Line)
            frames.append(frame.data)
    assert frames[0] == b"misbehave starting up" and b"this is not json" in frames
    child.stop()


async def test_an_oversize_line_is_skipped_with_its_head_and_the_next_one_passes(
    children: Children,
) -> None:
    child = await children.spawn(ChildSpec(MISBEHAVE), "t3")
    await child.send(tool_call(41, "huge", size=3 * 1024 * 1024))  # the fixture's cap is 1 MiB
    await child.send(tool_call(42, "echo", text="still here"))
    with trio.fail_after(10):
        frame = await child.frames.receive()
    assert isinstance(frame, Oversize) and frame.size > 3 * 1024 * 1024
    assert b'"id": 41' in frame.prefix
    assert (await receive_message(child.frames))["id"] == 42
    child.stop()


async def test_a_child_that_exits_mid_call_is_reported_crashed(children: Children) -> None:
    child = await children.spawn(ChildSpec(MISBEHAVE), "t4")
    await child.send(tool_call(1, "crash"))
    with trio.fail_after(5):
        await child.gone.wait()
    assert child.reason == ExitReason.CRASHED and child.returncode == 3
    assert processes_in(child.pid) == []
    await no_zombies()
    with trio.fail_after(5):
        assert [frame async for frame in child.frames] == []  # stdout closed: the channel ends


async def test_ignoring_stdin_close_and_sigterm_ends_in_sigkill(children: Children) -> None:
    child = await children.spawn(ChildSpec((*MISBEHAVE, "--ignore-term", "--ignore-eof")), "t5")
    await child.send(request(1, "ping"))
    await receive_message(child.frames)  # up, with SIGTERM ignored
    child.stop()
    with trio.fail_after(5):
        await child.gone.wait()
    assert child.returncode == -9
    assert processes_in(child.pid) == []
    await no_zombies()


async def group_killed(child: Child, children: Children, after: str = "the session ended") -> None:
    """The child's whole process group dies when it ends, not its leader alone: the runner TERMs the
    group (a member that ignores TERM gets KILL after the grace). A member still alive past the grace
    and a margin means the group was not killed: the test kills it then, so that neither the runner
    (which waits 5 s more for the group) nor the leftover processes outlive the failure."""
    members: list[int] = []

    def empty() -> bool:
        members[:] = [pid for pid, state in processes_in(child.pid) if state not in ("Z", "X")]
        return not members

    try:
        await wait_until(empty, timeout=children.grace + 1.5)
    except trio.TooSlowError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        raise AssertionError(
            f"process group {child.pid} still has live members after {after}: pids {members}"
        ) from None


@pytest.mark.parametrize("shell", [False, True])
async def test_a_wrappers_background_children_die_with_it(children: Children, shell: bool) -> None:
    inner = shlex.join(MISBEHAVE)
    script = f"sleep 1000 & sleep 1001 & exec {inner}"
    spec = ChildSpec((script,), shell=True) if shell else ChildSpec(("sh", "-c", script))
    child = await children.spawn(spec, "t6")
    await child.send(request(1, "ping"))
    await receive_message(child.frames)
    assert len([p for p, state in processes_in(child.pid) if state != "Z"]) == 3
    child.stop()
    await group_killed(child, children)
    with trio.fail_after(5):
        await child.gone.wait()
    assert processes_in(child.pid) == []
    await no_zombies()


async def test_grandchildren_orphaned_by_a_crash_are_killed_and_reaped(children: Children) -> None:
    child = await children.spawn(ChildSpec(MISBEHAVE), "t7")
    await child.send(tool_call(1, "grandchild"))
    sleeper = int((await receive_message(child.frames))["result"]["content"][0]["text"])  # type: ignore[index]
    assert alive(sleeper)
    await child.send(tool_call(2, "crash"))
    await group_killed(child, children, after="its leader crashed")
    with trio.fail_after(5):
        await child.gone.wait()
    assert not alive(sleeper)
    assert processes_in(child.pid) == []
    await no_zombies()


async def test_stderr_is_logged_with_the_session_and_bounded(
    children: Children, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "mapsrv.gateway.child")
    child = await children.spawn(ChildSpec(MISBEHAVE), "session-x")
    await child.send(tool_call(1, "stderr", lines=400, width=5000))  # 2 MB of stderr
    await receive_message(child.frames)
    child.stop()
    with trio.fail_after(5):
        await child.gone.wait()
    lines = [
        r for r in caplog.records if r.name == "mapsrv.gateway.child" and r.getMessage().startswith("line")
    ]
    assert lines and all(getattr(r, "session", None) == "session-x" for r in lines)
    assert all(len(r.getMessage()) <= 2048 + 3 for r in lines)
    assert sum(len(r.getMessage()) for r in lines) <= 256 * 1024 + 2100
    assert child.stderr_bytes > 2_000_000


async def test_the_child_gets_only_allowed_variables(children: Children) -> None:
    os.environ["MAPSRV_GATEWAY_TEST_SECRET"] = "s3cret"
    try:
        children.environ = dict(os.environ)
        child = await children.spawn(ChildSpec(MISBEHAVE, env={"GIVEN": "1"}), "t8")
    finally:
        del os.environ["MAPSRV_GATEWAY_TEST_SECRET"]
    await child.send(tool_call(1, "env"))
    names = (await receive_message(child.frames))["result"]["content"][0]["text"].split(",")  # type: ignore[index]
    assert "GIVEN" in names and "MAPSRV_GATEWAY_TEST_SECRET" not in names
    assert set(names) <= {"PATH", "HOME", "LANG", "GIVEN", "LC_CTYPE"}
    child.stop()


async def test_a_spawned_child_dies_with_the_threads_that_forked_it() -> None:
    """The signal follows the forking thread, which is why the spawner keeps its own: closing
    the spawner ends them, and that kills the child (set before exec, so there is no gap)."""
    spawner = Spawner(threads=2)
    process = await spawner.popen(
        ["sleep", "1000"], preexec_fn=set_parent_death_signal, start_new_session=True
    )
    assert alive(process.pid)
    spawner.close()
    await wait_until(lambda: process.poll() is not None, timeout=10)  # a Popen has no awaitable exit
    assert process.returncode == -signal.SIGKILL


def comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def _wrapped(argv: list[str]) -> list[str]:
    if setpriv() is None:
        pytest.fail("setpriv (util-linux) is needed: children are vforked through it")
    wrapped = with_parent_death_signal(argv, dict(os.environ), None)
    assert wrapped is not None
    return wrapped


async def test_a_vforked_child_dies_with_the_process_that_forked_it() -> None:
    """setpriv sets the signal in the child after exec; a parent killed with -9 takes it along."""
    _wrapped(["true"])  # fails the test without setpriv
    parent_code = (
        "import os, subprocess, sys, time\n"
        "from mapsrv.gateway.procs import with_parent_death_signal\n"
        "argv = with_parent_death_signal(['sleep', '1000'], dict(os.environ), None)\n"
        "p = subprocess.Popen(argv, start_new_session=True)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(1000)\n"  # the parent stays until the test kills it: that death is under test
    )
    parent = await trio.lowlevel.open_process([sys.executable, "-c", parent_code], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    with trio.fail_after(10):
        pid = int(await parent.stdout.receive_some())
    # until setpriv and sh have exec'd it: the signal is set
    await wait_until(lambda: comm(pid) == "sleep", timeout=10)
    assert alive(pid)
    parent.kill()
    with trio.fail_after(10):
        await parent.wait()
    await wait_until(lambda: not alive(pid), timeout=10)  # only /proc knows; it may be re-parented to us
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 (WNOHANG: never blocks)


def test_a_child_whose_parent_died_before_the_signal_was_set_never_runs(tmp_path: Path) -> None:
    """The gap between exec and setting the signal: the wrapper runs the command only while
    the process that forked it is still its parent (here it names another one)."""
    marker = tmp_path / "ran"
    argv = _wrapped(["touch", str(marker)])
    pid_at = argv.index(str(os.getpid()))
    assert subprocess.run(argv, check=False).returncode == 0 and marker.exists()
    marker.unlink()
    argv[pid_at] = "1"
    assert subprocess.run(argv, check=False).returncode == 125 and not marker.exists()


def test_a_command_that_cannot_run_fails_the_spawn_as_popen_would(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _wrapped(["mapsrv-no-such-command"])
    with pytest.raises(FileNotFoundError):
        _wrapped([str(tmp_path / "missing")])
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(PermissionError):
        _wrapped([str(script)])


async def test_without_setpriv_children_are_forked_from_the_spawners_threads(
    monkeypatch: pytest.MonkeyPatch, nursery: trio.Nursery
) -> None:
    """The fallback: a preexec_fn sets the signal, so the whole gateway is forked (no vfork)."""
    monkeypatch.setattr("mapsrv.gateway.runner.setpriv", lambda: None)
    monkeypatch.setattr("mapsrv.gateway.procs.setpriv", lambda: None)
    children = Children(allow_env=["PATH", "HOME", "LANG"], max_line=1024 * 1024, grace=0.5)
    await nursery.start(children.serve)
    assert children._spawner is not None
    child = await children.spawn(ChildSpec(MISBEHAVE), "t1")
    assert comm(child.pid) != "setpriv"
    await child.send(tool_call(1, "echo", text="hello"))
    assert (await receive_message(child.frames))["id"] == 1
    child.stop()
    with trio.fail_after(5):
        await child.gone.wait()
    assert processes_in(child.pid) == []
