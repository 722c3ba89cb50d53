"""N page writes (``POST /m/<id>/ops``, one ``set_title`` each) on one map, as a browser sends
them, for counting a server's instructions per write under callgrind
(``tests/bench/tool_call_instructions.sh FEW MANY page``)."""

from __future__ import annotations

import sys

import httpx


def page_writes(url: str, count: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        created = client.get("/")
        assert created.status_code == 303, created.text
        map_id = created.headers["location"].rsplit("/", 1)[1]
        for i in range(count):
            written = client.post(f"/m/{map_id}/ops", json={"ops": [{"op": "set_title", "title": f"t{i}"}]})
            assert written.json() == {"version": i + 1}, written.text


if __name__ == "__main__":
    page_writes(sys.argv[1].removesuffix("/mcp"), int(sys.argv[2]))
