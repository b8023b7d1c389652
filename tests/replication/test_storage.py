"""MemoryStorage (the LogStorage reference implementation) and the core's log view."""

from __future__ import annotations

import pytest

from tandemkv.replication import (
    ConfState,
    Entry,
    HardState,
    LogCompacted,
    LogUnavailable,
    MemoryStorage,
    Snapshot,
    SnapshotMeta,
)
from tandemkv.replication.log import LogInvariantError, RaftLog
from tandemkv.replication.progress import Inflights, committed_index
from tandemkv.replication.storage import ENTRY_OVERHEAD


def filled(n: int) -> MemoryStorage:
    store = MemoryStorage(ConfState((1,)))
    store.append([Entry(1 + i // 3, i + 1, b"d%d" % i) for i in range(n)])
    return store


def test_append_replaces_the_suffix_from_its_first_index() -> None:
    store = filled(5)
    store.append([Entry(9, 3, b"new")])
    assert store.last_index() == 3 and store.term(3) == 9
    with pytest.raises(ValueError, match="gap"):
        store.append([Entry(9, 6)])


def test_compaction_keeps_the_snapshot_term_answerable_and_refuses_older_reads() -> None:
    store = filled(6)
    store.compact(4, ConfState((1,)), b"state")
    assert (store.first_index(), store.last_index()) == (5, 6)
    assert store.term(4) == 2  # the snapshot's own index still has a term
    with pytest.raises(LogCompacted):
        store.term(3)
    with pytest.raises(LogCompacted):
        store.entries(4, 6, 1 << 20)
    with pytest.raises(LogUnavailable):
        store.term(7)
    assert store.snapshot() == Snapshot(SnapshotMeta(4, 2, ConfState((1,))), b"state")


def test_entries_respect_max_bytes_but_return_at_least_one() -> None:
    store = filled(6)
    size = 2 + ENTRY_OVERHEAD
    assert len(store.entries(1, 7, size * 3)) == 3
    assert len(store.entries(1, 7, 1)) == 1


def test_installing_a_snapshot_keeps_a_matching_tail_and_drops_a_conflicting_one() -> None:
    store = filled(6)
    store.apply_snapshot(Snapshot(SnapshotMeta(4, 2, ConfState((1,)))))
    assert store.last_index() == 6  # entry 4 had term 2: the tail after it is kept
    other = filled(6)
    other.apply_snapshot(Snapshot(SnapshotMeta(4, 7, ConfState((1,)))))
    assert other.last_index() == 4 and other.hard_state().commit == 4


def test_the_log_refuses_to_truncate_committed_entries() -> None:
    store = filled(4)
    store.set_hard_state(HardState(2, 0, 3))
    log = RaftLog(store)
    with pytest.raises(LogInvariantError):
        log.append([Entry(5, 3)])
    log.append([Entry(5, 4)])  # beyond the commit index: fine
    assert log.term(4) == 5 and log.entries_to_persist() == [Entry(5, 4)]


def test_a_hard_state_commit_beyond_the_log_is_refused_at_start() -> None:
    store = filled(2)
    store.set_hard_state(HardState(1, 0, 5))
    with pytest.raises(LogInvariantError):
        RaftLog(store)


def test_in_flight_window_frees_in_order_and_caps_count_and_bytes() -> None:
    window = Inflights(max_count=3, max_bytes=100)
    window.add(5, 10)
    window.add(9, 10)
    assert not window.full()
    window.add(12, 90)
    assert window.full()
    window.free_to(9)
    assert len(window) == 1 and window.bytes == 90 and not window.full()


@pytest.mark.parametrize(
    ("matches", "expected"),
    [({1: 5}, 5), ({1: 5, 2: 3}, 3), ({1: 9, 2: 7, 3: 2}, 7), ({1: 9, 2: 7, 3: 2, 4: 1}, 2)],
)
def test_committed_index_is_what_a_majority_stores(matches: dict[int, int], expected: int) -> None:
    assert committed_index(sorted(matches), matches) == expected
