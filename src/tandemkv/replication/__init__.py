"""tandemkv's replication core: a Raft-style replicated log as a pure state machine.

See docs/replication.md. The shell drives a Replica with tick/step/propose/read_index,
handles each Ready (persist, then send, then apply) and calls advance().
"""

from tandemkv.replication.conf import (
    ConfChange,
    ConfChangeError,
    ConfChangeOp,
    apply_change,
    decode_conf,
    encode_conf,
)
from tandemkv.replication.config import (
    Acked,
    AckLevel,
    NotLeader,
    Proposal,
    ProposalDropped,
    RaftConfig,
    ReadMode,
    ReadState,
    Ready,
    Role,
    SoftState,
    Why,
)
from tandemkv.replication.core import Replica
from tandemkv.replication.messages import (
    NONE,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Message,
    NodeId,
    Snapshot,
    SnapshotMeta,
)
from tandemkv.replication.storage import LogCompacted, LogStorage, LogUnavailable, MemoryStorage

__all__ = [
    "NONE",
    "AckLevel",
    "Acked",
    "ConfChange",
    "ConfChangeError",
    "ConfChangeOp",
    "ConfState",
    "Entry",
    "EntryKind",
    "HardState",
    "LogCompacted",
    "LogStorage",
    "LogUnavailable",
    "MemoryStorage",
    "Message",
    "NodeId",
    "NotLeader",
    "Proposal",
    "ProposalDropped",
    "RaftConfig",
    "ReadMode",
    "ReadState",
    "Ready",
    "Replica",
    "Role",
    "Snapshot",
    "SnapshotMeta",
    "SoftState",
    "Why",
    "apply_change",
    "decode_conf",
    "encode_conf",
]
