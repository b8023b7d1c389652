"""The write path's log seam: where the mutations of each batch of commands go.

The connection hands every batch of mutations to a WriteLog and releases the batch's
replies once the log says that position is safe (durable on disk, and later replicated to
a majority). The storage issue plugs in the checksummed segment log with its fsync policy;
the replication issue plugs in the consensus core. Until then, VolatileLog keeps nothing:
the keyspace, already updated by the engine, is the only copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tandemkv.storage.mutation import Mutation


class WriteLog(Protocol):
    def append(self, mutations: list[Mutation]) -> int:
        """Accept a batch; return its position, increasing with each call."""

    def is_safe(self, position: int) -> bool:
        """Whether replies that depend on `position` may be sent."""

    def when_safe(self, position: int, callback: Callable[[], None]) -> None:
        """Call `callback` once `position` is safe (soon, never re-entrantly)."""

    def close(self) -> None:
        """Flush what is pending; called once at shutdown."""


class VolatileLog:
    """No persistence: every position is safe at once."""

    def __init__(self) -> None:
        self.position = 0
        self.mutations_seen = 0

    def append(self, mutations: list[Mutation]) -> int:
        self.position += 1
        self.mutations_seen += len(mutations)
        return self.position

    def is_safe(self, position: int) -> bool:
        return True

    def when_safe(self, position: int, callback: Callable[[], None]) -> None:
        callback()

    def close(self) -> None:
        return None
