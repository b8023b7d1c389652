"""Fault injection for the simulator's chaos phase: symmetric and one-way partitions,
an isolated leader, flapping links, crashes (losing unsynced writes) with later
restarts, membership changes and leadership transfers, at random intervals."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from tandemkv.replication import (
    ConfChange,
    ConfChangeError,
    ConfChangeOp,
    ConfState,
    NodeId,
    NotLeader,
    ProposalDropped,
)

if TYPE_CHECKING:
    from tandemkv.testing.simulator import Simulator


class FaultInjector:
    def __init__(self, sim: Simulator, rng: random.Random) -> None:
        self.sim = sim
        self.rng = rng

    def act(self) -> None:
        if not self.sim.chaos:
            return
        cfg, rng = self.sim.cfg, self.rng
        actions = []
        if cfg.partitions:
            actions += ["partition", "one_way", "isolate_leader", "flap", "heal", "heal"]
        if cfg.crashes:
            actions += ["crash", "crash"]
        if cfg.membership:
            actions += ["membership", "membership"]
        if cfg.transfers:
            actions += ["transfer"]
        if actions:
            getattr(self, "_do_" + rng.choice(actions))()
        self.sim.at(rng.randint(*cfg.fault_every) * cfg.tick_ms, self.act)

    def _alive_ids(self) -> list[NodeId]:
        return sorted(n for n, node in self.sim.nodes.items() if node.alive)

    def _do_partition(self) -> None:
        ids = sorted(self.sim.nodes)
        self.rng.shuffle(ids)
        cut = self.rng.randint(1, max(1, len(ids) - 1))
        self.sim.network.partition([ids[:cut], ids[cut:]])
        self.sim.log(f"partition {sorted(ids[:cut])} | {sorted(ids[cut:])}")

    def _do_one_way(self) -> None:
        ids = sorted(self.sim.nodes)
        if len(ids) < 2:
            return
        for _ in range(self.rng.randint(1, len(ids))):
            a, b = self.rng.sample(ids, 2)
            self.sim.network.cut_one_way(a, b)
            self.sim.log(f"cut {a} -> {b}")

    def _do_isolate_leader(self) -> None:
        leader = self.sim.leader()
        if leader is not None:
            others = [n for n in sorted(self.sim.nodes) if n != leader.id]
            self.sim.network.partition([[leader.id], others])
            self.sim.log(f"isolate leader n{leader.id}")

    def _do_flap(self) -> None:
        ids = sorted(self.sim.nodes)
        self.rng.shuffle(ids)
        cut = self.rng.randint(1, max(1, len(ids) - 1))
        groups = [ids[:cut], ids[cut:]]
        for k in range(self.rng.randint(3, 8)):
            delay = k * self.rng.randint(1, 4) * self.sim.cfg.tick_ms
            self.sim.at(delay, self._flap_step, groups, k % 2 == 0)
        self.sim.log(f"flapping {sorted(groups[0])} | {sorted(groups[1])}")

    def _flap_step(self, groups: list[list[NodeId]], cut: bool) -> None:
        if not self.sim.chaos:
            return
        if cut:
            self.sim.network.partition(groups)
        else:
            self.sim.network.heal()

    def _do_heal(self) -> None:
        self.sim.network.heal()
        self.sim.log("heal")

    def _do_crash(self) -> None:
        alive = self._alive_ids()
        if not alive:
            return
        node = self.sim.nodes[self.rng.choice(alive)]
        self.sim.stats["crash_lost_writes"] += len(node.disk.unsynced) > 0
        node.crash()
        self.sim.stats["crash"] += 1
        self.sim.log(f"crash n{node.id}")
        self.sim.at(self.rng.randint(3, 40) * self.sim.cfg.tick_ms, self.sim._restart, node.id)

    def _do_transfer(self) -> None:
        leader = self.sim.leader()
        if leader is None:
            return
        conf = leader.replica.conf
        targets = [v for v in conf.voters if v != leader.id and v not in conf.witnesses]
        if targets:
            target = self.rng.choice(targets)
            try:
                leader.replica.transfer_leadership(target)
                leader.pump()
                self.sim.log(f"transfer n{leader.id} -> n{target}")
            except (NotLeader, ProposalDropped):
                pass

    def _do_membership(self) -> None:
        leader = self.sim.leader()
        if leader is None:
            return
        conf = leader.replica.conf
        rng = self.rng
        data_voters = [v for v in conf.voters if v not in conf.witnesses]
        choices = ["remove"]
        if conf.learners:
            choices += ["promote", "promote", "promote"]
        members = len(conf.voters) + len(conf.learners)
        if self.sim.next_id <= self.sim.cfg.max_nodes + 3 and members < self.sim.cfg.max_nodes:
            choices += ["add_learner"]
            if not conf.witnesses and len(data_voters) >= 2:
                choices += ["add_witness"]
        action = rng.choice(choices)
        if action == "promote":
            change = ConfChange(ConfChangeOp.PROMOTE, rng.choice(conf.learners))
            if len(conf.voters) >= 5:
                return
        elif action == "remove":
            others = sorted((set(conf.voters) | set(conf.learners)) - {leader.id})
            if not others:
                return
            change = ConfChange(ConfChangeOp.REMOVE, rng.choice(others))
        else:
            op = ConfChangeOp.ADD_LEARNER if action == "add_learner" else ConfChangeOp.ADD_WITNESS
            change = ConfChange(op, self.sim.next_id)
        try:
            leader.replica.propose_conf_change(change)
        except (NotLeader, ProposalDropped, ConfChangeError):
            return
        self.sim.stats["conf_" + change.op.value] += 1
        if action in ("add_learner", "add_witness"):
            self.sim._add_node(self.sim.next_id, ConfState(), witness=action == "add_witness")
            self.sim.next_id += 1
        leader.pump()
        self.sim.log(f"n{leader.id} proposes {change.op.value} n{change.node}")

    # --- phases -------------------------------------------------------------------------
