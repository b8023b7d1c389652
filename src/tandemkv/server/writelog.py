"""The write path's log seam: where the mutations of each batch of commands go.

The connection hands every batch of mutations to a WriteLog and releases the batch's
replies once the log says that position is safe: written (and fsynced, as the policy
says) by this node and, in a group of several, acknowledged by a majority.
`node/replicated_log.py` implements it over the replication core, for a group of one as
for a group of three; the connection and the server see only this interface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tandemkv.storage.mutation import Mutation


class WriteLog(Protocol):
    failed: bool  # the log could not be written: this node is stopping
    changes: int  # mutations ever handed in (the save points count them)

    def append(self, mutations: list[Mutation]) -> int:
        """Accept a batch; return its position, increasing with each call."""

    def is_safe(self, position: int) -> bool:
        """Whether replies that depend on `position` may be sent."""

    def when_safe(self, position: int, callback: Callable[[], None]) -> None:
        """Call `callback` once `position` is safe (soon, never re-entrantly)."""

    def read_fence(self) -> int | None:
        """A position a batch of reads must wait for, or None if reads wait for nothing
        (see node/replicated_log.py)."""

    def flush_now(self) -> None:
        """Write what is gathered now where this node can commit alone (SAVE, BGSAVE,
        shutdown); elsewhere the node's loop writes it on its own turn."""

    def close(self) -> None:
        """Shutdown: nothing pending will be released."""

    @property
    def synced_through(self) -> int:
        """The log index known to be on disk here (INFO persistence)."""
