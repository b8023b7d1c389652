"""The simulated world a production node runs in: processes as asyncio loops stepped on
one simulated clock (loop.py, world.py), in-memory connections with seeded latency and
faults (transport.py, network.py), the background fsync on the simulated disk
(syncer.py), and the `Runtime` that hands all of it to a node (runtime.py)."""

from tandemkv.testing.world.loop import SimLoop
from tandemkv.testing.world.network import NetStats, SimListener, SimNetwork
from tandemkv.testing.world.runtime import SimRuntime
from tandemkv.testing.world.syncer import SimSyncer
from tandemkv.testing.world.transport import SimTransport
from tandemkv.testing.world.world import (
    FAST_DISK,
    SLOW_DISK,
    DiskSettings,
    Livelock,
    SimProcess,
    World,
)

__all__ = [
    "FAST_DISK",
    "SLOW_DISK",
    "DiskSettings",
    "Livelock",
    "NetStats",
    "SimListener",
    "SimLoop",
    "SimNetwork",
    "SimProcess",
    "SimRuntime",
    "SimSyncer",
    "SimTransport",
    "World",
]
