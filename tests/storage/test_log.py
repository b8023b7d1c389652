"""The segmented log as the replication layer uses it: append, read, truncate, compact, reopen."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from storage_helpers import DATA, SEGMENT, entries, entry

from tandemkv.storage.errors import LogCompactedError, LogFailedError, LogIndexError
from tandemkv.storage.fs import FileSystem, OsFileSystem
from tandemkv.storage.log import SegmentedLog
from tandemkv.storage.record import EntryKind, LogEntry
from tandemkv.storage.recovery import open_log
from tandemkv.storage.segment import parse_segment_name
from tandemkv.storage.simfs import CrashMode, SimFileSystem


def sim() -> SimFileSystem:
    return SimFileSystem(random.Random(0))


def opened(fs: FileSystem, base: tuple[int, int] = (0, 0)) -> SegmentedLog:
    wal, repairs = open_log(fs, *base, segment_size=SEGMENT)
    assert repairs == []
    return wal


def segment_firsts(fs: FileSystem) -> list[int]:
    return [i for i in map(parse_segment_name, fs.list_names()) if i is not None]


def test_empty_log() -> None:
    wal = opened(sim())
    assert (wal.first_index, wal.last_index, wal.last_term) == (1, 0, 0)
    assert wal.term_at(0) == 0
    assert wal.entries(1, 1) == []
    with pytest.raises(LogIndexError):
        wal.term_at(1)


def test_append_and_read_back() -> None:
    wal = opened(sim())
    wal.append(entries(1, 4) + entries(4, 6, term=2))
    assert (wal.first_index, wal.last_index, wal.last_term) == (1, 5, 2)
    assert wal.entries(1, 6) == entries(1, 4) + entries(4, 6, term=2)
    assert wal.entries(3, 5) == [entry(3), entry(4, 2)]
    assert [wal.term_at(i) for i in range(0, 6)] == [0, 1, 1, 1, 2, 2]
    with pytest.raises(LogIndexError):
        wal.entries(1, 7)


def test_append_rejects_gaps_disorder_and_falling_terms() -> None:
    wal = opened(sim())
    wal.append(entries(1, 3, term=2))
    with pytest.raises(LogIndexError, match="gap"):
        wal.append([entry(4, 2)])
    with pytest.raises(LogIndexError, match="contiguous"):
        wal.append([entry(3, 2), entry(5, 2)])
    with pytest.raises(LogIndexError, match="term"):
        wal.append([entry(3, 1)])
    assert wal.last_index == 2


def test_segments_rotate_at_the_size_limit_and_are_named_by_first_index() -> None:
    fs = sim()
    wal = opened(fs)
    wal.append(entries(1, 11))
    assert segment_firsts(fs) == [1, 5, 9]
    assert wal.entries(1, 11) == entries(1, 11)
    assert all(fs.size(name) <= SEGMENT for name in wal.segment_names)


def test_an_entry_larger_than_a_segment_gets_a_segment_of_its_own() -> None:
    fs = sim()
    wal = opened(fs)
    big = LogEntry(1, 2, 0, b"x" * (3 * SEGMENT))
    wal.append([entry(1), big, entry(3)])
    assert wal.entries(1, 4) == [entry(1), big, entry(3)]
    assert segment_firsts(fs) == [1, 3]


def test_max_bytes_limits_reads_but_always_returns_one_entry() -> None:
    wal = opened(sim())
    wal.append(entries(1, 11))
    assert wal.entries(1, 11, max_bytes=3 * DATA) == entries(1, 4)
    assert wal.entries(1, 11, max_bytes=3 * DATA + 5) == entries(1, 4)
    assert wal.entries(1, 11, max_bytes=0) == entries(1, 2)
    assert wal.entries(3, 11, max_bytes=6 * DATA) == entries(3, 9)  # across segments
    assert list(wal.iter_entries(2)) == entries(2, 11)


@pytest.mark.parametrize("cut", [0, 1, 3, 4, 5, 8, 9, 10])
def test_truncate_after_at_and_around_segment_boundaries(cut: int) -> None:
    fs = sim()
    wal = opened(fs)
    wal.append(entries(1, 11))
    wal.truncate_after(cut)
    assert wal.last_index == cut
    assert wal.entries(1, cut + 1) == entries(1, cut + 1)
    wal.append(entries(cut + 1, 13, term=3))
    expected = entries(1, cut + 1) + entries(cut + 1, 13, term=3)
    assert wal.entries(1, 13) == expected
    wal.sync()
    wal.close()
    assert opened(fs).entries(1, 13) == expected


def test_truncate_after_is_durable_without_sync() -> None:
    fs = sim()
    wal = opened(fs)
    wal.append(entries(1, 11))
    wal.sync()
    wal.truncate_after(6)
    fs.crash(CrashMode.DROP_UNSYNCED)
    assert opened(fs).entries(1, 7) == entries(1, 7)
    assert opened(fs).last_index == 6


def test_appending_over_a_conflicting_suffix_replaces_it() -> None:
    wal = opened(sim())
    wal.append(entries(1, 8))
    wal.append(entries(5, 7, term=2))
    assert wal.last_index == 6
    assert wal.entries(1, 7) == entries(1, 5) + entries(5, 7, term=2)


def test_reappending_entries_already_held_keeps_the_suffix() -> None:
    # A delayed duplicate of an earlier replication message must not cut newer entries.
    fs = sim()
    wal = opened(fs)
    wal.append(entries(1, 8))
    wal.sync()
    fsyncs = fs.fsync_count
    wal.append(entries(3, 5))
    assert wal.last_index == 7
    assert wal.entries(1, 8) == entries(1, 8)
    assert fs.fsync_count == fsyncs  # nothing was truncated
    wal.append(entries(6, 8) + entries(8, 10, term=2))  # overlap, then new entries
    assert wal.entries(1, 10) == entries(1, 8) + entries(8, 10, term=2)
    wal.append([entry(7, 1), entry(8, 3)])  # 7 matches, 8 conflicts
    assert wal.entries(7, 9) == [entry(7, 1), entry(8, 3)]
    assert wal.last_index == 8


def test_compact_through_drops_whole_covered_segments_only() -> None:
    fs = sim()
    wal = opened(fs)
    wal.append(entries(1, 11))  # segments 1-4, 5-8, 9-10
    wal.compact_through(6, 1)
    assert segment_firsts(fs) == [5, 9]
    assert (wal.first_index, wal.last_index) == (7, 10)
    assert wal.term_at(6) == 1  # the boundary answers from the snapshot
    with pytest.raises(LogCompactedError):
        wal.term_at(5)  # physically present, logically gone
    with pytest.raises(LogCompactedError):
        wal.entries(6, 8)
    assert wal.entries(7, 11) == entries(7, 11)
    with pytest.raises(LogCompactedError):
        wal.truncate_after(5)
    with pytest.raises(LogIndexError):
        wal.append([entry(6)])


def test_compact_through_the_last_entry_keeps_appending() -> None:
    fs = sim()
    wal = opened(fs)
    wal.append(entries(1, 11))
    wal.compact_through(10, 1)
    assert (wal.first_index, wal.last_index, wal.last_term) == (11, 10, 1)
    wal.append(entries(11, 13, term=2))
    assert wal.entries(11, 13) == entries(11, 13, term=2)
    wal.sync()
    reopened = opened(fs, base=(10, 1))
    assert (reopened.first_index, reopened.last_index) == (11, 12)
    assert reopened.entries(11, 13) == entries(11, 13, term=2)


def test_compact_past_the_end_or_with_another_term_discards_the_log() -> None:
    for index, term in ((20, 5), (6, 9)):
        fs = sim()
        wal = opened(fs)
        wal.append(entries(1, 11))
        wal.compact_through(index, term)
        assert (wal.first_index, wal.last_index, wal.term_at(index)) == (index + 1, index, term)
        assert segment_firsts(fs) == [index + 1]
        wal.append([entry(index + 1, term)])
        wal.sync()
        reopened = opened(fs, base=(index, term))
        assert reopened.entries(index + 1, index + 2) == [entry(index + 1, term)]


def test_reopen_after_close_on_a_real_directory(tmp_path: Path) -> None:
    fs = OsFileSystem(str(tmp_path))
    wal = opened(fs)
    wal.append(entries(1, 7))
    wal.append(entries(7, 11, term=2))
    wal.sync()
    wal.close()
    again = opened(OsFileSystem(str(tmp_path)))
    assert (again.first_index, again.last_index, again.last_term) == (1, 10, 2)
    assert again.entries(1, 11) == entries(1, 7) + entries(7, 11, term=2)
    again.append(entries(11, 12, term=2))
    again.sync()
    again.close()
    assert opened(OsFileSystem(str(tmp_path))).last_index == 11


def test_sync_fsyncs_the_directory_only_after_new_segments() -> None:
    fs = sim()
    wal = opened(fs)
    dirs = fs.fsync_dir_count
    wal.append(entries(1, 3))
    wal.sync()
    assert fs.fsync_dir_count == dirs
    assert not wal.unsynced
    wal.append(entries(3, 7))  # rotates into a new segment
    assert wal.unsynced
    wal.sync()
    assert fs.fsync_dir_count == dirs + 1


class FailingFs(SimFileSystem):
    fail = False

    def fsync(self, name: str) -> None:
        if self.fail:
            raise OSError(5, "Input/output error")
        super().fsync(name)


def test_an_io_error_fails_the_log_for_good() -> None:
    fs = FailingFs(random.Random(0))
    wal = opened(fs)
    wal.append(entries(1, 3))
    fs.fail = True
    with pytest.raises(OSError):
        wal.sync()
    fs.fail = False
    with pytest.raises(LogFailedError, match="restart"):
        wal.sync()
    with pytest.raises(LogFailedError):
        wal.append(entries(3, 4))
    assert wal.entries(1, 3) == entries(1, 3)  # reads still work


def _config(index: int, term: int = 1) -> LogEntry:
    return LogEntry(term, index, EntryKind.CONFIG, b"conf%d" % index)


def test_config_entries_are_indexed_through_appends_cuts_compaction_and_reopen() -> None:
    """Membership is found from the in-memory index, never by reading the whole log."""
    fs = sim()
    wal = opened(fs)
    batch = [entry(1), _config(2), *entries(3, 40), _config(40), *entries(41, 60)]
    wal.append(batch)
    wal.append([_config(60, 2), entry(61, 2)])
    assert wal.config_indexes(1, 62) == [2, 40, 60]
    assert wal.config_indexes(3, 60) == [40]
    wal.append([entry(60, 3)])  # a new leader's entry replaces 60 and 61
    assert wal.config_indexes(1, 62) == [2, 40]
    wal.sync()
    reopened = opened(fs)
    assert reopened.config_indexes(1, 100) == [2, 40]
    reopened.compact_through(30, 1)
    assert reopened.config_indexes(1, 100) == [40]  # whole segments before 30 are gone
    assert [e.index for e in reopened.entries(40, 41)] == [40]
