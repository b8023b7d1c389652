"""One end of a simulated TCP connection: an `asyncio.Transport` over in-memory delivery.

A `SimTransport` is what a protocol (ClientConnection, PeerLink, a StreamReaderProtocol)
sees; it knows its own process, its peer end and the `Wire` (the network) that carries
its bytes. The wire decides when and whether bytes arrive; this end keeps what a socket
keeps on its receiving side and what asyncio keeps on its sending side:

- Receiving: bytes arrive in the order written. While reading is paused (or before the
  protocol exists) they are held, and handed over on `resume_reading`; an orderly close
  (FIN) that arrives behind held bytes waits for them.
- Sending: `get_write_buffer_size()` counts the bytes written and not yet handed to the
  peer's protocol (in flight, or held by a peer that paused reading); past the high-water
  mark the protocol's `pause_writing` is called, and `resume_writing` once it falls to the
  low-water mark, as asyncio does. (A real socket would absorb some in the kernel; here
  every unreceived byte counts, which makes back-pressure appear sooner, never later.)
- `close()`: the peer receives what was written, then `connection_lost(None)`; this end's
  protocol gets `connection_lost(None)` soon, on its own loop. `abort()`: in-flight bytes
  are lost both ways and the peer gets `connection_lost(ConnectionResetError)`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tandemkv.testing.world.network import SimNetwork
    from tandemkv.testing.world.world import SimProcess

DEFAULT_HIGH_WATER = 64 * 1024


class Pipe:
    """A connection: its two ends, and whether a reset broke it (then nothing more in
    flight on it is delivered)."""

    __slots__ = ("acceptor", "broken", "dialer")

    def __init__(self) -> None:
        self.dialer: SimTransport
        self.acceptor: SimTransport
        self.broken = False

    def ends(self) -> tuple[SimTransport, SimTransport]:
        return self.dialer, self.acceptor


class SimTransport(asyncio.Transport):
    def __init__(
        self,
        network: SimNetwork,
        pipe: Pipe,
        process: SimProcess,
        sockname: tuple[str, int],
        peername: tuple[str, int],
    ) -> None:
        super().__init__()
        self._net = network
        self.pipe = pipe
        self.process = process
        self._loop = process.loop
        self.sockname = sockname
        self.peername = peername
        self.peer: SimTransport  # set once both ends exist
        self._protocol: asyncio.BaseProtocol | None = None
        self._closing = False
        self.lost = False  # connection_lost was called (or is no longer due: killed)
        self._reading = True
        self._held: deque[bytes] = deque()
        self._fin_held = False
        self.unreceived = 0  # bytes this end wrote that the peer's protocol has not had
        self.last_arrival = 0.0  # when the latest of them arrives: FIFO per direction
        self._low, self._high = DEFAULT_HIGH_WATER // 4, DEFAULT_HIGH_WATER
        self._write_paused = False

    def __repr__(self) -> str:
        return f"<SimTransport {self.sockname}->{self.peername} closing={self._closing}>"

    # --- BaseTransport --------------------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self.peername
        if name == "sockname":
            return self.sockname
        return default  # socket, ssl_object, sslcontext, peercert: no such thing here

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._loop.is_closed():
            return  # a killed process's coroutine closing its socket as it is collected
        self._net.send_fin(self)
        self._loop.call_soon(self.lose, None)

    def abort(self) -> None:
        if self.lost:
            return
        self._closing = True
        self._net.reset_pipe(self.pipe, spare=self)
        self._loop.call_soon(self.lose, None)

    # --- ReadTransport --------------------------------------------------------------

    def is_reading(self) -> bool:
        return self._reading and not self._closing

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        if self._reading:
            return
        self._reading = True
        if self._held or self._fin_held:
            self._loop.call_soon(self._drain)

    # --- WriteTransport -------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._closing or self.pipe.broken:
            self._net.stats.dropped(len(data))  # asyncio too ignores writes to a lost socket
            return
        self._net.transmit(self, bytes(data))
        self._maybe_pause()

    def _maybe_pause(self) -> None:
        if not self._write_paused and self.unreceived > self._high:
            self._write_paused = True
            self._call_protocol("pause_writing")

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        raise NotImplementedError("simulated connections do not half-close")

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self.unreceived

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        # asyncio's defaults: 64 KiB, or four times low; low a quarter of high.
        if high is None:
            high = DEFAULT_HIGH_WATER if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._low, self._high = low, high
        self._maybe_pause()  # as asyncio: a lower mark may already be passed

    # --- the receiving side (run on this end's loop by the network) -------------------

    def _receptive(self) -> bool:
        return self._reading and self._protocol is not None and not self.lost

    def arrive(self, data: bytes) -> None:
        if self.pipe.broken or self.lost:
            self._net.stats.dropped(len(data))
        elif self._held or not self._receptive():
            self._held.append(data)
        else:
            self._hand(data)

    def arrive_fin(self) -> None:
        if self.pipe.broken or self.lost:
            return
        if self._held or not self._receptive():
            self._fin_held = True
        else:
            self._closing = True
            self.lose(None)

    def started(self, protocol: asyncio.BaseProtocol) -> None:
        """The protocol exists and its connection_made ran: bytes that arrived first go
        to it now."""
        self._protocol = protocol
        if self._held or self._fin_held:
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        while self._held and self._receptive():
            self._hand(self._held.popleft())
        if self._fin_held and not self._held and self._receptive():
            self._fin_held = False
            self._closing = True
            self.lose(None)

    def _hand(self, data: bytes) -> None:
        peer = self.peer
        peer.unreceived -= len(data)
        if peer._write_paused and peer.unreceived <= peer._low:
            peer._write_paused = False
            self._net.post(peer.process, 0.0, peer._call_protocol, "resume_writing")
        self._net.stats.delivered(len(data))
        protocol = self._protocol
        assert isinstance(protocol, asyncio.Protocol)
        protocol.data_received(data)

    def lose(self, exc: Exception | None) -> None:
        """connection_lost, once."""
        if self.lost:
            return
        self.lost = self._closing = True
        self._held.clear()
        self._net.forget(self.pipe)
        if self._protocol is not None:
            self._protocol.connection_lost(exc)

    def _call_protocol(self, method: str) -> None:
        if not self.lost and self._protocol is not None:
            getattr(self._protocol, method)()
