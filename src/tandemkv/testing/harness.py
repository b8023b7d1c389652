"""A synchronous in-memory cluster for scripted tests of the replication core.

Messages go into one FIFO queue; ``deliver()`` runs every Ready (persist, send, apply,
advance) and delivers queued messages until the cluster is quiet. Links can be cut one
way or both, nodes isolated, and a predicate can drop chosen messages.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable

from tandemkv.replication import (
    ConfState,
    Entry,
    HardState,
    MemoryStorage,
    Message,
    NodeId,
    RaftConfig,
    ReadState,
    Ready,
    Replica,
)
from tandemkv.replication.conf import decode_conf
from tandemkv.replication.messages import EntryKind, Snapshot

DropRule = Callable[[Message], bool]


class Harness:
    def __init__(
        self,
        voters: Iterable[NodeId],
        *,
        learners: Iterable[NodeId] = (),
        witnesses: Iterable[NodeId] = (),
        seed: int = 0,
        **config: object,
    ) -> None:
        voter_ids = tuple(sorted(voters))
        self.conf = ConfState(voter_ids, tuple(sorted(learners)), tuple(sorted(witnesses)))
        self.config = config
        self.rng = random.Random(seed)
        self.storage: dict[NodeId, MemoryStorage] = {}
        self.nodes: dict[NodeId, Replica] = {}
        self.applied: dict[NodeId, list[Entry]] = {}
        self.read_states: dict[NodeId, list[ReadState]] = {}
        self.installed: dict[NodeId, list[Snapshot]] = {}
        self.queue: deque[Message] = deque()
        self.cuts: set[tuple[NodeId, NodeId]] = set()
        self.drop_rules: list[DropRule] = []
        self.sent: list[Message] = []  # everything sent, for assertions
        for node in sorted(set(voter_ids) | set(self.conf.learners)):
            self.add_node(node, self.conf)

    def add_node(self, node: NodeId, conf: ConfState | None = None) -> Replica:
        """Start a node with empty storage (``conf`` None: a joiner that learns it)."""
        self.storage[node] = MemoryStorage(conf or ConfState())
        self.applied[node] = []
        self.read_states[node] = []
        self.installed[node] = []
        return self._boot(node)

    def _boot(self, node: NodeId) -> Replica:
        cfg = RaftConfig(node_id=node, **self.config)  # type: ignore[arg-type]
        replica = Replica(cfg, self.storage[node], random.Random(self.rng.random()))
        self.nodes[node] = replica
        return replica

    def restart(self, node: NodeId) -> Replica:
        """Reboot from what the node persisted (the harness persists synchronously)."""
        self.applied[node] = []
        return self._boot(node)

    # --- faults -------------------------------------------------------------------------

    def compact(self, node: NodeId, data: bytes) -> None:
        """Snapshot ``node``'s applied state as ``data`` and drop the log it covers."""
        replica = self.nodes[node]
        self.storage[node].compact(replica.log.applied, replica.conf, data)

    def cut(self, a: NodeId, b: NodeId, both_ways: bool = True) -> None:
        self.cuts.add((a, b))
        if both_ways:
            self.cuts.add((b, a))

    def isolate(self, node: NodeId) -> None:
        for other in self.nodes:
            if other != node:
                self.cut(node, other)

    def heal(self) -> None:
        self.cuts.clear()
        self.drop_rules.clear()

    def _dropped(self, msg: Message) -> bool:
        if (msg.frm, msg.to) in self.cuts or msg.to not in self.nodes:
            return True
        return any(rule(msg) for rule in self.drop_rules)

    # --- driving ------------------------------------------------------------------------

    def handle_ready(self, node: NodeId) -> Ready | None:
        replica = self.nodes[node]
        if not replica.has_ready():
            return None
        rd = replica.ready()
        store = self.storage[node]
        if rd.snapshot is not None:
            store.apply_snapshot(rd.snapshot)
            self.installed[node].append(rd.snapshot)
        store.append(rd.entries)
        if rd.hard_state is not None:
            store.set_hard_state(rd.hard_state)
        for msg in rd.messages:
            self.sent.append(msg)
            if not self._dropped(msg):
                self.queue.append(msg)
        self.applied[node].extend(rd.committed_entries)
        self.read_states[node].extend(rd.read_states)
        replica.advance(rd)
        return rd

    def settle(self) -> None:
        for node in sorted(self.nodes):
            while self.handle_ready(node) is not None:
                pass

    def deliver(self, max_messages: int = 100_000) -> int:
        """Run until no node has work and no message is queued; returns messages delivered."""
        delivered = 0
        self.settle()
        while self.queue and delivered < max_messages:
            msg = self.queue.popleft()
            if msg.to in self.nodes:
                self.nodes[msg.to].step(msg)
                delivered += 1
            self.settle()
        return delivered

    def tick(self, nodes: Iterable[NodeId] | None = None, times: int = 1) -> None:
        for _ in range(times):
            for node in sorted(nodes if nodes is not None else self.nodes):
                self.nodes[node].tick()
            self.deliver()

    def elect(self, node: NodeId) -> None:
        self.nodes[node].campaign()
        self.deliver()

    def propose(self, node: NodeId, *payloads: bytes) -> None:
        self.nodes[node].propose(list(payloads))
        self.deliver()

    # --- inspection ---------------------------------------------------------------------

    def data_applied(self, node: NodeId) -> list[bytes]:
        return [e.data for e in self.applied[node] if e.kind is EntryKind.NORMAL]

    def log_terms(self, node: NodeId) -> list[tuple[int, int]]:
        log = self.nodes[node].log
        return [(i, log.term(i) or 0) for i in range(log.first_index(), log.last_index() + 1)]

    def hard_state(self, node: NodeId) -> HardState:
        return self.storage[node].hard_state()

    def conf_of(self, node: NodeId) -> ConfState:
        return self.nodes[node].conf

    @staticmethod
    def decode(entry: Entry) -> ConfState:
        return decode_conf(entry.data)
