"""Seeded fault schedules for a replication group, and the thread that carries them out.

Like ``nemesis.py`` for one node: ``make_cluster_schedule(seed, ...)`` is a pure
function of its arguments, so a seed always gives the same steps (kind, start, duration,
which node or minority or link, delays). Faults aimed at "the primary" are resolved when
they begin, by asking the nodes; the nemesis log names the node that was hit. Steps never
overlap and each one is undone in a ``finally``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from chaos.cluster import Cluster, Link
from chaos.proxy import Direction


class ClusterFault(Enum):
    KILL_PRIMARY = "kill-primary"  # SIGKILL the primary, restart it on its data later
    KILL_NODE = "kill-node"  # SIGKILL a node the seed picks
    PAUSE_PRIMARY = "pause-primary"  # SIGSTOP past the election timeout: a zombie primary
    PAUSE_NODE = "pause-node"
    ISOLATE_PRIMARY = "isolate-primary"  # every link to and from the primary blackholed
    SPLIT = "split"  # a minority the seed picks cut off from the majority
    ONE_WAY = "one-way"  # a node's messages to the others vanish; it still hears them
    CUT_LINK = "cut-link"  # one directed link blackholed
    FLAP = "flap"  # a node's links cut and restored, over and over
    DELAY = "delay"  # every node-to-node link delayed, with jitter
    RESET_LINKS = "reset-links"  # every node-to-node connection reset at once
    DROP_CLIENT_REPLIES = "drop-client-replies"  # the primary's replies to clients vanish


ALL_CLUSTER_KINDS = tuple(ClusterFault)
AT_PRIMARY = (
    ClusterFault.KILL_PRIMARY, ClusterFault.PAUSE_PRIMARY, ClusterFault.ISOLATE_PRIMARY,
    ClusterFault.DROP_CLIENT_REPLIES,
)
# What every bounded run must include: the failovers a replicated store exists to survive.
FAILOVER_KINDS = (
    ClusterFault.KILL_PRIMARY, ClusterFault.PAUSE_PRIMARY, ClusterFault.ISOLATE_PRIMARY,
    ClusterFault.SPLIT,
)


@dataclass(frozen=True)
class ClusterStep:
    at: float  # seconds after the chaos phase began
    kind: ClusterFault
    duration: float
    node: int  # the node hit (a fallback for faults aimed at the primary)
    minority: tuple[int, ...] = ()  # split: the side cut off
    link: Link = (0, 0)  # cut-link: (sender, receiver)
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    period: float = 0.0  # flap: seconds cut, then seconds restored

    def describe(self) -> str:
        target = "the primary" if self.kind in AT_PRIMARY else f"node{self.node}"
        if self.kind is ClusterFault.SPLIT:
            target = "minority " + ",".join(f"node{n}" for n in self.minority)
        elif self.kind is ClusterFault.CUT_LINK:
            target = f"node{self.link[0]}->node{self.link[1]}"
        elif self.kind in (ClusterFault.DELAY, ClusterFault.RESET_LINKS):
            target = "all links"
        extra = ""
        if self.kind is ClusterFault.DELAY:
            extra = f" {self.delay_ms:.0f}ms+-{self.jitter_ms:.0f}ms"
        elif self.kind is ClusterFault.FLAP:
            extra = f" every {self.period:.2f}s"
        return f"@{self.at:6.2f}s {self.kind.value} {target} for {self.duration:.2f}s{extra}"


@dataclass(frozen=True)
class ClusterSchedule:
    seed: int
    steps: tuple[ClusterStep, ...]

    def describe(self) -> str:
        return "\n".join(step.describe() for step in self.steps) or "(no faults)"

    def kinds(self) -> set[ClusterFault]:
        return {step.kind for step in self.steps}


def make_cluster_schedule(
    seed: int,
    duration: float,
    nodes: int = 3,
    kinds: Sequence[ClusterFault] = ALL_CLUSTER_KINDS,
    election_s: float = 0.3,
    gap: tuple[float, float] = (0.3, 1.5),
    required: Sequence[ClusterFault] = (),
) -> ClusterSchedule:
    """Faults one after another with quiet gaps, starting before ``duration``; the
    ``required`` kinds come first (in an order the seed picks)."""
    rng = random.Random(seed)
    upfront = list(required)
    rng.shuffle(upfront)
    steps: list[ClusterStep] = []
    at = rng.uniform(*gap)
    while at < duration and (kinds or upfront):
        kind = upfront.pop(0) if upfront else rng.choice(list(kinds))
        step = _make_step(rng, kind, at, nodes, election_s)
        steps.append(step)
        at += step.duration + rng.uniform(*gap)
    return ClusterSchedule(seed, tuple(steps))


def _make_step(
    rng: random.Random, kind: ClusterFault, at: float, nodes: int, election_s: float
) -> ClusterStep:
    node = rng.randrange(nodes)
    if kind in (ClusterFault.KILL_PRIMARY, ClusterFault.KILL_NODE):
        return ClusterStep(at, kind, rng.uniform(0.2, 2.0), node)
    if kind in (ClusterFault.PAUSE_PRIMARY, ClusterFault.PAUSE_NODE):
        return ClusterStep(at, kind, election_s * rng.uniform(2.0, 6.0), node)
    if kind is ClusterFault.SPLIT:
        minority = tuple(sorted(rng.sample(range(nodes), (nodes - 1) // 2)))
        return ClusterStep(at, kind, rng.uniform(1.0, 3.0), node, minority=minority)
    if kind is ClusterFault.CUT_LINK:
        receiver = rng.choice([n for n in range(nodes) if n != node])
        return ClusterStep(at, kind, rng.uniform(1.0, 3.0), node, link=(node, receiver))
    if kind is ClusterFault.FLAP:
        return ClusterStep(at, kind, rng.uniform(1.0, 3.0), node, period=rng.uniform(0.05, 0.5))
    if kind is ClusterFault.DELAY:
        delay = rng.choice((5.0, 20.0, 80.0, 250.0))
        return ClusterStep(
            at, kind, rng.uniform(1.0, 3.0), node, delay_ms=delay,
            jitter_ms=delay * rng.uniform(0, 1),
        )
    if kind is ClusterFault.RESET_LINKS:
        return ClusterStep(at, kind, 0.0, node)
    return ClusterStep(at, kind, rng.uniform(1.0, 3.0), node)  # isolate, one-way, drops


class ClusterNemesis:
    """Runs a schedule against a ``Cluster`` in a thread; ``log`` says what was done."""

    def __init__(
        self,
        schedule: ClusterSchedule,
        cluster: Cluster,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.schedule = schedule
        self.cluster = cluster
        self.clock = clock
        self.log: list[str] = []
        self.errors: list[str] = []
        self.hit: list[int] = []  # the node each step aimed at, once resolved
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cluster-nemesis", daemon=True)
        self._start = 0.0

    def start(self) -> ClusterNemesis:
        self._start = self.clock()
        self._thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.ident is None:
            return  # never started (a scripted run)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.errors.append("the nemesis did not stop")

    def heal_all(self) -> None:
        self.cluster.heal()
        self._note("healed every link and node")

    def _run(self) -> None:
        try:
            for step in self.schedule.steps:
                if self._stop.wait(max(0.0, self._start + step.at - self.clock())):
                    break
                self._apply(step)
        except Exception as exc:
            self.errors.append(f"nemesis failed: {exc!r}")

    def _note(self, text: str) -> None:
        self.log.append(f"t={self.clock():8.3f} {text}")

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _target(self, step: ClusterStep) -> int:
        if step.kind not in AT_PRIMARY:
            return step.node
        primary = self.cluster.primary(wait=2.0)
        if primary is None:
            self._note(f"no primary found; falling back to node{step.node}")
            return step.node
        return primary

    def _apply(self, step: ClusterStep) -> None:
        node = self._target(step)
        self.hit.append(node)
        self._note(f"begin {step.describe()} (node{node})")
        links = self._links(step, node)
        try:
            self._begin(step, node, links)
        finally:
            self._undo(step, node, links)
            self._note(f"end {step.kind.value} node{node}")

    def _links(self, step: ClusterStep, node: int) -> list[Link]:
        mesh = self.cluster.peers
        if step.kind in (ClusterFault.ISOLATE_PRIMARY, ClusterFault.FLAP):
            return mesh.around(node)
        if step.kind is ClusterFault.SPLIT:
            return mesh.between(step.minority)
        if step.kind is ClusterFault.ONE_WAY:
            return mesh.outgoing(node)
        if step.kind is ClusterFault.CUT_LINK:
            return [step.link]
        if step.kind in (ClusterFault.DELAY, ClusterFault.RESET_LINKS):
            return sorted(mesh.proxies)
        return []

    def _begin(self, step: ClusterStep, node: int, links: list[Link]) -> None:
        kind, mesh = step.kind, self.cluster.peers
        if kind in (ClusterFault.KILL_PRIMARY, ClusterFault.KILL_NODE):
            self.cluster.kill(node)
        elif kind in (ClusterFault.PAUSE_PRIMARY, ClusterFault.PAUSE_NODE):
            self.cluster.pause(node)
        elif kind is ClusterFault.FLAP:
            self._flap(links, step)
            return
        elif kind is ClusterFault.DELAY:
            mesh.delay(links, step.delay_ms, step.jitter_ms)
        elif kind is ClusterFault.RESET_LINKS:
            self._note(f"reset {mesh.reset(links)} node-to-node connections")
        elif kind is ClusterFault.DROP_CLIENT_REPLIES:
            proxy = self.cluster.nodes[node].proxy
            assert proxy is not None
            proxy.drop(Direction.DOWN)
        else:
            mesh.cut(links)  # isolate, split, one-way, cut-link
        self._sleep(step.duration)

    def _flap(self, links: list[Link], step: ClusterStep) -> None:
        mesh = self.cluster.peers
        until = self.clock() + step.duration
        while self.clock() < until and not self._stop.is_set():
            mesh.cut(links)
            self._sleep(step.period)
            mesh.restore(links)
            self._sleep(step.period)

    def _undo(self, step: ClusterStep, node: int, links: list[Link]) -> None:
        kind = step.kind
        if kind in (ClusterFault.KILL_PRIMARY, ClusterFault.KILL_NODE):
            self.cluster.restart(node)
        elif kind in (ClusterFault.PAUSE_PRIMARY, ClusterFault.PAUSE_NODE):
            self.cluster.resume(node)
        elif kind is ClusterFault.DROP_CLIENT_REPLIES:
            proxy = self.cluster.nodes[node].proxy
            assert proxy is not None
            proxy.heal()
        else:
            self.cluster.peers.restore(links)
