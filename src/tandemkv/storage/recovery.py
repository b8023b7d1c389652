"""Startup: load the snapshot, open the log (repairing a torn tail), hand back what to replay.

Public API:

    recover(fs, *, segment_size=DEFAULT_SEGMENT_SIZE, max_body=DEFAULT_MAX_BODY,
            truncate_corrupt=False, progress=None) -> Recovered
    open_log(fs, base_index=0, base_term=0, *, same options) -> (SegmentedLog, list[TailRepair])
    Recovered: .snapshot (Snapshot | None), .log (SegmentedLog, open for append),
               .hard_state (HardState), .repairs (list[TailRepair]),
               .replay(upto=None) -> Iterator[LogEntry]   entries after the snapshot
    TailRepair: what was cut, where, why, and the file its bytes were copied to
    ProgressCallback = Callable[[str, int, int], None]     (phase, done, total); phase is
               "scan" (bytes of log verified) or "replay" (entries handed out)

Torn tail or corruption? Scanning stops at the first record that does not decode. If the
damage is in the last segment and no intact record of this log can be found after it, it is
a write a crash cut short: the damaged bytes are copied to `log-tail-<segment>-<offset>.damaged`,
the segment is truncated to the last good record, and the repair is logged and reported. If an
intact record follows the damage, or the damage is in an earlier segment, or a record with a
good checksum is out of sequence, acknowledged data may be behind it: recover raises
CorruptLogError naming the file and offset, unless the operator asked for truncate_corrupt,
which cuts there too (later segments are renamed to `*.damaged`).

Replaying. `replay()` yields every entry after the snapshot by default; a member of a group
should pass `upto=hard_state.commit` and let the replication layer deliver the rest once
committed. The shell must fsync the log before saving a hard state whose commit covers new
entries; recover checks that the log reaches the saved commit index.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tandemkv.storage.errors import CorruptLogError
from tandemkv.storage.fs import FileSystem
from tandemkv.storage.hardstate import (
    HARD_STATE_TEMP_FILE,
    HardState,
    load_hard_state,
    save_hard_state,
)
from tandemkv.storage.log import DEFAULT_SEGMENT_SIZE, Segment, SegmentedLog
from tandemkv.storage.memlog import MemoryLog
from tandemkv.storage.record import DEFAULT_MAX_BODY, LogEntry
from tandemkv.storage.segment import (
    SEGMENT_HEADER_SIZE,
    SegmentScan,
    encode_segment_header,
    find_valid_record_after,
    parse_segment_name,
    scan_segment,
    segment_name,
)
from tandemkv.storage.snapshot import Snapshot, load_snapshot, remove_stale_temp

log = logging.getLogger("tandemkv.storage")

ProgressCallback = Callable[[str, int, int], None]
_REPLAY_PROGRESS_EVERY = 10_000


@dataclass(frozen=True)
class TailRepair:
    """One cut made at startup; `corrupt` is True only for operator-approved truncation."""

    file: str
    offset: int
    dropped_bytes: int
    copied_to: str | None
    reason: str
    corrupt: bool = False


@dataclass
class Recovered:
    snapshot: Snapshot | None
    log: SegmentedLog
    hard_state: HardState
    repairs: list[TailRepair] = field(default_factory=list)
    progress: ProgressCallback | None = None

    def replay(self, upto: int | None = None) -> Iterator[LogEntry]:
        """Entries first_index..upto (default: the last), reporting progress as it goes."""
        return replay_entries(self.log, self.log.first_index, upto, self.progress)


def replay_entries(
    wal: SegmentedLog | MemoryLog, lo: int, upto: int | None, progress: ProgressCallback | None
) -> Iterator[LogEntry]:
    """The log's entries lo..upto (default: the last), reporting progress as it goes."""
    last = wal.last_index if upto is None else min(upto, wal.last_index)
    total = max(0, last - lo + 1)
    for done, entry in enumerate(wal.iter_entries(lo, last + 1), start=1):
        yield entry
        if progress is not None and (done % _REPLAY_PROGRESS_EVERY == 0 or done == total):
            progress("replay", done, total)


@dataclass(frozen=True)
class _Options:
    segment_size: int
    max_body: int
    truncate_corrupt: bool
    progress: ProgressCallback | None


