"""Membership: learners catch up before promotion, one change at a time, removal,
witnesses (vote and count for commit, never lead, never hold values)."""

from __future__ import annotations

import pytest

from tandemkv.replication import (
    ConfChange,
    ConfChangeError,
    ConfChangeOp,
    ConfState,
    ProposalDropped,
    Role,
    apply_change,
    decode_conf,
    encode_conf,
)
from tandemkv.replication.messages import AppendRequest, EntryKind, VoteRequest
from tandemkv.testing.harness import Harness


def change(op: ConfChangeOp, node: int) -> ConfChange:
    return ConfChange(op, node)


def test_conf_encoding_round_trips() -> None:
    conf = ConfState((1, 2, 5), (7,), (5,))
    assert decode_conf(encode_conf(conf)) == conf


@pytest.mark.parametrize(
    ("conf", "chg"),
    [
        (ConfState((1, 2)), change(ConfChangeOp.ADD_LEARNER, 2)),
        (ConfState((1, 2)), change(ConfChangeOp.PROMOTE, 3)),
        (ConfState((1,)), change(ConfChangeOp.REMOVE, 1)),
        (ConfState((1, 2)), change(ConfChangeOp.REMOVE, 9)),
        (ConfState((1, 2), (), (2,)), change(ConfChangeOp.REMOVE, 1)),
    ],
)
def test_nonsensical_changes_are_refused(conf: ConfState, chg: ConfChange) -> None:
    with pytest.raises(ConfChangeError):
        apply_change(conf, chg)


def test_a_learner_receives_the_log_but_neither_votes_nor_counts_for_commit() -> None:
    h = Harness([1, 2], learners=[3], check_quorum=False)
    h.elect(1)
    h.propose(1, b"a")
    assert h.data_applied(3) == [b"a"]
    h.isolate(2)
    h.propose(1, b"b")
    assert h.data_applied(1) == [b"a"]  # node 3's copy does not make a majority
    h.tick([3], times=50)
    assert h.nodes[3].role is Role.FOLLOWER
    assert not any(isinstance(m, VoteRequest) and m.frm == 3 for m in h.sent)


def test_a_new_member_joins_as_learner_catches_up_then_is_promoted() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    for n in range(40):
        h.propose(1, b"e%d" % n)
    h.nodes[1].propose_conf_change(change(ConfChangeOp.ADD_LEARNER, 4))
    h.add_node(4)  # starts empty; learns the membership from the log
    h.drop_rules.append(lambda m: isinstance(m, AppendRequest) and m.to == 4)
    h.deliver()
    with pytest.raises(ProposalDropped, match="behind"):
        h.nodes[1].propose_conf_change(change(ConfChangeOp.PROMOTE, 4))
    h.heal()
    h.tick(times=5)
    assert len(h.data_applied(4)) == 40
    h.nodes[1].propose_conf_change(change(ConfChangeOp.PROMOTE, 4))
    h.deliver()
    assert all(h.conf_of(n).voters == (1, 2, 3, 4) for n in (1, 2, 3, 4))


def test_only_one_membership_change_at_a_time() -> None:
    h = Harness([1, 2, 3], check_quorum=False)
    h.elect(1)
    h.isolate(1)
    h.nodes[1].propose_conf_change(change(ConfChangeOp.ADD_LEARNER, 4))
    with pytest.raises(ProposalDropped):
        h.nodes[1].propose_conf_change(change(ConfChangeOp.ADD_LEARNER, 5))


def test_a_membership_change_takes_effect_when_appended_not_when_committed() -> None:
    h = Harness([1, 2, 3], check_quorum=False)
    h.elect(1)
    h.isolate(1)
    h.nodes[1].propose_conf_change(change(ConfChangeOp.REMOVE, 3))
    h.deliver()
    assert h.conf_of(1).voters == (1, 2)
    assert h.nodes[1].commit_index < h.nodes[1].log.last_index()


def test_a_removed_follower_is_dropped_from_replication_and_quorum() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    h.nodes[1].propose_conf_change(change(ConfChangeOp.REMOVE, 3))
    h.deliver()
    h.isolate(3)
    h.propose(1, b"x")
    assert h.data_applied(1) == [b"x"]  # 2 of {1, 2} is a majority now
    assert 3 not in h.nodes[1].progress


def test_a_leader_does_not_remove_itself() -> None:
    h = Harness([1, 2, 3])
    h.elect(1)
    with pytest.raises(ProposalDropped, match="transfer"):
        h.nodes[1].propose_conf_change(change(ConfChangeOp.REMOVE, 1))


def test_a_witness_votes_and_acknowledges_but_stores_no_values_and_never_leads() -> None:
    h = Harness([1, 2, 3], witnesses=[3])
    h.elect(1)
    h.isolate(2)
    h.propose(1, b"secret")
    assert h.data_applied(1) == [b"secret"]  # committed by leader + witness
    (entry,) = [e for e in h.applied[3] if e.kind is EntryKind.NORMAL]
    assert entry.data == b""
    h.heal()
    h.tick(times=3)  # node 2 catches up from node 1
    h.isolate(1)
    h.tick([2, 3], times=60)
    assert h.nodes[2].role is Role.LEADER  # the witness voted for the data node...
    assert not any(isinstance(m, VoteRequest) and m.frm == 3 for m in h.sent)  # ...never ran
    assert h.data_applied(2) == [b"secret"]


def test_a_witness_can_be_added_as_a_voter() -> None:
    h = Harness([1, 2])
    h.elect(1)
    h.nodes[1].propose_conf_change(change(ConfChangeOp.ADD_WITNESS, 3))
    h.add_node(3)
    h.deliver()
    h.tick(times=3)
    assert h.conf_of(3) == ConfState((1, 2, 3), (), (3,))


def test_a_witness_refuses_a_data_voter_that_lacks_entries_it_acknowledged() -> None:
    # The price of a witness: "secret" may be committed (leader + witness), so node 2,
    # which never got it, must not lead until node 1 is back. Safety over availability.
    h = Harness([1, 2, 3], witnesses=[3])
    h.elect(1)
    h.isolate(2)
    h.propose(1, b"secret")
    h.heal()
    h.isolate(1)
    h.tick([2, 3], times=60)
    assert h.nodes[2].role is not Role.LEADER
    h.heal()
    h.tick(times=40)
    lead = [n for n in (1, 2) if h.nodes[n].role is Role.LEADER]
    assert lead and h.data_applied(2) == [b"secret"]
