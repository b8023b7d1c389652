"""A simulated replica process: the replication core, a disk that loses unsynced
writes on a crash, the register state machine and the client-facing request handling.

It follows the Ready contract like a real shell: write the Ready to disk, and only
when the (simulated) fsync completes send its messages, apply, serve reads and advance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from tandemkv.replication import (
    AckLevel,
    ConfState,
    EntryKind,
    HardState,
    MemoryStorage,
    Message,
    NodeId,
    NotLeader,
    ProposalDropped,
    RaftConfig,
    Ready,
    Replica,
    Role,
    Snapshot,
    decode_conf,
)
from tandemkv.replication.messages import Entry
from tandemkv.testing import register
from tandemkv.testing.invariants import ReplicationChecker


@dataclass(frozen=True, slots=True)
class Request:
    """A client request as it reaches a node."""

    client: int
    op_id: int
    kind: str  # get | put | cas | del
    key: str
    value: str = ""
    expected: str = ""


class Host(Protocol):
    checker: ReplicationChecker

    def send(self, msg: Message) -> None: ...

    def disk_done_later(self, node: NodeId, generation: int) -> None: ...

    def reply(
        self, req: Request, ok: bool | None, output: str | bool | None, hint: NodeId
    ) -> None: ...


DiskOp = tuple[str, object]


class Disk:
    """Durable state plus the writes issued since the last fsync, in order."""

    def __init__(self, conf: ConfState) -> None:
        self.durable = MemoryStorage(conf)
        self.unsynced: list[DiskOp] = []

    @staticmethod
    def _apply(store: MemoryStorage, op: DiskOp) -> None:
        kind, value = op
        if kind == "snapshot":
            assert isinstance(value, Snapshot)
            store.apply_snapshot(value)
        elif kind == "entries":
            assert isinstance(value, list)
            store.append(value)
        else:
            assert isinstance(value, HardState)
            store.set_hard_state(value)

    def fsync(self) -> None:
        for op in self.unsynced:
            self._apply(self.durable, op)
        self.unsynced = []

    def crash(self, rng: random.Random) -> None:
        """Keep a random prefix of the unsynced writes; the last kept may be torn."""
        keep = rng.randint(0, len(self.unsynced))
        for n, op in enumerate(self.unsynced[:keep]):
            if n == keep - 1 and op[0] == "entries":
                entries = op[1]
                assert isinstance(entries, list)
                op = ("entries", entries[: rng.randint(0, len(entries))])
            self._apply(self.durable, op)
        self.unsynced = []


class SimNode:
    def __init__(
        self,
        node: NodeId,
        conf: ConfState,
        witness: bool,
        host: Host,
        raft: RaftConfig,
        rng: random.Random,
        compact_every: int,
        send_before_sync: bool = False,
    ) -> None:
        self.id = node
        self.witness = witness
        self.host = host
        self.raft = raft
        self.rng = rng
        self.compact_every = compact_every
        # A deliberate shell bug (breaks the Ready contract), to prove the checkers see it.
        self.send_before_sync = send_before_sync
        self.disk = Disk(conf)
        self.generation = 0
        self.alive = False
        self.boot()

    # --- lifecycle ----------------------------------------------------------------------

    def boot(self) -> None:
        self.generation += 1
        self.alive = True
        self.storage = self.disk.durable.copy()
        self.replica = Replica(self.raft, self.storage, random.Random(self.rng.random()))
        snap = self.storage.snapshot()
        self.sm: register.RegisterMachine | None = None
        if not self.witness:
            self.sm = register.RegisterMachine()
            self.sm.restore(snap.data)
        self.applied_index = snap.meta.index
        self.applied_conf = snap.meta.conf
        self.in_flight: Ready | None = None
        self.was_leader_term = 0
        self.writes: dict[tuple[int, int], Request] = {}
        self.read_waits: dict[bytes, Request] = {}
        self.reads_ready: list[tuple[int, Request]] = []

    def crash(self) -> None:
        self.alive = False
        self.generation += 1
        self.disk.crash(self.rng)

    # --- the Ready cycle ----------------------------------------------------------------

    def pump(self) -> None:
        """Check the node's role, then start handling the next Ready if none is being
        handled. Called after every input, so no leadership goes unobserved."""
        if not self.alive:
            return
        r = self.replica
        if r.role is Role.LEADER and self.was_leader_term != r.term:
            self.was_leader_term = r.term
            self.host.checker.leader_elected(self.id, r.term, r.log)
        if self.in_flight is not None or not r.has_ready():
            return
        rd = self.replica.ready()
        self.in_flight = rd
        self._check_persisted(rd)
        ops: list[DiskOp] = []
        if rd.snapshot is not None:
            ops.append(("snapshot", rd.snapshot))
        if rd.entries:
            ops.append(("entries", list(rd.entries)))
        if rd.hard_state is not None:
            ops.append(("hard", rd.hard_state))
        for op in ops:
            Disk._apply(self.storage, op)
        self.disk.unsynced.extend(ops)
        if self.send_before_sync:
            for msg in rd.messages:
                self.host.send(msg)
            rd.messages = []
        self.host.disk_done_later(self.id, self.generation)

    def _check_persisted(self, rd: Ready) -> None:
        checker = self.host.checker
        if rd.entries:
            prev = self.replica.log.term(rd.entries[0].index - 1)
            checker.persisted(self.id, rd.entries, prev, self.witness)

    def disk_done(self, generation: int) -> None:
        if generation != self.generation or self.in_flight is None:
            return
        rd = self.in_flight
        self.disk.fsync()
        for msg in rd.messages:
            self.host.send(msg)
        if rd.snapshot is not None:
            self._install(rd.snapshot)
        for entry in rd.committed_entries:
            self._apply(entry)
        for state in rd.read_states:
            req = self.read_waits.pop(state.ctx, None)
            if req is not None:
                self.reads_ready.append((state.index, req))
        self._serve_reads()
        if rd.acked is not None:
            self._acked(rd.acked.term, rd.acked.index)
        self.replica.advance(rd)
        self.in_flight = None
        self._maybe_compact()
        self.pump()

    def _install(self, snap: Snapshot) -> None:
        if self.sm is not None:
            self.sm.restore(snap.data)
            self.host.checker.state_at(self.id, snap.meta.index, self.sm.digest)
        self.applied_index = snap.meta.index
        self.applied_conf = snap.meta.conf

    def _apply(self, entry: Entry) -> None:
        op_id = None
        if entry.kind is EntryKind.CONFIG:
            self.applied_conf = decode_conf(entry.data)
        elif entry.kind is EntryKind.NORMAL and self.sm is not None:
            cmd = register.decode(entry.data)
            op_id = cmd.op_id
            took_effect = self.sm.apply(cmd)
            req = self.writes.pop((entry.term, entry.index), None)
            if req is not None:
                output: bool | None = took_effect if req.kind == "cas" else None
                self.host.reply(req, True, output, self.id)
        self.host.checker.applied(self.id, entry, self.witness, op_id)
        self.applied_index = entry.index
        if self.sm is not None:
            self.host.checker.state_at(self.id, entry.index, self.sm.digest)

    def _acked(self, term: int, index: int) -> None:
        if self.raft.ack_level is not AckLevel.LEADER:
            return
        for key in sorted(self.writes):
            req = self.writes[key]
            if key[0] == term and key[1] <= index and req.kind == "put":
                del self.writes[key]
                self.host.reply(req, True, None, self.id)

    def _serve_reads(self) -> None:
        if not self.reads_ready or self.sm is None:
            return
        waiting = []
        for index, req in self.reads_ready:
            if index <= self.applied_index:
                self.host.reply(req, True, self.sm.get(req.key), self.id)
            else:
                waiting.append((index, req))
        self.reads_ready = waiting

    def _maybe_compact(self) -> None:
        if self.applied_index - self.storage.first_index() < self.compact_every:
            return
        data = self.sm.snapshot() if self.sm is not None else b""
        for store in (self.storage, self.disk.durable):
            store.compact(self.applied_index, self.applied_conf, data)

    # --- client requests ----------------------------------------------------------------

    def handle(self, req: Request) -> None:
        if self.witness:
            self.host.reply(req, False, None, self.replica.leader)
            return
        try:
            if req.kind == "get":
                ctx = f"{req.client}:{req.op_id}".encode()
                self.read_waits[ctx] = req
                self.replica.read_index(ctx)
            else:
                cmd = register.Command(req.kind, req.key, req.value, req.expected, req.op_id)
                proposal = self.replica.propose([register.encode(cmd)])
                self.writes[(proposal.term, proposal.first)] = req
        except (NotLeader, ProposalDropped):
            self.read_waits.pop(f"{req.client}:{req.op_id}".encode(), None)
            self.host.reply(req, False, None, self.replica.leader)
        self.pump()
