"""The Ready contract: persist before send, apply only what is committed and persisted,
and acknowledgement levels."""

from __future__ import annotations

import random

from tandemkv.replication import (
    Acked,
    AckLevel,
    ConfState,
    Entry,
    MemoryStorage,
    RaftConfig,
    Replica,
)
from tandemkv.replication.messages import AppendRequest, AppendResponse
from tandemkv.testing.harness import Harness


def single(**config: object) -> tuple[MemoryStorage, Replica]:
    store = MemoryStorage(ConfState((1,)))
    r = Replica(RaftConfig(1, **config), store, random.Random(0))  # type: ignore[arg-type]
    r.campaign()
    rd = r.ready()
    store.append(rd.entries)
    r.advance(rd)
    return store, r


def test_entries_are_applied_only_after_the_shell_persisted_them() -> None:
    store, r = single()
    r.ready()  # drain the election's output
    r.propose([b"x"])
    rd = r.ready()
    assert [e.data for e in rd.entries] == [b"x"] and rd.must_sync
    assert rd.committed_entries == [] or all(e.data != b"x" for e in rd.committed_entries)
    store.append(rd.entries)
    r.advance(rd)
    assert [e.data for e in r.ready().committed_entries] == [b"x"]


def test_a_followers_acknowledgement_travels_with_the_entries_it_acknowledges() -> None:
    store = MemoryStorage(ConfState((1, 2)))
    f = Replica(RaftConfig(2), store, random.Random(0))
    f.step(AppendRequest(1, 2, 1, 0, 0, (Entry(1, 1, b"a"),), 0))
    rd = f.ready()
    # Same Ready: the shell must persist (fsync) the entry before sending the reply.
    assert rd.must_sync and rd.entries == [Entry(1, 1, b"a")]
    assert rd.messages == [AppendResponse(2, 1, 1, 1)]


def test_work_arriving_between_ready_and_advance_goes_into_the_next_ready_once() -> None:
    store = MemoryStorage(ConfState((1, 2)))
    f = Replica(RaftConfig(2), store, random.Random(0))
    f.step(AppendRequest(1, 2, 1, 0, 0, (Entry(1, 1, b"a"),), 0))
    first = f.ready()
    f.step(AppendRequest(1, 2, 1, 1, 1, (Entry(1, 2, b"b"),), 0))
    store.append(first.entries)
    f.advance(first)
    second = f.ready()
    assert [e.index for e in second.entries] == [2]


def test_majority_ack_waits_for_commit_and_an_isolated_leader_never_acks() -> None:
    h = Harness([1, 2, 3], check_quorum=False, ack_level=AckLevel.MAJORITY)
    h.elect(1)
    h.isolate(1)
    proposal = h.nodes[1].propose([b"x"])
    rd = h.handle_ready(1)
    assert rd is not None and (rd.acked is None or rd.acked.index < proposal.last)
    h.tick([1], times=5)
    assert h.nodes[1].commit_index < proposal.last


def test_leader_ack_acknowledges_once_the_leader_persisted_even_without_a_majority() -> None:
    h = Harness([1, 2, 3], check_quorum=False, ack_level=AckLevel.LEADER)
    h.elect(1)
    h.isolate(1)
    proposal = h.nodes[1].propose([b"x"])
    first = h.handle_ready(1)  # persists the entry
    second = h.handle_ready(1)
    assert first is not None and second is not None
    assert second.acked == Acked(proposal.term, proposal.last)
    assert h.nodes[1].commit_index < proposal.last  # acknowledged, yet not committed
