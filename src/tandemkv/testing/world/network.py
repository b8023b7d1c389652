"""The simulated network between processes: listeners, connections, latency and faults.

    SimNetwork(world, min_latency=0.0002, max_latency=0.002)
    place(process, host)                        the host a process dials from
    listen(process, factory, host, port)        -> (listener, (host, port)); port 0 picks one
    await connect(process, factory, host, port) -> SimTransport (ConnectionRefusedError)
    sever(a, b) / cut(a, b) / slow(a, b, s) / reset(a, b) / heal(a, b) / heal_all()
    stats                                       counters for reports

Hosts are strings (`127.0.0.N`). Every latency is drawn from the network's own generator
(`world.fork_rng("network")`), so a run replays from its seed. A direction's bytes are
never delivered before bytes written earlier on it (TCP order).

Faults, all between hosts:
- `sever(a, b)`: a partition. Open connections between a and b are reset (both ends get
  ConnectionResetError after a latency) and new ones are refused, until healed.
- `cut(a, b)`: a one-way black hole: what a writes towards b is dropped at write time,
  whole writes at a time (so peer frames stay whole; the link looks stalled), while the
  connection stays open.
- `slow(a, b, seconds)`: extra latency on a->b.
- `reset(a, b)`: reset the connections open between them now, once (in-flight data lost).
- `heal(a, b)` lifts every fault between a and b, both ways; `heal_all()` every fault.
A killed process's listeners close and its connections reset (see `World.kill_hooks`).

Decision: the acceptor's `connection_made` runs (on its loop) before the dialer's, so a
paused acceptor holds up its dialers' connects, as a full accept backlog would.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tandemkv.testing.world.transport import Pipe, SimTransport
from tandemkv.testing.world.world import SimProcess, World

ProtocolFactory = Callable[[], asyncio.BaseProtocol]
FIRST_LISTEN_PORT = 30000
FIRST_EPHEMERAL_PORT = 40000
ARRIVAL_GAP = 1e-9  # seconds between two arrivals on one direction, at least


@dataclass
class NetStats:
    connections: int = 0
    refused: int = 0
    resets: int = 0  # connections broken by abort, a fault or a kill
    messages_delivered: int = 0  # data_received calls
    bytes_delivered: int = 0
    messages_dropped: int = 0
    bytes_dropped: int = 0

    def delivered(self, size: int) -> None:
        self.messages_delivered += 1
        self.bytes_delivered += size

    def dropped(self, size: int) -> None:
        self.messages_dropped += 1
        self.bytes_dropped += size


class SimListener:
    def __init__(
        self,
        network: SimNetwork,
        process: SimProcess,
        factory: ProtocolFactory,
        address: tuple[str, int],
    ) -> None:
        self.network = network
        self.process = process
        self.factory = factory
        self.address = address
        self.closed = False

    def close(self) -> None:
        # As asyncio's Server.close: no new connections; the accepted ones stay open.
        if not self.closed:
            self.closed = True
            del self.network.listeners[self.address]

    async def wait_closed(self) -> None:
        pass  # nothing lingers once closed


class SimNetwork:
    def __init__(
        self, world: World, min_latency: float = 0.0002, max_latency: float = 0.002
    ) -> None:
        self.world = world
        self.rng = world.fork_rng("network")
        self.min_latency = min_latency
        self.max_latency = max_latency
        self.stats = NetStats()
        self.listeners: dict[tuple[str, int], SimListener] = {}
        self.hosts: dict[SimProcess, str] = {}
        self._pipes: dict[Pipe, None] = {}  # open connections, in creation order
        self._dialling: dict[Pipe, asyncio.Future[None]] = {}  # not yet accepted
        self._next_port: dict[tuple[str, int], int] = {}
        self._severed: set[frozenset[str]] = set()
        self._cut: set[tuple[str, str]] = set()
        self._slow: dict[tuple[str, str], float] = {}
        world.kill_hooks.append(self._killed)

    # --- plumbing used by the transports --------------------------------------------

    def latency(self, src: str, dst: str) -> float:
        extra = self._slow.get((src, dst), 0.0) if self._slow else 0.0
        return self.rng.uniform(self.min_latency, self.max_latency) + extra

    def post(
        self, process: SimProcess, delay: float, callback: Callable[..., Any], *args: Any
    ) -> None:
        """Run callback(*args) on `process`'s loop after `delay`; nothing if it is dead."""
        if not process.alive:
            return
        if delay <= 0:  # the ready queue keeps order; equal times in the timer heap do not
            process.loop.call_soon(callback, *args)
        else:
            process.loop.call_at(self.world.now + delay, callback, *args)

    def _arrival(self, src: SimTransport) -> float:
        # Strictly after the previous arrival: the loop's timer heap does not keep equal
        # times in the order they were scheduled.
        latency = self.latency(src.sockname[0], src.peername[0])
        when = max(self.world.now + latency, src.last_arrival + ARRIVAL_GAP)
        src.last_arrival = when
        return when

    def transmit(self, src: SimTransport, data: bytes) -> None:
        if (src.sockname[0], src.peername[0]) in self._cut:
            self.stats.dropped(len(data))
            return
        src.unreceived += len(data)
        dst = src.peer
        self.post(dst.process, self._arrival(src) - self.world.now, dst.arrive, data)

    def send_fin(self, src: SimTransport) -> None:
        if not self.pipe_open(src.pipe):
            return
        dst = src.peer
        self.post(dst.process, self._arrival(src) - self.world.now, dst.arrive_fin)

    def pipe_open(self, pipe: Pipe) -> bool:
        return pipe in self._pipes

    def reset_pipe(self, pipe: Pipe, spare: SimTransport | None = None) -> None:
        """Break a connection: in-flight bytes are lost, and each end but `spare` (the
        one aborting) gets ConnectionResetError after a latency; a dead process's end
        gets nothing (post skips it)."""
        if pipe.broken:
            return
        pipe.broken = True
        self.stats.resets += 1
        self._pipes.pop(pipe, None)
        for end in pipe.ends():
            if end is not spare and not end.lost:
                host, peer = end.sockname[0], end.peername[0]
                error = ConnectionResetError(errno.ECONNRESET, f"reset by {peer}")
                self.post(end.process, self.latency(peer, host), end.lose, error)

    def forget(self, pipe: Pipe) -> None:
        if pipe.dialer.lost and pipe.acceptor.lost:
            self._pipes.pop(pipe, None)

    # --- listening and dialling -----------------------------------------------------

    def place(self, process: SimProcess, host: str) -> None:
        self.hosts[process] = host

    def _port(self, host: str, first: int) -> int:
        # Listening and dialling ports are counted apart, each from its own first.
        port = self._next_port.get((host, first), first)
        while (host, port) in self.listeners:
            port += 1
        self._next_port[(host, first)] = port + 1
        return port

    def listen(
        self, process: SimProcess, factory: ProtocolFactory, host: str, port: int
    ) -> tuple[SimListener, tuple[str, int]]:
        self.hosts.setdefault(process, host)
        if port == 0:
            port = self._port(host, FIRST_LISTEN_PORT)
        address = (host, port)
        if address in self.listeners:
            raise OSError(errno.EADDRINUSE, f"address already in use: {host}:{port}")
        listener = SimListener(self, process, factory, address)
        self.listeners[address] = listener
        return listener, address

    def _refusal(self, src: str, address: tuple[str, int]) -> str | None:
        listener = self.listeners.get(address)
        if listener is None or not listener.process.alive:
            return "nothing listens there"
        if frozenset((src, address[0])) in self._severed:
            return "the hosts are severed"
        return None

    def _refused(self, address: tuple[str, int], why: str) -> ConnectionRefusedError:
        self.stats.refused += 1
        return ConnectionRefusedError(
            errno.ECONNREFUSED, f"connect to {address[0]}:{address[1]} refused: {why}"
        )

    async def connect(
        self, process: SimProcess, factory: ProtocolFactory, host: str, port: int
    ) -> SimTransport:
        """Dial from `process` (its placed host); after a latency the acceptor's protocol
        is made and connected, then the dialer's. Refused: ConnectionRefusedError."""
        src = self.hosts.get(process)
        if src is None:
            raise ValueError(f"{process.name} has no host: call place() or listen() first")
        address = (host, port)
        await asyncio.sleep(self.latency(src, host))
        why = self._refusal(src, address)
        if why is not None:
            raise self._refused(address, why)
        dialer, acceptor = self._pair(process, self.listeners[address].process, src, address)
        made: asyncio.Future[None] = process.loop.create_future()
        self._dialling[dialer.pipe] = made
        self.post(acceptor.process, 0.0, self._accept, self.listeners[address], dialer, made)
        await made  # cancelled (a wait_for timing out): _connected aborts the connection
        if dialer.lost:
            raise ConnectionResetError(errno.ECONNRESET, f"connection to {host}:{port} reset")
        protocol = factory()
        protocol.connection_made(dialer)
        dialer.started(protocol)
        return dialer

    def _pair(
        self, dialer: SimProcess, acceptor: SimProcess, src: str, address: tuple[str, int]
    ) -> tuple[SimTransport, SimTransport]:
        pipe = Pipe()
        local = (src, self._port(src, FIRST_EPHEMERAL_PORT))
        pipe.dialer = SimTransport(self, pipe, dialer, local, address)
        pipe.acceptor = SimTransport(self, pipe, acceptor, address, local)
        pipe.dialer.peer, pipe.acceptor.peer = pipe.acceptor, pipe.dialer
        return pipe.dialer, pipe.acceptor

    def _accept(
        self, listener: SimListener, dialer: SimTransport, made: asyncio.Future[None]
    ) -> None:
        # On the acceptor's loop. Things may have changed since the dial arrived.
        self._dialling.pop(dialer.pipe, None)  # gone already if the dialer was killed
        why = (
            self._refusal(dialer.sockname[0], listener.address) if not listener.closed else "closed"
        )
        if why is None and not dialer.process.alive:
            return  # the dialer died meanwhile: nobody to tell
        if why is not None:
            self.post(dialer.process, 0.0, _fail, made, self._refused(listener.address, why))
            return
        self.stats.connections += 1
        self._pipes[dialer.pipe] = None
        acceptor = dialer.peer
        protocol = listener.factory()
        protocol.connection_made(acceptor)
        acceptor.started(protocol)
        self.post(dialer.process, 0.0, self._connected, dialer, made)

    def _connected(self, dialer: SimTransport, made: asyncio.Future[None]) -> None:
        if made.cancelled():
            dialer.abort()
        else:
            made.set_result(None)

    # --- faults ---------------------------------------------------------------------

    def _between(self, a: str, b: str) -> list[Pipe]:
        pair = {a, b}
        return [p for p in self._pipes if {p.dialer.sockname[0], p.acceptor.sockname[0]} == pair]

    def sever(self, a: str, b: str) -> None:
        self._severed.add(frozenset((a, b)))
        self.reset(a, b)

    def cut(self, a: str, b: str) -> None:
        self._cut.add((a, b))

    def slow(self, a: str, b: str, extra_seconds: float) -> None:
        self._slow[(a, b)] = extra_seconds

    def reset(self, a: str, b: str) -> None:
        for pipe in self._between(a, b):
            self.reset_pipe(pipe)

    def heal(self, a: str, b: str) -> None:
        self._severed.discard(frozenset((a, b)))
        for pair in ((a, b), (b, a)):
            self._cut.discard(pair)
            self._slow.pop(pair, None)

    def heal_all(self) -> None:
        self._severed.clear()
        self._cut.clear()
        self._slow.clear()

    def _killed(self, process: SimProcess) -> None:
        for listener in list(self.listeners.values()):
            if listener.process is process:
                listener.close()
        for pipe in list(self._pipes):
            if process in (pipe.dialer.process, pipe.acceptor.process):
                self.reset_pipe(pipe)
        # Its accept callbacks died with its loop: their dialers are refused (as a dead
        # host's kernel answers a SYN with RST), or simply forgotten if they died.
        for pipe, made in list(self._dialling.items()):
            if process is pipe.acceptor.process:
                why = self._refused(pipe.dialer.peername, "the listening process died")
                self.post(pipe.dialer.process, 0.0, _fail, made, why)
            if process in (pipe.dialer.process, pipe.acceptor.process):
                del self._dialling[pipe]


def _fail(made: asyncio.Future[None], error: Exception) -> None:
    if not made.done():
        made.set_exception(error)
