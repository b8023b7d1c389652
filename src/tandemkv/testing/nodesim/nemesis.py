"""The faults a run inflicts, drawn from its seed before it starts.

The schedule is a plain list, so a failing run can be replayed with a subset of it
(`--faults 0,3`) and minimised by dropping faults one at a time. Every fault with a
duration undoes itself; `heal` at the end undoes whatever is still in force.

    crash       kill -9 of one node, or (under --fsync always) a power cut: its disk keeps
                what was fsynced, or a torn tail; restarted after `duration`
    isolate     one node cut off from every other node, both ways (the primary, often)
    sever       both directions between two nodes (connections reset, dials refused)
    cut         one direction dropped silently (a stalled link), connections stay up
    slow_net    extra latency one way
    reset       the connections between two nodes reset once (in-flight bytes lost); the
                links redial and the core resends, so messages arrive again and out of
                their first order (TCP itself never duplicates or reorders)
    pause       a node's process frozen (GC, SIGSTOP); its overdue timers fire at resume
    slow_disk   a node's fsyncs take 20-200 ms
    clock_jump  a node's wall clock moves (expiry deadlines, not its timers)
    snapshot    BGSAVE on a node: a snapshot and the log compaction after it
    failover    FAILOVER on the primary: it hands its role to the most caught-up backup
    promote     the primary and all but one backup crash (the majority is lost); PROMOTE
                FORCE on the survivor; the others come back unwiped after `duration`,
                where they must be fenced (told they were removed), then are wiped and
                rejoin at the end
    replace     REMOVE_NODE of a backup on the primary; after `duration` the node is wiped
                and started again as a new member (sometimes a witness), which joins as a
                learner and is promoted once caught up (node/membership_ops.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass

from tandemkv.commands.errors import CommandError
from tandemkv.replication.conf import members
from tandemkv.storage.simfs import CrashMode
from tandemkv.testing.nodesim.cluster import Promotion, SimCluster, SimNode
from tandemkv.testing.world import FAST_DISK, SLOW_DISK

KINDS = (
    "crash",
    "isolate",
    "sever",
    "cut",
    "slow_net",
    "reset",
    "pause",
    "slow_disk",
    "clock_jump",
    "snapshot",
    "failover",
    "replace",
    "promote",
)
WEIGHTS = (3, 2, 2, 2, 1, 2, 2, 1, 1, 2, 1, 1, 1)
LINKS = ("sever", "cut", "slow_net", "reset")
PRIMARY = -1  # Fault.node: whichever node is primary when the fault strikes
REMOVAL_GIVES_UP = 11.0  # REMOVE_NODE stops waiting for its commit after 10 s
KILL = "kill"  # a process crash: the machine, and its page cache, stay up
POWER_CUTS = (CrashMode.DROP_UNSYNCED.value, CrashMode.DROP_UNSYNCED.value, CrashMode.TORN.value)


@dataclass(frozen=True, slots=True)
class Fault:
    """`node`: an index, or PRIMARY; `other`, for a link: how many places after the
    node (1 .. size-1), so it stays a different node whichever that one is."""

    at: float
    kind: str
    node: int
    other: int = 0
    duration: float = 0.0
    amount: float = 0.0
    mode: str = ""

    def describe(self) -> str:
        target = "primary" if self.node == PRIMARY else f"n{self.node + 1}"
        target += f"->+{self.other}" if self.kind in LINKS else ""
        extra = f" {self.mode}" if self.mode else ""
        extra += f" {self.amount:+.3f}" if self.amount else ""
        return f"t={self.at:.3f} {self.kind} {target} for {self.duration:.3f}s{extra}"


def draw_faults(
    rng: random.Random, size: int, start: float, end: float, power_cuts: bool = True
) -> list[Fault]:
    """About one fault per simulated second of the workload, at random times. Without
    `power_cuts` (--fsync everysec, whose acknowledged writes a power cut of every node
    may lose by design) crashes are process crashes only."""
    count = rng.randint(1, max(1, int((end - start) * 1.5)))
    faults = []
    for _ in range(count):
        kind = rng.choices(KINDS, WEIGHTS)[0]
        # Half the faults strike the primary, where most bugs would hide.
        node = PRIMARY if rng.random() < 0.5 else rng.randrange(size)
        other = rng.randrange(1, size) if size > 1 else 0
        at = rng.uniform(start, end)
        duration = rng.choice((0.05, 0.2, 0.5, 1.0, 2.0)) * rng.uniform(0.5, 1.5)
        mode, amount = "", 0.0
        if kind == "crash":
            mode = rng.choice((KILL, *POWER_CUTS)) if power_cuts else KILL
        elif kind == "slow_net":
            amount = rng.uniform(0.01, 0.3)
        elif kind == "clock_jump":
            amount = rng.choice((-1, 1)) * rng.uniform(0.5, 60)
        elif kind == "replace":
            node = rng.randrange(size)  # a backup at the time, or nothing happens
            mode = "witness" if rng.random() < 0.2 else "backup"
        if kind in (*LINKS, "isolate", "replace", "promote") and size < 2:
            continue
        faults.append(Fault(at, kind, node, other, duration, amount, mode))
    return sorted(faults, key=lambda f: f.at)


class Nemesis:
    """Applies a schedule to a cluster from a process of its own."""

    def __init__(self, cluster: SimCluster, faults: list[Fault], log: list[str]) -> None:
        self.cluster = cluster
        self.faults = faults
        self.log = log
        world = cluster.world
        self.process = world.spawn("nemesis")
        self.stopped = False
        # Nodes being removed, to bring back: (role, their node id then, when asked).
        self.removed: dict[SimNode, tuple[str, int, float]] = {}

    def start(self) -> None:
        loop = self.process.loop
        for fault in self.faults:
            loop.call_at(fault.at, self._apply, fault)

    def _apply(self, fault: Fault) -> None:
        if self.stopped:
            return
        cluster, world = self.cluster, self.cluster.world
        index = fault.node
        if index == PRIMARY:
            primary = cluster.primary()
            if primary is None:
                return
            index = primary.index
        node = cluster.nodes[index]
        other = cluster.nodes[(index + fault.other) % len(cluster.nodes)]
        if cluster.promotions and cluster.promotions[0].survivor in (node.index, other.index):
            # The survivor of a forced promotion is what fences the members it left
            # behind when they come back; without it they are the old group (the reason
            # to run PROMOTE FORCE only when they cannot come back).
            return
        self.log.append(f"{world.now:.3f} nemesis: {fault.describe()} ({node.name})")
        network = cluster.network
        later = self.process.loop.call_at
        undo_at = world.now + fault.duration
        if fault.kind == "crash":
            if node.process is not None:
                cluster.crash(node, None if fault.mode == KILL else CrashMode(fault.mode))
                later(undo_at, self._restart, node)
        elif fault.kind == "isolate":
            for peer in cluster.nodes:
                if peer is not node:
                    network.sever(node.host, peer.host)
                    later(undo_at, network.heal, node.host, peer.host)
        elif fault.kind == "sever":
            network.sever(node.host, other.host)
            later(undo_at, network.heal, node.host, other.host)
        elif fault.kind == "cut":
            network.cut(node.host, other.host)
            later(undo_at, network.heal, node.host, other.host)
        elif fault.kind == "reset":
            network.reset(node.host, other.host)
        elif fault.kind == "slow_net":
            network.slow(node.host, other.host, fault.amount)
            later(undo_at, network.heal, node.host, other.host)
        elif fault.kind == "pause" and node.process is not None:
            world.pause(node.process, fault.duration)
        elif fault.kind == "slow_disk" and node.process is not None:
            node.process.disk = SLOW_DISK
            later(undo_at, self._fast_disk, node)
        elif fault.kind == "clock_jump" and node.process is not None:
            node.process.clock_offset += fault.amount
        elif fault.kind == "snapshot" and node.server is not None:
            _snapshot(node)
        elif fault.kind == "failover" and node.server is not None:
            _failover(node)
        elif fault.kind == "replace":
            self._remove(node, fault.mode, undo_at)
        elif fault.kind == "promote":
            self._promote(other, undo_at)

    def _restart(self, node: SimNode) -> None:
        if not self.stopped and node.process is None:
            self.log.append(f"{self.cluster.world.now:.3f} nemesis: restart {node.name}")
            self.cluster.start(node)

    def _remove(self, node: SimNode, role: str, back_at: float) -> None:
        primary = self.cluster.primary()
        if primary is None or primary is node or primary.server is None or node in self.removed:
            return
        if node.server is None:
            return  # down: nothing to tell who it is
        try:
            primary.server.node.remove_node(f"{node.host}:{node.address[1]}")
        except CommandError:
            return  # not a member now, or a membership change already in progress
        self.removed[node] = (role, node.server.node.id, self.cluster.world.now)
        self.process.loop.call_at(back_at, self._rejoin, node)

    def _rejoin(self, node: SimNode) -> None:
        """Wipe the removed node and start it as a new member asking to join. While its
        removal has not committed (the primary may have changed first) it is left as it
        is; `settle_removals` looks again after healing."""
        role, node_id, _ = self.removed.get(node, ("", 0, 0.0))
        primary = self.cluster.primary()
        if not role or primary is None or primary.server is None:
            return
        if node_id in members(primary.server.node.conf):
            return
        del self.removed[node]
        self.log.append(f"{self.cluster.world.now:.3f} nemesis: {node.name} rejoins as {role}")
        self.cluster.wipe(node, role, primary)

    def settle_removals(self) -> bool:
        """After healing: bring back the nodes whose removal has committed since; True
        while a removal is still undecided (REMOVE_NODE gives up after 10 s)."""
        now = self.cluster.world.now
        for node, (_, _, asked_at) in list(self.removed.items()):
            self._rejoin(node)
            if node in self.removed and now - asked_at > REMOVAL_GIVES_UP:
                del self.removed[node]  # never committed: it stays a member
        return bool(self.removed)

    def _promote(self, survivor: SimNode, back_at: float) -> None:
        cluster = self.cluster
        primary = cluster.primary()
        if primary is None or survivor is primary or self.removed or cluster.promotions:
            return  # one forced promotion a run: the history is checked from its checkpoint
        if survivor.server is None or survivor.witness or not all(n.up for n in cluster.nodes):
            return
        left = [n for n in cluster.nodes if n is not survivor]
        ids = frozenset(n.server.node.id for n in left if n.server is not None)
        for node in left:
            cluster.crash(node, None)
        try:
            survivor.server.node.force_promote()
        except CommandError as error:
            self.log.append(f"{cluster.world.now:.3f} nemesis: PROMOTE FORCE refused: {error}")
            for node in left:
                cluster.start(node)
            return
        deposed = frozenset(n.index for n in left)
        promotion = Promotion(cluster.world.now, survivor.index, deposed, ids)
        cluster.promotions.append(promotion)
        self.log.append(f"{cluster.world.now:.3f} nemesis: PROMOTE FORCE on {survivor.name}")
        for node in left:
            self.process.loop.call_at(back_at, self._restart, node)  # unwiped
        self.cluster.world.run(_checkpoint(survivor, promotion), self.process)

    def _fast_disk(self, node: SimNode) -> None:
        if node.process is not None:
            node.process.disk = FAST_DISK

    def heal(self) -> None:
        """End every fault: heal the network, speed the disks, restart the dead."""
        self.stopped = True
        cluster = self.cluster
        cluster.network.heal_all()
        for node in list(self.removed):
            self._rejoin(node)
        # An operator wipes the members a forced promotion left behind, and the ones that
        # learnt they were removed, before they join again.
        deposed = {i for p in cluster.promotions for i in p.deposed}
        primary = cluster.primary()
        for node in cluster.nodes:
            removed = node.server is not None and node.server.node.removed
            if removed or (node.index in deposed and node.index not in cluster.wiped_at):
                self.log.append(f"{cluster.world.now:.3f} nemesis: {node.name} wiped, rejoins")
                role = self.removed.pop(node, ("backup", 0, 0.0))[0]
                cluster.wipe(node, role, primary or cluster.nodes[0])
        for node in cluster.nodes:
            if node.process is not None:
                node.process.disk = FAST_DISK
            elif node.process is None:
                self.log.append(f"{cluster.world.now:.3f} nemesis: restart {node.name} (heal)")
                cluster.start(node)


async def _checkpoint(survivor: SimNode, promotion: Promotion) -> None:
    """Read the survivor's keys once it serves writes with nothing uncommitted: the state
    the rest of the history starts from."""
    while promotion.checkpoint_at < 0:
        await asyncio.sleep(0.005)
        server = survivor.server
        if server is None:
            return  # crashed again before serving: the run is checked without a checkpoint
        node = server.node
        if node.writable and node.keyspace_index <= node.replica.log.committed:
            keyspace, now_ms = server.store.keyspace, server.engine.now_ms
            for raw in keyspace.live_keys(now_ms):
                value = keyspace.get(raw, now_ms)
                text = value.decode() if isinstance(value, bytes) else str(len(value or ()))
                promotion.checkpoint[raw.decode()] = text
            promotion.checkpoint_at = survivor.runtime.monotonic() if survivor.runtime else 0.0


def _failover(node: SimNode) -> None:
    """FAILOVER as an operator would send it; refused on a backup or without a
    caught-up backup, as for a client."""
    server = node.server
    assert server is not None
    with contextlib.suppress(CommandError):
        server.node.failover(None)


def _snapshot(node: SimNode) -> None:
    """BGSAVE as a client would ask for it (refused while writes are in flight)."""
    server = node.server
    assert server is not None
    # Refused while one runs or writes are being replicated, as for a client.
    with contextlib.suppress(CommandError):
        server.save(background=True)
