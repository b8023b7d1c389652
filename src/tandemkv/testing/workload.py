"""Simulated clients: each runs one register operation at a time against the node it
believes is the leader, records the history, follows redirects, and gives up on an
operation after a timeout (its outcome is then unknown)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tandemkv.replication import NodeId
from tandemkv.testing.history import History, Operation
from tandemkv.testing.simnode import Request

if TYPE_CHECKING:
    from tandemkv.testing.simulator import Simulator


@dataclass(slots=True)
class Client:
    id: int
    target: NodeId
    op: Operation | None = None
    count: int = 0
    seen: dict[str, list[str]] = field(default_factory=dict)  # values seen, for cas


class Workload:
    def __init__(self, sim: Simulator, rng: random.Random) -> None:
        self.sim = sim
        self.rng = rng
        self.history = History()
        self.running = True
        cfg = sim.cfg
        self.clients = [Client(c, self.random_data_node()) for c in range(cfg.clients)]

    def start(self) -> None:
        for c in self.clients:
            self.sim.at(self.rng.randint(*self.sim.cfg.think_ms), self._next, c)

    def random_data_node(self) -> NodeId:
        ids = sorted(n for n, node in self.sim.nodes.items() if not node.witness)
        return self.rng.choice(ids)

    def _next(self, c: Client) -> None:
        if not self.running:
            return
        sim, rng = self.sim, self.rng
        key = f"k{rng.randrange(sim.cfg.keys)}"
        roll = rng.random()
        value = f"c{c.id}v{c.count}"
        if roll < 0.4:
            op = self.history.invoke(c.id, "get", key, sim.now)
            req = Request(c.id, op.id, "get", key)
        elif roll < 0.45:
            op = self.history.invoke(c.id, "del", key, sim.now)
            req = Request(c.id, op.id, "del", key)
        elif roll < 0.8 or not c.seen.get(key):
            op = self.history.invoke(c.id, "put", key, sim.now, value)
            req = Request(c.id, op.id, "put", key, value)
        else:
            expected = rng.choice(c.seen[key][-3:])
            op = self.history.invoke(c.id, "cas", key, sim.now, value, expected)
            req = Request(c.id, op.id, "cas", key, value, expected)
        c.count += 1
        c.op = op
        sim.at(rng.randint(1, 4), self._arrive, c.target, req)
        sim.at(sim.cfg.client_timeout_ms, self._timeout, c, op.id)

    def _arrive(self, node_id: NodeId, req: Request) -> None:
        node = self.sim.nodes.get(node_id)
        if node is not None and node.alive:
            node.handle(req)

    def reply(self, req: Request, ok: bool | None, output: str | bool | None, hint: NodeId) -> None:
        self.sim.at(self.rng.randint(1, 4), self._on_reply, req, ok, output, hint)

    def _on_reply(
        self, req: Request, ok: bool | None, output: str | bool | None, hint: NodeId
    ) -> None:
        c = self.clients[req.client]
        op = c.op
        if op is None or op.id != req.op_id:
            return  # a late reply to an operation already given up on
        if ok:
            History.ok(op, output, self.sim.now)
            written = op.kind == "put" or (op.kind == "cas" and output is True)
            if written and op.value is not None:
                c.seen.setdefault(op.key, []).append(op.value)
            if isinstance(output, str):
                c.seen.setdefault(op.key, []).append(output)
        else:
            History.fail(op, self.sim.now)
            c.target = hint if hint in self.sim.nodes else self.random_data_node()
        self._done(c)

    def _timeout(self, c: Client, op_id: int) -> None:
        op = c.op
        if op is None or op.id != op_id:
            return
        History.info(op)
        c.target = self.random_data_node()
        self._done(c)

    def _done(self, c: Client) -> None:
        c.op = None
        self.sim.at(self.rng.randint(*self.sim.cfg.think_ms), self._next, c)
