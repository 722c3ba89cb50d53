"""A helper process that kills the children's process groups when the gateway dies, however it
dies (``kill -9`` included).

``PR_SET_PDEATHSIG`` reaches only the direct child; a wrapper's own children (``sh -c``, ``npx``,
``uvx``) stay in the child's process group but get no signal. The watchdog is told each group as
it starts and ends, on a pipe whose write end only the gateway holds: when the gateway is gone,
the pipe reads end-of-file and the watchdog kills every group still listed. Groups whose members
called ``setsid`` have left and are out of reach; the gateway's own TERM/KILL never reach them
either.
"""

from __future__ import annotations

import os
import subprocess
import sys

import trio

__all__ = ["Watchdog"]

_SOURCE = """
import os, signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
groups, buf = set(), b""
while True:
    try:
        data = os.read(0, 65536)
    except InterruptedError:
        continue
    if not data:
        break
    buf += data
    *lines, buf = buf.split(b"\\n")
    for line in lines:
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


class Watchdog:
    def __init__(self) -> None:
        read_end, self._write_end = os.pipe()  # both close-on-exec: no child inherits them
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _SOURCE],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not in any child's group, nor in a terminal's Ctrl-C
        )
        os.close(read_end)

    def watch(self, pgid: int) -> None:
        self._tell(b"+%d\n" % pgid)

    def forget(self, pgid: int) -> None:
        self._tell(b"-%d\n" % pgid)

    def _tell(self, line: bytes) -> None:
        if self._write_end >= 0:
            os.write(self._write_end, line)  # a few bytes into a pipe: never blocks in practice

    async def aclose(self) -> None:
        """The gateway stopped cleanly: the watchdog kills whatever is still listed and exits;
        waited for without blocking the event loop."""
        if self._write_end >= 0:
            os.close(self._write_end)
            self._write_end = -1
        fd = os.pidfd_open(self.process.pid)
        try:
            with trio.move_on_after(5):
                await trio.lowlevel.wait_readable(fd)
        finally:
            os.close(fd)
        if self.process.poll() is None:  # never happens unless it is stuck: do not leave it
            self.process.kill()
        self.process.wait()
