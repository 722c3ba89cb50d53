"""The page's ES modules run in Node, for tests that hold them to the server's Python on the same
inputs: a script given its cases as JSON on standard input (``require`` available to it), its
answer read as JSON from standard output."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from support.waiting import require

__all__ = ["run_in_node"]


def run_in_node(script: str, cases: Any, timeout: float = 120) -> Any:
    """``script`` (an ES module's body) run with ``cases`` on its standard input; its JSON answer."""
    node = shutil.which("node")
    require(node is not None, "node (Debian's nodejs, which npm brings)")
    assert node is not None
    head = "import { createRequire } from 'module'; const require = createRequire(import.meta.url);\n"
    done = subprocess.run(
        [node, "--input-type=module", "-e", head + script],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