def recover(
    fs: FileSystem,
    *,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    max_body: int = DEFAULT_MAX_BODY,
    truncate_corrupt: bool = False,
    progress: ProgressCallback | None = None,
) -> Recovered:
    remove_stale_temp(fs)
    if fs.exists(HARD_STATE_TEMP_FILE):
        fs.remove(HARD_STATE_TEMP_FILE)
    snapshot = load_snapshot(fs)
    base_index, base_term = (
        (snapshot.meta.last_index, snapshot.meta.last_term) if snapshot else (0, 0)
    )
    opts = _Options(segment_size, max_body, truncate_corrupt, progress)
    segments, repairs = _open_segments(fs, base_index, base_term, opts)
    wal = SegmentedLog(
        fs, segments, base_index, base_term, segment_size=segment_size, max_body=max_body
    )
    stored = load_hard_state(fs)
    hard_state = _check_commit(fs, stored, wal, truncate_corrupt, repairs)
    if hard_state != stored:
        save_hard_state(fs, hard_state)  # the loss was accepted: it stays accepted
    return Recovered(snapshot, wal, hard_state, repairs, progress)


def open_log(
    fs: FileSystem,
    base_index: int = 0,
    base_term: int = 0,
    *,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    max_body: int = DEFAULT_MAX_BODY,
    truncate_corrupt: bool = False,
    progress: ProgressCallback | None = None,
) -> tuple[SegmentedLog, list[TailRepair]]:
    """Open only the log, with the compaction boundary given by the caller's snapshot."""
    opts = _Options(segment_size, max_body, truncate_corrupt, progress)
    segments, repairs = _open_segments(fs, base_index, base_term, opts)
    wal = SegmentedLog(
        fs, segments, base_index, base_term, segment_size=segment_size, max_body=max_body
    )
    return wal, repairs


def _check_commit(
    fs: FileSystem,
    state: HardState,
    wal: SegmentedLog,
    accept_loss: bool,
    repairs: list[TailRepair],
) -> HardState:
    if state.commit <= wal.last_index:
        return state
    detail = (
        f"the hard state records entries up to {state.commit} as committed, but the log "
        f"ends at {wal.last_index}"
    )
    last = wal.segment_names[-1]
    if not accept_loss:
        raise CorruptLogError(fs.describe(last), fs.size(last), detail)
    log.warning("accepting loss of committed entries: %s", detail)
    repairs.append(TailRepair(last, fs.size(last), 0, None, detail, corrupt=True))
    return HardState(state.term, state.voted_for, wal.last_index)


def _segment_files(fs: FileSystem) -> list[tuple[int, str]]:
    found = []
    for name in fs.list_names():
        first = parse_segment_name(name)
        if first is not None:
            found.append((first, name))
    return sorted(found)


def _open_segments(
    fs: FileSystem, base_index: int, base_term: int, opts: _Options
) -> tuple[list[Segment], list[TailRepair]]:
    files = _segment_files(fs)
    scans, repairs = _scan_all(fs, files, opts)
    segments = [
        Segment(s.first_index, s.offsets, s.terms, s.good_end, s.configs)
        for s in scans
        if s.good_end >= SEGMENT_HEADER_SIZE
    ]
    segments = _apply_snapshot_boundary(fs, segments, base_index, base_term)
    if not segments:
        segments = [_create_segment(fs, base_index + 1)]
    return segments, repairs


def _scan_all(
    fs: FileSystem, files: list[tuple[int, str]], opts: _Options
) -> tuple[list[SegmentScan], list[TailRepair]]:
    total = sum(fs.size(name) for _, name in files)
    done = 0
    scans: list[SegmentScan] = []
    prev_term = 0
    for pos, (first, name) in enumerate(files):
        data = fs.read(name)
        _check_contiguous(fs, scans, first, name)
        scan = scan_segment(data, first, opts.max_body, min_term=prev_term)
        scans.append(scan)
        done += len(data)
        if opts.progress is not None:
            opts.progress("scan", done, total)
        if scan.problem is not None:
            later = [later_name for _, later_name in files[pos + 1 :]]
            return scans, _repair(fs, name, data, scan, later, opts)
        if scan.terms:
            prev_term = scan.terms[-1]
    return scans, []


def _check_contiguous(fs: FileSystem, scans: list[SegmentScan], first: int, name: str) -> None:
    if scans and first != scans[-1].last_index + 1:
        raise CorruptLogError(
            fs.describe(name),
            0,
            f"segment starts at entry {first} but the previous one ends at "
            f"{scans[-1].last_index}: entries are missing between them",
        )


