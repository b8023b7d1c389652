"""One chaos run, start to verdict.

1. Chaos phase: the workload's clients run through the nodes' proxies while the nemesis
   carries out the seed's schedule.
2. Calm phase: every fault is undone (resumed, restarted, proxies healed) and the
   clients keep going; some operation must succeed, or the system did not recover.
3. Verdict: the clients stop, the final value of every key is read directly from the
   server (bypassing the proxy) and recorded into the history, the history is saved as
   JSON, and it is judged: the linearizability checker on the registers (strings and
   hash fields), acknowledged writes that a later read proved missing, final values
   nobody wrote, the list and counter checks (``chaos.collection_checks``), replies no
   correct server sends, and internal errors on the server's stderr.
"""

from __future__ import annotations

import json
import shlex
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.checks import (
    MissingWrite,
    acknowledged_writes,
    check_registers,
    explain_violation,
    foreign_values,
    missing_writes,
)
from chaos.collection_checks import counter_problems, list_problems
from chaos.nemesis import Nemesis
from chaos.node_faults import ALL_KINDS, FaultKind, NodeFaults, NodeTarget
from chaos.nodes import ChaosNode
from chaos.schedule import Schedule, make_schedule
from chaos.workload import Clock, Workload, WorkloadConfig, read_values, record_final_reads
from helpers.resp import ConnectionClosed
from tandemkv.testing.history import History, Operation
from tandemkv.testing.linearizability import CheckResult, Verdict

SEED_ENV = "TANDEMKV_CHAOS_SEED"
FINAL_READ_ATTEMPTS = 20


@dataclass(frozen=True)
class ChaosConfig:
    duration: float = 30.0  # seconds of faults (the last one may run a little over)
    calm: float = 2.0  # seconds of clients without faults before the final reads
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    kinds: tuple[FaultKind, ...] = ALL_KINDS
    required: tuple[FaultKind, ...] = ()  # kinds the schedule must start with
    gap: tuple[float, float] = (0.3, 1.5)  # quiet seconds between two faults
    check_seconds: float = 60.0  # the checker's time budget


@dataclass
class ChaosResult:
    seed: int
    schedule: Schedule[Any]  # a single node's faults or a group's
    history: History
    final: dict[str, str | None]
    check: CheckResult
    missing: list[MissingWrite]
    foreign: list[str]
    collections: list[str]  # what the list and counter checks found
    outcomes: Counter[str]
    nemesis_log: list[str]
    harness_errors: list[str]
    anomalies: list[str]
    crash_reports: list[str]
    calm_ok: int
    history_path: Path
    timings: dict[str, float]

    def acknowledged_writes(self) -> int:
        return len(acknowledged_writes(self.history.ops))

    def safety_problems(self) -> list[str]:
        """What a correct server can never produce."""
        problems: list[str] = []
        if self.check.verdict is Verdict.ILLEGAL:
            problems.append("the history is not linearizable:\n" + explain_violation(self.check))
        if self.missing:
            problems.append(
                f"{len(self.missing)} acknowledged writes proved missing; the first ones:\n"
                + "\n".join("  " + missing.describe() for missing in self.missing[:10])
            )
        problems += [f"final value from nowhere: {text}" for text in self.foreign]
        problems += self.collections[:20]
        problems += [f"anomalous reply: {text}" for text in self.anomalies[:10]]
        problems += [f"server stderr: {line}" for line in self.crash_reports[:10]]
        return problems

    def problems(self) -> list[str]:
        """Every reason to fail the run, safety first."""
        problems = self.safety_problems()
        if self.check.verdict is Verdict.UNKNOWN:
            problems.append("the checker ran out of budget:\n" + explain_violation(self.check))
        if self.calm_ok == 0:
            problems.append("no operation succeeded after every fault was healed")
        return problems + [f"harness: {text}" for text in self.harness_errors]

    def summary(self) -> str:
        counts = " ".join(f"{name}={n}" for name, n in sorted(self.outcomes.items()))
        times = " ".join(f"{name}={secs:.1f}s" for name, secs in self.timings.items())
        return (
            f"seed={self.seed} faults={len(self.schedule.steps)} ops={len(self.history.ops)} "
            f"[{counts}] verdict={self.check.verdict.value} missing_writes={len(self.missing)} "
            f"collection_problems={len(self.collections)} calm_ok={self.calm_ok} {times}"
        )

    def report(self, replay: str) -> str:
        return "\n".join(
            [
                f"chaos run failed: {self.summary()}",
                *(f"- {problem}" for problem in self.problems()),
                "schedule:",
                self.schedule.describe(),
                "nemesis log:",
                *self.nemesis_log,
                f"history: {self.history_path}",
                f"recheck it: PYTHONPATH=src:tests python3 -m chaos.recheck {self.history_path}",
                f"replay the seed: {replay}",
            ]
        )


