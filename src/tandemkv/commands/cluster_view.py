"""What cluster-aware commands (ROLE, WAIT, SENTINEL, FAILOVER, ADD_BACKUP, REPLICATE...)
see of the replication group, and the deferred reply they may return.

Pure: the node shell implements ClusterView; handlers only read it or ask it to start
something, and answer with a value. A handler that cannot answer at once (WAIT, a
membership change waiting for its commit) returns a Pending that the shell resolves later;
the connection holds that client's later replies behind it, like a Redis blocked client.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# Member roles as `tandemkv status`, ROLE and INFO show them.
PRIMARY = "primary"
BACKUP = "backup"  # a voting member that stores data
LEARNER = "learner"  # stores data, does not vote (joining, or kept non-voting)
WITNESS = "witness"  # votes, stores log positions but no values
CANDIDATE = "candidate"  # own role during an election
DETACHED = "detached"  # not (yet) a member of any group
REMOVED = "removed"  # removed from its group: to be wiped before reuse


@dataclass(frozen=True, slots=True)
class MemberStatus:
    node_id: int
    address: str  # HOST:PORT clients and peers use
    role: str  # PRIMARY, BACKUP, LEARNER or WITNESS
    match_index: int  # last log index known to be stored there (-1: unknown here)
    lag: int  # entries behind the primary's last index (-1: unknown here)
    healthy: bool  # heard from within an election timeout (as far as this node knows)
    last_contact_ms: int  # ms since the primary last heard from it (-1: unknown)


@dataclass(frozen=True, slots=True)
class NodeStatus:
    node_id: int
    address: str
    role: str  # one of the roles above, for this node
    term: int
    leader_id: int  # 0 when no primary is known
    primary_address: str  # "" when no primary is known
    last_index: int
    commit_index: int
    applied_index: int
    ack_level: str  # "majority" or "leader"
    members: tuple[MemberStatus, ...]  # every member, this node included, ordered by id
    # The last time a primary became known here (node/history.py): how long ago (ms, -1:
    # never), in which term, why (replication.Why), and this node's election counters.
    last_election_ago_ms: int = -1
    last_election_term: int = 0
    last_election_reason: str = ""
    elections_started: int = 0
    times_became_primary: int = 0
    primary_changes: int = 0


class Pending:
    """A reply that is not known yet. The shell calls resolve() exactly once.

    `wait_ms` is set when a client waits on keys (BLPOP, commands/waiters.py): how long, 0
    for ever. Such a wait is not a subclass: the compiled build cannot have interpreted
    subclasses of a compiled class."""

    __slots__ = ("_callbacks", "done", "value", "wait_ms")

    def __init__(self, wait_ms: int | None = None) -> None:
        self.done = False
        self.value: object = None
        self.wait_ms = wait_ms
        self._callbacks: list[Callable[[object], None]] = []

    def resolve(self, value: object) -> None:
        if self.done:
            return
        self.done, self.value = True, value
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(value)

    def on_done(self, callback: Callable[[object], None]) -> None:
        if self.done:
            callback(self.value)
        else:
            self._callbacks.append(callback)


class ClusterView(Protocol):
    """The node as cluster commands see it. Addresses are "HOST:PORT" strings."""

    group_name: str  # the name Sentinel clients ask for (SENTINEL get-master-addr-by-name)

    def status(self) -> NodeStatus: ...

    def check_peer_secret(self, secret: bytes) -> bool:
        """Whether `secret` is the cluster secret (constant-time)."""

    def receive(self, peer_id: int, messages: Sequence[bytes]) -> None:
        """Encoded replication messages from an authenticated peer (a frame stream or REPLICATE)."""

    def wait(self, index: int, replicas: int, timeout_ms: int) -> int | Pending:
        """WAIT: backups (not counting witnesses) holding `index`, now or once `replicas`
        of them do or `timeout_ms` passes (0: no timeout). Resolves to an int."""

    def join(
        self, address: str, node_id: int, witness: bool, learner: bool, proven: bool = False
    ) -> object:
        """A node asks to join (PEER JOIN from `tandemkv server --role backup`). `proven`:
        the asking connection authenticated with the cluster secret (PEER AUTH). Answers
        [secret, group name, state, primary id, primary address]; raises CommandError."""

    def invited(
        self, primary: str, witness: bool = False, learner: bool = False, proven: bool = False
    ) -> object:
        """PEER INVITE from a primary running ADD_BACKUP: a node in no group starts
        joining `primary` (as a witness or learner if asked); OK, or raises CommandError
        if it is in a group already or will not trust an inviter that proved nothing."""

    def add_backup(self, address: str, witness: bool, learner: bool) -> Pending:
        """ADD_BACKUP: contact the node at `address`, add it; resolves to OK or an error."""

    def remove_node(self, target: str) -> Pending:
        """Remove the member named by node id or address; resolves to OK or an error."""

    def failover(self, target: str | None) -> Pending:
        """Hand leadership to `target` (or the most caught-up backup); OK or an error."""

    def removed_by(self, by: int) -> object:
        """PEER REMOVED from peer `by` (a voter of the group): this node was removed."""

    def force_promote(self) -> object:
        """Make this node the only voter of a group that lost its majority (OK or error)."""
