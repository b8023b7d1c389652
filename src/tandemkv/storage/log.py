"""The segmented, append-only Raft log. All file access goes through a storage.fs.FileSystem.

Open a log with storage.recovery.open_log (or recover); it scans and repairs the files and
hands this class its in-memory index. Public API of SegmentedLog:

    first_index -> int          first entry still held (compaction boundary + 1)
    last_index -> int           last entry held (== first_index - 1 when empty)
    last_term -> int            term of last_index (the snapshot's term if the log is empty)
    term_at(index) -> int       also answers for the compaction boundary itself;
                                LogCompactedError below it, LogIndexError past the end
    entries(lo, hi, max_bytes=None) -> list[LogEntry]
                                entries with lo <= index < hi; at most max_bytes of data
                                but always at least one entry when lo < hi
    iter_entries(lo, hi=None) -> Iterator[LogEntry]   chunked reads, for replay
    config_indexes(lo, hi) -> list[int]
                                the indexes of CONFIG entries with lo <= index < hi, from
                                the in-memory index: membership is found without reading
                                the log
    append(entries, records=None) -> None
                                contiguous indices starting at most at last_index + 1.
                                As in Raft, entries the log already holds with the same
                                term are skipped; from the first one whose term differs,
                                the log's suffix is cut and replaced. `records`, when
                                given, are the entries' encoded records (a backup writes
                                the ones it received); else they are encoded here
    truncate_after(index) -> None   drop entries > index; durable when it returns
    compact_through(index, term) -> None
                                forget entries <= index (covered by a durable snapshot):
                                whole segments are deleted; if the log does not hold
                                (index, term) the whole log is discarded and restarts at index+1
    sync() -> None              fsync the active segment (and the directory when segment files
                                were created): after it returns every appended entry is durable
    unsynced -> bool            something appended since the last sync()
    segment_names -> list[str]  the segment files in log order (for tests and tooling)
    close() -> None             releases descriptors; does not sync

Durability. append() only writes; the caller decides when to sync() (group commit is the
shell's policy). A segment is fsynced before the next one is created, so only the last
segment can have a torn tail. truncate_after and compact_through make their own changes
durable before returning, so stale entries can never reappear behind new ones.

After an I/O error in a write or fsync the log refuses all further changes (LogFailedError):
after a failed fsync the kernel may already have dropped the dirty pages, so retrying could
report success for data that is gone. Restarting the node runs recovery, which repairs the tail.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from tandemkv.storage.errors import (
    CorruptLogError,
    DecodeError,
    LogCompactedError,
    LogFailedError,
    LogIndexError,
)
from tandemkv.storage.fs import FileSystem
from tandemkv.storage.record import (
    DEFAULT_MAX_BODY,
    RECORD_OVERHEAD,
    EntryKind,
    LogEntry,
    RecordFields,
    decode_record,
    encode_record_fields,
)
from tandemkv.storage.segment import (
    SEGMENT_HEADER_SIZE,
    encode_segment_header,
    segment_name,
)

DEFAULT_SEGMENT_SIZE: Final = 64 * 1024 * 1024
_REPLAY_CHUNK_BYTES: Final = 4 * 1024 * 1024

__all__ = ["DEFAULT_SEGMENT_SIZE", "LogEntry", "Segment", "SegmentedLog"]


@dataclass
class Segment:
    """In-memory index of one segment file: where each record starts, its term, and which
    records are CONFIG entries (rare: a membership change)."""

    first_index: int
    offsets: array[int]
    terms: array[int]
    size: int
    configs: list[int] = field(default_factory=list)
    # Asked on every write; a segment's first index never changes. A field, not a
    # cached_property: compiled, a native class has no __dict__ to cache in, and the name
    # was formatted again on every append.
    name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.name = segment_name(self.first_index)

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.offsets) - 1

    def end_of(self, index: int) -> int:
        """Byte offset just past the record of `index`."""
        pos = index - self.first_index + 1
        return self.offsets[pos] if pos < len(self.offsets) else self.size

    def start_of(self, index: int) -> int:
        return self.offsets[index - self.first_index]


def _first_index(seg: Segment) -> int:
    return seg.first_index


class SegmentedLog:
    """See the module docstring. Build through storage.recovery.open_log."""

    volatile = False  # see storage/memlog.py for the log that is

    def __init__(
        self,
        fs: FileSystem,
        segments: list[Segment],
        base_index: int,
        base_term: int,
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        if not segments:
            raise ValueError("a log needs at least one (possibly empty) segment")
        self._fs = fs
        self._segments = segments
        self._base_index = base_index
        self._base_term = base_term
        self._segment_size = segment_size
        self._max_body = max_body
        self._unsynced = False
        self._dir_dirty = False
        self._failed: BaseException | None = None

    # ---- reading ------------------------------------------------------------------------

    @property
    def first_index(self) -> int:
        return self._base_index + 1

    @property
    def last_index(self) -> int:
        return max(self._base_index, self._segments[-1].last_index)

    @property
    def last_term(self) -> int:
        return self.term_at(self.last_index)

    @property
    def failed(self) -> bool:
        """An I/O error stopped the log; only a restart (recovery) makes it usable again."""
        return self._failed is not None

    @property
    def unsynced(self) -> bool:
        return self._unsynced or self._dir_dirty

    @property
    def segment_names(self) -> list[str]:
        return [seg.name for seg in self._segments]

    def term_at(self, index: int) -> int:
        if index == self._base_index:
            return self._base_term
        self._check_readable(index, index + 1)
        seg = self._segment_of(index)
        return seg.terms[index - seg.first_index]

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[LogEntry]:
        self._check_readable(lo, hi)
        out: list[LogEntry] = []
        spent = 0
        index = lo
        while index < hi:
            seg = self._segment_of(index)
            stop = min(hi, seg.last_index + 1)
            if max_bytes is not None:
                stop, used = _fit(seg, index, stop, max_bytes - spent, allow_one=not out)
                spent += used
            if stop == index:
                break
            out.extend(self._read_range(seg, index, stop))
            index = stop
        return out

    def iter_entries(self, lo: int, hi: int | None = None) -> Iterator[LogEntry]:
        """Entries lo <= index < hi (default: to the end), read a few MiB at a time."""
        hi = self.last_index + 1 if hi is None else hi
        index = lo
        while index < hi:
            chunk = self.entries(index, hi, max_bytes=_REPLAY_CHUNK_BYTES)
            yield from chunk
            index += len(chunk)

    def config_indexes(self, lo: int, hi: int) -> list[int]:
        return [i for seg in self._segments for i in seg.configs if lo <= i < hi]

    def _check_readable(self, lo: int, hi: int) -> None:
        if lo > hi:
            raise LogIndexError(f"empty range: lo {lo} > hi {hi}")
        if lo <= self._base_index:
            raise LogCompactedError(
                f"entry {lo} is compacted into the snapshot at index {self._base_index}"
            )
        if hi > self.last_index + 1:
            raise LogIndexError(f"entry {hi - 1} is past the end of the log ({self.last_index})")

    def _segment_of(self, index: int) -> Segment:
        pos = bisect_right(self._segments, index, key=_first_index) - 1
        if pos < 0:
            raise LogIndexError(f"no segment holds entry {index}")
        return self._segments[pos]

    def _read_range(self, seg: Segment, lo: int, hi: int) -> list[LogEntry]:
        if lo >= hi:
            return []
        start = seg.start_of(lo)
        data = self._fs.read(seg.name, start, seg.end_of(hi - 1) - start)
        out: list[LogEntry] = []
        pos = 0
        for index in range(lo, hi):
            try:
                entry, end = decode_record(data, pos, self._max_body)
            except DecodeError as exc:
                raise CorruptLogError(self._fs.describe(seg.name), start + pos, str(exc)) from exc
            if entry.index != index:
                raise CorruptLogError(
                    self._fs.describe(seg.name),
                    start + pos,
                    f"expected entry {index}, found {entry.index}",
                )
            out.append(entry)
            pos = end
        return out

    # ---- writing ------------------------------------------------------------------------

    def append(
        self, entries: Sequence[RecordFields], records: Sequence[bytes] | None = None
    ) -> None:
        if not entries:
            return
        self._check_usable()
        self._check_append(entries)
        held = self._held_count(entries)
        if held == len(entries):
            return
        entries = entries[held:]
        if records is None:
            records = [encode_record_fields(e.term, e.index, e.kind, e.data) for e in entries]
        else:
            records = records[held:]
        if entries[0].index <= self.last_index:
            self.truncate_after(entries[0].index - 1)
        self._write_records(entries, records)

    def _write_records(self, entries: Sequence[RecordFields], records: Sequence[bytes]) -> None:
        # The index is updated before the bytes are written; a failed write marks the log
        # failed, so the index is never trusted after a mismatch. Per-record work is
        # inlined: this loop runs for every write on every node.
        active = self._segments[-1]
        offsets, terms, size = active.offsets, active.terms, active.size
        limit = self._segment_size
        written = 0
        config = EntryKind.CONFIG
        for number, entry in enumerate(entries):
            if size >= limit and offsets:
                active.size = size
                self._write_pending(records[written:number])
                written = number
                self._rotate()
                active = self._segments[-1]
                offsets, terms, size = active.offsets, active.terms, active.size
            offsets.append(size)
            terms.append(entry.term)
            if entry.kind == config:
                active.configs.append(active.first_index + len(offsets) - 1)
            size += len(records[number])
        active.size = size
        self._write_pending(records[written:])

    def _check_append(self, entries: Sequence[RecordFields]) -> None:
        first = entries[0].index
        if first <= self._base_index:
            raise LogIndexError(
                f"cannot append at index {first}: entries up to {self._base_index} are "
                "compacted into a snapshot"
            )
        if first > self.last_index + 1:
            raise LogIndexError(
                f"cannot append at index {first}: the log ends at {self.last_index} (gap)"
            )
        prev_term = self.term_at(first - 1)
        for pos, entry in enumerate(entries):
            if entry.index != first + pos:
                raise LogIndexError(f"appended indices are not contiguous at {entry.index}")
            if entry.term < prev_term:
                raise LogIndexError(
                    f"entry {entry.index} has term {entry.term}, below the term {prev_term} "
                    "before it"
                )
            prev_term = entry.term

    def _held_count(self, entries: Sequence[RecordFields]) -> int:
        """How many leading entries this log already holds (same index, same term)."""
        held = 0
        last = self.last_index
        while held < len(entries) and entries[held].index <= last:
            if self.term_at(entries[held].index) != entries[held].term:
                break
            held += 1
        return held

    def _write_pending(self, pending: Sequence[bytes]) -> None:
        if not pending:
            return
        with self._guard():
            self._fs.append(self._segments[-1].name, b"".join(pending))
        self._unsynced = True

    def _rotate(self) -> None:
        """Seal the active segment (fsync) and start a new one after it."""
        old = self._segments[-1]
        with self._guard():
            if self._unsynced:
                self._fs.fsync(old.name)
                self._unsynced = False
            seg = Segment(old.last_index + 1, array("Q"), array("Q"), SEGMENT_HEADER_SIZE)
            self._fs.create(seg.name)
            self._fs.append(seg.name, encode_segment_header(seg.first_index))
        self._segments.append(seg)
        self._unsynced = True
        self._dir_dirty = True

    def sync(self) -> None:
        self._check_usable()
        with self._guard():
            if self._unsynced:
                self._fs.fsync(self._segments[-1].name)
                self._unsynced = False
            if self._dir_dirty:
                self._fs.fsync_dir()
                self._dir_dirty = False

    def truncate_after(self, index: int) -> None:
        self._check_usable()
        if index >= self.last_index:
            return
        if index < self._base_index:
            raise LogCompactedError(
                f"cannot truncate after {index}: entries up to {self._base_index} are "
                "compacted into a snapshot"
            )
        with self._guard():
            # Later segments go first, and durably, so the cut segment can never be followed
            # by a stale segment after a crash.
            removed = False
            while len(self._segments) > 1 and self._segments[-1].first_index > index + 1:
                self._fs.remove(self._segments.pop().name)
                removed = True
            if removed or self._dir_dirty:
                self._fs.fsync_dir()
                self._dir_dirty = False
            self._cut_active(index)

    def _cut_active(self, index: int) -> None:
        seg = self._segments[-1]
        keep = max(0, index - seg.first_index + 1)
        new_size = seg.offsets[keep] if keep < len(seg.offsets) else seg.size
        del seg.offsets[keep:]
        del seg.terms[keep:]
        seg.configs = [i for i in seg.configs if i <= index]
        seg.size = new_size
        self._fs.truncate(seg.name, new_size)
        self._fs.fsync(seg.name)
        self._unsynced = False

    def compact_through(self, index: int, term: int) -> None:
        self._check_usable()
        if index <= self._base_index:
            return
        holds = index <= self.last_index and self.term_at(index) == term
        with self._guard():
            if holds:
                self._drop_covered_segments(index)
            else:
                self._restart_after(index)
        self._base_index, self._base_term = index, term

    def _drop_covered_segments(self, index: int) -> None:
        removed = False
        while len(self._segments) > 1 and self._segments[0].last_index <= index:
            self._fs.remove(self._segments.pop(0).name)
            removed = True
        if removed:
            self._fs.fsync_dir()
            self._dir_dirty = False

    def _restart_after(self, index: int) -> None:
        """The log does not hold the snapshot's last entry: discard it all, start at index+1."""
        for seg in reversed(self._segments):
            self._fs.remove(seg.name)
        seg = Segment(index + 1, array("Q"), array("Q"), SEGMENT_HEADER_SIZE)
        self._fs.create(seg.name)
        self._fs.append(seg.name, encode_segment_header(seg.first_index))
        self._fs.fsync(seg.name)
        self._fs.fsync_dir()
        self._segments = [seg]
        self._unsynced = self._dir_dirty = False

    def close(self) -> None:
        self._fs.close()

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise LogFailedError(
                f"the log stopped accepting changes after an I/O error ({self._failed}); "
                "restart the node so recovery can repair the log"
            ) from self._failed

    def _guard(self) -> _FailureGuard:
        return _FailureGuard(self)


class _FailureGuard:
    """Marks the log failed if an I/O error escapes the block."""

    def __init__(self, log: SegmentedLog) -> None:
        self._log = log

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, OSError):
            self._log._failed = exc


def _fit(seg: Segment, lo: int, hi: int, budget: int, allow_one: bool) -> tuple[int, int]:
    """(stop, data bytes) for the longest run lo..stop-1 whose data fits `budget`.

    With `allow_one` the first entry is taken even if it alone exceeds the budget, so a
    reader always makes progress.
    """
    stop, used = lo, 0
    while stop < hi:
        size = seg.end_of(stop) - seg.start_of(stop) - RECORD_OVERHEAD
        if used + size > budget and not (allow_one and stop == lo):
            break
        used += size
        stop += 1
    return stop, used
