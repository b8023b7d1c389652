"""Snapshots: exact round trips, streamed writing, damage always detected, atomic replacement."""

from __future__ import annotations

import random

import google_crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storage_helpers import expiries, keys, values

from tandemkv.storage import snapshot as snapshot_module
from tandemkv.storage.errors import CorruptSnapshotError
from tandemkv.storage.simfs import CrashMode, SimFileSystem
from tandemkv.storage.snapshot import (
    SNAPSHOT_FILE,
    SNAPSHOT_TEMP_FILE,
    SnapshotItem,
    SnapshotMeta,
    SnapshotReceiver,
    SnapshotWriter,
    encode_item,
    load_snapshot,
    write_snapshot,
)

items_strategy = st.lists(st.builds(SnapshotItem, keys, values, expiries), max_size=20)


def sim() -> SimFileSystem:
    return SimFileSystem(random.Random(0))


def sample_items(n: int) -> list[SnapshotItem]:
    return [
        SnapshotItem(f"key{i}".encode(), b"v" * (i % 7), None if i % 3 else 1_700_000_000_000 + i)
        for i in range(n)
    ]


def loaded(fs: SimFileSystem) -> tuple[SnapshotMeta, list[SnapshotItem]]:
    snap = load_snapshot(fs)
    assert snap is not None
    return snap.meta, list(snap.items())


@settings(max_examples=50)
@given(items_strategy, st.binary(max_size=50), st.integers(0, 2**64 - 1))
def test_round_trip(items: list[SnapshotItem], config: bytes, index: int) -> None:
    fs = sim()
    meta = SnapshotMeta(index, 7, len(items), config)
    write_snapshot(fs, meta, items)
    assert loaded(fs) == (meta, items)
    assert fs.list_names() == [SNAPSHOT_FILE]


def test_no_snapshot_is_none() -> None:
    assert load_snapshot(sim()) is None


def test_streamed_batches_write_the_same_file_as_one_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapshot_module, "_FLUSH_BYTES", 64)
    monkeypatch.setattr(snapshot_module, "_READ_CHUNK", 50)  # items straddle read chunks
    items = sample_items(300)
    whole = sim()
    write_snapshot(whole, SnapshotMeta(9, 2, 300), items)
    streamed = sim()
    writer = SnapshotWriter(streamed, SnapshotMeta(9, 2, 300))
    for start in range(0, 300, 7):
        writer.add(items[start : start + 7])
        assert SNAPSHOT_FILE not in streamed.list_names()  # nothing published mid-way
    writer.finish()
    assert streamed.read(SNAPSHOT_FILE) == whole.read(SNAPSHOT_FILE)
    assert loaded(streamed) == (SnapshotMeta(9, 2, 300), items)


@settings(max_examples=40)
@given(
    st.lists(
        st.builds(SnapshotItem, st.binary(max_size=200), st.binary(max_size=300), expiries),
        max_size=12,
    ),
    st.sampled_from([1, 2, 3, 5, 8, 13, 64, 4096]),
)
def test_items_read_back_whatever_the_read_chunk_cuts(
    items: list[SnapshotItem], chunk: int
) -> None:
    """Items are decoded a chunk at a time, short strings without the general decoder:
    every cut, and keys and values on both sides of the one-byte length, read back."""
    fs = sim()
    write_snapshot(fs, SnapshotMeta(3, 1, len(items)), items)
    original = snapshot_module._READ_CHUNK
    snapshot_module._READ_CHUNK = chunk  # not monkeypatch: hypothesis reruns the body
    try:
        assert loaded(fs) == (SnapshotMeta(3, 1, len(items)), items)
    finally:
        snapshot_module._READ_CHUNK = original


@given(st.builds(SnapshotItem, st.binary(max_size=130), st.binary(max_size=130), expiries))
def test_the_plain_item_shortcut_writes_the_general_encoding(item: SnapshotItem) -> None:
    """Short strings without expiry are encoded in one format call; the bytes must be
    exactly the general encoder's, which older readers and the general decoder expect."""
    assert encode_item(item) == snapshot_module._encode_item_general(item)


def with_item_count(good: bytes, count: int) -> bytes:
    """The snapshot file `good` claiming `count` items, with a checksum that matches."""
    count_at = 8 + 2 + 8 + 8  # magic, version, last index, last term
    body = good[:count_at] + count.to_bytes(8, "little") + good[count_at + 8 : -4]
    return body + google_crc32c.value(body).to_bytes(4, "little")


@pytest.mark.parametrize(
    ("count", "message"), [(5, "1 of 5 items missing"), (3, "bytes left over")]
)
def test_a_header_that_miscounts_the_items_is_refused(count: int, message: str) -> None:
    fs = sim()
    write_snapshot(fs, SnapshotMeta(5, 1, 4), sample_items(4))
    forged = with_item_count(fs.read(SNAPSHOT_FILE), count)
    fs.create(SNAPSHOT_FILE)
    fs.append(SNAPSHOT_FILE, forged)
    snap = load_snapshot(fs)  # the checksum matches: only reading the items tells
    assert snap is not None and snap.meta.item_count == count
    with pytest.raises(CorruptSnapshotError, match=message):
        list(snap.items())


