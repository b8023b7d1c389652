"""The simulator's checkers must catch real protocol bugs: break the core on purpose
(monkeypatched for one test) and expect a failing seed with a telling message."""

from __future__ import annotations

import pytest

from tandemkv.build import BUILD
from tandemkv.replication import election
from tandemkv.replication.core import Replica
from tandemkv.replication.log import RaftLog
from tandemkv.replication.messages import VoteRequest, VoteResponse
from tandemkv.testing.simulator import SimulationFailure, run_seed


def patches(module: str) -> pytest.MarkDecorator:
    """Skip where `module` is compiled: compiled code calls it directly, past any patch.
    The pure-Python build runs these checks (CI runs both builds)."""
    return pytest.mark.skipif(
        module in BUILD.modules, reason=f"patches {module}, compiled in this build"
    )


def first_failure(seeds: int, profile: str = "default") -> str:
    for seed in range(seeds):
        try:
            run_seed(seed, profile)
        except SimulationFailure as exc:
            return str(exc)
    pytest.fail(f"the injected bug survived {seeds} seeds")


@patches("tandemkv.replication.election")
def test_voting_twice_in_a_term_is_caught_as_two_leaders(monkeypatch: pytest.MonkeyPatch) -> None:
    def vote_for_anyone_up_to_date(r: Replica, msg: VoteRequest) -> None:
        granted = r.log.is_up_to_date(msg.last_index, msg.last_term)
        term = msg.term if granted else r.term
        r.send(VoteResponse(r.id, msg.frm, term, granted, msg.pre_vote))

    monkeypatch.setattr(election, "handle_vote_request", vote_for_anyone_up_to_date)
    assert "two leaders in term" in first_failure(50)


@patches("tandemkv.replication.log")
def test_electing_a_candidate_with_a_stale_log_is_caught_as_lost_committed_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(RaftLog, "is_up_to_date", lambda self, index, term: True)
    message = first_failure(100)
    assert "lacks committed entry" in message or "committed entry" in message
