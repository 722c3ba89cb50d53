"""Plain asyncio beside trio-asyncio in one test process.

The Redis store imports trio-asyncio, which patches asyncio so that, outside Trio, every new event
loop is a trio-asyncio loop; Playwright's sync API (browser tests, the page benchmark) then cannot
run a loop of its own. A policy set explicitly makes trio-asyncio step aside outside Trio, per
thread (trio_asyncio/_loop.py); inside Trio (the store under test) it keeps its own loops."""

from __future__ import annotations

import asyncio

__all__ = ["use_plain_asyncio"]


def use_plain_asyncio() -> None:
    """Give this thread asyncio's own loops (call it in each thread that runs Playwright)."""
    import trio_asyncio  # noqa: F401  (imported first: its patch must be the one we override)

    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
