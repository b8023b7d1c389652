"""Replica: one member of a replication group as a pure state machine.

Inputs: tick(), step(message), propose(payloads), propose_conf_change(change),
read_index(ctx), transfer_leadership(target). Output: ready() -> Ready, then advance().
The work is split by concern: election.py (roles, votes, check-quorum),
log_replication.py (appends, heartbeats, commit), snapshots.py, membership.py,
reads.py (read-index and lease) and transfer.py; this module holds the state and
routes inputs to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tandemkv.replication import (
    election,
    log_replication,
    membership,
    reads,
    snapshots,
    transfer,
)
from tandemkv.replication.conf import ConfChange
from tandemkv.replication.config import (
    Acked,
    AckLevel,
    NotLeader,
    Proposal,
    RaftConfig,
    ReadState,
    Ready,
    Role,
    SoftState,
    Why,
)
from tandemkv.replication.log import RaftLog
from tandemkv.replication.messages import (
    NONE,
    AppendRequest,
    AppendResponse,
    ConfState,
    EntryKind,
    HardState,
    Heartbeat,
    HeartbeatResponse,
    Message,
    NodeId,
    ReadIndexRequest,
    ReadIndexResponse,
    SnapshotAck,
    SnapshotChunk,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)
from tandemkv.replication.progress import Progress
from tandemkv.replication.storage import LogStorage


class RandomSource(Protocol):
    """What the core draws from: a seeded generator the shell injects (random.Random
    fits). The core never touches the global one."""

    def randrange(self, start: int, /) -> int: ...


class Replica:
    def __init__(self, config: RaftConfig, storage: LogStorage, rng: RandomSource) -> None:
        self.id = config.node_id
        self.cfg = config
        self.rng = rng
        self.log = RaftLog(storage, config.applied)
        hard = storage.hard_state()
        self.term = hard.term
        self.vote = hard.vote
        self.role = Role.FOLLOWER
        self.leader: NodeId = NONE
        self.ticks = 0  # local clock: ticks since start
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_timeout = config.election_ticks
        self.votes: dict[NodeId, bool] = {}
        self.progress: dict[NodeId, Progress] = {}
        self.conf = ConfState()
        self.msgs: list[Message] = []
        self.read_states: list[ReadState] = []
        self.reads = reads.ReadQueue()
        self.pending_conf_index = 0
        self.transfer_target: NodeId = NONE
        self.transfer_elapsed = 0
        self.lease_disabled = False
        # Why the role or leader last changed (a Why value), and how many elections this
        # replica has started (real ones: pre-votes that went nowhere are not counted).
        self.reason = ""
        self.reason_term = 0  # the term `reason` speaks of
        self.campaigns = 0
        self.snapshot_recv: snapshots.PartialSnapshot | None = None
        self._prev_soft = SoftState()
        self._prev_hard = hard
        self._prev_acked: Acked | None = None
        membership.sync_conf(self)
        election.reset_randomized_timeout(self)

    # --- status -------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    @property
    def commit_index(self) -> int:
        return self.log.committed

    def soft_state(self) -> SoftState:
        return SoftState(self.leader, self.role, self.term)

    def hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    def send(self, msg: Message) -> None:
        self.msgs.append(msg)

    # --- inputs -------------------------------------------------------------------------

    def tick(self) -> None:
        self.ticks += 1
        if self.role is Role.LEADER:
            election.tick_leader(self)
        else:
            election.tick_election(self)

    def campaign(self, reason: str = Why.CAMPAIGN) -> None:
        """Start an election now (operators, tests); no-op if we cannot lead."""
        election.hup(self, transfer=False, reason=reason)

    def propose(self, payloads: Sequence[bytes]) -> Proposal:
        """Append mutations to the log; raises NotLeader or ProposalDropped."""
        return log_replication.propose(self, [(p, EntryKind.NORMAL) for p in payloads])

    def propose_conf_change(self, change: ConfChange) -> Proposal:
        return membership.propose_change(self, change)

    def read_index(self, ctx: bytes) -> None:
        """Ask for a linearizable read point; the answer arrives as a ReadState."""
        reads.request(self, ctx)

    def transfer_leadership(self, target: NodeId) -> None:
        transfer.start(self, target)

    def step(self, msg: Message) -> None:
        if msg.to != self.id:
            return
        if not election.check_term(self, msg):
            return
        self._dispatch(msg)

    def _dispatch(self, msg: Message) -> None:
        if isinstance(msg, VoteRequest):
            election.handle_vote_request(self, msg)
        elif isinstance(msg, VoteResponse):
            election.handle_vote_response(self, msg)
        elif isinstance(msg, AppendRequest | Heartbeat | SnapshotChunk | TimeoutNow):
            self._step_from_leader(msg)
        elif self.role is Role.LEADER:
            self._step_leader(msg)
        elif isinstance(msg, ReadIndexResponse):
            self.read_states.append(ReadState(msg.ctx, msg.index))

    def _step_from_leader(
        self, msg: AppendRequest | Heartbeat | SnapshotChunk | TimeoutNow
    ) -> None:
        if self.role is Role.LEADER:
            return  # two leaders in one term cannot happen; ignore rather than crash
        if self.role is not Role.FOLLOWER or self.leader != msg.frm:
            if self.reason_term != msg.term:
                # This leader's election went unseen here: we joined or restarted since.
                self.reason, self.reason_term = Why.LEADER_FOUND, msg.term
            election.become_follower(self, msg.term, msg.frm)
        self.election_elapsed = 0
        if isinstance(msg, AppendRequest):
            log_replication.handle_append(self, msg)
        elif isinstance(msg, Heartbeat):
            log_replication.handle_heartbeat(self, msg)
        elif isinstance(msg, SnapshotChunk):
            snapshots.handle_chunk(self, msg)
        else:
            transfer.handle_timeout_now(self)

    def _step_leader(self, msg: Message) -> None:
        if msg.frm not in self.progress:
            if isinstance(msg, ReadIndexRequest):
                reads.handle_request(self, msg)
            return
        if isinstance(msg, AppendResponse):
            log_replication.handle_append_response(self, msg)
        elif isinstance(msg, HeartbeatResponse):
            log_replication.handle_heartbeat_response(self, msg)
        elif isinstance(msg, SnapshotAck):
            snapshots.handle_ack(self, msg)
        elif isinstance(msg, ReadIndexRequest):
            reads.handle_request(self, msg)

    def not_leader(self) -> NotLeader:
        return NotLeader(self.leader)

    # --- output -------------------------------------------------------------------------

    def _acked(self) -> Acked | None:
        if self.role is not Role.LEADER:
            return None
        if self.cfg.ack_level is AckLevel.LEADER:
            index = max(self.log.stable_index(), self.log.committed)
        else:
            index = self.log.committed
        acked = Acked(self.term, index)
        return None if acked == self._prev_acked else acked

    # Field by field rather than building a state to compare: the shell asks on every
    # turn of its loop, and the answer is nearly always "unchanged".
    def _soft_changed(self) -> bool:
        prev = self._prev_soft
        return self.leader != prev.leader or self.role is not prev.role or self.term != prev.term

    def _hard_changed(self) -> bool:
        prev = self._prev_hard
        return self.term != prev.term or self.vote != prev.vote or self.log.committed != prev.commit

    def has_ready(self) -> bool:
        log = self.log
        return bool(
            self.msgs
            or self.read_states
            or self._soft_changed()
            or self._hard_changed()
            or log.snapshot_to_persist() is not None
            or log.entries_to_persist()
            or (log.committed > log.applying and log.stable_index() > log.applying)
            or self._acked() is not None
        )

    def ready(self) -> Ready:
        log = self.log
        rd = Ready()
        if self._soft_changed():
            rd.soft_state = self._prev_soft = self.soft_state()
        if self._hard_changed():
            prev, hard = self._prev_hard, self.hard_state()
            rd.hard_state = self._prev_hard = hard
            rd.must_sync = hard.term != prev.term or hard.vote != prev.vote
        rd.snapshot = log.snapshot_to_persist()
        if rd.snapshot is not None:
            log.snapshot_handed = True
            rd.must_sync = True
        rd.entries = log.entries_to_persist()
        if rd.entries:
            log.handed_index = rd.entries[-1].index
            rd.must_sync = True
        if rd.snapshot is None:
            rd.committed_entries = log.entries_to_apply(self.cfg.max_apply_bytes)
            if rd.committed_entries:
                log.applying = rd.committed_entries[-1].index
        rd.messages, self.msgs = self.msgs, []
        rd.read_states, self.read_states = self.read_states, []
        rd.acked = self._acked()
        if rd.acked is not None:
            self._prev_acked = rd.acked
        return rd

    def advance(self, rd: Ready) -> None:
        """The shell has persisted, sent and applied everything in ``rd``."""
        if rd.snapshot is not None:
            self.log.stable_snapshot_to(rd.snapshot.meta.index)
        if rd.entries:
            last = rd.entries[-1]
            self.log.stable_to(last.index, last.term)
        if rd.committed_entries:
            self.log.applied_to(rd.committed_entries[-1].index)
        if self.role is Role.LEADER:
            own = self.progress.get(self.id)
            if own is not None and own.maybe_update(self.log.stable_index()):
                log_replication.commit_and_broadcast(self)
