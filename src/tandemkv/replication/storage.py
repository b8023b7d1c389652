"""The log storage interface the core reads from, and an in-memory implementation.

The core never writes to storage: the shell does, following the Ready it is handed
(install the snapshot, append the entries, save the hard state), then calls advance().
Storage holds what has been persisted; entries not yet persisted live inside the core.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tandemkv.replication.messages import (
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Snapshot,
    SnapshotMeta,
)

ENTRY_OVERHEAD = 16  # bytes charged per entry on top of its payload when sizing batches


def entry_size(entry: Entry) -> int:
    return len(entry.data) + ENTRY_OVERHEAD


def batch_size(entries: Sequence[Entry]) -> int:
    """The sum of entry_size over ``entries``, without a call per entry (every write
    passes through here twice on its way to each follower)."""
    return sum([len(entry.data) for entry in entries]) + ENTRY_OVERHEAD * len(entries)


class LogCompacted(Exception):
    """The requested index is covered by the snapshot; its entry is gone."""


class LogUnavailable(Exception):
    """The requested index is past the end of the stored log."""


class LogStorage(Protocol):
    """Persisted log state. Index ``first_index() - 1`` is the snapshot's index; its term
    is still answered by ``term``."""

    def hard_state(self) -> HardState: ...

    def first_index(self) -> int: ...

    def last_index(self) -> int: ...

    def term(self, index: int) -> int: ...

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[Entry]:
        """Entries in [lo, hi), stopping before max_bytes but always at least one."""
        ...

    def config_entries(self, lo: int, hi: int) -> list[Entry]:
        """The CONFIG entries in [lo, hi): the membership, read without the whole log."""
        ...

    def snapshot_meta(self) -> SnapshotMeta: ...

    def snapshot(self) -> Snapshot: ...


def limit_size(entries: list[Entry], max_bytes: int) -> list[Entry]:
    """The longest prefix within max_bytes, but never empty if entries is not."""
    if batch_size(entries) <= max_bytes:
        return entries
    total = 0
    for n, entry in enumerate(entries):
        total += entry_size(entry)
        if total > max_bytes and n > 0:
            return entries[:n]
    return entries


class MemoryStorage:
    """A LogStorage kept in lists; the simulator's disk and the unit tests' storage."""

    def __init__(self, conf: ConfState | None = None) -> None:
        self._hard = HardState()
        self._snapshot = Snapshot(SnapshotMeta(0, 0, conf or ConfState()))
        self._entries: list[Entry] = []  # _entries[k].index == first_index() + k

    # --- LogStorage ---------------------------------------------------------------------

    def hard_state(self) -> HardState:
        return self._hard

    def first_index(self) -> int:
        return self._snapshot.meta.index + 1

    def last_index(self) -> int:
        return self._snapshot.meta.index + len(self._entries)

    def term(self, index: int) -> int:
        offset = self._snapshot.meta.index
        if index < offset:
            raise LogCompacted(index)
        if index == offset:
            return self._snapshot.meta.term
        if index > self.last_index():
            raise LogUnavailable(index)
        return self._entries[index - offset - 1].term

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[Entry]:
        if lo < self.first_index():
            raise LogCompacted(lo)
        if hi > self.last_index() + 1:
            raise LogUnavailable(hi)
        base = self.first_index()
        return limit_size(self._entries[lo - base : hi - base], max_bytes)

    def config_entries(self, lo: int, hi: int) -> list[Entry]:
        base = self.first_index()
        return [
            e
            for e in self._entries[max(0, lo - base) : max(0, hi - base)]
            if e.kind is EntryKind.CONFIG
        ]

    def snapshot_meta(self) -> SnapshotMeta:
        return self._snapshot.meta

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # --- writes, done by the shell --------------------------------------------------------

    def set_hard_state(self, hard: HardState) -> None:
        self._hard = hard

    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        """Append, replacing any stored entries from entries[0].index on."""
        if not entries:
            return
        first = entries[0].index
        if first > self.last_index() + 1:
            raise ValueError(f"gap: appending {first} after {self.last_index()}")
        if first <= self._snapshot.meta.index:
            entries = [e for e in entries if e.index > self._snapshot.meta.index]
            if not entries:
                return
            first = entries[0].index
        del self._entries[first - self.first_index() :]
        self._entries.extend(entries)

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Install a received snapshot: the log restarts right after it."""
        meta = snapshot.meta
        if meta.index <= self._snapshot.meta.index:
            return
        if meta.index <= self.last_index() and self.term(meta.index) == meta.term:
            keep = self._entries[meta.index - self.first_index() + 1 :]
        else:
            keep = []
        self._snapshot = snapshot
        self._entries = keep
        if self._hard.commit < meta.index:
            self._hard = HardState(self._hard.term, self._hard.vote, meta.index)

    def compact(self, index: int, conf: ConfState, data: bytes) -> None:
        """Replace the log up to ``index`` (already applied) by a snapshot of ``data``."""
        if index <= self._snapshot.meta.index:
            return
        if index > self.last_index():
            raise LogUnavailable(index)
        term = self.term(index)
        self._entries = self._entries[index - self.first_index() + 1 :]
        self._snapshot = Snapshot(SnapshotMeta(index, term, conf), data)

    def copy(self) -> MemoryStorage:
        twin = MemoryStorage()
        twin._hard = self._hard
        twin._snapshot = self._snapshot
        twin._entries = list(self._entries)
        return twin
