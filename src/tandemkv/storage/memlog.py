"""The log of a node that keeps none on disk (`--appendonly no`): SegmentedLog's interface
over a list in memory.

Such a node is a group of one, like Redis running on RDB snapshots alone: its writes still
pass through the replication core as log entries, but nothing is written or fsynced, and
only SAVE/BGSAVE snapshots survive a restart. Applied entries are dropped as the node goes
(`compact_through`), so memory holds only the last few loop turns' writes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tandemkv.storage.errors import LogCompactedError, LogIndexError
from tandemkv.storage.record import EntryKind, LogEntry, RecordFields


class MemoryLog:
    """See SegmentedLog (storage/log.py) for the contract of each method."""

    volatile = True
    failed = False
    unsynced = False
    segment_names: list[str] = []

    def __init__(self, base_index: int, base_term: int) -> None:
        self._base_index = base_index
        self._base_term = base_term
        self._entries: list[LogEntry] = []  # _entries[k].index == base_index + 1 + k

    @property
    def first_index(self) -> int:
        return self._base_index + 1

    @property
    def last_index(self) -> int:
        return self._base_index + len(self._entries)

    @property
    def last_term(self) -> int:
        return self.term_at(self.last_index)

    def term_at(self, index: int) -> int:
        if index == self._base_index:
            return self._base_term
        self._check_readable(index, index + 1)
        return self._entries[index - self._base_index - 1].term

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[LogEntry]:
        self._check_readable(lo, hi)
        chosen = self._entries[lo - self._base_index - 1 : hi - self._base_index - 1]
        if max_bytes is None:
            return chosen
        spent = 0
        for count, entry in enumerate(chosen):
            spent += len(entry.data)
            if spent > max_bytes and count > 0:
                return chosen[:count]
        return chosen

    def iter_entries(self, lo: int, hi: int | None = None) -> Iterator[LogEntry]:
        return iter(self.entries(lo, self.last_index + 1 if hi is None else hi))

    def config_indexes(self, lo: int, hi: int) -> list[int]:
        lo, hi = max(lo, self.first_index), min(hi, self.last_index + 1)
        found = self._entries[lo - self._base_index - 1 : hi - self._base_index - 1]
        return [e.index for e in found if e.kind == EntryKind.CONFIG]

    def append(
        self, entries: Sequence[RecordFields], records: Sequence[bytes] | None = None
    ) -> None:
        if not entries:
            return
        first = entries[0].index
        if first > self.last_index + 1:
            raise LogIndexError(f"gap: append at {first} after {self.last_index}")
        if first <= self._base_index:
            raise LogCompactedError(f"entry {first} is compacted away")
        del self._entries[first - self._base_index - 1 :]
        self._entries += [LogEntry(e.term, e.index, e.kind, e.data) for e in entries]

    def sync(self) -> None:
        """Nothing is on disk to make durable."""

    def truncate_after(self, index: int) -> None:
        del self._entries[max(0, index - self._base_index) :]

    def compact_through(self, index: int, term: int) -> None:
        if index <= self._base_index:
            return
        if index <= self.last_index and self.term_at(index) == term:
            del self._entries[: index - self._base_index]
        else:
            self._entries = []
        self._base_index, self._base_term = index, term

    def close(self) -> None:
        self._entries = []

    def _check_readable(self, lo: int, hi: int) -> None:
        if lo > hi:
            raise LogIndexError(f"empty range: lo {lo} > hi {hi}")
        if lo <= self._base_index:
            raise LogCompactedError(f"entry {lo} is compacted away (through {self._base_index})")
        if hi > self.last_index + 1:
            raise LogIndexError(
                f"entries up to {hi - 1} asked for; the log ends at {self.last_index}"
            )
