"""`SimRuntime`: the `tandemkv.runtime.Runtime` a node is given inside the simulated world.

Everything comes from the world: the process's SimLoop, the simulated clock, a generator
forked from the seed, the simulated disk, a SimSyncer and the SimNetwork.

    monotonic()  world.now (faults never move it)
    wall_ns()    EPOCH + world.now + process.clock_offset, in ns (clock jumps move it)
    entropy()    one generator per process spawn: a restarted process (a new spawn, even
                 under the same name) draws new node ids and secrets, as a real one would
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from tandemkv.runtime import BackgroundSync, Listener, ProtocolFactory, Runtime
from tandemkv.storage.datadir import DataDir
from tandemkv.storage.fs import FileSystem
from tandemkv.storage.store import Store
from tandemkv.testing.world.network import SimNetwork
from tandemkv.testing.world.syncer import SimSyncer
from tandemkv.testing.world.world import SimProcess, World

EPOCH_SECONDS = 1_800_000_000  # the wall clock at simulated time 0 (a 2027 date)


class SimRuntime:
    can_fork = False  # no child processes in the simulator: BGSAVE saves in-process

    def __init__(
        self, world: World, process: SimProcess, network: SimNetwork, fs: FileSystem, host: str
    ) -> None:
        self.world = world
        self.process = process
        self.network = network
        self.fs = fs
        self.host = host
        network.place(process, host)
        label = f"{process.name}#{process.serial}"
        self._entropy = world.fork_rng(f"entropy/{label}")
        self._disk_rng = world.fork_rng(f"disk/{label}")
        self.syncers: list[SimSyncer] = []  # for fault injection (fail_next) and reports

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.process.loop

    def monotonic(self) -> float:
        return self.world.now

    def wall_ns(self) -> int:
        # The epoch added in integers: as a float sum it would be rounded to 256 ns.
        return EPOCH_SECONDS * 10**9 + round((self.world.now + self.process.clock_offset) * 1e9)

    def entropy(self) -> random.Random:
        return self._entropy

    def open_datadir(self, path: str) -> DataDir:
        return DataDir.over(path, self.fs)

    def set_role_policy(self, primary: bool, backup_scheduling: str) -> None:
        pass  # one OS thread runs every simulated process: nothing to ask the kernel

    def start_syncer(
        self,
        store: Store,
        interval: float | None,
        on_synced: Callable[[int], None],
        on_error: Callable[[str], None],
        on_timed: Callable[[int], None],
    ) -> SimSyncer:
        syncer = SimSyncer(
            self.process, store, interval, on_synced, on_error, on_timed, self._disk_rng.uniform
        )
        syncer.start()
        self.syncers.append(syncer)
        return syncer

    async def listen(
        self, factory: ProtocolFactory, host: str, port: int
    ) -> tuple[Listener, tuple[str, int]]:
        return self.network.listen(self.process, factory, host, port)

    async def connect(
        self, factory: ProtocolFactory, host: str, port: int, tls: ssl.SSLContext | None
    ) -> asyncio.BaseTransport:
        if tls is not None:
            raise NotImplementedError("the simulated network carries no TLS")
        return await self.network.connect(self.process, factory, host, port)


if TYPE_CHECKING:
    # mypy checks here that the simulated world keeps the production protocols.
    def _is_a_runtime(runtime: SimRuntime) -> Runtime:
        return runtime

    def _is_background_sync(syncer: SimSyncer) -> BackgroundSync:
        return syncer
