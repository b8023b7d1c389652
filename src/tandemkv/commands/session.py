"""Per-connection state that commands read and change, and the host interface through
which server-wide commands (CLIENT, INFO, SHUTDOWN) see the running server."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tandemkv.commands.cluster_view import ClusterView


@dataclass(slots=True, eq=False)
class Session:
    """One client connection as the command layer sees it. No socket in here."""

    id: int
    addr: str = ""
    laddr: str = ""
    created_ms: int = 0
    last_active_ms: int = 0
    name: bytes = b""
    lib_name: bytes = b""
    lib_ver: bytes = b""
    resp: int = 2
    authenticated: bool = False
    # The ACL user this connection acts as, and its permissions (an acl_model.User) when
    # it may not do everything: None costs the engine one test per command.
    user: bytes = b"default"
    acl: Any = None
    # MULTI state: the queued commands, or None when not in a transaction.
    queued: list[list[bytes]] | None = None
    queued_bytes: int = 0  # what the queue holds, as client-query-buffer-limit counts it
    queue_failed: bool = False
    # WATCH state: the keys followed, and whether one of them changed (a WatchFlag). A dict
    # used as an ordered set: WATCH of n keys checks each against the others, which a list
    # made quadratic (WATCH of 20,000 keys held the event loop for seconds).
    watched: dict[bytes, None] = field(default_factory=dict)
    watched_expired: set[bytes] = field(default_factory=set)
    dirty: bool = False
    last_command: str = "NULL"
    # Set by commands; the connection acts on them after writing the reply.
    close_after_reply: bool = False
    killed: bool = False
    # Cluster mode: the node id of a peer that proved the cluster secret (0: a client),
    # whether READONLY allowed possibly stale reads on a backup, and the log index of
    # this connection's latest write (what WAIT counts replicas for).
    peer_id: int = 0
    read_stale: bool = False
    last_write_index: int = 0
    # PEER STREAM succeeded: after its +OK the connection reads length-prefixed frames
    # (protocol/peer_frames.py) instead of RESP.
    peer_stream: bool = False
    # The connection is TLS and its client showed a certificate the CA verified.
    tls_verified: bool = False


class Host(Protocol):
    """What the running server offers to server-wide commands."""

    def sessions(self) -> Iterable[Session]: ...

    def kill(self, session: Session) -> None:
        """Close `session`'s connection once its pending replies are written."""

    def server_info(self) -> dict[str, dict[str, object]]:
        """INFO sections the server owns (server, clients, stats, memory...)."""

    def request_shutdown(self) -> None: ...

    def save(self, background: bool) -> object:
        """Take a snapshot now (SAVE) or in the background (BGSAVE); the reply to send."""

    def last_save_time(self) -> int:
        """Unix time of the last successful snapshot, 0 if none."""

    def report_bug(self, command: str, error: Exception) -> None:
        """A handler raised something other than a CommandError: a bug to report."""

    def apply_settings(self, changes: dict[str, object]) -> str:
        """CONFIG SET is about to store `changes` (attribute name -> parsed value): carry
        out what a new value alone does not (fsync policy, log level, the log on or off);
        "" if done, else the error to answer, with nothing changed."""

    def rewrite_config(self) -> object:
        """CONFIG REWRITE: the reply (OK once the config file holds the settings)."""

    def random_bytes(self, size: int) -> bytes:
        """Bytes from a cryptographically secure source (ACL GENPASS)."""

    def read_acl_file(self) -> bytes | None:
        """The aclfile's contents (ACL LOAD), None when no aclfile is configured; raises
        CommandError if it cannot be read."""

    def write_acl_file(self, text: bytes) -> bool:
        """Replace the aclfile's contents atomically (ACL SAVE); False when none is
        configured; raises CommandError if it cannot be written."""

    def run_sliced(self, session: Session, job: SlicedJob) -> object:
        """The reply of a command whose work a client chooses (KEYS on a large keyspace).

        `job` yields between slices of bounded work and returns the reply value. A server
        runs a slice per turn of its event loop, so other clients and a group's heartbeats
        are served meanwhile, and answers with a Pending; with no event loop the job runs
        to its end and its value is the reply."""

    @property
    def cluster(self) -> ClusterView | None:
        """The replication group this node belongs to; None for a standalone server."""

    @property
    def can_block(self) -> bool:
        """Whether a client may wait for others (BLPOP on an empty list): a server with an
        event loop. Elsewhere blocking commands answer at once, as they do inside MULTI."""


# A command's work cut into slices: yields between them, returns the reply value.
SlicedJob = Generator[None, None, object]


@dataclass(slots=True, eq=False)
class Deferred:
    """A reply inside EXEC whose inputs were taken at its place in the queue and whose work
    runs in slices after the queue (commands/atomic_work.py)."""

    job: SlicedJob


def run_to_end(job: SlicedJob) -> object:
    while True:
        try:
            next(job)
        except StopIteration as done:
            return done.value