def test_a_wrong_item_count_is_refused_and_nothing_published() -> None:
    fs = sim()
    writer = SnapshotWriter(fs, SnapshotMeta(1, 1, 3))
    writer.add(sample_items(2))
    with pytest.raises(ValueError, match="declared 3 items but 2"):
        writer.finish()
    assert fs.list_names() == []


def test_every_single_bit_flip_is_detected_before_any_item_is_returned() -> None:
    fs = sim()
    write_snapshot(fs, SnapshotMeta(5, 1, 4, b"cfg"), sample_items(4))
    good = fs.read(SNAPSHOT_FILE)
    for bit in range(len(good) * 8):
        damaged = bytearray(good)
        damaged[bit // 8] ^= 1 << (bit % 8)
        fs.create(SNAPSHOT_FILE)
        fs.append(SNAPSHOT_FILE, bytes(damaged))
        with pytest.raises(CorruptSnapshotError):
            load_snapshot(fs)


def test_every_truncation_is_detected() -> None:
    fs = sim()
    write_snapshot(fs, SnapshotMeta(5, 1, 4), sample_items(4))
    good = fs.read(SNAPSHOT_FILE)
    for cut in range(len(good)):
        fs.create(SNAPSHOT_FILE)
        fs.append(SNAPSHOT_FILE, good[:cut])
        with pytest.raises(CorruptSnapshotError, match=SNAPSHOT_FILE):
            load_snapshot(fs)


def test_a_crash_while_writing_keeps_the_old_snapshot() -> None:
    for mode in CrashMode:
        fs = SimFileSystem(random.Random(3))
        write_snapshot(fs, SnapshotMeta(1, 1, 2), sample_items(2))
        writer = SnapshotWriter(fs, SnapshotMeta(2, 1, 5))
        writer.add(sample_items(5))
        fs.crash(mode)
        assert loaded(fs) == (SnapshotMeta(1, 1, 2), sample_items(2))


def test_a_finished_snapshot_survives_a_crash() -> None:
    fs = SimFileSystem(random.Random(3))
    write_snapshot(fs, SnapshotMeta(1, 1, 2), sample_items(2))
    write_snapshot(fs, SnapshotMeta(2, 1, 5), sample_items(5))
    fs.crash(CrashMode.DROP_UNSYNCED)
    assert loaded(fs) == (SnapshotMeta(2, 1, 5), sample_items(5))
    assert SNAPSHOT_TEMP_FILE not in fs.list_names()


def test_unknown_value_types_are_refused_both_ways() -> None:
    fs = sim()
    with pytest.raises(ValueError, match="unknown value type 9"):
        write_snapshot(fs, SnapshotMeta(1, 1, 1), [SnapshotItem(b"k", b"v", None, 9)])
    assert fs.list_names() == []
    # A file from a newer version (a type this build does not know) with a valid checksum:
    write_snapshot(fs, SnapshotMeta(1, 1, 1), [SnapshotItem(b"k", b"v")])
    data = bytearray(fs.read(SNAPSHOT_FILE))
    type_offset = 38 + 4  # fixed header, no config, then the item's u32 length
    assert data[type_offset] == 0
    data[type_offset] = 9
    data[-4:] = google_crc32c.value(bytes(data[:-4])).to_bytes(4, "little")
    fs.create(SNAPSHOT_FILE)
    fs.append(SNAPSHOT_FILE, bytes(data))
    snap = load_snapshot(fs)
    assert snap is not None
    with pytest.raises(CorruptSnapshotError, match="unknown value type 9"):
        list(snap.items())


def send(source: SimFileSystem, target: SimFileSystem, chunk: int = 17) -> SnapshotReceiver:
    snap = load_snapshot(source)
    assert snap is not None
    receiver = SnapshotReceiver(target)
    for offset in range(0, snap.size, chunk):
        receiver.write(snap.read_raw(offset, chunk))
    return receiver


def test_a_snapshot_sent_in_raw_chunks_installs_on_another_node() -> None:
    leader, follower = sim(), sim()
    write_snapshot(leader, SnapshotMeta(40, 3, 25, b"members"), sample_items(25))
    write_snapshot(follower, SnapshotMeta(2, 1, 1), sample_items(1))
    installed = send(leader, follower).finish()
    assert installed.meta == SnapshotMeta(40, 3, 25, b"members")
    assert list(installed.items()) == sample_items(25)
    assert loaded(follower) == (SnapshotMeta(40, 3, 25, b"members"), sample_items(25))
    assert follower.list_names() == [SNAPSHOT_FILE]


def test_a_damaged_transfer_is_refused_and_the_old_snapshot_kept() -> None:
    leader, follower = sim(), sim()
    write_snapshot(leader, SnapshotMeta(40, 3, 25), sample_items(25))
    write_snapshot(follower, SnapshotMeta(2, 1, 1), sample_items(1))
    receiver = send(leader, follower)
    receiver.write(b"extra")
    with pytest.raises(CorruptSnapshotError, match="discarded, not installed"):
        receiver.finish()
    assert loaded(follower) == (SnapshotMeta(2, 1, 1), sample_items(1))
    assert follower.list_names() == [SNAPSHOT_FILE]
