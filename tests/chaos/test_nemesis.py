"""Fault schedules: one seed, one schedule, whatever else happens."""

from __future__ import annotations

import itertools

import pytest

from chaos.nemesis import ALL_KINDS, PROCESS_KINDS, FaultKind, make_schedule


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**31 - 1])
def test_a_seed_always_makes_the_same_schedule(seed: int) -> None:
    first = make_schedule(seed, 30.0, nodes=3)
    again = make_schedule(seed, 30.0, nodes=3)
    assert first == again
    assert first.describe() == again.describe()


def test_different_seeds_make_different_schedules() -> None:
    schedules = {make_schedule(seed, 30.0).describe() for seed in range(20)}
    assert len(schedules) == 20


def test_steps_are_sequential_start_in_the_window_and_reach_every_node() -> None:
    nodes_hit: set[int] = set()
    for seed in range(50):
        steps = make_schedule(seed, 20.0, nodes=3).steps
        assert steps, "a 20 s window always has faults"
        assert all(0 < step.at < 20.0 for step in steps)
        for before, after in itertools.pairwise(steps):
            assert after.at > before.at + before.duration, "faults never overlap"
        nodes_hit |= {step.node for step in steps}
    assert nodes_hit == {0, 1, 2}


def test_every_kind_is_drawn_and_pauses_outlast_the_client_timeout() -> None:
    steps = [step for seed in range(40) for step in make_schedule(seed, 30.0, op_timeout=0.8).steps]
    assert {step.kind for step in steps} == set(ALL_KINDS)
    pauses = [step for step in steps if step.kind is FaultKind.PAUSE]
    assert all(step.duration > 0.8 for step in pauses)


def test_required_kinds_come_first_and_restricted_kinds_are_respected() -> None:
    for seed in range(30):
        schedule = make_schedule(seed, 10.0, kinds=PROCESS_KINDS[:1], required=PROCESS_KINDS)
        assert {step.kind for step in schedule.steps[:2]} == set(PROCESS_KINDS)
        assert all(step.kind is FaultKind.KILL for step in schedule.steps[2:])


def test_no_kinds_and_no_time_mean_no_faults() -> None:
    assert make_schedule(1, 10.0, kinds=()).steps == ()
    assert make_schedule(1, 0.0).steps == ()
