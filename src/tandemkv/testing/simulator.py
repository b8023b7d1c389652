"""The deterministic simulator: one seed drives a whole run of a replication group.

Everything happens in one loop over a heap of (time, seq, event); the network, disks,
clocks, clients and faults are simulated and draw from random.Random instances seeded
from the run's seed, so a run replays exactly. A run has a chaos phase (partitions,
one-way cuts, flapping links, loss, duplication, crashes that lose unsynced writes,
membership changes and leadership transfers while clients write and read), then a calm
phase in which a leader must emerge within a bound and every member must converge to
identical state. Safety invariants are checked after every step, and the client history
is checked for linearizability at the end.

Replay a seed: ``PYTHONPATH=src python3 -m tandemkv.testing.simulator SEED [PROFILE] -v``.
"""

from __future__ import annotations

import heapq
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tandemkv.replication import (
    ConfState,
    Message,
    NodeId,
    RaftConfig,
    Replica,
    Role,
)
from tandemkv.testing.faults import FaultInjector
from tandemkv.testing.history import History, Operation, Status
from tandemkv.testing.invariants import InvariantViolation, ReplicationChecker
from tandemkv.testing.linearizability import CheckResult, Verdict, check
from tandemkv.testing.network import SimNetwork
from tandemkv.testing.scenario import SimConfig, make_config
from tandemkv.testing.simnode import Request, SimNode
from tandemkv.testing.workload import Workload


def replay_command(seed: int, profile: str) -> str:
    return (
        f"PYTHONPATH=src python3 -m tandemkv.testing.simulator {seed} {profile} -v"
        f"   (or: PYTHONPATH=src python3 -m pytest tests/sim --sim-seed {seed})"
    )


class SimulationFailure(AssertionError):
    def __init__(self, cfg: SimConfig, reason: str, trace: list[str]) -> None:
        tail = "\n".join(trace[-40:])
        super().__init__(
            f"simulation failed: seed={cfg.seed} profile={cfg.profile}\n{reason}\n"
            f"replay: {replay_command(cfg.seed, cfg.profile)}\n"
            + (f"last trace lines:\n{tail}" if tail else "")
        )
        self.cfg = cfg
        self.reason = reason


@dataclass(slots=True)
class SimResult:
    cfg: SimConfig
    history: History
    linearizability: CheckResult
    lost_writes: list[Operation]
    end_ms: int
    messages: int
    leaders: dict[int, NodeId]
    ops_ok: int
    stats: Counter[str]

    def problems(self) -> list[str]:
        out = []
        if self.linearizability.verdict is not Verdict.OK:
            out.append("linearizability: " + self.linearizability.explain())
        if self.lost_writes:
            lost = "\n".join("  " + op.describe() for op in self.lost_writes[:10])
            out.append(f"{len(self.lost_writes)} acknowledged writes lost:\n{lost}")
        return out


Event = tuple[int, int, Callable[..., None], tuple[Any, ...]]


