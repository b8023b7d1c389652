"""The world a node's shell runs in: clock, timers, transport, disk, background fsync.

`Server` and `Node` take everything that touches the outside world from one `Runtime`,
as TigerBeetle's replica takes its time, network and storage from its environment: the
production process passes `OsRuntime` (asyncio or uvloop, sockets, the real directory and
a syncer thread); the cluster simulator (`tandemkv.testing.world`) passes a runtime whose
loop runs on simulated time, whose sockets are in-memory pipes with seeded faults and
whose disk is `storage/simfs.py`, so the production node runs there unchanged.

    Runtime.loop                    call_soon / call_later / create_task: timers and tasks
    Runtime.monotonic() -> float    seconds, for timeouts and ages (never goes back)
    Runtime.wall_ns() -> int        Unix time in ns: expiry deadlines, LASTSAVE, logs
    Runtime.entropy() -> Random     node ids, secrets, election jitter, RANDOMKEY
    Runtime.open_datadir(path)      the locked data directory and its FileSystem
    Runtime.start_syncer(...)       the background fsync of the log (storage/syncer.py)
    Runtime.listen(factory, h, p)   accept connections; returns (listener, bound address)
    Runtime.connect(factory, h, p)  dial out (peer links, membership calls)
    Runtime.can_fork                whether BGSAVE may fork a child
    Runtime.set_role_policy(...)    the CPU policy for this node's role (node/scheduling.py)

Durations that only feed statistics (command timings, fsync latency) use
`time.perf_counter_ns` directly: they never change what a node does.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Callable
from typing import Protocol

from tandemkv.scheduling import apply_role_policy
from tandemkv.storage.datadir import DataDir
from tandemkv.storage.store import Store
from tandemkv.storage.syncer import Syncer

ProtocolFactory = Callable[[], asyncio.Protocol]


class Listener(Protocol):
    def close(self) -> None: ...
    async def wait_closed(self) -> None: ...


class BackgroundSync(Protocol):
    """What a node asks of the thread (or simulated disk) that fsyncs its log."""

    def request(self) -> None: ...
    def set_interval(self, interval: float | None) -> None: ...
    def stop(self) -> None: ...


class Runtime(Protocol):
    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...
    @property
    def can_fork(self) -> bool: ...
    def monotonic(self) -> float: ...
    def wall_ns(self) -> int: ...
    def entropy(self) -> random.Random: ...
    def open_datadir(self, path: str) -> DataDir: ...
    def set_role_policy(self, primary: bool, backup_scheduling: str) -> None: ...
    def start_syncer(
        self,
        store: Store,
        interval: float | None,
        on_synced: Callable[[int], None],
        on_error: Callable[[str], None],
        on_timed: Callable[[int], None],
    ) -> BackgroundSync: ...
    async def listen(
        self, factory: ProtocolFactory, host: str, port: int
    ) -> tuple[Listener, tuple[str, int]]: ...
    async def connect(
        self, factory: ProtocolFactory, host: str, port: int, tls: ssl.SSLContext | None
    ) -> asyncio.BaseTransport: ...


class OsRuntime:
    """The production world: the running event loop, the OS clock, sockets and disk."""

    can_fork = True

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    # The builtins themselves: the connection calls wall_ns once per batch of commands.
    monotonic = staticmethod(time.monotonic)
    wall_ns = staticmethod(time.time_ns)

    def entropy(self) -> random.Random:
        # The OS's generator: ids and secrets must not be guessable.
        return random.SystemRandom()

    def open_datadir(self, path: str) -> DataDir:
        return DataDir.open(path)

    def set_role_policy(self, primary: bool, backup_scheduling: str) -> None:
        apply_role_policy(primary, backup_scheduling)

    def start_syncer(
        self,
        store: Store,
        interval: float | None,
        on_synced: Callable[[int], None],
        on_error: Callable[[str], None],
        on_timed: Callable[[int], None],
    ) -> BackgroundSync:
        syncer = Syncer(
            store, interval, on_synced, on_error, self.loop.call_soon_threadsafe, on_timed
        )
        syncer.start()
        return syncer

    async def listen(
        self, factory: ProtocolFactory, host: str, port: int
    ) -> tuple[Listener, tuple[str, int]]:
        server = await self.loop.create_server(factory, host, port, backlog=1024)
        sockname = server.sockets[0].getsockname()
        return server, (sockname[0], sockname[1])

    async def connect(
        self, factory: ProtocolFactory, host: str, port: int, tls: ssl.SSLContext | None
    ) -> asyncio.BaseTransport:
        transport, _ = await self.loop.create_connection(factory, host, port, ssl=tls)
        return transport


async def open_connection(
    runtime: Runtime, host: str, port: int, tls: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """asyncio.open_connection over the runtime's transport (membership calls)."""
    loop = runtime.loop
    reader = asyncio.StreamReader(limit=2**16, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport = await runtime.connect(lambda: protocol, host, port, tls)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)  # type: ignore[arg-type]
    return reader, writer
