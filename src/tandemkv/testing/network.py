"""The simulated network: per-message delay (so reordering), loss, duplication and
directed link cuts (a symmetric partition cuts both directions)."""

from __future__ import annotations

import random
from collections.abc import Iterable

from tandemkv.replication import NodeId


class SimNetwork:
    def __init__(self, rng: random.Random, delay_min: int, delay_max: int) -> None:
        self.rng = rng
        self.delay_min = delay_min
        self.delay_max = delay_max
        self.drop_rate = 0.0
        self.dup_rate = 0.0
        self.cut: set[tuple[NodeId, NodeId]] = set()

    def delays(self, frm: NodeId, to: NodeId) -> list[int]:
        """When each copy of a message sent now arrives (empty: lost)."""
        if (frm, to) in self.cut:
            return []
        rng = self.rng
        if self.drop_rate and rng.random() < self.drop_rate:
            return []
        copies = 2 if self.dup_rate and rng.random() < self.dup_rate else 1
        return [rng.randint(self.delay_min, self.delay_max) for _ in range(copies)]

    def partition(self, groups: Iterable[Iterable[NodeId]]) -> None:
        """Cut every link between different groups, both ways."""
        sets = [sorted(g) for g in groups]
        for n, a_group in enumerate(sets):
            for b_group in sets[n + 1 :]:
                for a in a_group:
                    for b in b_group:
                        self.cut.add((a, b))
                        self.cut.add((b, a))

    def cut_one_way(self, frm: NodeId, to: NodeId) -> None:
        self.cut.add((frm, to))

    def heal(self) -> None:
        self.cut.clear()
