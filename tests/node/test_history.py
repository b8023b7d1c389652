"""A node's record of role changes and its election counters (node/history.py), and how
`tandemkv status` shows the last election."""

from __future__ import annotations

import dataclasses

from tandemkv.cluster_verbs import last_election_json, last_election_line, parse_status
from tandemkv.commands.cluster_view import NodeStatus
from tandemkv.commands.replication import status_map
from tandemkv.node.history import KEEP, NO_PRIMARY, RoleChange, RoleHistory


def change(primary: int, reason: str, term: int = 2) -> RoleChange:
    return RoleChange(1000.0 + term, term, primary, f"127.0.0.1:{7000 + primary}", "x", reason)


def test_counters_count_new_primaries_and_this_nodes_turns() -> None:
    h = RoleHistory()
    h.record(change(2, "election timeout"), own_id=1, previous_primary=NO_PRIMARY)
    h.record(change(NO_PRIMARY, "election timeout", 3), own_id=1, previous_primary=2)
    h.record(change(1, "election timeout", 3), own_id=1, previous_primary=NO_PRIMARY)
    assert (h.primary_changes, h.times_became_primary) == (2, 1)
    last = h.last_election()
    assert last is not None and (last.primary_id, last.term) == (1, 3)


def test_only_the_last_changes_are_kept() -> None:
    h = RoleHistory()
    for term in range(KEEP + 5):
        h.record(change(term % 3 + 1, "leadership transfer", term), 1, NO_PRIMARY)
    assert len(h.changes) == KEEP and h.changes[0].term == 5
    assert h.primary_changes == KEEP + 5  # counters are not bounded by what is kept


VIEW = NodeStatus(1, "127.0.0.1:7001", "primary", 5, 1, "127.0.0.1:7001", 9, 9, 9, "majority", ())


def test_status_reports_the_last_election_through_the_wire() -> None:
    view = dataclasses.replace(
        VIEW,
        last_election_ago_ms=12_300,
        last_election_term=5,
        last_election_reason="election timeout",
        elections_started=2,
        times_became_primary=1,
        primary_changes=3,
    )
    wire = {k.decode(): v for k, v in status_map("tkv", view).items()}
    parsed = parse_status(wire).status
    assert parsed == view
    line = last_election_line(parsed)
    assert line.startswith("last election: 12.3s ago, term 5, election timeout")
    assert last_election_json(parsed) == {
        "seen_by": "127.0.0.1:7001",
        "seconds_ago": 12.3,
        "term": 5,
        "reason": "election timeout",
        "elections_started_here": 2,
        "primary_changes_seen": 3,
    }


def test_no_election_seen_shows_nothing() -> None:
    assert last_election_line(VIEW) == "" and last_election_json(VIEW) is None
