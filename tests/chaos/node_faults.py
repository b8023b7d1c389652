"""The faults of a single node behind its fault proxy: the kinds, the shape of each
kind's steps (``NodeFaults``, for ``schedule.make_schedule``) and how they are done to
``ChaosNode``s (``NodeTarget``, for ``nemesis.Nemesis``)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from chaos.nemesis import Action
from chaos.nodes import ChaosNode
from chaos.proxy import Direction, FaultProxy
from chaos.schedule import Fault, Step, delay_step, flap_step


class FaultKind(Fault):
    KILL = "kill"  # SIGKILL, stay down, restart on the same data directory
    PAUSE = "pause"  # SIGSTOP for longer than a client waits, then SIGCONT
    PARTITION = "partition"  # the proxy blackholes every connection, old and new
    FLAP = "flap"  # partition and heal, over and over
    DELAY = "delay"  # both directions delayed, with jitter
    DROP_REQUESTS = "drop-requests"  # client-to-server bytes vanish
    DROP_REPLIES = "drop-replies"  # server-to-client bytes vanish: writes land unseen
    RESET = "reset"  # every open connection is reset at once
    RESET_REPLIES = "reset-replies"  # a reply resets its connection instead of arriving


ALL_KINDS = tuple(FaultKind)
PROCESS_KINDS = (FaultKind.KILL, FaultKind.PAUSE)


@dataclass(frozen=True)
class NodeFaults:
    """Steps against one node; a pause outlasts the clients' ``op_timeout``, so that
    operations on a frozen server time out with unknown outcomes."""

    op_timeout: float = 1.0

    def step(
        self, rng: random.Random, kind: FaultKind, at: float, node: int, nodes: int
    ) -> Step[FaultKind]:
        if kind is FaultKind.KILL:
            return Step(at, kind, rng.uniform(0.0, 1.5), node)
        if kind is FaultKind.PAUSE:
            return Step(at, kind, self.op_timeout * rng.uniform(1.3, 2.5), node)
        if kind is FaultKind.DELAY:
            return delay_step(rng, kind, at, node)
        if kind is FaultKind.FLAP:
            return flap_step(rng, kind, at, node, longest=0.4)
        if kind is FaultKind.RESET:
            return Step(at, kind, 0.0, node)
        if kind is FaultKind.RESET_REPLIES:
            return Step(at, kind, rng.uniform(0.1, 0.6), node)
        return Step(at, kind, rng.uniform(0.5, 2.5), node)  # partition, drops


class NodeTarget:
    """Process faults through the node's signals, link faults through its proxy."""

    def __init__(self, nodes: Sequence[ChaosNode]) -> None:
        self.nodes = list(nodes)

    def primary(self) -> int | None:
        return None  # single nodes form no group; no kind here is aimed at a primary

    def act(self, step: Step[FaultKind], node: int) -> Action:
        chosen = self.nodes[node]
        if step.kind is FaultKind.KILL:
            return Action(chosen.kill, chosen.restart)
        if step.kind is FaultKind.PAUSE:
            return Action(chosen.pause, chosen.resume)
        proxy = chosen.proxy
        assert proxy is not None
        return Action(partial(_start_link_fault, proxy, step), proxy.heal)

    def heal(self) -> None:
        for node in self.nodes:
            node.heal()


def _start_link_fault(proxy: FaultProxy, step: Step[FaultKind]) -> None:
    kind = step.kind
    if kind in (FaultKind.PARTITION, FaultKind.FLAP):  # a flap partitions, then heals
        proxy.partition()
    elif kind is FaultKind.DELAY:
        proxy.delay(step.delay_ms, step.jitter_ms)
    elif kind is FaultKind.DROP_REQUESTS:
        proxy.drop(Direction.UP)
    elif kind is FaultKind.DROP_REPLIES:
        proxy.drop(Direction.DOWN)
    elif kind is FaultKind.RESET:
        proxy.reset_all()
    elif kind is FaultKind.RESET_REPLIES:
        proxy.reset_on_traffic(Direction.DOWN)
    else:
        raise ValueError(f"not a link fault: {kind}")
