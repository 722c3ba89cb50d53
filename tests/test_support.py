"""The test support's own parts that a test's verdict rests on."""

from __future__ import annotations

import gzip
import itertools
import os
import struct
import zlib
from typing import Any

import pytest
from support.bombs import bomb
from support.png import read_png

PIXELS = [[(10, 20, 30), (200, 100, 50), (255, 0, 128)], [(1, 2, 3), (40, 50, 60), (7, 8, 9)]]


def encode(filter_type: int) -> bytes:
    """PIXELS as an RGB PNG whose every scanline uses ``filter_type`` (PNG spec, section 9)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw, previous = b"", bytes(9)
    for row in PIXELS:
        line = bytes(itertools.chain.from_iterable(row))
        out = []
        for i, value in enumerate(line):
            a, b, c = line[i - 3] if i >= 3 else 0, previous[i], previous[i - 3] if i >= 3 else 0
            p = a + b - c
            paeth = (
                a
                if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c)
                else b
                if abs(p - b) <= abs(p - c)
                else c
            )
            out.append((value - (0, a, b, (a + b) >> 1, paeth)[filter_type]) & 0xFF)
        raw += bytes([filter_type, *out])
        previous = line
    header = struct.pack(">IIBBBBB", 3, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("filter_type", range(5))
def test_png_reader_undoes_every_filter(filter_type: int) -> None:
    image = read_png(encode(filter_type))
    assert [[image.pixel(x, y) for x in range(3)] for y in range(2)] == PIXELS


def test_png_reader_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        read_png(b"GIF89a")


async def test_a_chromium_session_leaves_no_chromium_process_behind() -> None:
    """Every process a Chromium session started is gone when it ends, not even a zombie: the
    session adopts them and reaps them (PID 1 reaps late or never in many containers)."""
    from support.chromium import in_chromium
    from support.procfs import descendants_of, proc_stats

    already = set(descendants_of(os.getpid()))  # earlier tests' processes are not this session's

    def body(chromium: Any) -> list[int]:
        chromium.new_page().goto("about:blank")
        return [pid for pid in descendants_of(os.getpid()) if pid not in already]

    started = await in_chromium(body)
    assert started, "the session started no process"
    left = {pid: fields[0] for pid, fields in proc_stats().items() if pid in started}
    assert not left, f"processes of the session still there (state by pid): {left}"


HANGS = """
import threading

def test_hangs():
    threading.Event().wait()

def test_after_it():
    assert True
"""


def test_a_hung_test_fails_alone_and_the_run_goes_on(tmp_path: Any) -> None:
    """The suite's per-test timeout (pyproject.toml): a test that never returns is failed by name
    and the tests after it run. Here with the suite's own settings and a 1 s timeout."""
    import re
    import subprocess
    import sys
    import tomllib

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    settings = tomllib.loads(open(os.path.join(root, "pyproject.toml"), encoding="utf-8").read())
    # read from the file: ``conftest`` in sys.modules may be another folder's conftest.py
    conftest = open(os.path.join(root, "tests", "conftest.py"), encoding="utf-8").read()
    found = re.search(r"^TEST_DEADLINE = (\d+)", conftest, re.M)
    assert found, "tests/conftest.py no longer sets TEST_DEADLINE"
    assert settings["tool"]["pytest"]["ini_options"]["timeout"] > int(found.group(1)), "trio's backstop first"
    (tmp_path / "test_hangs.py").write_text(HANGS)
    config = os.path.join(root, "pyproject.toml")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", config, "--rootdir", str(tmp_path), "-o", "timeout=1",
         "-p", "no:cacheprovider", str(tmp_path / "test_hangs.py")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "1 failed, 1 passed" in run.stdout, run.stdout[-2000:]
    assert "Timeout" in run.stdout and "test_hangs" in run.stdout


@pytest.mark.parametrize("coding", ["gzip", "gzip, gzip", "gzip, gzip, gzip", "deflate, deflate"])
def test_a_bomb_is_valid_and_decodes_to_the_zeros_it_stands_for(coding: str) -> None:
    """Decoded by the standard library, which checks every layer's checksum and length (the
    builder is the same at 1 GiB; 64 MiB keeps it quick)."""
    size = 64 * 2**20
    body = bomb(coding, size)
    layers = [c.strip() for c in coding.split(",")]
    for i in reversed(range(len(layers))):
        if layers[i] == "gzip":
            body = gzip.decompress(body)
        else:  # the first deflate zlib-wrapped, a later one raw
            body = zlib.decompress(body, zlib.MAX_WBITS if i == 0 else -zlib.MAX_WBITS)
    assert body == bytes(size)