def chosen_seed(environ: dict[str, str], fallback: int) -> int:
    value = environ.get(SEED_ENV, "").strip()
    return int(value) if value else fallback


def replay_command(nodeid: str, seed: int, slow: bool = False) -> str:
    marker = " -m slow" if slow else ""
    return f"{SEED_ENV}={seed} PYTHONPATH=src python3 -m pytest {shlex.quote(nodeid)}{marker} -q"


def run_chaos(
    nodes: Sequence[ChaosNode], seed: int, config: ChaosConfig, out_dir: Path
) -> ChaosResult:
    began = time.monotonic()

    def clock() -> float:
        """Seconds since the run began: the history's and the nemesis log's timeline."""
        return time.monotonic() - began

    schedule = make_schedule(
        seed,
        config.duration,
        NodeFaults(config.workload.op_timeout),
        config.kinds,
        len(nodes),
        config.gap,
        config.required,
    )
    workload = Workload(lambda: nodes[0].address, config.workload, seed, clock).start()
    try:
        nemesis = _chaos_phase(schedule, nodes, config, clock)
        calm_began = clock()
        time.sleep(config.calm)
        calm_ok = workload.ok_since(calm_began)
    finally:
        workload.stop()
    final = read_final_values(nodes[0], config.workload.all_names())
    history = workload.history
    record_final_reads(history, final, clock())
    history_path = out_dir / f"history-seed{seed}.json"
    save_history(history_path, seed, schedule, history, final)
    checked_at = clock()
    verdict = check_registers(history.ops, max_seconds=config.check_seconds)
    return ChaosResult(
        seed=seed,
        schedule=schedule,
        history=history,
        final=final,
        check=verdict,
        missing=missing_writes(history.ops),
        foreign=foreign_values(history.ops, final),
        collections=collection_problems(history.ops),
        outcomes=workload.outcomes(),
        nemesis_log=nemesis.log,
        harness_errors=workload.errors + nemesis.errors,
        anomalies=workload.anomalies,
        crash_reports=[line for node in nodes for line in node.crash_reports()],
        calm_ok=calm_ok,
        history_path=history_path,
        timings={"run": checked_at, "check": clock() - checked_at},
    )


def _chaos_phase(
    schedule: Schedule[FaultKind],
    nodes: Sequence[ChaosNode],
    config: ChaosConfig,
    clock: Clock,
) -> Nemesis[FaultKind]:
    """Carry out the schedule; whatever happens, every fault is undone afterwards."""
    nemesis = Nemesis(schedule, NodeTarget(nodes), clock).start()
    try:
        nemesis.wait(config.duration + 60)
    finally:
        nemesis.stop()
        nemesis.heal_all()
    return nemesis


def collection_problems(ops: list[Operation]) -> list[str]:
    """What the list and counter checks find in a history."""
    return list_problems(ops) + counter_problems(ops)


def read_final_values(node: ChaosNode, names: list[str]) -> dict[str, str | None]:
    """Each name's value (``read_values``), read straight from the server once it
    answers again."""
    last: object = None
    for _attempt in range(FINAL_READ_ATTEMPTS):
        try:
            with node.direct_client() as conn:
                return read_values(conn, names)
        except (OSError, ConnectionClosed, ValueError) as exc:
            last = exc
            time.sleep(0.25)
    raise RuntimeError(f"could not read the final values: {last!r}")


def save_history(
    path: Path,
    seed: int,
    schedule: Schedule[Any],
    history: History,
    final: dict[str, str | None],
    extra: Mapping[str, object] | None = None,
) -> None:
    """The history as JSON for ``chaos.recheck``; ``extra`` adds fields (the cluster
    harness's nemesis log and per-node contents)."""
    document = {
        "seed": seed,
        "schedule": [step.describe() for step in schedule.steps],
        "final": final,
        **(extra or {}),
        "records": history.to_records(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
