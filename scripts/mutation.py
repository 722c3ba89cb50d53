"""`tox -e mutation`: mutmut over each module group, against the tests that claim that group.

mutmut reads one configuration per directory and runs, per mutant, every selected test that
reaches the mutated function; one selection for every module would run the server tests for each
mutant of the hub too. So each group gets a directory of its own under build/mutation/ (links to
the checkout, and pyproject.toml with the group's [tool.mutmut]); its results stay cached there,
so a stopped run resumes.

    python scripts/mutation.py [GROUP ...] [-- MUTMUT RUN ARGS]    (default: every group)
    python scripts/mutation.py --scores [--survivors]

Scores and the survivors that are equivalent: docs/mutation.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"

# group: (modules to mutate, the tests that claim them)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "core": (
        ["mapsrv/core/ops.py", "mapsrv/core/model.py", "mapsrv/core/sse.py"],
        ["tests/core", "tests/hub/test_hub.py"],
    ),
    "hub": (
        [
            "mapsrv/hub/replica.py",
            "mapsrv/hub/remote.py",
            "mapsrv/hub/recovery.py",
            "mapsrv/hub/fanout.py",
            "mapsrv/hub/edits.py",
        ],
        [
            "tests/hub/test_replication.py",
            "tests/hub/test_remote_events.py",
            "tests/hub/test_recovery_decisions.py",
            "tests/hub/test_undo.py",
            "tests/hub/test_edits.py",
            "tests/hub/test_hub.py",
            "tests/web/test_streams.py",
        ],
    ),
    "store": (
        [
            "mapsrv/store/memory/store.py",
            "mapsrv/store/memory/shared.py",
            "mapsrv/store/redis/store.py",
            "mapsrv/store/redis/writer.py",
            "mapsrv/store/redis/link.py",
        ],
        ["tests/store", "tests/hub/test_replication.py", "tests/hub/test_hub.py"],
    ),
    "access": (
        [
            "mapsrv/http/identity.py",
            "mapsrv/http/guards.py",
            "mapsrv/hub/access.py",
            "mapsrv/http/routes.py",
            "mapsrv/dispatch.py",
            "mapsrv/web/writes.py",
            "mapsrv/http/throttle.py",
            "mapsrv/http/ratelimit.py",
        ],
        [
            "tests/http/test_access.py",
            "tests/http/test_routes.py",
            "tests/http/test_guards.py",
            "tests/http/test_throttle.py",
            "tests/http/test_ratelimit.py",
            "tests/web/test_page_writes.py",
            "tests/web/test_page_api.py",
        ],
    ),
    "stream": (
        ["mapsrv/web/stream.py", "mapsrv/http/socket_writer.py", "mapsrv/http/hypercorn.py"],
        [
            "tests/http/test_sse_socket.py",
            "tests/web/test_streams.py",
            "tests/web/test_web.py",
            "tests/http/test_keep_alive.py",
            "tests/http/test_http_server.py",
            "tests/http/test_connections.py",  # http_server.py's fixes to hypercorn
            "tests/gateway/test_gateway_limits.py::test_an_answer_goes_out_in_one_write",
        ],
    ),
    "mcp": (
        [
            "mapsrv/mcp/direct.py",
            "mapsrv/mcp/session_requests.py",
            "mapsrv/mcp/sessions.py",
            "mapsrv/mcp/result_layout.py",
            "mapsrv/core/json_bytes.py",
        ],
        [
            "tests/mcp/test_direct.py",
            "tests/mcp/test_sessions.py",
            "tests/mcp/test_agent_names.py",
            "tests/mcp/test_result_layout.py",
            "tests/core/test_json_bytes.py",
        ],
    ),
}
PYTEST_ARGS = ["-p", "no:cacheprovider", "-q", "-m", "not browser",
               "--deselect", "tests/web/test_web.py::test_static_files_are_found_when_installed"]  # fmt: skip
LINKED = ["mapsrv", "tests", "docs", "deploy"]  # the page's files are package data, inside mapsrv
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 36: "timeout"}
STATUS.update({24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout", None: "not checked"})
COLUMNS = ("killed", "survived", "no tests", "timeout", "not checked")


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def prepare(group: str) -> Path:
    modules, tests = GROUPS[group]
    where = WORK / group
    where.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = where / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    base = (ROOT / "pyproject.toml").read_text()
    base = re.sub(r"\n\[tool\.mutmut\].*?(?=\n\[|\Z)", "\n", base, flags=re.DOTALL)
    config = (
        f'\n[tool.mutmut]\nsource_paths = ["mapsrv"]\nonly_mutate = {toml_list(modules)}\n'
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
        f'pytest_add_cli_args = {toml_list(PYTEST_ARGS)}\nalso_copy = ["docs", "deploy"]\n'
        # Each mutant's worker forked from a process that ran no test: under "fork" it would be
        # forked from the one that collected the stats, whose hypercorn the unmutated code had
        # already patched (http_server.py's fixes install once per process), so no mutant of
        # that code ever ran. Collecting first still imports everything once.
        'process_isolation = "forkserver"\nforkserver_warmup = "collect"\n'
    )
    (where / "pyproject.toml").write_text(base.rstrip() + "\n" + config)
    return where


def run(groups: list[str], mutmut_args: list[str]) -> None:
    mutmut = str(Path(sys.executable).parent / "mutmut")
    env = {**os.environ, "MUTATION_RUN": "1"}
    env.pop("PYTHONPATH", None)  # the mutants, never the checkout, are what the tests import
    for group in groups:
        started = time.monotonic()
        subprocess.run([mutmut, "run", *mutmut_args], cwd=prepare(group), env=env, check=False)
        print(f"group {group}: {time.monotonic() - started:.0f} s", flush=True)


def scores(survivors: bool) -> None:
    print(f"{'module':28}" + "".join(f"{c:>12}" for c in COLUMNS) + "       score")
    for group in GROUPS:
        for meta in sorted((WORK / group / "mutants").rglob("*.py.meta")):
            codes = json.loads(meta.read_text())["exit_code_by_key"]
            counts = Counter(STATUS.get(code, "other") for code in codes.values())
            checked = counts["killed"] + counts["survived"] + counts["timeout"]
            score = f"{100 * (counts['killed'] + counts['timeout']) / checked:.0f} %" if checked else "-"
            module = str(meta.relative_to(WORK / group / "mutants"))[: -len(".meta")]
            print(f"{module:28}" + "".join(f"{counts[c]:>12}" for c in COLUMNS) + f"{score:>12}")
            if survivors:
                for name in sorted(k for k, c in codes.items() if c == 0):
                    print("    " + name)


def main(argv: list[str]) -> None:
    if "--scores" in argv:
        scores("--survivors" in argv)
        return
    mutmut_args = argv[argv.index("--") + 1 :] if "--" in argv else ["--max-children", "2"]
    names = argv[: argv.index("--")] if "--" in argv else argv
    unknown = [g for g in names if g not in GROUPS]
    if unknown:
        sys.exit(f"unknown group {unknown[0]!r}; the groups are {', '.join(GROUPS)}")
    run(names or list(GROUPS), mutmut_args)
    scores(survivors=False)


if __name__ == "__main__":
    main(sys.argv[1:])
