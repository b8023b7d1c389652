"""Seeded fault schedules, for a single node and for a replication group alike.

``make_schedule(seed, duration, faults, ...)`` is a pure function of its arguments: the
same seed gives the same steps (kind, start offset, duration, node, and whatever the kind
needs: a minority, a link, delays, a flap period), whatever else happens in the run.
A family of faults (``node_faults.NodeFaults``, ``cluster_faults.ClusterFaults``) names
its kinds and draws each kind's step; the loop around it (required kinds first, quiet
gaps, steps that never overlap) is this one. ``nemesis.Nemesis`` carries a schedule out.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Protocol, TypeVar

from chaos.cluster import Link


class Aim(Enum):
    """What a fault is aimed at: how a step names its target, and how it is resolved."""

    NODE = "node"  # the step's node
    PRIMARY = "primary"  # whichever node is primary when the step begins
    MINORITY = "minority"  # the step's minority, cut off from the others
    LINK = "link"  # the step's one directed link
    ALL_LINKS = "all links"  # every node-to-node link


class Fault(Enum):
    """A fault kind: ``value`` is its name in schedules and logs; ``aim`` what it hits.

    Members are written ``NAME = "name"`` (aimed at a node) or ``NAME = "name", Aim.X``.
    """

    aim: Aim

    def __new__(cls, name: str, aim: Aim = Aim.NODE) -> Fault:
        member = object.__new__(cls)
        member._value_ = name
        member.aim = aim
        return member


K = TypeVar("K", bound=Fault)


@dataclass(frozen=True)
class Step(Generic[K]):
    at: float  # seconds after the chaos phase began
    kind: K
    duration: float
    node: int  # the node hit (the fallback for a fault aimed at the primary)
    minority: tuple[int, ...] = ()  # aimed at a minority: the side cut off
    link: Link = (0, 0)  # aimed at a link: (sender, receiver)
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    period: float = 0.0  # a flap: seconds cut, then seconds restored

    def describe(self) -> str:
        extra = ""
        if self.delay_ms:
            extra = f" {self.delay_ms:.0f}ms+-{self.jitter_ms:.0f}ms"
        elif self.period:
            extra = f" every {self.period:.2f}s"
        where = self.target()
        return f"@{self.at:6.2f}s {self.kind.value} {where} for {self.duration:.2f}s{extra}"

    def target(self) -> str:
        aim = self.kind.aim
        if aim is Aim.PRIMARY:
            return "the primary"
        if aim is Aim.MINORITY:
            return "minority " + ",".join(f"node{n}" for n in self.minority)
        if aim is Aim.LINK:
            return f"node{self.link[0]}->node{self.link[1]}"
        if aim is Aim.ALL_LINKS:
            return "all links"
        return f"node{self.node}"


@dataclass(frozen=True)
class Schedule(Generic[K]):
    seed: int
    steps: tuple[Step[K], ...]

    def describe(self) -> str:
        return "\n".join(step.describe() for step in self.steps) or "(no faults)"

    def kinds(self) -> set[K]:
        return {step.kind for step in self.steps}


class Faults(Protocol[K]):
    """How a step of each kind of a family of faults is drawn."""

    def step(self, rng: random.Random, kind: K, at: float, node: int, nodes: int) -> Step[K]:
        """A step of ``kind`` starting ``at`` aimed at ``node`` (of ``nodes``); its other
        parameters come from ``rng``, so they are the seed's too."""
        ...


def make_schedule(
    seed: int,
    duration: float,
    faults: Faults[K],
    kinds: Sequence[K],
    nodes: int = 1,
    gap: tuple[float, float] = (0.3, 1.5),
    required: Sequence[K] = (),
) -> Schedule[K]:
    """Faults one after another, separated by quiet gaps, starting before ``duration``.

    The first steps are the ``required`` kinds (in an order the seed picks), so that a
    short run is sure to include them; the rest are drawn from ``kinds``."""
    pool = list(kinds)
    rng = random.Random(seed)
    upfront = list(required)
    rng.shuffle(upfront)
    steps: list[Step[K]] = []
    at = rng.uniform(*gap)
    while at < duration and (pool or upfront):
        kind = upfront.pop(0) if upfront else rng.choice(pool)
        step = faults.step(rng, kind, at, rng.randrange(nodes), nodes)
        steps.append(step)
        at += step.duration + rng.uniform(*gap)
    return Schedule(seed, tuple(steps))


# Step shapes both families draw the same way.


def delay_step(rng: random.Random, kind: K, at: float, node: int) -> Step[K]:
    """One to three seconds of one of a few delays, with jitter of up to as much again."""
    delay = rng.choice((5.0, 20.0, 80.0, 250.0))
    return Step(
        at, kind, rng.uniform(1.0, 3.0), node, delay_ms=delay, jitter_ms=delay * rng.uniform(0, 1)
    )


def flap_step(rng: random.Random, kind: K, at: float, node: int, longest: float) -> Step[K]:
    """One to three seconds of cutting and restoring, each for up to ``longest`` seconds."""
    return Step(at, kind, rng.uniform(1.0, 3.0), node, period=rng.uniform(0.05, longest))
