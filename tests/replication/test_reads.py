"""Linearizable reads without log writes: read-index (leader and forwarded) and leases."""

from __future__ import annotations

import random

import pytest

from tandemkv.replication import (
    ConfState,
    MemoryStorage,
    RaftConfig,
    ReadMode,
    ReadState,
    Replica,
    Role,
)
from tandemkv.replication.messages import (
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    VoteResponse,
)
from tandemkv.testing.harness import Harness


def test_read_index_waits_for_a_heartbeat_round_acknowledged_by_a_majority() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.propose(1, b"a")
    h.drop_rules.append(lambda m: isinstance(m, HeartbeatResponse))
    h.nodes[1].read_index(b"r1")
    h.deliver()
    assert h.read_states[1] == []  # leadership not confirmed yet
    h.heal()
    h.nodes[1].read_index(b"r2")
    h.deliver()
    commit = h.nodes[1].commit_index
    assert h.read_states[1] == [ReadState(b"r1", commit), ReadState(b"r2", commit)]


def test_a_deposed_leader_cut_off_from_the_majority_serves_no_read() -> None:
    h = Harness([1, 2, 3], check_quorum=False)
    h.elect(1)
    h.isolate(1)
    h.elect(2)
    h.propose(2, b"newer")
    assert h.nodes[1].role is Role.LEADER  # it does not know yet
    h.nodes[1].read_index(b"stale?")
    h.tick([1], times=5)
    assert h.read_states[1] == []


def test_a_follower_read_is_forwarded_to_the_leader() -> None:
    h = Harness([1, 2, 3], learners=[4])
    h.elect(1)
    h.propose(1, b"a")
    for node in (2, 4):
        h.nodes[node].read_index(b"f%d" % node)
    h.deliver()
    commit = h.nodes[1].commit_index
    assert h.read_states[2] == [ReadState(b"f2", commit)]
    assert h.read_states[4] == [ReadState(b"f4", commit)]


def test_a_new_leader_answers_reads_only_after_committing_an_entry_of_its_term() -> None:
    store = MemoryStorage(ConfState((1, 2, 3)))
    leader = Replica(RaftConfig(1, pre_vote=False), store, random.Random(0))
    leader.campaign()
    leader.step(VoteResponse(2, 1, leader.term, True))
    rd = leader.ready()
    store.append(rd.entries)
    leader.advance(rd)
    noop = leader.log.last_index()
    leader.read_index(b"early")
    rd = leader.ready()
    assert rd.read_states == []
    assert not any(isinstance(m, Heartbeat) for m in rd.messages)  # nothing to confirm yet
    leader.advance(rd)
    leader.step(AppendResponse(2, 1, leader.term, noop))  # the no-op commits
    rd = leader.ready()
    (beat,) = [m for m in rd.messages if isinstance(m, Heartbeat) and m.to == 2]
    leader.advance(rd)
    leader.step(HeartbeatResponse(2, 1, leader.term, beat.read_seq))
    assert leader.ready().read_states == [ReadState(b"early", noop)]


def test_a_single_voter_answers_reads_immediately() -> None:
    h = Harness([1])
    h.elect(1)
    h.nodes[1].read_index(b"x")
    assert h.nodes[1].ready().read_states == [ReadState(b"x", h.nodes[1].commit_index)]


def test_a_lease_read_skips_the_heartbeat_round_while_the_lease_holds() -> None:
    h = Harness([1, 2, 3], read_mode=ReadMode.LEASE)
    h.tick(times=10)  # past the start-up period in which lease voters stay silent
    h.elect(1)
    h.tick(times=2)  # a heartbeat round acknowledged: the lease starts
    h.sent.clear()
    h.nodes[1].read_index(b"fast")
    rd = h.nodes[1].ready()
    assert rd.read_states == [ReadState(b"fast", h.nodes[1].commit_index)]
    assert not any(isinstance(m, Heartbeat) for m in rd.messages)


def test_a_lease_expires_when_the_majority_stops_answering() -> None:
    h = Harness([1, 2, 3], read_mode=ReadMode.LEASE, check_quorum=True)
    h.tick(times=10)
    h.elect(1)
    h.tick(times=2)
    h.drop_rules.append(lambda m: isinstance(m, HeartbeatResponse))
    h.tick([1], times=9)  # election_ticks - lease margin passed without acknowledgement
    h.nodes[1].read_index(b"late")
    h.deliver()
    assert h.read_states[1] == []


@pytest.mark.parametrize("mode", [ReadMode.LEASE, ReadMode.INDEX])
def test_lease_reads_go_stale_when_the_leaders_clock_runs_slow(mode: ReadMode) -> None:
    # The documented caveat: a lease is only as good as the clocks. Node 1's clock runs
    # at a quarter of the others' speed while it is cut off; they elect a new leader and
    # commit a write before node 1 believes its lease has run out.
    h = Harness([1, 2, 3], read_mode=mode)
    h.tick(times=10)
    h.elect(1)
    h.tick(times=2)
    h.isolate(1)
    for step in range(40):
        h.tick([2, 3])
        if step % 4 == 0:
            h.tick([1])
        if any(h.nodes[n].role is Role.LEADER for n in (2, 3)):
            break
    new_leader = next(n for n in (2, 3) if h.nodes[n].role is Role.LEADER)
    h.propose(new_leader, b"newer")
    h.nodes[1].read_index(b"read")
    h.deliver()
    stale = [s for s in h.read_states[1] if s.index < h.nodes[new_leader].commit_index]
    if mode is ReadMode.LEASE:
        assert stale  # node 1 would serve a read that misses the committed write
    else:
        assert h.read_states[1] == []  # read-index needs the majority: no stale answer
