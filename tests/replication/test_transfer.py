"""Leadership transfer (manual failover)."""

from __future__ import annotations

import pytest

from tandemkv.replication import ProposalDropped, Role
from tandemkv.replication.messages import AppendRequest, TimeoutNow
from tandemkv.testing.harness import Harness


def test_transfer_to_a_caught_up_follower_hands_over_leadership_at_once() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.propose(1, b"a")
    h.nodes[1].transfer_leadership(3)
    h.deliver()
    assert h.nodes[3].role is Role.LEADER and h.nodes[1].role is Role.FOLLOWER
    h.propose(3, b"b")
    assert h.data_applied(1) == [b"a", b"b"]


def test_a_lagging_target_is_caught_up_before_it_is_told_to_campaign() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.drop_rules.append(lambda m: isinstance(m, AppendRequest) and m.to == 3)
    for n in range(5):
        h.propose(1, b"e%d" % n)
    h.heal()
    h.sent.clear()
    h.nodes[1].transfer_leadership(3)
    h.deliver()
    timeout_now = [n for n, m in enumerate(h.sent) if isinstance(m, TimeoutNow)]
    catch_up = [
        n
        for n, m in enumerate(h.sent)
        if isinstance(m, AppendRequest) and m.frm == 1 and m.to == 3 and m.entries
    ]
    last_append = max(catch_up)
    assert timeout_now and timeout_now[0] > last_append
    assert h.nodes[3].role is Role.LEADER
    assert h.data_applied(3) == [b"e%d" % n for n in range(5)]


def test_proposals_are_refused_while_a_transfer_is_in_progress_then_accepted_again() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.isolate(3)
    h.nodes[1].transfer_leadership(3)
    with pytest.raises(ProposalDropped):
        h.nodes[1].propose([b"x"])
    h.tick([1, 2], times=12)  # the transfer times out after an election timeout
    assert h.nodes[1].role is Role.LEADER
    h.nodes[1].propose([b"x"])


def test_transfer_to_a_witness_or_a_learner_is_refused() -> None:
    h = Harness([1, 2, 3], learners=[4], witnesses=[3])
    h.elect(1)
    for target in (3, 4):
        with pytest.raises(ProposalDropped):
            h.nodes[1].transfer_leadership(target)
