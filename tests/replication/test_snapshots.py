"""Snapshot catch-up: a member behind the leader's compacted log receives the snapshot
in chunks (surviving lost chunks), installs it, then follows the log."""

from __future__ import annotations

from tandemkv.replication.messages import AppendRequest, SnapshotAck, SnapshotChunk
from tandemkv.testing.harness import Harness

STATE = b"0123456789abcdefghij"  # stands in for the state machine's serialized form


def lagging_follower_after_compaction() -> Harness:
    h = Harness([1, 2, 3], snapshot_chunk_bytes=8)
    h.elect(1)
    h.isolate(3)
    for n in range(10):
        h.propose(1, b"e%d" % n)
    h.compact(1, STATE)
    h.compact(2, STATE)
    return h


def test_a_follower_behind_the_compacted_log_gets_the_snapshot_in_chunks_then_the_log() -> None:
    h = lagging_follower_after_compaction()
    snap_index = h.storage[1].snapshot_meta().index
    h.heal()
    h.sent.clear()
    h.tick(times=4)
    chunks = [m for m in h.sent if isinstance(m, SnapshotChunk)]
    assert [c.offset for c in chunks] == [0, 8, 16]
    assert [s.data for s in h.installed[3]] == [STATE]
    assert h.storage[3].snapshot_meta().index == snap_index
    h.propose(1, b"after")
    assert h.data_applied(3) == [b"after"]
    appends = [m for m in h.sent if isinstance(m, AppendRequest) and m.to == 3 and m.entries]
    assert appends and appends[0].prev_index >= snap_index


def test_lost_chunks_are_resent_and_the_snapshot_still_installs_whole() -> None:
    h = lagging_follower_after_compaction()
    lost = {"chunk": 2, "ack": 1}

    def drop_some(msg: object) -> bool:
        if isinstance(msg, SnapshotChunk) and msg.offset == 8 and lost["chunk"]:
            lost["chunk"] -= 1
            return True
        if isinstance(msg, SnapshotAck) and lost["ack"]:
            lost["ack"] -= 1
            return True
        return False

    h.heal()
    h.drop_rules.append(drop_some)
    h.tick(times=30)
    assert [s.data for s in h.installed[3]] == [STATE]
    h.propose(1, b"after")
    assert h.data_applied(3) == [b"after"]


def test_a_witness_receives_snapshot_metadata_but_no_values() -> None:
    h = Harness([1, 2, 3], witnesses=[3], snapshot_chunk_bytes=8)
    h.elect(1)
    h.isolate(3)
    for n in range(5):
        h.propose(1, b"e%d" % n)
    h.compact(1, STATE)
    h.heal()
    h.tick(times=5)
    (snap,) = h.installed[3]
    assert snap.data == b"" and snap.meta.index == h.storage[1].snapshot_meta().index