class Simulator:
    def __init__(self, cfg: SimConfig, trace: bool = False) -> None:
        self.cfg = cfg
        self.verbose = trace
        self.trace: list[str] = []
        seed = cfg.seed
        self.rng = random.Random(f"sim-{cfg.profile}-{seed}")
        self.network = SimNetwork(
            random.Random(f"net-{cfg.profile}-{seed}"), cfg.delay_min, cfg.delay_max
        )
        self.checker = ReplicationChecker()
        self.heap: list[Event] = []
        self.seq = 0
        self.now = 0
        self.messages = 0
        self.stats: Counter[str] = Counter()
        self.chaos = True
        self.nodes: dict[NodeId, SimNode] = {}
        data_voters = list(range(1, cfg.voters + 1))
        witnesses = list(range(cfg.voters + 1, cfg.voters + cfg.witnesses + 1))
        learners = [cfg.voters + cfg.witnesses + 1 + n for n in range(cfg.learners)]
        conf = ConfState(tuple(data_voters + witnesses), tuple(learners), tuple(witnesses))
        for node in (*data_voters, *witnesses, *learners):
            self._add_node(node, conf, witness=node in witnesses)
        self.next_id = max(self.nodes) + 1
        self.workload = Workload(self, random.Random(f"clients-{cfg.profile}-{seed}"))
        self.faults = FaultInjector(self, random.Random(f"faults-{cfg.profile}-{seed}"))

    @property
    def history(self) -> History:
        return self.workload.history

    # --- plumbing -----------------------------------------------------------------------

    def at(self, delay: int, fn: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self.heap, (self.now + delay, self.seq, fn, args))
        self.seq += 1

    def log(self, text: str) -> None:
        line = f"{self.now:>7}ms {text}"
        self.trace.append(line)
        if self.verbose:
            print(line)

    def _add_node(self, node: NodeId, conf: ConfState, witness: bool) -> SimNode:
        cfg = self.cfg
        raft = RaftConfig(
            node_id=node,
            election_ticks=cfg.election_ticks,
            heartbeat_ticks=cfg.heartbeat_ticks,
            pre_vote=cfg.pre_vote,
            check_quorum=cfg.check_quorum,
            ack_level=cfg.ack_level,
            read_mode=cfg.read_mode,
            snapshot_chunk_bytes=cfg.snapshot_chunk_bytes,
            max_msg_bytes=cfg.max_msg_bytes,
            max_inflight=cfg.max_inflight,
            eager_commit=cfg.eager_commit,
        )
        sim_node = SimNode(
            node,
            conf,
            witness,
            self,
            raft,
            random.Random(self.rng.random()),
            cfg.compact_every,
            send_before_sync=cfg.bug == "send_before_sync",
        )
        self.nodes[node] = sim_node
        period = cfg.tick_ms + self.rng.randint(0, cfg.clock_skew_ms)
        self.at(self.rng.randint(0, period - 1), self._tick, node, period)
        return sim_node

    # Host interface used by SimNode
    def send(self, msg: Message) -> None:
        self.messages += 1
        self.stats[type(msg).__name__] += 1
        for delay in self.network.delays(msg.frm, msg.to):
            self.at(delay, self._deliver, msg)

    def disk_done_later(self, node: NodeId, generation: int) -> None:
        self.at(self.rng.randint(1, 6), self._disk_done, node, generation)

    def reply(self, req: Request, ok: bool | None, output: str | bool | None, hint: NodeId) -> None:
        self.workload.reply(req, ok, output, hint)

    # --- events -------------------------------------------------------------------------

    def _deliver(self, msg: Message) -> None:
        node = self.nodes.get(msg.to)
        if node is not None and node.alive:
            node.replica.step(msg)
            node.pump()

    def _disk_done(self, node: NodeId, generation: int) -> None:
        self.nodes[node].disk_done(generation)

    def _tick(self, node_id: NodeId, period: int) -> None:
        """Each node's clock ticks at its own period: drift when periods differ."""
        node = self.nodes[node_id]
        if node.alive:
            before = (node.replica.role, node.replica.term)
            node.replica.tick()
            node.pump()
            after = (node.replica.role, node.replica.term)
            if after != before and after[0] in (Role.LEADER, Role.CANDIDATE):
                self.log(f"n{node_id} {after[0].value} term {after[1]}")
        self.at(period, self._tick, node_id, period)

    # --- nodes ---------------------------------------------------------------------

    def leader(self) -> SimNode | None:
        best: SimNode | None = None
        for node_id in sorted(self.nodes):
            node = self.nodes[node_id]
            if (
                node.alive
                and node.replica.role is Role.LEADER
                and (best is None or node.replica.term > best.replica.term)
            ):
                best = node
        return best

    def _restart(self, node_id: NodeId) -> None:
        node = self.nodes[node_id]
        if not node.alive:
            node.boot()
            self.log(f"restart n{node_id}")

    # --- phases -------------------------------------------------------------------------

    def _run_until(self, end: int, done: Callable[[], bool] | None = None) -> bool:
        heap = self.heap
        next_check = self.now
        while heap and heap[0][0] <= end:
            when, _, fn, args = heapq.heappop(heap)
            self.now = when
            fn(*args)
            if done is not None and when >= next_check:
                next_check = when + self.cfg.tick_ms
                if done():
                    return True
        self.now = max(self.now, end)
        return done() if done is not None else False

    def _calm_down(self) -> None:
        self.chaos = False
        self.workload.running = False
        self.network.heal()
        self.network.drop_rate = self.network.dup_rate = 0.0
        for node_id in sorted(self.nodes):
            self._restart(node_id)
        self.log("calm: faults off, all nodes up")

    def _stable_leader(self) -> SimNode | None:
        leader = self.leader()
        if leader is None:
            return None
        r = leader.replica
        return leader if r.log.term(r.log.committed) == r.term else None

    def _members(self, leader: Replica) -> list[NodeId]:
        return sorted(set(leader.conf.voters) | set(leader.conf.learners))

    def _retire_removed(self, leader: SimNode) -> None:
        """A node removed by a committed change is shut down, as an operator would."""
        log = leader.replica.log
        if log.confs and log.confs[-1][0] > log.committed:
            return
        members = set(self._members(leader.replica))
        for node_id in sorted(self.nodes):
            node = self.nodes[node_id]
            if node_id not in members and node.alive:
                node.crash()
                self.log(f"retire removed n{node_id}")

    def _converged(self) -> bool:
        leader = self._stable_leader()
        if leader is None:
            return False
        self._retire_removed(leader)
        r = leader.replica
        last = r.log.last_index()
        if r.log.committed != last:
            return False
        for node_id in self._members(r):
            node = self.nodes.get(node_id)
            if node is None or not node.alive or node.in_flight is not None:
                return False
            log = node.replica.log
            if log.last_index() != last or log.committed != last or node.applied_index != last:
                return False
        return True

    def _final_checks(self, leader: SimNode) -> None:
        r = leader.replica
        members = [self.nodes[n] for n in self._members(r)]
        data = [n for n in members if n.sm is not None]
        for node in data:
            assert node.sm is not None and leader.sm is not None
            if node.sm.values != leader.sm.values:
                raise InvariantViolation(
                    f"replicas diverged: n{node.id} {node.sm.values} vs "
                    f"n{leader.id} {leader.sm.values}"
                )
        for node in members:
            log = node.replica.log
            lo = max(log.first_index(), r.log.first_index())
            for index in range(lo, r.log.last_index() + 1):
                if log.term(index) != r.log.term(index):
                    raise InvariantViolation(f"n{node.id} log differs at {index}")

    def run(self) -> SimResult:
        cfg = self.cfg
        self.network.drop_rate, self.network.dup_rate = cfg.drop_rate, cfg.dup_rate
        self.workload.start()
        self.at(cfg.fault_every[0] * cfg.tick_ms, self.faults.act)
        try:
            chaos_end = cfg.chaos_ticks * cfg.tick_ms
            self._run_until(chaos_end)
            self._calm_down()
            bound = chaos_end + cfg.leader_bound_ticks * cfg.tick_ms
            if not self._run_until(bound, lambda: self._stable_leader() is not None):
                raise SimulationFailure(
                    cfg,
                    f"no leader within {cfg.leader_bound_ticks} ticks of calm\n{self.status()}",
                    self.trace,
                )
            end = chaos_end + cfg.calm_ticks * cfg.tick_ms
            if not self._run_until(end, self._converged):
                raise SimulationFailure(
                    cfg,
                    f"no convergence within {cfg.calm_ticks} ticks\n{self.status()}",
                    self.trace,
                )
            leader = self._stable_leader()
            assert leader is not None
            self._final_checks(leader)
            # Let in-flight client replies land, then read every key from the converged
            # state, so a lost acknowledged write shows up in the history too.
            self._run_until(self.now + cfg.client_timeout_ms + 10)
            assert leader.sm is not None
            keys = [f"k{n}" for n in range(cfg.keys)]
            self.history.record_final_reads({k: leader.sm.get(k) for k in keys}, self.now)
        except InvariantViolation as exc:
            raise SimulationFailure(cfg, f"invariant violated: {exc}", self.trace) from exc
        self.history.close()
        return self._result()

    def _result(self) -> SimResult:
        lost = [
            op
            for op in self.history.ops
            if op.status is Status.OK
            and (op.kind in ("put", "del") or (op.kind == "cas" and op.output))
            and op.id not in self.checker.applied_ops
        ]
        return SimResult(
            cfg=self.cfg,
            history=self.history,
            linearizability=check(self.history.ops, max_seconds=5.0),
            lost_writes=lost,
            end_ms=self.now,
            messages=self.messages,
            leaders=dict(self.checker.leaders),
            ops_ok=sum(op.status is Status.OK for op in self.history.ops),
            stats=self.stats,
        )

    def status(self) -> str:
        lines = []
        for node_id in sorted(self.nodes):
            node = self.nodes[node_id]
            r = node.replica
            lines.append(
                f"n{node_id} alive={node.alive} {r.role.value} term={r.term} lead={r.leader} "
                f"last={r.log.last_index()} commit={r.log.committed} "
                f"applied={node.applied_index} conf={r.conf} progress={r.progress}"
            )
        return "\n".join(lines)


def run_seed(seed: int, profile: str = "default", trace: bool = False) -> SimResult:
    """Run one seed and raise SimulationFailure on any safety or liveness problem."""
    sim = Simulator(make_config(seed, profile), trace)
    result = sim.run()
    problems = result.problems()
    if problems:
        raise SimulationFailure(sim.cfg, "\n".join(problems), sim.trace)
    return result


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m tandemkv.testing.simulator SEED [PROFILE] [-v]")
        return 2
    seed = int(argv[0])
    profile = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else "default"
    result = run_seed(seed, profile, trace="-v" in argv)
    print(
        f"seed {seed} ({profile}) ok: {result.ops_ok} client ops completed, "
        f"{result.messages} messages, {len(result.leaders)} terms with a leader, "
        f"ended at {result.end_ms} ms; config {result.cfg}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
