"""Log replication: consistency check, fast back-tracking, pipelining limits, the
commit rule of the Raft paper's Figure 8, and restart from persisted state."""

from __future__ import annotations

import random

from tandemkv.replication import (
    ConfState,
    Entry,
    HardState,
    MemoryStorage,
    RaftConfig,
    Replica,
    Role,
)
from tandemkv.replication.messages import (
    AppendRequest,
    AppendResponse,
    EntryKind,
    VoteResponse,
)
from tandemkv.testing.harness import Harness


def test_entries_commit_on_a_majority_and_every_replica_applies_them_in_order() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.isolate(3)
    h.propose(1, b"a", b"b")
    assert h.data_applied(1) == [b"a", b"b"] and h.data_applied(2) == [b"a", b"b"]
    assert h.data_applied(3) == []
    h.heal()
    h.tick(times=3)
    assert h.data_applied(3) == [b"a", b"b"]


def test_nothing_commits_without_a_majority() -> None:
    h = Harness([1, 2, 3], check_quorum=False)
    h.elect(1)
    h.isolate(1)
    h.propose(1, b"a")
    h.tick([1], times=5)
    assert h.data_applied(1) == []


def _follower_with_log(terms: list[int], node: int = 2) -> tuple[MemoryStorage, Replica]:
    store = MemoryStorage(ConfState((1, 2, 3)))
    store.append([Entry(t, i + 1, b"old") for i, t in enumerate(terms)])
    store.set_hard_state(HardState(max(terms), 0, 0))
    return store, Replica(RaftConfig(node), store, random.Random(0))


def test_a_follower_refuses_an_append_whose_previous_entry_does_not_match() -> None:
    _, follower = _follower_with_log([1, 1, 2])
    follower.step(AppendRequest(1, 2, 3, prev_index=3, prev_term=3, entries=(), commit=0))
    (resp,) = follower.ready().messages
    assert isinstance(resp, AppendResponse) and resp.reject
    assert (resp.hint_index, resp.hint_term) == (3, 2)  # "my entry at 3 has term 2"


def test_conflicting_entries_are_replaced_by_the_leaders() -> None:
    store, follower = _follower_with_log([1, 1, 2, 2])
    new = (Entry(3, 3, b"n3"), Entry(3, 4, b"n4"), Entry(3, 5, b"n5"))
    follower.step(AppendRequest(1, 2, 3, prev_index=2, prev_term=1, entries=new, commit=5))
    rd = follower.ready()
    assert [e.index for e in rd.entries] == [3, 4, 5]
    assert rd.messages == [AppendResponse(2, 1, 3, 5)]
    store.append(rd.entries)
    follower.advance(rd)
    assert [store.term(i) for i in range(1, 6)] == [1, 1, 3, 3, 3]


def test_back_tracking_skips_a_whole_divergent_term_in_one_round_trip() -> None:
    h = Harness([1, 2, 3], check_quorum=False)
    h.elect(1)
    h.propose(1, b"base")
    h.isolate(1)
    for n in range(30):
        h.propose(1, b"lost-%d" % n)  # term 1, never committed: only node 1 has them
    h.elect(2)
    for n in range(40):
        h.propose(2, b"new-%d" % n)  # term 2, committed by nodes 2 and 3
    h.elect(3)  # a leader whose first probe to node 1 starts 40 entries past the fork
    h.heal()
    h.sent.clear()
    h.tick(times=4)
    rejects = [m for m in h.sent if isinstance(m, AppendResponse) and m.frm == 1 and m.reject]
    assert len(rejects) == 1  # one hint jumps back over both terms, not 40 retreats
    assert h.data_applied(1) == h.data_applied(2)
    assert h.log_terms(1) == h.log_terms(3)


def test_pipelining_is_capped_by_count_of_in_flight_appends() -> None:
    h = Harness([1, 2], max_inflight=2, max_msg_bytes=1)
    h.elect(1)
    h.drop_rules.append(lambda m: isinstance(m, AppendResponse))  # nothing acknowledged
    h.sent.clear()
    for n in range(6):
        h.nodes[1].propose([b"e%d" % n])
    h.deliver()
    appends = [m for m in h.sent if isinstance(m, AppendRequest) and m.entries]
    assert len(appends) == 2  # the window is full; the rest wait for acknowledgements
    h.heal()
    h.tick(times=10)
    assert len(h.data_applied(2)) == 6


def test_pipelining_is_capped_by_bytes_in_flight() -> None:
    h = Harness([1, 2], max_inflight=100, max_inflight_bytes=300, max_msg_bytes=1)
    h.elect(1)
    h.drop_rules.append(lambda m: isinstance(m, AppendResponse))
    h.sent.clear()
    for _ in range(10):
        h.nodes[1].propose([b"x" * 100])
    h.deliver()
    appends = [m for m in h.sent if isinstance(m, AppendRequest) and m.entries]
    assert len(appends) == 3  # 116 bytes each: the third crosses the 300-byte cap


def test_figure_8_an_old_term_entry_is_not_committed_by_counting_replicas() -> None:
    # Node 1 becomes leader of term 3 over a log whose index 2 holds a term-2 entry.
    # Once nodes 2 and 3 also store it, it is on a majority of 5, yet it must not be
    # committed by counting: a voter holding a newer-term entry at index 2 could still be
    # elected without it and overwrite it (Figure 8 of the Raft paper).
    conf = ConfState((1, 2, 3, 4, 5))
    store = MemoryStorage(conf)
    store.append([Entry(1, 1, b"a"), Entry(2, 2, b"b")])
    store.set_hard_state(HardState(2, 0, 1))
    leader = Replica(RaftConfig(1, pre_vote=False), store, random.Random(0))
    leader.campaign()
    rd = leader.ready()
    store.append(rd.entries)
    if rd.hard_state:
        store.set_hard_state(rd.hard_state)
    leader.advance(rd)
    for voter in (2, 3):
        leader.step(VoteResponse(voter, 1, leader.term, True))
    assert leader.role is Role.LEADER
    rd = leader.ready()
    store.append(rd.entries)
    leader.advance(rd)
    noop_index = leader.log.last_index()
    assert store.term(noop_index) == leader.term
    # Nodes 2 and 3 acknowledge index 2 (the old term-2 entry) but not the no-op.
    leader.step(AppendResponse(2, 1, leader.term, 2))
    leader.step(AppendResponse(3, 1, leader.term, 2))
    assert leader.commit_index == 1
    # Once the current-term no-op is on a majority, everything before it commits too.
    leader.step(AppendResponse(2, 1, leader.term, noop_index))
    assert leader.commit_index == 1  # the no-op is on 2 of 5 so far
    leader.step(AppendResponse(3, 1, leader.term, noop_index))
    assert leader.commit_index == noop_index
    rd = leader.ready()
    kinds = [e.kind for e in rd.committed_entries]
    assert kinds == [EntryKind.NORMAL, EntryKind.NOOP]


def test_a_restarted_follower_recovers_its_log_and_catches_up() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.propose(1, b"a")
    h.restart(3)
    h.propose(1, b"b")
    h.tick(times=3)
    assert h.data_applied(3) == [b"a", b"b"]  # re-applied from storage after the restart
