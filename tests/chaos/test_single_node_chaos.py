"""One tandemkv server with ``--fsync always`` behind a fault proxy, under a seeded nemesis.

Clients run GET / SET / SET IFEQ, hash field and counter updates and list pushes, pops
and moves through the proxy while the server is SIGKILLed and restarted on its data
directory, frozen with SIGSTOP past the clients' timeout, and its link partitioned,
flapped, delayed, blackholed one way and reset. Afterwards the history (with a final
read of every key) must be linearizable, no acknowledged write may be missing, and no
list element lost, duplicated or popped from nowhere. A server that really loses
writes (``--appendonly no``) must be caught.

A failure prints its seed and the command that replays it; ``TANDEMKV_CHAOS_SEED=N``
picks the seed (the schedule repeats exactly; thread timing cannot).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.harness import ChaosConfig, ChaosResult, replay_command, run_chaos
from chaos.node_faults import PROCESS_KINDS, FaultKind
from chaos.nodes import NodeFactory
from chaos.workload import WorkloadConfig
from tandemkv.testing.linearizability import Verdict

SAFE = ("--fsync", "always")
BOUNDED = ChaosConfig(duration=28.0, calm=1.5, required=PROCESS_KINDS)
LONG = ChaosConfig(
    duration=240.0,
    calm=3.0,
    required=PROCESS_KINDS,
    workload=WorkloadConfig(clients=8, keys=6),
    check_seconds=300.0,
)
LOSSY = ("--fsync", "always", "--appendonly", "no")  # writes live in memory only
CRASH_ONLY = ChaosConfig(
    duration=4.0,
    calm=1.5,
    kinds=(FaultKind.KILL,),
    gap=(0.6, 1.2),
    workload=WorkloadConfig(clients=4, keys=3),
)


def run_and_report(
    make_node: NodeFactory,
    args: tuple[str, ...],
    seed: int,
    config: ChaosConfig,
    tmp_path: Path,
) -> ChaosResult:
    node = make_node(args)
    result = run_chaos([node], seed, config, tmp_path)
    print(result.summary())
    print("schedule:\n" + result.schedule.describe())
    return result


@pytest.mark.timeout(150)
def test_fsync_always_stays_linearizable_and_loses_nothing_under_chaos(
    make_node: NodeFactory, chaos_seed: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    result = run_and_report(make_node, SAFE, chaos_seed, BOUNDED, tmp_path)
    assert not result.problems(), result.report(replay_command(request.node.nodeid, chaos_seed))
    assert result.missing == []
    # The run was not vacuous: faults happened and left operations of unknown outcome.
    assert len(result.schedule.steps) >= 6 and result.schedule.kinds() >= set(PROCESS_KINDS)
    assert result.acknowledged_writes() > 500, result.summary()
    assert sum(n for name, n in result.outcomes.items() if name.endswith(":info")) > 0


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fsync_always_survives_a_long_chaos_run(
    make_node: NodeFactory, chaos_seed: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    result = run_and_report(make_node, SAFE, chaos_seed, LONG, tmp_path)
    replay = replay_command(request.node.nodeid, chaos_seed, slow=True)
    assert not result.problems(), result.report(replay)
    assert result.schedule.kinds() == set(FaultKind), result.schedule.describe()


@pytest.mark.timeout(120)
def test_the_harness_catches_a_server_that_forgets_writes_on_restart(
    make_node: NodeFactory, chaos_seed: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """With the log off, a restart loses every write since start: seeds are tried (each
    schedule SIGKILLs the server) until the checker reports a violation."""
    attempts: list[str] = []
    for seed in range(chaos_seed, chaos_seed + 3):
        result = run_and_report(make_node, LOSSY, seed, CRASH_ONLY, tmp_path / f"seed{seed}")
        attempts.append(result.summary())
        if result.check.verdict is Verdict.ILLEGAL:
            break
    else:
        pytest.fail("no seed exposed the lost writes:\n" + "\n".join(attempts))
    assert result.missing, "a restart that forgets everything leaves reads of older state"
    # Counters start again from nothing, and the lists lose what they held.
    assert any("increment" in problem for problem in result.collections), result.summary()
    lists_lost = ("lost elements", "stale empty", "duplicated element")
    assert any(problem.startswith(lists_lost) for problem in result.collections)
    report = result.report(replay_command(request.node.nodeid, seed))
    assert f"seed={seed}" in report and f"TANDEMKV_CHAOS_SEED={seed} " in report
    assert "the history is not linearizable" in report
