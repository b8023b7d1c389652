"""Plain data exchanged by replicas: log entries, persistent state and wire messages.

Everything here is a slotted dataclass with no behaviour, frozen except Entry (see
there), so a shell can serialise it and tests can compare it with ``==``. Node ids are
ints (``NodeId``); ``NONE`` (0) means "nobody", so real ids start at 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

NodeId = int
NONE: NodeId = 0


class EntryKind(IntEnum):
    """What a log entry carries."""

    NORMAL = 0  # an opaque mutation for the state machine
    CONFIG = 1  # a full membership (encoded ConfState), effective once appended
    NOOP = 2  # appended by a new leader so it can commit entries of its own term


# Not frozen, unlike everything else here: an entry is built once per write on every
# node, and a frozen dataclass costs three times as much to build. Treat it as immutable.
@dataclass(slots=True, unsafe_hash=True)
class Entry:
    term: int
    index: int
    data: bytes = b""
    kind: EntryKind = EntryKind.NORMAL
    # The entry's log record (see codec.entry_record), once something has encoded or
    # received it: a primary encodes each entry once for its own log and every backup, and
    # a backup writes the record it received. Derived from the fields, so not compared.
    record: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class HardState:
    """What must be on stable storage before any message of the same Ready is sent."""

    term: int = 0
    vote: NodeId = NONE
    commit: int = 0


@dataclass(frozen=True, slots=True)
class ConfState:
    """A membership. Witnesses are voters that hold log positions but no values.

    ``addresses`` maps members to where peers and clients reach them ("HOST:PORT"); it
    travels with the membership so every replica knows whom to contact. The core itself
    never reads it.
    """

    voters: tuple[NodeId, ...] = ()
    learners: tuple[NodeId, ...] = ()
    witnesses: tuple[NodeId, ...] = ()
    addresses: tuple[tuple[NodeId, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    index: int = 0
    term: int = 0
    conf: ConfState = field(default_factory=ConfState)


@dataclass(frozen=True, slots=True)
class Snapshot:
    meta: SnapshotMeta = field(default_factory=SnapshotMeta)
    data: bytes = b""


# --- wire messages: every one has frm, to and the sender's term ---------------------------


@dataclass(frozen=True, slots=True)
class VoteRequest:
    frm: NodeId
    to: NodeId
    term: int  # for a pre-vote: the term the candidate would campaign in
    last_index: int
    last_term: int
    pre_vote: bool = False
    transfer: bool = False  # leadership transfer: voters ignore their leader lease


@dataclass(frozen=True, slots=True)
class VoteResponse:
    frm: NodeId
    to: NodeId
    term: int
    granted: bool
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class AppendRequest:
    frm: NodeId
    to: NodeId
    term: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int
    sent_tick: int = 0  # leader's clock, echoed back: drives the read lease


@dataclass(frozen=True, slots=True)
class AppendResponse:
    frm: NodeId
    to: NodeId
    term: int
    index: int  # accepted: last index known to match; rejected: the prev_index refused
    reject: bool = False
    hint_index: int = 0  # rejected: follower's best guess of a matching index ...
    hint_term: int = 0  # ... and its term there, for fast back-tracking
    sent_tick: int = 0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    frm: NodeId
    to: NodeId
    term: int
    commit: int
    read_seq: int = 0  # newest read-index round this heartbeat confirms
    sent_tick: int = 0


@dataclass(frozen=True, slots=True)
class HeartbeatResponse:
    frm: NodeId
    to: NodeId
    term: int
    read_seq: int = 0
    sent_tick: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotChunk:
    frm: NodeId
    to: NodeId
    term: int
    meta: SnapshotMeta
    offset: int
    data: bytes
    done: bool


@dataclass(frozen=True, slots=True)
class SnapshotAck:
    """A follower's reply to a chunk: how many bytes of that snapshot it holds."""

    frm: NodeId
    to: NodeId
    term: int
    snapshot_index: int
    next_offset: int


@dataclass(frozen=True, slots=True)
class TimeoutNow:
    """Sent by a leader to the target of a leadership transfer: campaign now."""

    frm: NodeId
    to: NodeId
    term: int


@dataclass(frozen=True, slots=True)
class ReadIndexRequest:
    """A follower or learner asking the leader for a linearizable read index."""

    frm: NodeId
    to: NodeId
    term: int
    ctx: bytes


@dataclass(frozen=True, slots=True)
class ReadIndexResponse:
    frm: NodeId
    to: NodeId
    term: int
    ctx: bytes
    index: int


Message = (
    VoteRequest
    | VoteResponse
    | AppendRequest
    | AppendResponse
    | Heartbeat
    | HeartbeatResponse
    | SnapshotChunk
    | SnapshotAck
    | TimeoutNow
    | ReadIndexRequest
    | ReadIndexResponse
)
