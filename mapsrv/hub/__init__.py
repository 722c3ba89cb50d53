"""The map hub: hot maps in memory, one writer at a time per map, replication to the store with
recovery from its outages, and fan-out of each event, encoded once, to bounded per-viewer channels.

    facade    MapHub: what the edges use
    registry  hot maps by id, view key and owner; tokens; expiry
    replica   the write path against the store; held writes
    remote    events from other processes, handed to their maps without waiting on a lock
    recovery  every replication-recovery decision, as pure functions
    fanout    subscriptions, frame logs, Last-Event-ID resume, heartbeats (the only SSE here)
    presence  who is on a map now (people's pages, agents' watches), shared between processes
    links     the edit and view keys, and the owner's new ones
    access    which link opens which map, as whom
"""

from mapsrv.hub.facade import HubStatistics, MapHub
from mapsrv.hub.fanout import Subscription
from mapsrv.hub.registry import MapEntry, new_token
from mapsrv.hub.replica import Written

__all__ = ["HubStatistics", "MapEntry", "MapHub", "Subscription", "new_token", "Written"]
