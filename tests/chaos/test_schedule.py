"""Fault schedules, for a single node and for a group: one seed, one schedule, whatever
else happens; faults never overlap; every kind and every node is reached."""

from __future__ import annotations

import itertools
from functools import partial

import pytest

from chaos.cluster_faults import ALL_CLUSTER_KINDS, FAILOVER_KINDS, ClusterFault, ClusterFaults
from chaos.node_faults import ALL_KINDS, PROCESS_KINDS, FaultKind, NodeFaults
from chaos.schedule import make_schedule

# Schedules as the harnesses draw them, from every kind unless a test says otherwise.
node_schedule = partial(make_schedule, faults=NodeFaults(), kinds=ALL_KINDS)
group_schedule = partial(make_schedule, faults=ClusterFaults(), kinds=ALL_CLUSTER_KINDS, nodes=3)

# ---------------------------------------------------------------------- a single node


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**31 - 1])
def test_a_seed_always_makes_the_same_schedule(seed: int) -> None:
    first = node_schedule(seed, 30.0, nodes=3)
    again = node_schedule(seed, 30.0, nodes=3)
    assert first == again
    assert first.describe() == again.describe()


def test_different_seeds_make_different_schedules() -> None:
    schedules = {node_schedule(seed, 30.0).describe() for seed in range(20)}
    assert len(schedules) == 20


def test_steps_are_sequential_start_in_the_window_and_reach_every_node() -> None:
    nodes_hit: set[int] = set()
    for seed in range(50):
        steps = node_schedule(seed, 20.0, nodes=3).steps
        assert steps, "a 20 s window always has faults"
        assert all(0 < step.at < 20.0 for step in steps)
        for before, after in itertools.pairwise(steps):
            assert after.at > before.at + before.duration, "faults never overlap"
        nodes_hit |= {step.node for step in steps}
    assert nodes_hit == {0, 1, 2}


def test_every_kind_is_drawn_and_pauses_outlast_the_client_timeout() -> None:
    faults = NodeFaults(op_timeout=0.8)
    steps = [step for seed in range(40) for step in node_schedule(seed, 30.0, faults=faults).steps]
    assert {step.kind for step in steps} == set(ALL_KINDS)
    pauses = [step for step in steps if step.kind is FaultKind.PAUSE]
    assert all(step.duration > 0.8 for step in pauses)


def test_required_kinds_come_first_and_restricted_kinds_are_respected() -> None:
    for seed in range(30):
        schedule = node_schedule(seed, 10.0, kinds=PROCESS_KINDS[:1], required=PROCESS_KINDS)
        assert {step.kind for step in schedule.steps[:2]} == set(PROCESS_KINDS)
        assert all(step.kind is FaultKind.KILL for step in schedule.steps[2:])


def test_no_kinds_and_no_time_mean_no_faults() -> None:
    assert node_schedule(1, 10.0, kinds=()).steps == ()
    assert node_schedule(1, 0.0).steps == ()
    assert group_schedule(1, 10.0, kinds=()).steps == ()


# ---------------------------------------------------------------------- a group


@pytest.mark.parametrize("seed", [0, 7, 2**31 - 1])
def test_one_seed_one_group_schedule(seed: int) -> None:
    first = group_schedule(seed, 30.0, required=FAILOVER_KINDS)
    assert first == group_schedule(seed, 30.0, required=FAILOVER_KINDS)
    assert first.describe() == group_schedule(seed, 30.0, required=FAILOVER_KINDS).describe()
    assert first != group_schedule(seed + 1, 30.0, required=FAILOVER_KINDS)


def test_group_schedules_start_with_the_failovers_never_overlap_and_reach_everything() -> None:
    kinds: set[ClusterFault] = set()
    for seed in range(60):
        schedule = group_schedule(seed, 30.0, nodes=3, required=FAILOVER_KINDS)
        assert {step.kind for step in schedule.steps[:4]} == set(FAILOVER_KINDS)
        for before, after in itertools.pairwise(schedule.steps):
            assert after.at > before.at + before.duration
        for step in schedule.steps:
            kinds.add(step.kind)
            assert 0 <= step.node < 3
            if step.kind is ClusterFault.SPLIT:
                assert len(step.minority) == 1
            if step.kind is ClusterFault.CUT_LINK:
                assert step.link[0] != step.link[1]
            if step.kind in (ClusterFault.PAUSE_PRIMARY, ClusterFault.PAUSE_NODE):
                assert step.duration > 2 * 0.3, "a pause outlasts the election timeout"
    assert kinds == set(ALL_CLUSTER_KINDS)
    five = group_schedule(3, 60.0, nodes=5, kinds=(ClusterFault.SPLIT,))
    assert {len(step.minority) for step in five.steps} == {2}


def test_a_step_names_what_its_kind_aims_at() -> None:
    """One ``describe`` serves both families: a node, the primary, a minority, a link or
    all links, with the delay or the flap period where the kind has one."""
    texts = [node_schedule(seed, 30.0, nodes=3).describe() for seed in range(20)]
    texts += [group_schedule(seed, 30.0).describe() for seed in range(20)]
    for needle in (
        "kill node",
        "kill-primary the primary",
        "split minority node",
        "cut-link node",
        "->node",
        "reset-links all links",
        "ms+-",
        " every 0.",
    ):
        assert any(needle in text for text in texts), needle
