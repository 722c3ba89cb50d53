"""Real headless Chromium for the page's tests: one Playwright session per test in a worker
thread, a browser context on a server, and a ``Tab`` that waits on the page's own state.

Playwright's sync API needs asyncio, so each test runs one sync body in one worker thread
(``in_chromium``) while the server runs in the test's trio nursery."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import trio

from mapsrv.server import Server

from .aio import use_plain_asyncio
from .procfs import proc_stats
from .waiting import require

try:
    from playwright.sync_api import Browser as Chromium
    from playwright.sync_api import BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - reported by require() in each test
    sync_playwright = None
    Chromium = BrowserContext = Page = Any  # type: ignore[misc,assignment]

__all__ = [
    "ARGS",
    "CHROMIUM",
    "CSP_SPY",
    "Chromium",
    "TILES",
    "WAIT_MS",
    "Tab",
    "adopting",
    "artifact",
    "chromium_children",
    "in_chromium",
    "new_context",
    "reap_chromium",
]

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # nothing answers there: tiles fail, nothing leaves the host
WAIT_MS = 10_000
# Records CSP violations before any page script runs (init scripts are not subject to the CSP).
CSP_SPY = (
    "window.__csp = []; document.addEventListener('securitypolicyviolation',"
    " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)

T = TypeVar("T")


async def in_chromium(body: Callable[[Chromium], T]) -> T:
    """Run ``body(chromium)`` in one worker thread that owns the whole Playwright session."""
    require(HAVE_CHROMIUM, "chromium")
    require(sync_playwright is not None, "playwright")

    def run() -> T:
        use_plain_asyncio()  # per thread: trio-asyncio would hand this worker thread its own loop
        adopting(True)
        try:
            with sync_playwright() as pw:
                chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                try:
                    return body(chromium)
                finally:
                    chromium.close()
        finally:
            reap_chromium()
            adopting(False)

    return await trio.to_thread.run_sync(run)


_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
_CHROMIUM_NAMES = (b"chromium", b"chrome", b"chrome_crashpad")  # /proc comm, cut at 15 bytes


def adopting(on: bool) -> None:
    """While a Chromium session runs, this process adopts the processes orphaned under it (the
    Playwright driver exits before Chromium's helpers: their zombies went to PID 1, which here and
    in many containers reaps late or never). Linux's child subreaper, set and cleared again."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def chromium_children() -> dict[int, bytes]:
    """This process's children that are Chromium's, by pid: their state (``Z`` for a zombie)."""
    found = {}
    for pid, fields in proc_stats().items():
        if int(fields[1]) != os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/comm", "rb") as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith(_CHROMIUM_NAMES):
            found[pid] = fields[0]
    return found


def reap_chromium(timeout: float = 5.0) -> None:
    """Wait for the Chromium processes this process adopted to exit, and reap them; any still
    running after ``timeout`` is killed first. Only Chromium's: every other child of the test
    process belongs to code that waits for it itself."""
    deadline = time.monotonic() + timeout
    while children := chromium_children():
        for pid, state in children.items():
            if state == b"Z" or time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    if state != b"Z":
                        os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0 if state != b"Z" else os.WNOHANG)
        threading.Event().wait(0.02)  # a worker thread: poll /proc until they have exited


def new_context(chromium: Chromium, server: Server, **options: Any) -> BrowserContext:
    context = chromium.new_context(base_url=server.url, **options)
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(CSP_SPY)
    return context


def importing_tabs(chromium: Chromium, server: Server) -> tuple[Tab, Tab]:
    """Two tabs of one new map, 1280 x 800: the one that imports, its "Import file…" ready, and
    another that watches."""
    context = new_context(chromium, server, viewport={"width": 1280, "height": 800})
    tab = Tab.open(context)
    other = Tab.open(context, f"/m/{tab.map_id}")
    tab.page.locator("#import-open").wait_for()
    return tab, other


@dataclass
class Tab:
    """One page of the map, with everything it did that it should not have."""

    known_types: ClassVar[dict[str, str]] = {}  # feature id -> the type feature() expects

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, context: BrowserContext, path: str = "/", badge: str = "live") -> Tab:
        tab = cls(context.new_page())
        tab.page.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
        tab.page.on("pageerror", lambda e: tab.errors.append(str(e)))
        tab.page.on(
            "console", lambda m: tab.errors.append(m.text) if "Content Security Policy" in m.text else None
        )
        tab.page.goto(path)
        tab.wait_badge(badge)
        return tab

    @property
    def map_id(self) -> str:
        return self.page.locator("#map-code").inner_text()

    def ops(self, *ops: dict[str, Any]) -> int:
        response = self.page.request.post(f"/m/{self.map_id}/ops", data={"ops": list(ops)})
        assert response.status == 200, response.text()
        return int(response.json()["version"])

    def wait_badge(self, text: str) -> None:
        self.page.wait_for_function("(t) => document.getElementById('conn').textContent === t", arg=text)

    def feature(self, fid: str, ftype: str | None = None) -> Any:
        """Wait until feature ``fid`` is drawn; returns its element's locator."""
        element = self.page.locator(f'[data-feature-id="{fid}"]')
        element.wait_for(state="attached")
        expected = ftype or self.known_types.get(fid)
        if expected is not None:
            assert element.get_attribute("data-feature-type") == expected
        return element

    def gone(self, fid: str) -> None:
        self.page.locator(f'[data-feature-id="{fid}"]').wait_for(state="detached")

    def mark(self, fid: str) -> None:
        """Tag the element drawn for ``fid``; a snapshot redraws everything and loses the tag."""
        self.feature(fid).evaluate("(e) => { e.dataset.probe = 'kept'; }")

    def marked(self, fid: str) -> bool:
        return self.feature(fid).get_attribute("data-probe") == "kept"

    def label(self, text: str) -> Any:
        """The shown label with ``text`` (shown where it fits: not over another, nor under a
        panel), not the one shown under the pointer."""
        return self.page.locator(".mapsrv-placed:not(.mapsrv-label-hover) .mapsrv-label-text", has_text=text)

    def wait_label(self, fid: str, text: str) -> None:
        """Wait until the page has drawn feature ``fid`` labelled ``text``, shown or not."""
        drawn = "([f, t]) => { const d = window.mapsrv.feature(f); return !!d && d.label === t; }"
        self.page.wait_for_function(drawn, arg=[fid, text])

    def check_clean(self) -> None:
        assert self.dialogs == [], "a dialog opened"
        assert self.errors == [], "the page threw or broke its CSP"
        assert self.page.evaluate("window.__csp") == [], "the CSP blocked something"


def artifact(name: str, fallback: Path) -> Path:
    """Where a screenshot is kept: $TEST_ARTIFACTS_DIR when set (tox passes it), else ``fallback``."""
    out = Path(os.environ.get("TEST_ARTIFACTS_DIR") or fallback) / name
    out.parent.mkdir(parents=True, exist_ok=True)
    return out
