"""A fault-injecting TCP proxy for chaos tests: no root, loopback only.

The proxy listens on an ephemeral loopback port and forwards each accepted connection to
a target address. Faults are set per direction (``UP`` = client to server, ``DOWN`` =
server to client) while traffic flows:

- ``PASS``: forward bytes as they come.
- ``DELAY``: hold each chunk ``delay_ms`` (plus or minus ``jitter_ms``, drawn from a seeded
  ``random.Random``) before forwarding it; order within a connection is kept.
- ``DROP``: discard bytes silently (a blackhole).
- ``RESET``: the next chunk in that direction resets the connection instead of being
  forwarded: both sides get an RST (``SO_LINGER`` 0), not a FIN.

``partition()`` blackholes every existing connection and every new one (accepted but
never connected upstream) until ``heal()``. ``reset_all()`` resets every open connection.

A byte stream with a hole in it can never be delivered faithfully again, so a connection
that lost bytes in one direction stays blackholed in that direction after the fault is
lifted (as a real TCP connection would stall) until a side closes it. New connections see
the healed link. This keeps a fault from ever splicing two halves of different commands
into something the server would execute.

The event loop runs in a daemon thread; the control methods are thread-safe and return
once the change is in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

LOOPBACK = "127.0.0.1"
CHUNK = 65536
CONTROL_TIMEOUT = 5.0
CONNECT_TIMEOUT = 2.0

T = TypeVar("T")
Address = tuple[str, int]


class Direction(Enum):
    UP = "up"  # client -> server
    DOWN = "down"  # server -> client


BOTH = (Direction.UP, Direction.DOWN)


class Mode(Enum):
    PASS = "pass"
    DELAY = "delay"
    DROP = "drop"
    RESET = "reset"


@dataclass(frozen=True)
class LinkFault:
    mode: Mode = Mode.PASS
    delay_ms: float = 0.0
    jitter_ms: float = 0.0


@dataclass
class ProxyStats:
    accepted: int = 0
    upstream_failures: int = 0
    resets: int = 0
    forwarded: dict[Direction, int] = field(default_factory=lambda: dict.fromkeys(BOTH, 0))
    dropped: dict[Direction, int] = field(default_factory=lambda: dict.fromkeys(BOTH, 0))


def _directions(direction: Direction | None) -> tuple[Direction, ...]:
    return BOTH if direction is None else (direction,)


def _rst_close(writer: asyncio.StreamWriter | None) -> None:
    """Close so the peer sees a reset: linger on, timeout 0, then abort."""
    if writer is None or writer.transport.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Link:
    """One proxied connection: the client side, the server side (absent while it is
    blackholed by a partition) and, per direction, whether bytes were lost."""

    def __init__(self, client: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.client_reader, self.client_writer = client
        self.server_reader: asyncio.StreamReader | None = None
        self.server_writer: asyncio.StreamWriter | None = None
        self.holed: set[Direction] = set()
        self.last_due: dict[Direction, float] = dict.fromkeys(BOTH, 0.0)
        self.closed = False

    def ends(self, direction: Direction) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if direction is Direction.UP:
            assert self.server_writer is not None
            return self.client_reader, self.server_writer
        assert self.server_reader is not None
        return self.server_reader, self.client_writer

    def reset(self) -> None:
        self.closed = True
        _rst_close(self.client_writer)
        _rst_close(self.server_writer)

    def close(self) -> None:
        self.closed = True
        for writer in (self.client_writer, self.server_writer):
            if writer is not None and not writer.transport.is_closing():
                writer.transport.close()


class FaultProxy:
    """A TCP proxy from an ephemeral loopback port to ``target``; see the module doc."""

    def __init__(self, target: Address, seed: int = 0, name: str = "proxy") -> None:
        self.name = name
        self._target = target
        self._rng = random.Random(seed)
        self._faults: dict[Direction, LinkFault] = dict.fromkeys(BOTH, LinkFault())
        self._partitioned = False
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = ProxyStats()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._server: asyncio.Server | None = None
        self._port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen)
        return self

    def stop(self) -> None:
        """Stop listening, close every connection and the loop; idempotent."""
        if not self._thread.is_alive():
            if self._thread.ident is None and not self._loop.is_closed():
                self._loop.close()  # never started
            return
        with contextlib.suppress(Exception):
            self._call(self._shutdown)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CONTROL_TIMEOUT)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> Address:
        return LOOPBACK, self._port

    @property
    def port(self) -> int:
        return self._port

    @property
    def target(self) -> Address:
        return self._target

    # ------------------------------------------------------------------ faults

    def retarget(self, target: Address) -> None:
        """New connections go to ``target`` (a restarted server on a new port)."""
        self._call(self._set, lambda: setattr(self, "_target", target))

    def set_fault(self, fault: LinkFault, direction: Direction | None = None) -> None:
        def apply() -> None:
            for d in _directions(direction):
                self._faults[d] = fault

        self._call(self._set, apply)

    def fault(self, direction: Direction) -> LinkFault:
        return self._faults[direction]

    def delay(self, ms: float, jitter_ms: float = 0.0, direction: Direction | None = None) -> None:
        self.set_fault(LinkFault(Mode.DELAY, ms, jitter_ms), direction)

    def drop(self, direction: Direction | None = None) -> None:
        self.set_fault(LinkFault(Mode.DROP), direction)

    def reset_on_traffic(self, direction: Direction | None = None) -> None:
        self.set_fault(LinkFault(Mode.RESET), direction)

    def partition(self) -> None:
        self._call(self._set, lambda: setattr(self, "_partitioned", True))

    @property
    def partitioned(self) -> bool:
        return self._partitioned

    def heal(self) -> None:
        """Both directions pass and the partition ends (damaged connections stay dead)."""

        def apply() -> None:
            self._partitioned = False
            self._faults = dict.fromkeys(BOTH, LinkFault())

        self._call(self._set, apply)

    def reset_all(self) -> int:
        """Reset every open connection; returns how many there were."""
        return self._call(self._reset_all)

    def open_connections(self) -> int:
        return self._call(self._count_links)

    # ------------------------------------------------------------------ loop side

    def _call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: object) -> T:
        future = asyncio.run_coroutine_threadsafe(fn(*args), self._loop)
        return future.result(CONTROL_TIMEOUT)

    async def _set(self, apply: Callable[[], object]) -> None:
        apply()

    async def _count_links(self) -> int:
        return sum(1 for link in self._links if not link.closed)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, 0)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _reset_all(self) -> int:
        links = [link for link in self._links if not link.closed]
        for link in links:
            link.reset()
        self.stats.resets += len(links)
        return len(links)

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        link = _Link((reader, writer))
        self._links.add(link)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # so that shutdown cancels it too
        try:
            await self._serve(link)
        finally:
            link.close()
            self._links.discard(link)
            self._tasks.discard(task)

    async def _serve(self, link: _Link) -> None:
        if self._partitioned:
            await self._swallow(link, link.client_reader, Direction.UP)
            return
        try:
            link.server_reader, link.server_writer = await asyncio.wait_for(
                asyncio.open_connection(*self._target), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError):
            # Nothing listens there (a killed server): the client sees a reset, as it would
            # from a refused connection behind a real load balancer.
            self.stats.upstream_failures += 1
            link.reset()
            return
        pumps = [self._spawn(self._pump(link, d)) for d in BOTH]
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _swallow(self, link: _Link, reader: asyncio.StreamReader, d: Direction) -> None:
        """Read and discard until the sender gives up (a partitioned connection)."""
        link.holed.add(d)
        with contextlib.suppress(OSError):
            while not link.closed and (data := await reader.read(CHUNK)):
                self.stats.dropped[d] += len(data)

    async def _pump(self, link: _Link, direction: Direction) -> None:
        reader, writer = link.ends(direction)
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = self._spawn(self._send(link, direction, writer, queue))
        try:
            while not link.closed and (data := await reader.read(CHUNK)):
                self._route(link, direction, data, queue)
        except OSError:
            link.close()
        finally:
            queue.put_nowait((0.0, b""))  # end of stream: half-close once queued bytes left
            await asyncio.gather(sender, return_exceptions=True)
        if direction is Direction.DOWN or link.closed:
            link.close()

    def _route(
        self, link: _Link, d: Direction, data: bytes, queue: asyncio.Queue[tuple[float, bytes]]
    ) -> None:
        fault = self._faults[d]
        if fault.mode is Mode.RESET and not self._partitioned:
            self.stats.resets += 1
            link.reset()
            return
        if self._partitioned or fault.mode is Mode.DROP or d in link.holed:
            link.holed.add(d)
            self.stats.dropped[d] += len(data)
            return
        now = asyncio.get_running_loop().time()
        due = now
        if fault.mode is Mode.DELAY:
            jitter = self._rng.uniform(-fault.jitter_ms, fault.jitter_ms)
            due = now + max(0.0, fault.delay_ms + jitter) / 1000
        due = max(due, link.last_due[d])  # never reorder a stream
        link.last_due[d] = due
        queue.put_nowait((due, data))

    async def _send(
        self,
        link: _Link,
        d: Direction,
        writer: asyncio.StreamWriter,
        queue: asyncio.Queue[tuple[float, bytes]],
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                due, data = await queue.get()
                if not data:
                    if not link.closed and writer.can_write_eof():
                        writer.write_eof()
                    return
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if link.closed or d in link.holed:
                    self.stats.dropped[d] += len(data)  # held back, then a hole formed
                    continue
                writer.write(data)
                self.stats.forwarded[d] += len(data)
                await writer.drain()
        except OSError:
            link.close()
