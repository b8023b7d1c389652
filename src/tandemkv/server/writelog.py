"""The write path's log seam: where the mutations of each batch of commands go.

The connection hands every batch of mutations to a WriteLog and releases the batch's
replies once the log says that position is safe (durable on disk, and later replicated to
a majority). `server/durable_log.py` implements it over the checksummed segment log with
an fsync policy; the cluster mode will implement it over the replication core.
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

    def read_fence(self) -> int | None:
        """A position a batch of reads must wait for, or None if reads wait for nothing
        (standalone: a read sees only what it sees; cluster: see node/replicated_log.py)."""

    def close(self) -> None:
        """Flush what is pending; called once at shutdown."""
