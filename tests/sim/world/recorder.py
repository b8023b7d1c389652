"""A protocol that records what its transport does to it, optionally echoing (tests)."""

from __future__ import annotations

import asyncio

from tandemkv.testing.world import World


class Recorder(asyncio.Protocol):
    def __init__(self, world: World, echo: bool = False) -> None:
        self.world = world
        self.echo = echo
        self.transport: asyncio.Transport | None = None
        self.events: list[tuple[float, str, object]] = []
        self.data = b""
        self.lost: Exception | bool | None = False  # False until connection_lost
        self.write_pauses = 0
        self.write_resumes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.events.append((self.world.now, "made", None))

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.events.append((self.world.now, "data", data))
        if self.echo and self.transport is not None:
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        assert self.lost is False, "connection_lost called twice"
        self.lost = exc
        self.events.append((self.world.now, "lost", type(exc).__name__))

    def pause_writing(self) -> None:
        self.write_pauses += 1

    def resume_writing(self) -> None:
        self.write_resumes += 1
