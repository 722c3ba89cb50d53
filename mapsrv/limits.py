"""Hard limits a process sets on itself: the sandboxed reader's memory (``mapsrv.formats.sandbox``)
and the street basemap's build (``mapsrv.places.street_build``)."""

from __future__ import annotations

import resource

__all__ = ["confine_memory", "mapped"]


def mapped() -> int:
    """Bytes of address space this process has mapped now (``VmSize``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def confine_memory(memory: int) -> None:
    """At most ``memory`` bytes of address space beyond what the process has mapped now (its
    libraries, loaded first: GDAL and pyarrow alone map over a GiB they never touch)."""
    limit = mapped() + memory
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
