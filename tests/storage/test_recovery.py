"""Startup: torn tails are repaired (with a copy kept), corruption stops the node, replay works."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from storage_helpers import SEGMENT, entries, entry

from tandemkv.storage.datadir import DataDir
from tandemkv.storage.errors import CorruptLogError, CorruptSnapshotError
from tandemkv.storage.fs import FileSystem
from tandemkv.storage.hardstate import HardState, load_hard_state, save_hard_state
from tandemkv.storage.record import LogEntry, encode_record
from tandemkv.storage.recovery import recover
from tandemkv.storage.segment import SEGMENT_HEADER_SIZE, segment_name
from tandemkv.storage.simfs import SimFileSystem
from tandemkv.storage.snapshot import SNAPSHOT_FILE, SnapshotItem, SnapshotMeta, write_snapshot

RECORD = len(encode_record(entry(1)))


def filled(n: int, fs: FileSystem | None = None) -> FileSystem:
    fs = fs or SimFileSystem(random.Random(0))
    wal = recover(fs, segment_size=SEGMENT).log
    wal.append(entries(1, n + 1))
    wal.sync()
    return fs


def damage(fs: FileSystem, name: str, offset: int, data: bytes) -> None:
    """Overwrite bytes in place (the FileSystem interface only appends, as the log does)."""
    content = bytearray(fs.read(name))
    content[offset : offset + len(data)] = data
    fs.create(name)
    fs.append(name, bytes(content))
    fs.fsync(name)


def test_fresh_directory_recovers_to_an_empty_log() -> None:
    fs = SimFileSystem(random.Random(0))
    got = recover(fs)
    assert got.snapshot is None and got.repairs == []
    assert (got.log.first_index, got.log.last_index) == (1, 0)
    assert got.hard_state == HardState()
    assert list(got.replay()) == []
    assert fs.list_names() == [segment_name(1)]


def test_torn_tail_is_cut_to_the_last_good_record_and_a_copy_kept() -> None:
    fs = filled(3)  # one segment: 1..3
    name = segment_name(1)
    intact = fs.read(name)
    torn = encode_record(entry(4))[:-7]
    fs.append(name, torn)
    got = recover(fs, segment_size=SEGMENT)
    assert got.log.last_index == 3
    assert list(got.replay()) == entries(1, 4)
    assert fs.read(name) == intact
    [repair] = got.repairs
    assert (repair.file, repair.offset, repair.dropped_bytes) == (name, len(intact), len(torn))
    assert repair.copied_to == f"log-tail-{name[:-4]}-{len(intact)}.damaged"
    assert fs.read(repair.copied_to) == torn
    assert not repair.corrupt
    assert recover(fs, segment_size=SEGMENT).repairs == []  # the repair itself is durable


def test_a_bad_checksum_on_the_last_record_is_a_torn_write() -> None:
    fs = filled(3)
    name = segment_name(1)
    size = fs.read(name).__len__()
    damage(fs, name, size - 1, b"\xee")
    got = recover(fs, segment_size=SEGMENT)
    assert got.log.last_index == 2
    assert got.repairs[0].offset == size - RECORD
    assert "checksum" in got.repairs[0].reason


def test_a_zero_filled_tail_is_a_torn_write() -> None:
    fs = filled(3)
    fs.append(segment_name(1), bytes(4096))
    got = recover(fs, segment_size=SEGMENT)
    assert got.log.last_index == 3
    assert got.repairs[0].dropped_bytes == 4096


def test_damage_followed_by_valid_records_refuses_to_start() -> None:
    fs = filled(3)
    name = segment_name(1)
    offset = SEGMENT_HEADER_SIZE + RECORD + 12  # inside entry 2; entry 3 is intact
    damage(fs, name, offset, b"\xff")
    with pytest.raises(CorruptLogError) as caught:
        recover(fs, segment_size=SEGMENT)
    error = caught.value
    assert error.path == fs.describe(name)
    assert error.offset == SEGMENT_HEADER_SIZE + RECORD
    message = str(error)
    assert name in message and f"offset {SEGMENT_HEADER_SIZE + RECORD}" in message
    assert "backup" in message and "--truncate-corrupt-log" in message
    assert fs.size(name) == SEGMENT_HEADER_SIZE + 3 * RECORD  # nothing was touched


def test_the_operator_can_accept_the_loss_and_truncate_at_the_corruption() -> None:
    fs = filled(10)  # segments 1-4, 5-8, 9-10
    damage(fs, segment_name(5), SEGMENT_HEADER_SIZE + 5, b"\x00\x00")
    with pytest.raises(CorruptLogError):
        recover(fs, segment_size=SEGMENT)
    got = recover(fs, segment_size=SEGMENT, truncate_corrupt=True)
    assert got.log.last_index == 4
    assert [r.corrupt for r in got.repairs] == [True, True]
    assert f"{segment_name(9)}.damaged" in fs.list_names()
    got.log.append(entries(5, 7, term=2))
    got.log.sync()
    again = recover(fs, segment_size=SEGMENT)
    assert list(again.replay()) == entries(1, 5) + entries(5, 7, term=2)


def test_damage_in_an_earlier_segment_is_corruption_even_at_its_end() -> None:
    fs = filled(6)  # segments 1-4, 5-6
    first = segment_name(1)
    damage(fs, first, fs.size(first) - 1, b"\x99")
    with pytest.raises(CorruptLogError, match=first):
        recover(fs, segment_size=SEGMENT)


def test_a_valid_record_out_of_sequence_is_corruption() -> None:
    fs = filled(2)
    fs.append(segment_name(1), encode_record(entry(7)))
    with pytest.raises(CorruptLogError, match="expected index 3"):
        recover(fs, segment_size=SEGMENT)


def test_a_missing_segment_in_the_middle_is_corruption() -> None:
    fs = filled(10)
    fs.remove(segment_name(5))
    with pytest.raises(CorruptLogError, match="missing"):
        recover(fs, segment_size=SEGMENT)


def test_a_new_segment_with_a_torn_header_is_removed() -> None:
    fs = filled(4)
    name = segment_name(5)
    fs.create(name)
    fs.append(name, b"TKV")
    got = recover(fs, segment_size=SEGMENT)
    assert got.log.last_index == 4
    assert name not in fs.list_names()
    assert fs.read(got.repairs[0].copied_to or "") == b"TKV"
    got.log.append([entry(5)])
    assert got.log.entries(5, 6) == [entry(5)]


def test_replay_starts_after_the_snapshot_and_reports_progress() -> None:
    fs = filled(10)
    write_snapshot(fs, SnapshotMeta(6, 1, 1, b"cfg"), [SnapshotItem(b"k", b"v")])
    calls: list[tuple[str, int, int]] = []
    got = recover(fs, segment_size=SEGMENT, progress=lambda *a: calls.append(a))
    assert got.snapshot is not None and got.snapshot.meta.last_index == 6
    assert (got.log.first_index, got.log.last_index) == (7, 10)
    assert list(got.replay()) == entries(7, 11)
    assert list(got.replay(upto=8)) == entries(7, 9)
    scans = [c for c in calls if c[0] == "scan"]
    assert scans and scans[-1][1] == scans[-1][2] > 0
    assert ("replay", 4, 4) in calls


def test_segments_entirely_behind_the_snapshot_are_removed() -> None:
    fs = filled(10)
    write_snapshot(fs, SnapshotMeta(20, 3, 0), [])
    got = recover(fs, segment_size=SEGMENT)
    assert (got.log.first_index, got.log.last_index, got.log.last_term) == (21, 20, 3)
    assert [n for n in fs.list_names() if n.endswith(".log")] == [segment_name(21)]


def test_a_log_disagreeing_with_the_snapshot_term_is_discarded() -> None:
    fs = filled(10)
    write_snapshot(fs, SnapshotMeta(6, 2, 0), [])
    got = recover(fs, segment_size=SEGMENT)
    assert (got.log.first_index, got.log.last_index, got.log.term_at(6)) == (7, 6, 2)


def test_a_log_starting_after_the_snapshot_is_a_gap() -> None:
    fs = filled(10)
    for first in (1, 5):
        fs.remove(segment_name(first))
    write_snapshot(fs, SnapshotMeta(3, 1, 0), [])
    with pytest.raises(CorruptLogError, match=r"entries 4\.\.8 are missing"):
        recover(fs, segment_size=SEGMENT)


def test_a_corrupt_snapshot_stops_startup() -> None:
    fs = filled(2)
    write_snapshot(fs, SnapshotMeta(2, 1, 1), [SnapshotItem(b"k", b"v")])
    damage(fs, SNAPSHOT_FILE, 30, b"\x01")
    with pytest.raises(CorruptSnapshotError, match="checksum"):
        recover(fs)


def test_a_commit_index_beyond_the_log_is_refused_unless_accepted() -> None:
    fs = filled(3)
    save_hard_state(fs, HardState(term=1, voted_for="n1", commit=5))
    with pytest.raises(CorruptLogError, match="committed"):
        recover(fs, segment_size=SEGMENT)
    got = recover(fs, segment_size=SEGMENT, truncate_corrupt=True)
    assert got.hard_state == HardState(1, "n1", 3)
    assert load_hard_state(fs) == HardState(1, "n1", 3), "the accepted loss is saved"
    recover(fs, segment_size=SEGMENT)  # and the next start needs no flag


def test_stale_temporary_files_are_cleaned_up() -> None:
    fs = filled(1)
    for stale in ("snapshot.tmp", "hardstate.tmp"):
        fs.create(stale)
    recover(fs)
    assert "snapshot.tmp" not in fs.list_names()
    assert "hardstate.tmp" not in fs.list_names()


def test_entries_written_with_other_kinds_survive_recovery() -> None:
    fs = SimFileSystem(random.Random(0))
    wal = recover(fs).log
    written = [LogEntry(1, 1, 2, b""), LogEntry(1, 2, 1, b"\x00config"), LogEntry(1, 3, 0, b"x")]
    wal.append(written)
    wal.sync()
    assert list(recover(fs).replay()) == written


def test_repeated_repairs_at_one_offset_keep_every_damaged_copy() -> None:
    fs = filled(3)
    name = segment_name(1)
    copies = []
    for garbage in (b"first-torn-bytes", b"second-torn-bytes"):
        fs.append(name, garbage)
        [repair] = recover(fs, segment_size=SEGMENT).repairs
        copies.append(repair.copied_to or "")
    assert copies[0] != copies[1]
    assert [fs.read(c) for c in copies] == [b"first-torn-bytes", b"second-torn-bytes"]


def test_torn_tail_repair_on_a_real_data_directory(tmp_path: Path) -> None:
    with DataDir.open(str(tmp_path)) as data_dir:
        wal = recover(data_dir.fs).log
        wal.append(entries(1, 6))
        wal.sync()
    segment = tmp_path / segment_name(1)
    with segment.open("ab") as raw:
        raw.write(encode_record(entry(6))[:-1])
    with DataDir.open(str(tmp_path)) as data_dir:
        got = recover(data_dir.fs)
        assert list(got.replay()) == entries(1, 6)
        [repair] = got.repairs
        assert (tmp_path / (repair.copied_to or "")).read_bytes() == encode_record(entry(6))[:-1]
