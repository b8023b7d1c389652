"""The replication core's storage over a real data directory: what the core reads back
must be what was persisted, across conflicts, restarts and received snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.node import disk_storage
from tandemkv.node.disk_storage import CACHE_ENTRIES, DiskStorage
from tandemkv.replication import (
    ConfState,
    Entry,
    EntryKind,
    HardState,
    LogCompacted,
    LogUnavailable,
    Snapshot,
    SnapshotMeta,
)
from tandemkv.replication.conf import encode_conf
from tandemkv.storage.codec import encode_mutation
from tandemkv.storage.mutation import SetValue
from tandemkv.storage.snapshot import SnapshotItem
from tandemkv.storage.store import SnapshotPoint, Store


def entry(term: int, index: int, data: bytes = b"x") -> Entry:
    return Entry(term, index, data, EntryKind.NORMAL)


def reopen(store: Store) -> tuple[Store, DiskStorage]:
    path = store.path
    store.close()
    fresh = Store.open(path, replay=False)
    return fresh, DiskStorage(fresh)


def test_entries_terms_and_bounds_read_back_after_a_restart(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path), replay=False)
    disk = DiskStorage(store)
    disk.append([entry(1, 1), entry(1, 2), entry(2, 3, b"three")])
    disk.sync()
    store, disk = reopen(store)
    try:
        assert (disk.first_index(), disk.last_index()) == (1, 3)
        assert [disk.term(i) for i in (0, 1, 2, 3)] == [0, 1, 1, 2]
        assert disk.entries(2, 4, 1 << 20) == [entry(1, 2), entry(2, 3, b"three")]
        with pytest.raises(LogUnavailable):
            disk.term(4)
        with pytest.raises(LogUnavailable):
            disk.entries(3, 5, 1 << 20)
    finally:
        store.close()


def test_a_conflicting_append_replaces_the_suffix_in_cache_and_on_disk(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path), replay=False)
    disk = DiskStorage(store)
    disk.append([entry(1, i) for i in range(1, 6)])
    disk.append([entry(2, 3, b"new"), entry(2, 4, b"new")])
    expected = [entry(1, 1), entry(1, 2), entry(2, 3, b"new"), entry(2, 4, b"new")]
    assert disk.entries(1, 5, 1 << 20) == expected
    assert disk.last_index() == 4
    store, disk = reopen(store)
    try:
        assert disk.entries(1, 5, 1 << 20) == expected
    finally:
        store.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(1, 3)), min_size=1, max_size=12))
def test_the_cache_always_agrees_with_the_log(
    tmp_path_factory: pytest.TempPathFactory, appends: list[tuple[int, int]]
) -> None:
    """Random appends (each may overwrite a suffix) read the same from memory and disk."""
    path = tmp_path_factory.mktemp("log")
    store = Store.open(str(path), replay=False)
    disk = DiskStorage(store)
    term = 1
    try:
        for count, step in appends:
            term += step
            start = max(1, disk.last_index() + 1 - count // 3)
            disk.append([entry(term, i, bytes([i % 256])) for i in range(start, start + count)])
            last = disk.last_index()
            cached = disk.entries(1, last + 1, 1 << 30)
            from_disk = [
                Entry(e.term, e.index, e.data, EntryKind(e.kind))
                for e in store.wal.entries(1, last + 1)
            ]
            assert cached == from_disk
            assert [disk.term(i) for i in range(1, last + 1)] == [e.term for e in from_disk]
            assert disk._cache_bytes == sum(len(e.data) for e in disk._cache)
    finally:
        store.close()


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path), replay=False)
    disk = DiskStorage(store)
    try:
        for start in range(1, CACHE_ENTRIES * 2, 1000):
            disk.append([entry(1, i) for i in range(start, start + 1000)])
        assert len(disk._cache) <= CACHE_ENTRIES
        assert disk.entries(1, 3, 1 << 20) == [entry(1, 1), entry(1, 2)]  # from disk
    finally:
        store.close()


def test_the_cache_is_bounded_in_bytes_too(tmp_path: Path) -> None:
    """Big entries (a loop turn of pipelined big values each) are held by bytes, not
    count: 8,192 entries of 1 MiB each once held gigabytes."""
    store = Store.open(str(tmp_path), replay=False)
    disk = DiskStorage(store)
    big = b"v" * (1 << 20)
    try:
        for index in range(1, 81):
            disk.append([entry(1, index, big)])
            held = sum(len(e.data) for e in disk._cache)
            assert held == disk._cache_bytes <= disk_storage.CACHE_BYTES
        assert 0 < len(disk._cache) < 80
        assert disk.entries(1, 2, 1 << 30) == [entry(1, 1, big)]  # read back from disk
        assert disk.entries(80, 81, 1 << 30) == [entry(1, 80, big)]  # from the cache
        disk.append([entry(2, 79, b"short")])  # a conflicting suffix leaves the count right
        assert sum(len(e.data) for e in disk._cache) == disk._cache_bytes
    finally:
        store.close()


def test_term_and_vote_survive_a_restart_but_a_commit_alone_is_not_written(
    tmp_path: Path,
) -> None:
    store = Store.open(str(tmp_path), replay=False)
    disk = DiskStorage(store)
    disk.append([entry(3, 1)])
    disk.save_hard_state(HardState(3, 7, 1))
    disk.remember_hard_state(HardState(3, 7, 5))
    assert disk.hard_state() == HardState(3, 7, 5)
    store, disk = reopen(store)
    try:
        assert disk.hard_state() == HardState(3, 7, 1)
    finally:
        store.close()


def _snapshot_bytes(tmp_path: Path, index: int, term: int, conf: ConfState) -> bytes:
    """The snapshot file another node would send: written by a real store."""
    source = Store.open(str(tmp_path / "source"), replay=False)
    try:
        point = SnapshotPoint(index, term, 2, encode_conf(conf))
        source.write_snapshot(point, iter([SnapshotItem(b"a", b"1"), SnapshotItem(b"b", b"2")]))
        return (tmp_path / "source" / "snapshot").read_bytes()
    finally:
        source.close()


def test_an_installed_snapshot_replaces_the_log_and_carries_the_membership(
    tmp_path: Path,
) -> None:
    conf = ConfState((1, 2), (), (), ((1, "127.0.0.1:1"), (2, "127.0.0.1:2")))
    data = _snapshot_bytes(tmp_path, 10, 4, conf)
    store = Store.open(str(tmp_path / "target"), replay=False)
    disk = DiskStorage(store)
    disk.append([entry(1, 1), entry(1, 2)])
    installed = disk.install_snapshot(Snapshot(SnapshotMeta(10, 4, conf), data))
    assert [item.key for item in installed.items()] == [b"a", b"b"]
    assert disk.snapshot_meta() == SnapshotMeta(10, 4, conf)
    assert (disk.first_index(), disk.last_index(), disk.term(10)) == (11, 10, 4)
    with pytest.raises(LogCompacted):
        disk.entries(2, 3, 1 << 20)
    assert disk.snapshot().data == data
    store, disk = reopen(store)
    try:
        assert disk.snapshot_meta() == SnapshotMeta(10, 4, conf)
        assert len(store.keyspace) == 2  # replay=False still loads the snapshot
    finally:
        store.close()


def test_normal_entries_hold_encoded_mutations_a_standalone_store_can_replay(
    tmp_path: Path,
) -> None:
    """A group's log is a valid standalone log: the same records, the same codec."""
    store = Store.open(str(tmp_path), replay=False)
    disk = DiskStorage(store)
    disk.append(
        [
            Entry(1, 1, encode_mutation(SetValue(b"k", b"v", None)), EntryKind.NORMAL),
            Entry(1, 2, encode_conf(ConfState((1,))), EntryKind.CONFIG),
        ]
    )
    disk.sync()
    store.close()
    replayed = Store.open(str(tmp_path))
    try:
        assert replayed.keyspace.get(b"k", 0) == b"v"
    finally:
        replayed.close()
