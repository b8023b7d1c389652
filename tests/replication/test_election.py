"""Elections: randomized timeouts, one vote per term, up-to-date logs, pre-vote and
check-quorum, driven through the in-memory harness or scripted message by message."""

from __future__ import annotations

import random

import pytest

from tandemkv.replication import (
    MemoryStorage,
    NotLeader,
    RaftConfig,
    Replica,
    Role,
)
from tandemkv.replication.messages import ConfState, Entry, VoteRequest, VoteResponse
from tandemkv.testing.harness import Harness


def leaders(h: Harness) -> list[int]:
    return [n for n, r in sorted(h.nodes.items()) if r.role is Role.LEADER]


def test_single_node_elects_itself_and_commits_alone() -> None:
    h = Harness([1])
    h.tick(times=25)
    assert h.nodes[1].role is Role.LEADER
    h.propose(1, b"x")
    assert h.data_applied(1) == [b"x"]


def test_three_nodes_elect_exactly_one_leader_that_others_follow() -> None:
    h = Harness([1, 2, 3], seed=7)
    h.tick(times=30)
    assert len(leaders(h)) == 1
    lead = leaders(h)[0]
    assert all(r.leader == lead and r.term == h.nodes[lead].term for r in h.nodes.values())


def test_randomized_timeout_stays_within_one_to_two_election_timeouts() -> None:
    seen = set()
    for seed in range(40):
        r = Replica(RaftConfig(1, election_ticks=10), MemoryStorage(), random.Random(seed))
        assert 10 <= r.randomized_timeout < 20
        seen.add(r.randomized_timeout)
    assert len(seen) > 3  # actually random, so candidates rarely collide


def test_a_voter_grants_one_vote_per_term() -> None:
    store = MemoryStorage(ConfState((1, 2, 3)))
    voter = Replica(RaftConfig(1, pre_vote=False), store, random.Random(0))
    voter.step(VoteRequest(2, 1, 1, 0, 0))
    voter.step(VoteRequest(3, 1, 1, 0, 0))
    responses = [m for m in voter.ready().messages if isinstance(m, VoteResponse)]
    assert [(m.to, m.granted) for m in responses] == [(2, True), (3, False)]
    assert voter.hard_state().vote == 2


def test_a_candidate_with_a_stale_log_is_refused() -> None:
    store = MemoryStorage(ConfState((1, 2)))
    store.append([Entry(1, 1), Entry(2, 2)])
    voter = Replica(RaftConfig(1, pre_vote=False), store, random.Random(0))
    voter.step(VoteRequest(2, 1, 3, last_index=5, last_term=1))  # longer but older term
    (resp,) = voter.ready().messages
    assert isinstance(resp, VoteResponse) and not resp.granted


def test_the_vote_is_in_the_hard_state_and_must_be_synced_before_the_reply() -> None:
    store = MemoryStorage(ConfState((1, 2)))
    voter = Replica(RaftConfig(1, pre_vote=False), store, random.Random(0))
    voter.step(VoteRequest(2, 1, 4, 0, 0))
    rd = voter.ready()
    assert rd.hard_state is not None and (rd.hard_state.term, rd.hard_state.vote) == (4, 2)
    assert rd.must_sync and rd.messages


@pytest.mark.parametrize("pre_vote", [True, False])
def test_a_rejoining_partitioned_node_disrupts_the_leader_only_without_pre_vote(
    pre_vote: bool,
) -> None:
    h = Harness([1, 2, 3], pre_vote=pre_vote, check_quorum=False)
    h.elect(1)
    term = h.nodes[1].term
    h.isolate(3)
    h.propose(1, b"while away")  # node 3's log is now behind
    h.tick(times=60)  # node 3 times out again and again on its own
    h.heal()
    h.tick(times=60)  # ... and keeps trying after it is back
    if pre_vote:
        assert h.nodes[1].role is Role.LEADER and h.nodes[1].term == term
        assert h.nodes[3].term == term and h.nodes[3].leader == 1
    else:
        assert h.nodes[1].term > term  # the old leader was forced to step down


@pytest.mark.parametrize("check_quorum", [True, False])
def test_a_node_that_stops_hearing_the_leader_cannot_depose_it_while_voters_hold_a_lease(
    check_quorum: bool,
) -> None:
    # One-way fault: node 3 no longer hears node 1, but node 2 still does. Node 3's log
    # is as good as anyone's, so pre-vote alone does not stop it; the lease does.
    h = Harness([1, 2, 3], check_quorum=check_quorum)
    h.elect(1)
    term = h.nodes[1].term
    h.cut(1, 3, both_ways=False)
    h.tick(times=60)
    if check_quorum:
        assert h.nodes[1].role is Role.LEADER and h.nodes[1].term == term
    else:
        assert h.nodes[1].term > term


def test_an_isolated_leader_steps_down_under_check_quorum() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.isolate(1)
    h.tick([1], times=25)  # two election timeouts at most
    assert h.nodes[1].role is Role.FOLLOWER
    with pytest.raises(NotLeader):
        h.nodes[1].propose([b"lost?"])


def test_without_check_quorum_an_isolated_leader_keeps_acting_as_leader() -> None:
    h = Harness([1, 2, 3], check_quorum=False)
    h.elect(1)
    h.isolate(1)
    h.tick([1], times=25)
    assert h.nodes[1].role is Role.LEADER


def test_voters_in_a_leader_lease_ignore_vote_requests() -> None:
    h = Harness([1, 2, 3], pre_vote=False)
    h.elect(1)
    term = h.nodes[1].term
    h.nodes[3].campaign()  # 3 is not partitioned: a spurious candidate
    h.deliver()
    assert h.nodes[1].role is Role.LEADER and h.nodes[1].term == term
    assert h.nodes[2].term == term


def test_a_restarted_node_keeps_its_term_and_vote() -> None:
    h = Harness([1, 2, 3])
    h.elect(2)
    before = h.hard_state(1)
    h.restart(1)
    assert (h.nodes[1].term, h.nodes[1].vote) == (before.term, before.vote)
    assert h.nodes[1].commit_index == before.commit


def test_refusing_a_stale_candidate_does_not_restart_the_election_timer() -> None:
    store = MemoryStorage(ConfState((1, 2)))
    store.append([Entry(1, 1)])
    r = Replica(RaftConfig(1, pre_vote=False), store, random.Random(0))
    for _ in range(5):
        r.tick()
    r.step(VoteRequest(2, 1, 7, last_index=0, last_term=0))  # newer term, older log
    assert r.term == 7 and r.vote == 0
    assert r.election_elapsed == 5  # still due to campaign on schedule
