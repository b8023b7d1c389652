"""Tuning and behaviour switches of one replica, and the Ready handed to the shell."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from tandemkv.replication.messages import (
    NONE,
    Entry,
    HardState,
    Message,
    NodeId,
    Snapshot,
)


class AckLevel(Enum):
    """When a leader reports a proposal as acknowledged (see docs/replication.md)."""

    MAJORITY = "majority"  # committed: stored by a majority of voters; survives failover
    LEADER = "leader"  # persisted by the leader alone (async, like Redis); may be lost


class ReadMode(Enum):
    INDEX = "index"  # confirm leadership with a heartbeat round per batch of reads
    LEASE = "lease"  # trust check-quorum timing; relies on bounded clock drift


class Role(Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class Why:
    """Why a replica's role or leader last changed (Replica.reason), as the shell logs it.

    Decided where it happens: a replica knows whether it campaigns because its election
    timer ran out or because the leader handed over (TimeoutNow), and a voter knows which
    of the two a candidate's vote request says.
    """

    ELECTION_TIMEOUT: Final = "election timeout"  # the primary went silent
    TRANSFER: Final = "leadership transfer"  # FAILOVER, or a primary handing over at shutdown
    CAMPAIGN: Final = "campaign requested"  # the shell asked (Replica.campaign)
    SOLE_VOTER: Final = "sole voter at start"
    FORCED: Final = "forced promotion"  # PROMOTE FORCE
    HIGHER_TERM: Final = "higher term seen"  # a newer leader or candidate exists
    QUORUM_LOST: Final = "lost contact with a majority"  # check-quorum stepped the leader down
    REMOVED: Final = "removed from the group"
    LEADER_FOUND: Final = "heard from the primary"  # no election seen here (joined, restarted)


@dataclass(frozen=True, slots=True)
class RaftConfig:
    node_id: NodeId
    election_ticks: int = 10  # followers wait a random [e, 2e) ticks before campaigning
    heartbeat_ticks: int = 2
    pre_vote: bool = True
    check_quorum: bool = True
    max_msg_bytes: int = 64 * 1024  # entries per append message
    max_inflight: int = 16  # appends in flight per follower (pipelining window)
    max_inflight_bytes: int = 1024 * 1024
    max_apply_bytes: int = 4 * 1024 * 1024  # committed entries handed out per Ready
    snapshot_chunk_bytes: int = 16 * 1024
    ack_level: AckLevel = AckLevel.MAJORITY
    read_mode: ReadMode = ReadMode.INDEX
    lease_margin_ticks: int = 2  # clock drift allowance subtracted from the lease
    promote_max_lag: int = 16  # a learner within this many entries counts as caught up
    resend_ticks: int = 4  # idle ticks before an unacknowledged append or chunk is resent
    # Tell followers of a new commit index at once with an (often empty) append; off, they
    # learn it with the next append or heartbeat. Off halves the messages per write under
    # load; followers then apply up to a heartbeat interval later.
    eager_commit: bool = True
    # On a restart, the newest index the shell's state machine already holds (etcd's
    # Config.Applied): entries up to it are not handed out for applying again. See
    # RaftLog for when it may exceed the stored commit index.
    applied: int = 0

    def __post_init__(self) -> None:
        if self.node_id == NONE:
            raise ValueError("node id 0 is reserved")
        if self.heartbeat_ticks >= self.election_ticks:
            raise ValueError("heartbeat_ticks must be smaller than election_ticks")


@dataclass(frozen=True, slots=True)
class SoftState:
    """Volatile state the shell may act on (redirect clients, fail pending replies)."""

    leader: NodeId = NONE
    role: Role = Role.FOLLOWER
    term: int = 0


@dataclass(frozen=True, slots=True)
class ReadState:
    """A read-index result: once the state machine has applied ``index``, a read issued
    with ``ctx`` may be served locally and is linearizable."""

    ctx: bytes
    index: int


@dataclass(frozen=True, slots=True)
class Acked:
    """Proposals made by this leader in ``term`` at or below ``index`` are acknowledged
    under the configured AckLevel."""

    term: int
    index: int


@dataclass(frozen=True, slots=True)
class Proposal:
    """Where propose() put the entries: indexes ``first``..``last`` of ``term``."""

    term: int
    first: int
    last: int


@dataclass(slots=True)
class Ready:
    """One batch of work for the shell. Handle it in this order:

    1. persist ``snapshot`` (if any), ``entries`` (truncating any stored suffix from the
       first one's index) and ``hard_state``; fsync if ``must_sync``;
    2. only then send ``messages``;
    3. apply the snapshot's data, then ``committed_entries`` in order; serve
       ``read_states`` once their index is applied; release replies covered by ``acked``;
    4. call advance(ready).
    """

    soft_state: SoftState | None = None
    hard_state: HardState | None = None
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)
    must_sync: bool = False
    messages: list[Message] = field(default_factory=list)
    committed_entries: list[Entry] = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)
    acked: Acked | None = None


class NotLeader(Exception):
    """The request needs the leader; ``leader`` is who we believe it is (or NONE)."""

    def __init__(self, leader: NodeId) -> None:
        super().__init__(f"not the leader; leader is {leader or 'unknown'}")
        self.leader = leader


class ProposalDropped(Exception):
    """The leader refuses the proposal for now (transfer or membership change in progress)."""
