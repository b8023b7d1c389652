"""Node-to-node links: one persistent outbound connection per peer.

Each link authenticates with the cluster secret (PEER AUTH) and asks for the frame stream
(PEER STREAM), pipelined; once both are answered +OK it carries the node's replication
messages to that peer as length-prefixed frames (protocol/peer_frames.py), which are not
answered, and keeps the link checked with empty frames, which are. Messages to a peer
that is not connected are dropped: the replication core resends what matters (appends,
heartbeats, votes) on its own timers. A link reconnects with exponential back-off, and the
route table can send it through another address (a proxy in the chaos tests, a NAT'd
address in production).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from tandemkv.config import parse_address
from tandemkv.protocol.client_codec import NEED_MORE, ReplyDecoder, encode_command
from tandemkv.protocol.peer_frames import (
    MAX_FRAME_BYTES,
    PING_FRAME,
    FrameDecoder,
    FrameTooLarge,
    encode_frames,
)
from tandemkv.protocol.types import OK, ErrorReply

if TYPE_CHECKING:
    from tandemkv.runtime import Runtime

log = logging.getLogger("tandemkv.node")

BACKOFF_FIRST = 0.05
# A link that has answered nothing (not even a keep-alive frame) for this long is redialled:
# a path that silently swallows bytes would otherwise keep a node out of its group for good.
KEEPALIVE_SECONDS = 0.5
DEAD_AFTER_SECONDS = 2.0
BACKOFF_MAX = 1.0
# Past this much unsent output the peer is not keeping up: drop and let the core resend.
MAX_BUFFERED = 16 * 1024 * 1024
MAX_QUEUED = 1024 * 1024


class PeerLink(asyncio.Protocol):
    def __init__(self, links: PeerLinks, node_id: int, address: str) -> None:
        self.links = links
        self.node_id = node_id
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.connecting = False
        # Held so the dial is not garbage-collected mid-way (the loop keeps only weak
        # references to tasks): `connecting` would then stay set and the link never redial.
        self.dial: asyncio.Task[None] | None = None
        self.closed = False
        self.backoff = BACKOFF_FIRST
        self.retry: asyncio.TimerHandle | None = None
        self.decoder = ReplyDecoder()
        # Set once PEER AUTH and PEER STREAM are both answered +OK: the link then carries
        # frames. The peer only ever sends empty ones back (pongs), so any longer length
        # is refused at its header.
        self.frames: FrameDecoder | None = None
        self.awaited_replies = 0
        self.complained = False
        # Messages sent while the connection is being made or its handshake answered,
        # already framed: a vote request must not be lost just because this is the first
        # time we talk to that peer.
        self.queued: list[bytes] = []
        self.queued_bytes = 0
        self.last_reply = 0.0
        self.last_ping = 0.0

    # --- sending --------------------------------------------------------------------

    def send(self, blobs: list[bytes]) -> None:
        transport = self.transport
        if self.frames is None or transport is None or transport.is_closing():
            self._send_later(blobs)
        elif transport.get_write_buffer_size() <= MAX_BUFFERED:
            self._write(transport, self._framed(blobs))

    def _write(self, transport: asyncio.Transport, data: bytes) -> None:
        try:
            transport.write(data)
        except RuntimeError as error:
            # uvloop raises on a handle that closed before is_closing() said so (seen under
            # a fuzzed group: it escaped the node's Ready loop). The link is down; the core
            # resends what this carried once it is up again.
            self._drop(f"the connection closed under a write ({error})")

    def _send_later(self, blobs: list[bytes]) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            self.connect_soon()
            if not self.connecting:
                return
        framed = self._framed(blobs)
        if self.queued_bytes + len(framed) <= MAX_QUEUED:
            self.queued.append(framed)
            self.queued_bytes += len(framed)

    def _framed(self, blobs: list[bytes]) -> bytes:
        try:
            return encode_frames(blobs)
        except ValueError as error:  # FrameTooLarge, or an empty message
            # The peer would close the link on such a frame, losing the others with it.
            log.warning("not sending a message to node %x: %s", self.node_id, error)
            return encode_frames([b for b in blobs if 0 < len(b) <= MAX_FRAME_BYTES])

    def connect_soon(self) -> None:
        # While a connection exists, even one closing, its connection_lost schedules the
        # redial. Dialling now would race it: every connection of this link calls back into
        # this one object, so the old one's connection_lost would clear the new transport.
        if self.connecting or self.closed or self.retry is not None or self.transport is not None:
            return
        self.connecting = True
        self.dial = self.links.runtime.loop.create_task(self._connect())

    async def _connect(self) -> None:
        target = parse_address(self.links.route(self.address), allow_port_zero=False)
        runtime = self.links.runtime
        try:
            await asyncio.wait_for(
                runtime.connect(lambda: self, target.host, target.port, self.links.tls()), 2.0
            )
        except (TimeoutError, OSError) as error:
            if isinstance(error, ssl.SSLError) and not self.complained:
                log.warning(
                    "link to node %x at %s: TLS handshake failed: %s",
                    self.node_id,
                    self.address,
                    error.reason or error,
                )
                self.complained = True
            self.connecting = False
            self.queued, self.queued_bytes = [], 0
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        if self.closed or self.retry is not None:
            return
        self.retry = self.links.runtime.loop.call_later(self.backoff, self._retry)
        self.backoff = min(self.backoff * 2, BACKOFF_MAX)

    def _retry(self) -> None:
        self.retry = None
        self.connect_soon()

    # --- asyncio hooks --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = link = cast(asyncio.Transport, transport)
        self.connecting = False
        if self.closed:
            link.close()
            return
        self.decoder = ReplyDecoder()
        self.frames = None
        self.awaited_replies = 2
        secret = self.links.secret()
        link.write(encode_command([b"PEER", b"AUTH", secret, self.links.my_id]) + _PEER_STREAM)
        self.last_reply = self.last_ping = self.links.runtime.monotonic()

    def data_received(self, data: bytes) -> None:
        frames = self.frames
        if frames is None:
            self._handshake_replies(data)
            return
        frames.feed(data)
        try:
            _, pongs = frames.read_frames()
        except FrameTooLarge:
            self._drop("the peer sent something other than a keep-alive frame")
            return
        if pongs:
            self._heard()

    def _handshake_replies(self, data: bytes) -> None:
        """The +OK answers to PEER AUTH and PEER STREAM; frames follow the second."""
        self.decoder.feed(data)
        while self.awaited_replies:
            try:
                reply = self.decoder.next_reply()
            except Exception:  # a peer speaking garbage: drop the link
                self._drop("unreadable reply")
                return
            if reply is NEED_MORE:
                return
            if isinstance(reply, ErrorReply):
                self._drop(reply.message)
                return
            if reply != OK:
                self._drop(f"unexpected reply {reply!r} to the handshake")
                return
            self.awaited_replies -= 1
        try:
            extra = self.decoder.next_reply()
        except Exception:
            extra = None
        if extra is not NEED_MORE:  # nothing was asked that it could answer
            self._drop("unexpected reply after PEER STREAM")
            return
        # Only now does the link work: a peer that takes PEER AUTH but not PEER STREAM
        # must not be logged as up again between refusals.
        self._heard()
        self._start_stream()

    def _start_stream(self) -> None:
        transport = self.transport
        assert transport is not None
        self.frames = FrameDecoder(max_frame=0)
        if self.queued:
            self._write(transport, b"".join(self.queued))
            self.queued, self.queued_bytes = [], 0

    def _heard(self) -> None:
        """The peer answered: the link works."""
        self.backoff = BACKOFF_FIRST
        self.last_reply = self.links.runtime.monotonic()
        if self.complained:
            log.info("link to node %x at %s is up again", self.node_id, self.address)
            self.complained = False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.connecting = False
        self.frames = None
        self.queued, self.queued_bytes = [], 0
        self._schedule_retry()

    def _drop(self, reason: str) -> None:
        if not self.complained:
            log.warning("link to node %x at %s refused: %s", self.node_id, self.address, reason)
            self.complained = True
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # closed already (see _write)
                self.transport.close()

    def keep_alive(self, now: float) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if now - self.last_reply > DEAD_AFTER_SECONDS:
            self._drop(f"no answer for {now - self.last_reply:.1f}s; redialling")
            return
        # Not before the handshake is answered: until then the peer reads RESP.
        if self.frames is not None and now - self.last_ping >= KEEPALIVE_SECONDS:
            self.last_ping = now
            self._write(transport, PING_FRAME)

    def close(self) -> None:
        self.closed = True
        if self.retry is not None:
            self.retry.cancel()
            self.retry = None
        if self.transport is not None:
            self.transport.close()


_PEER_STREAM = encode_command([b"PEER", b"STREAM"])


class PeerLinks:
    def __init__(
        self,
        my_id: int,
        secret: Callable[[], str],
        routes: dict[str, str],
        runtime: Runtime,
        tls: Callable[[], ssl.SSLContext | None] = lambda: None,
    ) -> None:
        """`tls`: the context to dial with now (tls-replication; reloads replace it);
        `runtime`: the clock and the transport links dial through."""
        self.runtime = runtime
        self.my_id = my_id
        self.secret = secret
        self.routes = routes
        self.tls = tls
        self._links: dict[int, PeerLink] = {}

    def route(self, address: str) -> str:
        return self.routes.get(address, address)

    def send(self, node_id: int, address: str, blobs: list[bytes]) -> None:
        self._link(node_id, address).send(blobs)

    def ensure(self, node_id: int, address: str) -> None:
        """Keep a connection open to a member, so the first message need not wait."""
        link = self._link(node_id, address)
        if link.transport is None:
            link.connect_soon()

    def _link(self, node_id: int, address: str) -> PeerLink:
        link = self._links.get(node_id)
        if link is None or link.address != address:
            if link is not None:
                link.close()
            link = self._links[node_id] = PeerLink(self, node_id, address)
        return link

    def keep_alive(self) -> None:
        now = self.runtime.monotonic()
        for link in self._links.values():
            link.keep_alive(now)

    def forget(self, keep: set[int]) -> None:
        """Close links to nodes no longer in the membership."""
        for node_id in [n for n in self._links if n not in keep]:
            self._links.pop(node_id).close()

    def close(self) -> None:
        for link in self._links.values():
            link.close()
        self._links.clear()
