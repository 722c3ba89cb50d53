"""What importing a command loads, in a fresh interpreter: ``mapsrv serve`` (``import mapsrv.cli``)
loads neither the stdio relay nor any private module of the MCP SDK (the stdio modules are
imported only when ``mapsrv stdio`` runs), and the relay brings of ``mapsrv.mcp`` only the SDK
seam, not the endpoints or the tools."""

from __future__ import annotations

import json
import subprocess
import sys


def modules_after(statement: str) -> list[str]:
    """The modules loaded once ``statement`` has run in a new interpreter."""
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_stdio_relay_and_no_private_sdk_module() -> None:
    loaded = modules_after("import mapsrv.cli")
    assert "mapsrv.cli" in loaded
    stdio = [m for m in loaded if m.startswith("mapsrv.stdio.")]
    assert not stdio, f"import mapsrv.cli loads {stdio}: import them in the stdio command's path"
    private = [m for m in loaded if m.startswith("mcp.shared._")]
    assert not private, f"import mapsrv.cli loads the SDK's private modules {private}"


def test_the_relay_brings_only_the_sdk_seam_of_mapsrv_mcp() -> None:
    loaded = modules_after("import mapsrv.stdio.relay")
    ours = [m for m in loaded if m.startswith("mapsrv.mcp")]
    assert ours == ["mapsrv.mcp", "mapsrv.mcp.sdk"], f"import mapsrv.stdio.relay loads {ours}"


def test_a_waiting_file_reader_loads_neither_pydantic_nor_pillow() -> None:
    """A server keeps a reader process waiting for the next file (``mapsrv.hub.reader``'s spare,
    ``sandbox._warm``): it loads what a read needs, not pydantic-core's encoder (6 MB) or Pillow's
    colours (3 MB), which only the server's answers and a KML export use (issue 78)."""
    loaded = modules_after("from mapsrv.formats import sandbox; sandbox._warm(False)")
    assert "mapsrv.formats.kml" in loaded  # the readers themselves are loaded
    heavy = [m for m in loaded if m.split(".")[0] in ("pydantic_core", "pydantic", "PIL")]
    assert not heavy, f"a waiting reader loads {heavy}: import them where they are used"
