"""A peer link's life cycle without a network: one dial at a time, redial after a loss."""

from __future__ import annotations

import asyncio

from tandemkv.node.peers import PeerLink, PeerLinks
from tandemkv.runtime import OsRuntime


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False
        self.handle_closed = False

    def write(self, data: bytes) -> None:
        if self.handle_closed:  # as uvloop's UVHandle._ensure_alive
            raise RuntimeError("unable to perform operation on <TCPTransport closed=True>")
        self.written.append(data)

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0


def test_sending_while_the_old_connection_closes_does_not_dial_a_second_one() -> None:
    async def scenario() -> None:
        link = PeerLink(
            PeerLinks(1, lambda: "secret", {}, OsRuntime(asyncio.get_running_loop())),
            2,
            "127.0.0.1:9",
        )
        old = FakeTransport()
        link.connection_made(old)  # type: ignore[arg-type]
        assert b"PEER" in old.written[0]  # the handshake went out
        link._drop("test: the peer stopped answering")
        link.send([b"an append"])
        # A dial now would race the old connection's connection_lost, which would then
        # clear the new transport and leave the link dialling twice.
        assert not link.connecting and link.retry is None
        link.connection_lost(None)
        assert link.transport is None and link.retry is not None  # one redial, later
        link.connection_lost(None)  # a stray second loss schedules nothing more
        first_retry = link.retry
        link._schedule_retry()
        assert link.retry is first_retry
        link.close()
        assert link.retry is None

    asyncio.run(scenario())


def test_a_write_on_a_handle_closed_under_the_link_drops_the_link_and_raises_nothing() -> None:
    """uvloop raised from write() on a handle whose is_closing() still said False; the
    error escaped the node's Ready loop, which then failed on every turn."""

    async def scenario() -> None:
        link = PeerLink(
            PeerLinks(1, lambda: "secret", {}, OsRuntime(asyncio.get_running_loop())),
            2,
            "127.0.0.1:9",
        )
        transport = FakeTransport()
        link.connection_made(transport)  # type: ignore[arg-type]
        link.data_received(b"+OK\r\n+OK\r\n")  # PEER AUTH and PEER STREAM answered
        assert link.frames is not None
        transport.handle_closed = True
        link.send([b"an append"])  # must not raise
        assert transport.closing and link.complained
        link.close()

    asyncio.run(scenario())
