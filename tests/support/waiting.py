"""Waiting on a condition under a deadline, and what a missing dependency means."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

import pytest
import trio

__all__ = ["IN_CI", "require", "wait_until"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


async def wait_until(predicate: Callable[[], Any], timeout: float = 5, what: str = "") -> None:  # noqa: ASYNC109
    """Poll a condition that has no event to wait on (a count inside the server or the SDK, a
    status only another process knows), failing after ``timeout`` seconds, with a message that
    says ``what`` did not come when it is given. ``predicate`` may be async."""
    with trio.move_on_after(timeout):
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await trio.sleep(0.05)
    raise trio.TooSlowError(f"{what or 'the condition'} did not come within {timeout} s")


def require(condition: bool, what: str) -> None:
    """A missing dependency fails in CI and skips elsewhere."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not available")
