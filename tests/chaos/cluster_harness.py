"""One chaos run against a replication group, start to verdict.

1. Chaos phase: the workload's clients follow the primary (``GroupRouter``) while the
   cluster nemesis carries out the seed's schedule.
2. Calm phase: every fault is undone (links restored, stopped nodes continued, dead
   ones restarted); the clients keep going and some operation must succeed.
3. Settling: the clients stop; every node must report the same primary and term and
   the same commit index, with everything applied (bounded wait on STATUS).
4. Verdict: every node's contents are read (READONLY, bypassing all proxies) and must
   be identical; the primary's are added to the history as final reads; the history is
   saved and judged like a single node's (``ChaosResult``): linearizability,
   acknowledged writes proved missing, values from nowhere, replies no correct server
   sends, the list and counter checks, internal errors on any node's stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chaos.checks import check_registers, foreign_values, missing_writes
from chaos.cluster import Cluster, address_text, divergence
from chaos.cluster_faults import ALL_CLUSTER_KINDS, ClusterFault, ClusterFaults, ClusterTarget
from chaos.harness import ChaosResult, collection_problems, save_history
from chaos.nemesis import Nemesis
from chaos.proxy import Address
from chaos.schedule import Schedule, make_schedule
from chaos.workload import Clock, Workload, WorkloadConfig, record_final_reads
from helpers.resp import ConnectionClosed, RawClient, RespError
from tandemkv.testing.history import History, Operation

Contents = dict[str, str | None]


@dataclass(frozen=True)
class ClusterChaosConfig:
    duration: float = 30.0  # seconds of faults (the last one may run a little over)
    calm: float = 2.0  # seconds of clients without faults before they stop
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    kinds: tuple[ClusterFault, ...] = ALL_CLUSTER_KINDS
    required: tuple[ClusterFault, ...] = ()
    gap: tuple[float, float] = (0.3, 1.5)
    check_seconds: float = 60.0
    settle_seconds: float = 30.0  # how long the group may take to agree after healing


@dataclass
class ClusterResult(ChaosResult):
    contents: list[Contents | None]  # each node's final contents (None: unreadable)
    divergence: list[str]  # keys the nodes disagree on
    unsettled: list[str]  # what still kept the group from agreeing when the wait ended
    redirects: int  # READONLY errors the clients followed
    placement: dict[int, Address]  # operation id -> the client address it was sent to

    def safety_problems(self) -> list[str]:
        problems = super().safety_problems()
        problems += [f"replicas differ: {text}" for text in self.divergence]
        problems += [
            f"node{n}'s contents could not be read"
            for n, content in enumerate(self.contents)
            if content is None
        ]
        return problems

    def problems(self) -> list[str]:
        problems = super().problems()
        if self.unsettled:
            problems.append(
                "the group did not settle after healing:\n  " + "\n  ".join(self.unsettled)
            )
        return problems

    def summary(self) -> str:
        return f"{super().summary()} redirects={self.redirects} diverged={len(self.divergence)}"


PhaseHook = Callable[[Cluster, Workload, Clock], None]


def run_cluster_chaos(
    cluster: Cluster,
    seed: int,
    config: ClusterChaosConfig,
    out_dir: Path,
    schedule: Schedule[ClusterFault] | None = None,
    script: PhaseHook | None = None,
) -> ClusterResult:
    """A run as the module doc says. ``schedule`` replaces the seed's; ``script`` (given
    the cluster, the running workload and the run's clock) replaces the nemesis
    altogether, for scripted scenarios; the heal, settle and verdict steps are the same."""
    began = time.monotonic()

    def clock() -> float:
        return time.monotonic() - began

    if schedule is None:
        schedule = make_schedule(
            seed,
            config.duration,
            ClusterFaults(cluster.spec.election_s),
            config.kinds,
            cluster.spec.size,
            config.gap,
            config.required,
        )
    workload = Workload(cluster.router(), config.workload, seed, clock).start()
    nemesis = Nemesis(schedule, ClusterTarget(cluster), clock)
    try:
        _chaos_phase(cluster, nemesis, workload, config, clock, script)
        calm_began = clock()
        time.sleep(config.calm)
        calm_ok = workload.ok_since(calm_began)
    finally:
        workload.stop()
    unsettled = cluster.wait_converged(config.settle_seconds)
    keys = config.workload.all_names()
    contents = [_read_or_none(cluster, n, keys) for n in range(len(cluster.nodes))]
    final = _final_values(cluster, contents, keys)
    history = workload.history
    record_final_reads(history, final, clock())
    history_path = out_dir / f"cluster-history-seed{seed}.json"
    save_history(
        history_path,
        seed,
        schedule,
        history,
        final,
        extra={
            "nemesis_log": nemesis.log,
            "contents": contents,
            "addresses": cluster.addresses,  # node n's own address, and where its clients went:
            "client_addresses": [address_text(node.address) for node in cluster.nodes],
            "placement": {str(op): address_text(where) for op, where in workload.placement.items()},
        },
    )
    checked_at = clock()
    verdict = check_registers(history.ops, max_seconds=config.check_seconds)
    return ClusterResult(
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
        crash_reports=cluster.crash_reports(),
        calm_ok=calm_ok,
        history_path=history_path,
        timings={"run": checked_at, "check": clock() - checked_at},
        contents=contents,
        divergence=divergence(
            [c for c in contents if c is not None],
            [f"node{n}" for n, c in enumerate(contents) if c is not None],
        ),
        unsettled=unsettled,
        redirects=sum(stats.redirects for stats in workload.stats),
        placement=dict(workload.placement),
    )


def _chaos_phase(
    cluster: Cluster,
    nemesis: Nemesis[ClusterFault],
    workload: Workload,
    config: ClusterChaosConfig,
    clock: Clock,
    script: PhaseHook | None,
) -> None:
    """The schedule (or the script); whatever happens, every fault is undone after."""
    try:
        if script is not None:
            script(cluster, workload, clock)
        else:
            nemesis.start()
            nemesis.wait(config.duration + 120)
    finally:
        nemesis.stop()
        nemesis.heal_all()


def _read_or_none(cluster: Cluster, n: int, keys: Sequence[str]) -> Contents | None:
    for _attempt in range(10):
        try:
            return cluster.read_contents(n, keys)
        except (OSError, ConnectionClosed, RuntimeError, ValueError):
            time.sleep(0.25)
    return None


def _final_values(cluster: Cluster, contents: list[Contents | None], keys: list[str]) -> Contents:
    """The primary's contents (any readable node's when there is no primary)."""
    primary = cluster.primary(wait=2.0)
    order = ([primary] if primary is not None else []) + list(range(len(contents)))
    for n in order:
        content = contents[n]
        if content is not None:
            return content
    raise RuntimeError("no node's contents could be read after the run")


class Observer:
    """Operations a scripted scenario makes itself, on a node it chooses, recorded in the
    workload's history (and placement) like any client's, under process ``process``."""

    def __init__(self, workload: Workload, clock: Clock, process: int = 1000) -> None:
        self.workload = workload
        self.clock = clock
        self.process = process
        self.count = 0

    def get(self, where: Address, key: str) -> Operation:
        op = self.workload.shared.invoke(self.process, "get", key, self.clock())
        return self._run(op, where, ("GET", key))

    def put(self, where: Address, key: str) -> Operation:
        self.count += 1
        value = f"o{self.process}-{self.count}"
        op = self.workload.shared.invoke(self.process, "put", key, self.clock(), value)
        return self._run(op, where, ("SET", key, value))

    def _run(self, op: Operation, where: Address, command: tuple[str, ...]) -> Operation:
        self.workload.placement[op.id] = where
        try:
            with RawClient(*where, timeout=self.workload.config.op_timeout) as conn:
                reply = conn.call(*command)
        except (OSError, ConnectionClosed):
            History.info(op)
            return op
        if isinstance(reply, RespError):
            History.fail(op, self.clock())
        elif op.kind == "get" and (reply is None or isinstance(reply, bytes)):
            History.ok(op, None if reply is None else bytes(reply).decode(), self.clock())
        elif op.kind == "put" and reply == "OK":
            History.ok(op, None, self.clock())
        else:
            self.workload.anomalies.append(f"{op.describe()}: unexpected reply {reply!r}")
            History.info(op)
        return op
