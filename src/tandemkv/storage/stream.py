"""The stream value: entries ordered by id, and the metadata Redis keeps beside them.

An id is a (milliseconds, sequence) pair of unsigned 64-bit integers; Python compares the
tuples exactly as Redis compares ids. The entries live in a `sortedcontainers.SortedDict`
id -> fields (field, value, field, value... as given to XADD), so a range read costs
O(log n) plus what it returns, and trimming from the head costs what it removes.

Beside the entries a stream remembers what its history implies and its entries no longer
show: the last id ever added (XADD's next id must be greater even after that entry is
deleted), how many entries were ever added, and the greatest id XDEL removed. The first
id is not stored: it is the first entry's (0-0 when empty), which is what Redis reports.
Unlike the other collections, a stream left empty stays (Redis keeps it, with its last id).

Consumer groups will be a `groups` field of their own when they land; nothing here
assumes there are none beyond the snapshot header's format byte (storage/values.py).

Mutated only by the keyspace applying a mutation; handlers read it.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from sortedcontainers import SortedDict

StreamId = tuple[int, int]
Fields = tuple[bytes, ...]

U64_MAX = (1 << 64) - 1
MIN_ID: StreamId = (0, 0)
MAX_ID: StreamId = (U64_MAX, U64_MAX)


def format_id(sid: StreamId) -> bytes:
    return b"%d-%d" % sid


def next_id(sid: StreamId) -> StreamId | None:
    """The id right after `sid`, or None past the last possible one."""
    ms, seq = sid
    if seq < U64_MAX:
        return ms, seq + 1
    if ms < U64_MAX:
        return ms + 1, 0
    return None


def previous_id(sid: StreamId) -> StreamId | None:
    """The id right before `sid`, or None before 0-0."""
    ms, seq = sid
    if seq > 0:
        return ms, seq - 1
    if ms > 0:
        return ms - 1, U64_MAX
    return None


class Stream:
    __slots__ = ("entries", "entries_added", "last_id", "max_deleted_id")

    def __init__(self) -> None:
        self.entries: SortedDict = SortedDict()  # StreamId -> Fields
        self.last_id: StreamId = MIN_ID
        self.entries_added = 0
        self.max_deleted_id: StreamId = MIN_ID

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return True  # an empty stream is still a value: never dropped as an empty collection

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Stream)
            and self.metadata() == other.metadata()
            and self.entries == other.entries
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Stream({self.metadata()!r}, {list(self.entries.items())!r})"

    def metadata(self) -> tuple[StreamId, int, StreamId]:
        return self.last_id, self.entries_added, self.max_deleted_id

    def copy(self) -> Stream:
        clone = Stream()
        clone.entries = self.entries.copy()  # the fields are immutable tuples
        clone.last_id, clone.entries_added, clone.max_deleted_id = self.metadata()
        return clone

    # ----------------------------------------------------------------- reads

    @property
    def first_id(self) -> StreamId:
        return self.entries.keys()[0] if self.entries else MIN_ID

    def last_entry_id(self) -> StreamId | None:
        return self.entries.keys()[-1] if self.entries else None

    def range(
        self, start: StreamId, end: StreamId, count: int = 0, reverse: bool = False
    ) -> list[tuple[StreamId, Fields]]:
        """Entries with start <= id <= end, from the lowest (or the highest if `reverse`),
        at most `count` of them (0: all)."""
        if start > end:
            return []
        ids: Iterator[StreamId] = self.entries.irange(start, end, reverse=reverse)
        if count > 0:
            ids = islice(ids, count)
        entries = self.entries
        return [(sid, entries[sid]) for sid in ids]

    def ids_from_head(self, amount: int) -> list[StreamId]:
        """The first `amount` ids (fewer if the stream is shorter)."""
        return list(islice(self.entries.keys(), amount))

    def count_below(self, bound: StreamId) -> int:
        """How many entries have an id lower than `bound`."""
        return int(self.entries.bisect_left(bound))

    # ---------------------------------------------------------------- writes

    def add(self, sid: StreamId, fields: Fields) -> None:
        self.entries[sid] = fields
        if sid > self.last_id:
            self.last_id = sid
        self.entries_added += 1

    def delete(self, ids: tuple[StreamId, ...]) -> int:
        removed = 0
        for sid in ids:
            if self.entries.pop(sid, None) is not None:
                removed += 1
                if sid > self.max_deleted_id:
                    self.max_deleted_id = sid
        return removed

    def trim_through(self, through: StreamId) -> int:
        """Remove every entry whose id is `through` or lower (trimming: the max deleted id
        is left alone, as in Redis)."""
        entries = self.entries
        stop = entries.bisect_right(through)
        for sid in list(islice(entries.keys(), stop)):
            del entries[sid]
        return int(stop)

    def set_metadata(self, last_id: StreamId, entries_added: int, max_deleted: StreamId) -> None:
        self.last_id, self.entries_added, self.max_deleted_id = last_id, entries_added, max_deleted
