"""Many people on one map in real Chromium, on two ``mapsrv serve`` processes and a real
redis-server: the owner (process A), an editor who opened the edit link (process B, a browser
context of its own) and a viewer (process A, another). Everyone's edits land on every page,
attributed by the name each chose; the viewer cannot write; the people list shows who is there
and clears when a tab closes, when a browser is killed and when a process is killed with
SIGKILL; the owner turns the edit link off while the editor's tab is open, and that tab drops
to view-only with a message; an agent (the SDK's client) watching the map shows in the list and
reads who is there."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support import RedisServer, open_server
from support.agents import TrioBridge, agent, call, subscribe
from support.chromium import ARGS, CHROMIUM, TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.procfs import descendants_of, proc_stats

from mapsrv.hub.presence import SWEEP, TTL

pytestmark = pytest.mark.browser
LISBON = {"op": "set_view", "center": [38.72, -9.14], "zoom": 13, "animate": False}
VIEWPORT = {"width": 1100, "height": 720}
ARTIFACTS = Path("/tmp/mapsrv-artifacts")


# The people list as the page shows it: [name, role] of each entry.
PEOPLE = (
    "[...document.querySelectorAll('#people-list [data-role]')]"
    ".map((e) => [(e.querySelector('.person-name') || {}).textContent, e.dataset.role])"
)


def wait_people(tab: Tab, predicate: str) -> None:
    """Wait (bounded by the page's default timeout) until the JS ``predicate(people)`` holds."""
    tab.page.wait_for_function(f"() => ({predicate})({PEOPLE})")


def has(name: str, role: str) -> str:
    return f"(p) => p.some(([n, r]) => n === {name!r} && r === {role!r})"


def lacks(name: str, role: str) -> str:
    return f"(p) => !p.some(([n, r]) => n === {name!r} && r === {role!r})"


def count(role: str, n: int) -> str:
    return f"(p) => p.filter(([, r]) => r === {role!r}).length === {n}"


def browser_pid(tag: str) -> int:
    """The Chromium browser process started with ``--user-agent=<...tag...>`` (ours, not a helper's)."""
    for pid in proc_stats():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if any(tag.encode() in a for a in args) and not any(a.startswith(b"--type=") for a in args):
            return pid
    raise AssertionError("the editor's browser process was not found")


async def test_owner_editor_and_viewer_edit_and_see_each_other(redis_server: RedisServer) -> None:
    store = ("--store", redis_server.url, "--tile-url", TILES)
    async with (
        open_server(*store) as a,
        open_server(*store) as b,
        agent(a.url + "mcp", "claude-ai") as claude,
    ):
        # a request right after initialize, as real agents make (tools/list): a session with none
        # is closed after --mcp-handshake-timeout (10 s), and the tabs below can take that long
        await claude.list_tools()
        bridge = TrioBridge()

        def body(chromium: Chromium) -> None:
            owner = Tab.open(new_context(chromium, a, viewport=VIEWPORT))  # type: ignore[arg-type]
            owner.ops(LISBON)
            map_id = owner.map_id
            edit_path = urlsplit(owner.page.evaluate("document.body.dataset.editUrl")).path
            view_path = urlsplit(owner.page.evaluate("document.body.dataset.viewUrl")).path
            assert edit_path.startswith("/e/") and view_path.startswith("/v/")

            editor = Tab.open(new_context(chromium, b, viewport=VIEWPORT), edit_path)  # type: ignore[arg-type]
            assert map_id not in editor.page.content(), "the edit page never holds the map id"
            # Asked once for a name, with a friendly one suggested; "Bob" from now on.
            asked = editor.page.locator("#name-input")
            assert asked.is_visible() and asked.input_value() == editor.page.evaluate(
                "document.body.dataset.suggestedName"
            )
            asked.fill("Bob")
            editor.page.get_by_role("button", name="Save name").click()
            editor.page.locator("#name-form").wait_for(state="hidden")
            editor.page.reload()
            editor.wait_badge("live")
            assert not editor.page.locator("#name-input").is_visible()
            assert editor.page.locator("#share").count() == 0, "only the owner manages the links"
            viewer = Tab.open(new_context(chromium, a, viewport=VIEWPORT), view_path, badge="view-only")  # type: ignore[arg-type]

            wait_people(owner, has("Bob", "editor"))
            wait_people(owner, count("viewer", 1))
            wait_people(editor, count("owner", 1))
            owner.page.locator("#share summary").click()  # opened for the screenshot
            for tab, name in ((owner, "owner"), (editor, "editor"), (viewer, "viewer")):
                tab.page.screenshot(path=artifact(f"coediting-{name}.png", ARTIFACTS))

            # The editor draws on B; every page has it; the owner's activity says who.
            editor.page.keyboard.press("m")
            editor.page.keyboard.press("Enter")
            editor.page.wait_for_function("() => window.mapsrv.featureIds().length === 1")
            editor.page.keyboard.press("Escape")
            [mine] = editor.page.evaluate("window.mapsrv.featureIds()")
            for tab in (owner, viewer):
                tab.feature(mine, "marker")
            owner.page.locator(".activity-item", has_text="Bob").first.wait_for()
            seen = bridge.run(lambda: call(claude, "changes", map_id=map_id, since=1))
            assert any(c["by"]["name"] == "Bob" for c in seen["changes"]), seen

            # Where Bob points, and what he has in view, on the others' pages (the viewer's too).
            editor.page.mouse.move(500, 400)
            editor.page.mouse.move(520, 420)
            for tab in (owner, viewer):
                tab.page.locator(".mapsrv-pointer-name", has_text="Bob").wait_for()
            assert owner.page.locator(".mapsrv-pointer-name").count() == 1, "not the owner's own"
            owner.page.screenshot(path=artifact("coediting-pointer.png", ARTIFACTS))

            # The viewer cannot write, from the page or around it.
            status = viewer.page.evaluate(
                "async (p) => (await fetch(p + '/ops', {method: 'POST', headers: {'content-type':"
                " 'application/json'}, body: JSON.stringify({ops: []})})).status",
                view_path,
            )
            assert status in (404, 405)
            assert not viewer.page.locator("#toolbar").is_visible()

            # An agent watching the map is listed, and reads who is there.
            bridge.run(lambda: subscribe(claude, f"map://{map_id}"))
            wait_people(owner, has("claude-ai", "agent"))
            present = bridge.run(lambda: call(claude, "read", map_id=map_id))["present"]
            assert "Bob (editor)" in present and "claude-ai (agent)" in present, present

            # The viewer's tab closes: gone from the others' lists.
            viewer.page.close()
            wait_people(owner, count("viewer", 0))

            # The owner turns the edit link off while the editor's tab is open (on the other
            # process): the tab says so and drops to view-only.
            owner.page.evaluate("window.confirm = () => true")  # the owner says yes
            owner.page.get_by_role("button", name="Turn off").click()
            owner.page.locator("#edit-off-note").wait_for()
            editor.page.locator("#access-note", has_text="turned this edit link off").wait_for()
            editor.page.wait_for_url(f"**{view_path}")
            editor.wait_badge("view-only")
            assert not editor.page.locator("#toolbar").is_visible()
            refused = editor.page.request.post(f"{edit_path}/ops", data={"ops": []})
            assert refused.status == 403 and "turned this edit link off" in refused.text()
            wait_people(owner, lacks("Bob", "editor"))
            wait_people(owner, has("Bob", "viewer"))

            # A browser killed outright: its people go too.
            tag = "mapsrv-killed-browser"
            other = chromium.browser_type.launch(
                executable_path=CHROMIUM, headless=True, args=[*ARGS, f"--user-agent=Mozilla/5.0 {tag}"]
            )
            try:
                gone = Tab.open(new_context(other, a), view_path, badge="view-only")  # type: ignore[arg-type]
                wait_people(owner, count("viewer", 2))
                del gone
                # all its processes at once, as the OOM killer or a force quit does: killed alone,
                # the browser leaves its network service to notice and exit by itself, which a
                # loaded machine once let hold the stream open past the bound below. Its streams
                # end with its processes, or at the latest when its presence times out: the same
                # bound as for process B below
                owner.page.set_default_timeout((TTL + SWEEP + 10) * 1000)
                browser = browser_pid(tag)
                for pid in [browser, *descendants_of(browser)]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                wait_people(owner, count("viewer", 1))
            finally:
                other.close()

            # Process B killed with SIGKILL: Bob (watching through B) leaves every list on A.
            os.kill(b.pid, signal.SIGKILL)
            owner.page.set_default_timeout((TTL + SWEEP + 10) * 1000)
            wait_people(owner, lacks("Bob", "viewer"))
            owner.check_clean()

        await in_chromium(body)