def _repair(
    fs: FileSystem,
    name: str,
    data: bytes,
    scan: SegmentScan,
    later: list[str],
    opts: _Options,
) -> list[TailRepair]:
    """Cut the log at the scan's problem: a torn tail, or (if the operator allows) corruption."""
    offset = scan.problem_offset
    assert scan.problem is not None
    corrupt = scan.sequence_error or bool(later)
    if not corrupt:
        last_term = scan.terms[-1] if scan.terms else 0
        after = find_valid_record_after(data, offset, scan.last_index, last_term, opts.max_body)
        corrupt = after is not None
    if corrupt and not opts.truncate_corrupt:
        raise CorruptLogError(fs.describe(name), offset, scan.problem)
    copied = _keep_damaged_copy(fs, name, data, offset)
    if scan.good_end < SEGMENT_HEADER_SIZE:
        fs.remove(name)
    else:
        fs.truncate(name, scan.good_end)
        fs.fsync(name)
    repairs = [TailRepair(name, offset, len(data) - offset, copied, scan.problem, corrupt)]
    for later_name in later:
        moved = _unused_name(fs, later_name, "damaged")
        fs.rename(later_name, moved)
        reason = "follows the corruption"
        repairs.append(TailRepair(later_name, 0, fs.size(moved), moved, reason, corrupt=True))
    fs.fsync_dir()
    for repair in repairs:
        log.warning(
            "%s in %s at offset %d: dropped %d bytes (%s); damaged bytes kept in %s",
            "cut corrupt log" if repair.corrupt else "repaired torn log tail",
            repair.file,
            repair.offset,
            repair.dropped_bytes,
            repair.reason,
            repair.copied_to or "(nothing to keep)",
        )
    return repairs


def _keep_damaged_copy(fs: FileSystem, name: str, data: bytes, offset: int) -> str | None:
    if offset >= len(data):
        return None
    copy = _unused_name(fs, f"log-tail-{name.removesuffix('.log')}-{offset}", "damaged")
    fs.create(copy)
    fs.append(copy, data[offset:])
    fs.fsync(copy)
    fs.fsync_dir()  # the copy must be durable before the original bytes are cut
    return copy


def _unused_name(fs: FileSystem, stem: str, suffix: str) -> str:
    """`stem.suffix`, or `stem.N.suffix` if earlier repairs already used that name."""
    name, attempt = f"{stem}.{suffix}", 1
    while fs.exists(name):
        attempt += 1
        name = f"{stem}.{attempt}.{suffix}"
    return name


def _apply_snapshot_boundary(
    fs: FileSystem, segments: list[Segment], base_index: int, base_term: int
) -> list[Segment]:
    """Drop what the snapshot covers, following Raft when the log disagrees with it."""
    if not segments:
        return []
    last = segments[-1].last_index
    first = segments[0].first_index
    if first > base_index + 1:
        raise CorruptLogError(
            fs.describe(segments[0].name),
            0,
            f"the log starts at entry {first} but the snapshot ends at {base_index}: "
            f"entries {base_index + 1}..{first - 1} are missing",
        )
    conflict = first <= base_index <= last and _term_of(segments, base_index) != base_term
    if last < base_index or conflict:
        _remove_all(fs, segments)  # all covered by the snapshot, or contradicted by it
        return []
    covered = [seg for seg in segments[:-1] if seg.last_index <= base_index]
    for seg in covered:
        fs.remove(seg.name)
    if covered:
        fs.fsync_dir()
    return segments[len(covered) :]


def _term_of(segments: list[Segment], index: int) -> int:
    for seg in segments:
        if seg.first_index <= index <= seg.last_index:
            return seg.terms[index - seg.first_index]
    raise AssertionError(f"no segment holds {index}")


def _remove_all(fs: FileSystem, segments: list[Segment]) -> None:
    for seg in reversed(segments):
        fs.remove(seg.name)
    fs.fsync_dir()


def _create_segment(fs: FileSystem, first_index: int) -> Segment:
    name = segment_name(first_index)
    fs.create(name)
    fs.append(name, encode_segment_header(first_index))
    fs.fsync(name)
    fs.fsync_dir()
    return Segment(first_index, array("Q"), array("Q"), SEGMENT_HEADER_SIZE)
