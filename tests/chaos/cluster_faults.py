"""The faults of a replication group: the kinds, the shape of each kind's steps
(``ClusterFaults``, for ``schedule.make_schedule``) and how they are done to a
``Cluster``, its processes and its node-to-node links (``ClusterTarget``, for
``nemesis.Nemesis``). Faults aimed at "the primary" land on whichever node is primary
when they begin."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial

from chaos.cluster import Cluster, Link
from chaos.nemesis import Action
from chaos.proxy import Direction
from chaos.schedule import Aim, Fault, Step, delay_step, flap_step


class ClusterFault(Fault):
    KILL_PRIMARY = "kill-primary", Aim.PRIMARY  # SIGKILL it, restart it on its data later
    KILL_NODE = "kill-node"  # SIGKILL a node the seed picks
    PAUSE_PRIMARY = "pause-primary", Aim.PRIMARY  # SIGSTOP past the election: a zombie
    PAUSE_NODE = "pause-node"
    ISOLATE_PRIMARY = "isolate-primary", Aim.PRIMARY  # every link to and from it cut
    SPLIT = "split", Aim.MINORITY  # a minority the seed picks cut off from the majority
    ONE_WAY = "one-way"  # a node's messages to the others vanish; it still hears them
    CUT_LINK = "cut-link", Aim.LINK  # one directed link blackholed
    FLAP = "flap"  # a node's links cut and restored, over and over
    DELAY = "delay", Aim.ALL_LINKS  # every node-to-node link delayed, with jitter
    RESET_LINKS = "reset-links", Aim.ALL_LINKS  # every node-to-node connection reset
    DROP_CLIENT_REPLIES = "drop-client-replies", Aim.PRIMARY  # its replies to clients vanish


ALL_CLUSTER_KINDS = tuple(ClusterFault)
# What every bounded run must include: the failovers a replicated store exists to survive.
FAILOVER_KINDS = (
    ClusterFault.KILL_PRIMARY,
    ClusterFault.PAUSE_PRIMARY,
    ClusterFault.ISOLATE_PRIMARY,
    ClusterFault.SPLIT,
)
KILLS = (ClusterFault.KILL_PRIMARY, ClusterFault.KILL_NODE)
PAUSES = (ClusterFault.PAUSE_PRIMARY, ClusterFault.PAUSE_NODE)


@dataclass(frozen=True)
class ClusterFaults:
    """Steps against a group; a pause outlasts the election timeout ``election_s``, so
    that the others elect a new primary while the paused one still believes it leads."""

    election_s: float = 0.3

    def step(
        self, rng: random.Random, kind: ClusterFault, at: float, node: int, nodes: int
    ) -> Step[ClusterFault]:
        if kind in KILLS:
            return Step(at, kind, rng.uniform(0.2, 2.0), node)
        if kind in PAUSES:
            return Step(at, kind, self.election_s * rng.uniform(2.0, 6.0), node)
        if kind is ClusterFault.SPLIT:
            minority = tuple(sorted(rng.sample(range(nodes), (nodes - 1) // 2)))
            return Step(at, kind, rng.uniform(1.0, 3.0), node, minority=minority)
        if kind is ClusterFault.CUT_LINK:
            receiver = rng.choice([n for n in range(nodes) if n != node])
            return Step(at, kind, rng.uniform(1.0, 3.0), node, link=(node, receiver))
        if kind is ClusterFault.FLAP:
            return flap_step(rng, kind, at, node, longest=0.5)
        if kind is ClusterFault.DELAY:
            return delay_step(rng, kind, at, node)
        if kind is ClusterFault.RESET_LINKS:
            return Step(at, kind, 0.0, node)
        return Step(at, kind, rng.uniform(1.0, 3.0), node)  # isolate, one-way, drops


class ClusterTarget:
    """Process faults through the cluster, client-side faults through a node's own
    proxy, the rest through the peer mesh (``cluster.peers``)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def primary(self) -> int | None:
        return self.cluster.primary(wait=2.0)

    def act(self, step: Step[ClusterFault], node: int) -> Action:
        kind, cluster = step.kind, self.cluster
        if kind in KILLS:
            return Action(partial(cluster.kill, node), partial(cluster.restart, node))
        if kind in PAUSES:
            return Action(partial(cluster.pause, node), partial(cluster.resume, node))
        if kind is ClusterFault.DROP_CLIENT_REPLIES:
            proxy = cluster.nodes[node].proxy
            assert proxy is not None
            return Action(partial(proxy.drop, Direction.DOWN), proxy.heal)
        return self._on_links(step, self._links(step, node))

    def heal(self) -> None:
        self.cluster.heal()

    def _links(self, step: Step[ClusterFault], node: int) -> list[Link]:
        mesh = self.cluster.peers
        if step.kind is ClusterFault.SPLIT:
            return mesh.between(step.minority)
        if step.kind is ClusterFault.ONE_WAY:
            return mesh.outgoing(node)
        if step.kind is ClusterFault.CUT_LINK:
            return [step.link]
        if step.kind.aim is Aim.ALL_LINKS:
            return sorted(mesh.proxies)
        return mesh.around(node)  # isolate, flap

    def _on_links(self, step: Step[ClusterFault], links: list[Link]) -> Action:
        mesh = self.cluster.peers
        restore = partial(mesh.restore, links)
        if step.kind is ClusterFault.DELAY:
            return Action(partial(mesh.delay, links, step.delay_ms, step.jitter_ms), restore)
        if step.kind is ClusterFault.RESET_LINKS:
            return Action(lambda: f"reset {mesh.reset(links)} node-to-node connections", restore)
        return Action(partial(mesh.cut, links), restore)  # isolate, split, one-way, cut, flap
