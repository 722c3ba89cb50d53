"""Maps in this process's memory: ``memory://`` (``MemoryStore``, gone when the process stops),
and ``SharedMemory``, the data of a shared store as a redis-server would hold it, with one
``SharedStore`` connection per process (the hub's replication tests and model of Redis)."""

from mapsrv.store.memory.shared import SharedMemory, SharedStore
from mapsrv.store.memory.store import MemoryStore

__all__ = ["MemoryStore", "SharedMemory", "SharedStore"]
