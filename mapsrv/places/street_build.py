"""The street basemap built in a process of its own, under hard limits (issue 79):
``python -m mapsrv.places.street_build FILE TARGET MEMORY_MIB CPU_SECONDS``.

``mapsrv places import`` runs it beside the index's import (``start_build``, ``finish_build``):
the build holds the extract's drawn features in memory (a few kilobytes each), which for a
country's extract is more than a laptop has. Its address space is bounded
(``mapsrv.limits.confine_memory``, past the libraries it has loaded) and its CPU time too, so an
extract too big for it ends with a clear message, not a machine swapping or the kernel's OOM
killer choosing; the index is kept. Its progress lines go to standard error as they come; its
result, as JSON, to standard output.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BasemapRefused", "Built", "finish_build", "main", "start_build", "stop_build"]

REFUSED = 3  # the child's exit status for "too big for its limits"
# how running out of address space shows where C++ code meets it (osmium cannot start its reader
# threads; GEOS and the standard library's allocations)
OUT_OF_MEMORY = ("Resource temporarily unavailable", "Cannot allocate memory", "bad_alloc", "std::bad_alloc")


class BasemapRefused(RuntimeError):
    """The street map could not be built within its limits (the message says which and what to do)."""


@dataclass(frozen=True)
class Built:
    line: str  # BasemapResult.describe()
    tiles: int
    size: int


def start_build(file: Path, target: Path, memory_mib: int, cpu_seconds: int) -> subprocess.Popen[bytes]:
    """Starts building ``file``'s street map into ``target`` in a child process bounded to
    ``memory_mib`` MiB and ``cpu_seconds`` (``finish_build`` waits for it): the import reads the
    index meanwhile, on another core."""
    child = [sys.executable, "-m", "mapsrv.places.street_build"]
    return subprocess.Popen(
        [*child, str(file), str(target), str(memory_mib), str(cpu_seconds)], stdout=subprocess.PIPE
    )


def finish_build(building: subprocess.Popen[bytes], file: Path, memory_mib: int, cpu_seconds: int) -> Built:
    """The build's result once it ends; BasemapRefused when it could not be made."""
    out, _ = building.communicate()
    if building.returncode == 0:
        told = json.loads(out)
        return Built(told["line"], told["tiles"], told["size"])
    if building.returncode == REFUSED or building.returncode < 0:  # MemoryError, or killed (SIGXCPU, abort)
        raise BasemapRefused(
            f"the street map of {file.name} needs more than {memory_mib} MiB or {cpu_seconds} s of CPU;"
            " give it more with --basemap-memory, import without one (--no-basemap), or serve a"
            " Protomaps build of the area with --basemap FILE.pmtiles"
        )
    raise BasemapRefused(
        f"the street map of {file.name} could not be built (exit status {building.returncode})"
    )


def stop_build(building: subprocess.Popen[bytes], target: Path) -> None:
    """Ends a build whose import failed, and removes what it had begun writing."""
    building.kill()
    building.communicate()
    for partial in target.parent.glob(f".{target.name}.building-*"):
        partial.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    file, target, memory, cpu = (argv if argv is not None else sys.argv[1:])[:4]
    import osmium  # noqa: F401  # loaded before the limit: its libraries are mapped, not used
    import pmtiles.writer  # noqa: F401
    import shapely

    from mapsrv.limits import confine_memory
    from mapsrv.observability.collector import for_one_job
    from mapsrv.places.street_tiles import build_basemap

    for_one_job()  # its drawn features stay to the end: each collector pass would visit them again
    confine_memory(int(memory) * 2**20)
    resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 1))
    try:
        result = build_basemap(Path(file), Path(target), _progress)
    except MemoryError:
        return REFUSED
    except (ValueError, RuntimeError, OSError, shapely.errors.GEOSException) as exc:
        if any(sign in str(exc) for sign in OUT_OF_MEMORY):  # osmium's threads, GEOS: not a MemoryError
            return REFUSED
        print(f"mapsrv: no street map: {exc}", file=sys.stderr)
        return 1
    json.dump({"line": result.describe(), "tiles": result.tiles, "size": result.size}, sys.stdout)
    return 0


def _progress(line: str) -> None:
    print(f"mapsrv: {line}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
