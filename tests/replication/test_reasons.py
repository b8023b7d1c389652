"""Why a replica's role or leader changed (Replica.reason): decided in the core, where it
happens, so the shell can log and record it (node/history.py)."""

from __future__ import annotations

from tandemkv.replication import Role, Why
from tandemkv.testing.harness import Harness


def test_an_election_after_the_leader_went_silent_says_election_timeout() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.isolate(1)
    for _ in range(60):
        h.tick([2, 3])
        h.deliver()
        if Role.LEADER in (h.nodes[2].role, h.nodes[3].role):
            break
    new = 2 if h.nodes[2].role is Role.LEADER else 3
    other = 5 - new
    assert h.nodes[new].role is Role.LEADER
    assert h.nodes[new].reason == Why.ELECTION_TIMEOUT
    assert h.nodes[other].reason == Why.ELECTION_TIMEOUT  # heard in the vote request
    assert h.nodes[new].campaigns >= 1


def test_a_transfer_says_so_on_the_new_leader_the_old_and_the_voters() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    campaigns = h.nodes[3].campaigns
    h.nodes[1].transfer_leadership(3)
    h.deliver()
    assert h.nodes[3].role is Role.LEADER
    assert [h.nodes[n].reason for n in (1, 2, 3)] == [Why.TRANSFER] * 3
    assert h.nodes[3].campaigns == campaigns + 1


def test_an_isolated_leader_steps_down_for_lost_contact() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.isolate(1)
    h.tick([1], times=25)
    assert h.nodes[1].role is Role.FOLLOWER
    assert h.nodes[1].reason == Why.QUORUM_LOST


def test_a_deposed_leader_that_hears_a_newer_leader_says_higher_term() -> None:
    h = Harness([1, 2, 3], check_quorum=False)  # the old leader keeps leading, cut off
    h.elect(1)
    h.isolate(1)
    h.nodes[2].campaign()
    h.deliver()
    assert h.nodes[2].role is Role.LEADER and h.nodes[1].role is Role.LEADER
    h.heal()
    h.tick([2], times=3)
    h.deliver()
    assert h.nodes[1].role is Role.FOLLOWER and h.nodes[1].leader == 2
    assert h.nodes[1].reason == Why.HIGHER_TERM


def test_a_campaign_asked_for_carries_the_shells_reason() -> None:
    h = Harness([1])
    h.nodes[1].campaign(Why.SOLE_VOTER)
    h.deliver()
    assert h.nodes[1].role is Role.LEADER and h.nodes[1].reason == Why.SOLE_VOTER
