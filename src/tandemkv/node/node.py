"""A cluster node: the asyncio shell around the replication core (tandemkv.replication).

The loop is etcd's Ready loop. Inputs (client proposals, peer messages, ticks) go into
the core; once per event-loop turn the node takes one Ready and carries it out in order:
install a received snapshot, append entries to the storage log (which *is* the
replication log), save term and vote, fsync (on a worker thread, under fsync=always),
and only then send messages, apply committed entries, confirm reads, release replies and
call advance(). One Ready is in flight at a time, so everything proposed while an fsync
runs is written by the next one: group commit across all connections.

The primary executes a command at once against its keyspace (so the next command sees
it) and replicates the resulting mutation; replies wait until the write is acknowledged.
`keyspace_index` is the newest log index the keyspace reflects: ahead of the applied
index on a primary, equal to it elsewhere. A primary that loses leadership may hold
writes that the new primary will truncate, so it rebuilds its keyspace from the snapshot
and the committed log, and closes the connections whose replies were still held: their
outcome is unknown, and a dropped connection is how Redis clients learn that.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import ssl
import time
from collections.abc import Coroutine, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from tandemkv.commands.cluster_view import NodeStatus, Pending
from tandemkv.commands.commandstats import Timings
from tandemkv.commands.errors import CommandError
from tandemkv.commands.latency import AOF_FSYNC_ALWAYS, AOF_FSYNC_EVERYSEC, ELECTION
from tandemkv.commands.waiters import STATE_CHANGED
from tandemkv.config import Config, parse_peer_routes
from tandemkv.node import applying, membership_ops, status
from tandemkv.node.disk_storage import DiskStorage
from tandemkv.node.entries import EntryCutter
from tandemkv.node.gate import make_gate
from tandemkv.node.history import RoleChange, RoleHistory
from tandemkv.node.identity import NodeIdentity, save_identity
from tandemkv.node.peers import PeerLinks
from tandemkv.node.replicated_log import NEVER, ClusterLog
from tandemkv.protocol.types import ErrorReply
from tandemkv.replication import (
    NONE,
    AckLevel,
    ConfState,
    Entry,
    HardState,
    Message,
    NotLeader,
    ProposalDropped,
    RaftConfig,
    ReadMode,
    Ready,
    Replica,
    Role,
    Snapshot,
    Why,
)
from tandemkv.replication.codec import MessageDecodeError, decode_message, encode_message
from tandemkv.replication.conf import address_of, encode_conf
from tandemkv.storage.errors import StorageError
from tandemkv.storage.mutation import Mutation
from tandemkv.storage.store import SnapshotPoint, Store
from tandemkv.storage.syncer import FsyncPolicy

if TYPE_CHECKING:
    from tandemkv.runtime import BackgroundSync
    from tandemkv.server.app import Server

log: Final = logging.getLogger("tandemkv.node")

EVERYSEC: Final = 1.0
# A sole voter catches up before it serves anyone (see settle_alone); a bound on the Ready
# cycles that takes, far above the few a start needs.
SETTLE_CYCLES: Final = 10_000
# Ready cycles one loop turn may carry out before yielding to clients. A sole voter needs
# two per write batch (persist, then commit); a primary's acknowledgements usually come
# in with the next turn's input, so this bound is rarely reached.
READY_PER_TURN: Final = 4


def raft_config(node_id: int, config: Config, applied: int = 0) -> RaftConfig:
    tick_ms = max(1, config.heartbeat_ms // 2)
    election_ticks = max(3, config.election_ms // tick_ms)
    return RaftConfig(
        node_id=node_id,
        election_ticks=election_ticks,
        heartbeat_ticks=2,
        ack_level=AckLevel(config.ack),
        read_mode=ReadMode(config.read_mode),
        resend_ticks=min(4, election_ticks - 1),
        eager_commit=False,  # followers learn commits with the next append or heartbeat
        applied=applied,
    )


class Node:
    def __init__(
        self,
        server: Server,
        store: Store,
        identity: NodeIdentity,
        config: Config,
        advertise: str,
        applied: int = 0,
    ) -> None:
        """`applied`: the log index the keyspace already holds (boot.catch_up_alone)."""
        self.server = server
        self.store = store
        self.keyspace = store.keyspace
        self.identity = identity
        self.config = config
        self.advertise = advertise
        self.group_name = identity.group_name
        self.runtime = runtime = server.runtime
        self.loop = runtime.loop
        self.storage = DiskStorage(store)
        self.raft = raft_config(identity.node_id, config, applied)
        self.tick_seconds = max(1, config.heartbeat_ms // 2) / 1000
        self.replica = Replica(self.raft, self.storage, self.new_random())
        self.links = PeerLinks(
            identity.node_id,
            lambda: self.identity.secret,
            parse_peer_routes(config.peer_routes),
            runtime,
            tls=self.peer_tls,
        )
        self.log = ClusterLog(self)
        self.gate = make_gate(self)
        self.keyspace_index = self.replica.log.applied
        # This node is the group's only voter: a write is committed once it is persisted
        # here, and no other node can be elected, so reads need no heartbeat round.
        self.sole_voter = self.conf.voters == (self.id,)
        self.synced_index = store.last_index
        self.policy = FsyncPolicy(config.fsync)
        # No log on disk (--appendonly no): nothing to fsync, and writes are safe at once.
        self.volatile = store.wal.volatile
        self.fsync_always = self.policy is FsyncPolicy.ALWAYS and not self.volatile
        self._syncer: BackgroundSync | None = None
        self._syncing: Ready | None = None  # persisted, waiting for its fsync (always)
        self.role = Role.FOLLOWER
        self.leader_id = NONE
        self.ready_from = NEVER  # as primary: writable once this index is applied
        self.removed = False
        self._writable = False
        self.needs_rebuild = False
        self.last_heard: dict[int, float] = {}  # peer -> monotonic time of its last message
        # Addresses learnt outside the membership: a joining node knows its primary's
        # before the log that names it has arrived.
        self.address_hints: dict[int, str] = {}
        self._scheduled = False
        self._proposals = EntryCutter()  # this turn's writes, cut into entries
        self._persisting = False
        self._stopped = False
        self._linked_conf: ConfState | None = None
        self._tick_timer: asyncio.TimerHandle | None = None
        self.waits: list[membership_ops.WaitRequest] = []
        self.watches: list[membership_ops.Watch] = []
        self._joining: asyncio.Task[None] | None = None
        # (witness, learner) asked for by an invitation; None: this node's own flags.
        self.join_as: tuple[bool, bool] | None = None
        self.deposed = dict(identity.deposed)  # see NodeIdentity.deposed
        self.deposed_told: dict[int, float] = {}  # member -> loop time it was last told
        self._background: set[asyncio.Task[None]] = set()  # see spawn()
        # How long the log's fsyncs take, on the syncer thread or inline (the metrics).
        self.fsync_timings = Timings()
        self.keyspace.owns_expiry = False
        self.history = RoleHistory()  # role changes and election counters (node/history.py)
        self._campaigns_seen = 0  # the core's campaign count already added to history

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        self.runtime.set_role_policy(False, self.config.backup_scheduling)
        self.start_syncer()
        self._tick_timer = self.loop.call_later(self.tick_seconds, self._tick)
        if self.sole_voter:
            # A group of one need not wait an election timeout.
            self.replica.campaign(Why.SOLE_VOTER)
            self.settle_alone()
        self.schedule()

    def sync_interval(self) -> float | None:
        """The syncer's schedule: once a second under everysec, else only when asked."""
        return EVERYSEC if self.policy is FsyncPolicy.EVERYSEC else None

    @property
    def syncer(self) -> BackgroundSync | None:
        return self._syncer

    def start_syncer(self) -> None:
        """A node with a log on disk keeps a syncer under every policy, so CONFIG SET
        appendfsync can change the schedule; under no it is idle until asked."""
        if self.volatile or self._syncer is not None:
            return
        self._syncer = self.runtime.start_syncer(
            self.store, self.sync_interval(), self._synced, self._fatal, self._fsync_timed
        )

    def stop_syncer(self) -> None:
        if self._syncer is not None:
            self._syncer.stop()
            self._syncer = None

    def _fsync_timed(self, nanoseconds: int) -> None:
        """One fsync's duration: the metrics' histogram, and LATENCY past its threshold."""
        self.fsync_timings.record(nanoseconds)
        event = AOF_FSYNC_ALWAYS if self.fsync_always else AOF_FSYNC_EVERYSEC
        self.server.engine.latency.record(
            event, self.server.unix_seconds(), nanoseconds // 1_000_000
        )

    def settle_alone(self) -> None:
        """Carry out all Ready work here and now, syncing inline: a sole voter commits on
        its own, so at start it takes writes from the first command it serves (its data
        was replayed before the node was built), and SAVE finds the log and keyspace in
        step. A Ready waiting for the syncer is finished here too."""
        self.flush_proposals()
        waiting = self._syncing
        if waiting is not None:
            self._sync_inline()
            self._synced(waiting.entries[-1].index)
        for _ in range(SETTLE_CYCLES):
            if not self._ready_cycle(inline_sync=True):
                return

    def _sync_inline(self) -> None:
        started = time.perf_counter_ns()
        self.storage.sync()
        self._fsync_timed(time.perf_counter_ns() - started)

    async def hand_over(self) -> None:
        """A primary being stopped passes its role to the most caught-up backup first,
        so clients see a transfer (milliseconds) rather than an election timeout."""
        if not self.is_leader or self._stopped or self.sole_voter:
            return
        try:
            membership_ops.failover(self, None)
        except CommandError as error:
            log.info("stopping without handing over the primary role: %s", error.message)
            return
        deadline = self.loop.time() + 2 * self.config.election_ms / 1000
        while self.is_leader and self.loop.time() < deadline:
            await asyncio.sleep(0.005)
        if not self.is_leader:
            log.info("handed the primary role over before stopping")

    def stop(self) -> None:
        """Shutdown: stop ticking and talking; record the commit index for a quick restart."""
        self._stopped = True
        if self._joining is not None:
            self._joining.cancel()
        if self._tick_timer is not None:
            self._tick_timer.cancel()
        self.stop_syncer()
        self.links.close()
        hard = self.replica.hard_state()
        if hard.commit <= self.storage.last_index():
            try:
                self.storage.sync()
                self.storage.save_hard_state(hard)
            except (OSError, StorageError) as error:
                log.warning("could not save the commit index at shutdown: %s", error)
        self.log.close()

    def start_joining(self, primary: str) -> None:
        """Ask `primary` to add this node, in the background, until it is in."""
        if self._joining is None or self._joining.done():
            self._joining = self.loop.create_task(membership_ops.join_loop(self, primary))

    def mark_removed(self) -> None:
        """The group removed this node: stop taking part, and remember it across restarts."""
        log.warning("this node was removed from its group; wipe its data directory to reuse it")
        self.identity = replace(self.identity, removed=True)
        save_identity(self.store.datadir.fs, self.identity)
        self.removed = True
        self.writable = False
        self._note_role_change(self.leader_id, NONE, Why.REMOVED)
        if self._tick_timer is not None:
            self._tick_timer.cancel()
        self.links.close()
        if self.role is Role.LEADER:
            # A deposed old member may have been elected by the others: the writes its
            # clients wait for can no longer be acknowledged here.
            self.role = Role.FOLLOWER
            self._lost_leadership()

    def new_random(self) -> random.Random:
        """A generator for the core's election jitter, seeded from the runtime's entropy
        (so the simulator replays it from its seed)."""
        return random.Random(self.runtime.entropy().getrandbits(64))

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` on its own; the loop keeps only weak references to tasks, so one
        that nothing holds could be garbage-collected before it finishes."""
        task = self.loop.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def depose(self, members: dict[int, str]) -> None:
        """Remember, across restarts, the members a forced promotion left behind."""
        self.deposed.update(members)
        self.identity = replace(self.identity, deposed=tuple(sorted(self.deposed.items())))
        save_identity(self.store.datadir.fs, self.identity)

    def replace_replica(self, replica: Replica) -> None:
        """PROMOTE FORCE rebuilt the core over a rewritten log."""
        self.replica = replica
        self.role, self.leader_id = Role.FOLLOWER, NONE
        self._campaigns_seen = 0
        self.writable = False

    # --- properties -------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        """A primary in service: it has applied its log and is not handing over."""
        return self._writable

    @writable.setter
    def writable(self, value: bool) -> None:
        self._writable = value
        self.gate.open = value and not self.removed

    @property
    def persisting(self) -> bool:
        return self._persisting

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def id(self) -> int:
        return self.identity.node_id

    @property
    def conf(self) -> ConfState:
        return self.replica.log.conf_state()

    @property
    def is_member(self) -> bool:
        conf = self.conf
        return self.id in conf.voters or self.id in conf.learners

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    @property
    def transferring(self) -> bool:
        return self.replica.transfer_target != NONE

    @property
    def is_witness(self) -> bool:
        return self.id in self.conf.witnesses

    def primary_address(self) -> str:
        if self.leader_id == NONE:
            return ""
        if self.leader_id == self.id:
            return self.advertise
        return address_of(self.conf, self.leader_id)

    def ms_since_leader_contact(self) -> int | None:
        if self.leader_id == NONE:
            return None
        return self.ms_since_heard(self.leader_id)

    def ms_since_heard(self, member: int) -> int | None:
        if member == self.id:
            return 0
        heard = self.last_heard.get(member)
        return None if heard is None else int((self.runtime.monotonic() - heard) * 1000)

    # --- inputs -----------------------------------------------------------------------

    def propose(self, mutations: list[Mutation]) -> int:
        """Replicate writes the keyspace already holds; their position for the reply.

        Proposals are gathered and handed to the core once per event-loop turn, cut into
        entries by count and size (node/entries.py). Their indexes are known now:
        nothing else appends to a leader's log in between (membership changes and
        transfers flush the gathered writes first), and entries are cut in order.
        """
        if not self._writable:
            # The gate admits writes only while we can propose, so this is a bug; the
            # keyspace now holds writes nobody will replicate: rebuild it.
            log.error("a write ran on a node that cannot replicate it; rebuilding")
            self._discard_unreplicated()
            return NEVER
        if self.volatile:
            # --appendonly no runs only as a group of one (boot.py) that takes no backups:
            # no one would ever read these entries and a restart drops the log, so none is
            # written. The keyspace, and the snapshots SAVE cuts of it, is the only copy,
            # as with Redis on RDB alone.
            return self.keyspace_index
        entries = self._proposals.add(mutations)
        self.keyspace_index = index = self.replica.log.last_index() + entries
        if not self._scheduled:
            self.schedule()
        return index

    def flush_proposals(self) -> None:
        if not self._proposals:
            return
        payloads = self._proposals.take()
        expected = self.replica.log.last_index() + len(payloads)
        try:
            proposal = self.replica.propose(payloads)
        except (NotLeader, ProposalDropped) as error:
            log.warning(
                "%d entries of writes were not replicated (%s); their clients are "
                "told by a closed connection",
                len(payloads),
                error,
            )
            self._discard_unreplicated()
            return
        if proposal.last != expected:
            log.error("writes landed at %d, expected %d; rebuilding", proposal.last, expected)
            self._discard_unreplicated()

    def _discard_unreplicated(self) -> None:
        self.needs_rebuild = True
        # On a later turn: the connection whose batch got here holds its replies only
        # once this call has returned.
        self.loop.call_soon(self._close_held_connections)
        self.schedule()

    def _close_held_connections(self) -> None:
        self.server.close_held_connections()

    def receive(self, peer_id: int, blobs: Sequence[bytes]) -> None:
        if self.removed:
            return  # not a member: its votes and acknowledgements must not count
        if peer_id in self.deposed:
            membership_ops.tell_deposed(self, peer_id)
            return
        self.last_heard[peer_id] = self.runtime.monotonic()
        replica = self.replica
        for blob in blobs:
            try:
                message = decode_message(blob)
            except MessageDecodeError as error:
                log.warning("dropping a malformed message from node %x: %s", peer_id, error)
                continue
            if message.frm != peer_id:
                log.warning(
                    "dropping a message claiming to be from %x sent by %x", message.frm, peer_id
                )
                continue
            replica.step(message)
        self.schedule()

    def peer_tls(self) -> ssl.SSLContext | None:
        """The context peer links and node RPCs dial with (tls-replication), else None."""
        tls = self.server.tls
        return tls.peer_client() if tls is not None else None

    def check_peer_secret(self, secret: bytes) -> bool:
        expected = self.identity.secret.encode()
        return bool(expected) and hmac.compare_digest(secret, expected)

    def _tick(self) -> None:
        if self._stopped or self.removed:
            return
        self.replica.tick()
        self.links.keep_alive()
        self.schedule()
        self._tick_timer = self.loop.call_later(self.tick_seconds, self._tick)

    # --- the Ready loop ---------------------------------------------------------------

    def schedule(self) -> None:
        if not self._scheduled and not self._stopped:
            self._scheduled = True
            self.loop.call_soon(self._on_ready)

    def _on_ready(self) -> None:
        self._scheduled = False
        self.flush_proposals()
        # Carry out the Ready work this turn made, and what that work makes ready in turn
        # (a sole voter's commit follows its own persist), without waiting for the next
        # turn of the loop; bounded, so clients are not starved.
        try:
            for _ in range(READY_PER_TURN):
                if not self._ready_cycle():
                    return
        except Exception as error:
            # A bug. A Ready carried out in part cannot be taken again or advanced past:
            # retried, the same Ready failed on every turn while memory grew to 8 GB. Stop;
            # a restarted node recovers from its log (and a group's others carry on).
            log.exception("internal error in the Ready loop")
            self._fatal(f"internal error in the replication loop ({error!r}); stopping")
            return
        self.schedule()

    def _ready_cycle(self, inline_sync: bool = False) -> bool:
        """Carry out one Ready; True if another may be ready right away."""
        if self._persisting or self._stopped:
            return False
        ctx = self.log.next_read_round() if self.is_leader else None
        if ctx is not None:
            self.replica.read_index(ctx)
        if not self.replica.has_ready():
            if self.needs_rebuild:
                self.rebuild_keyspace()
            return False
        ready = self.replica.ready()
        try:
            self._persist(ready)
        except (OSError, StorageError) as error:
            self._fatal(f"cannot write the log in {self.store.path}: {error}; stopping")
            return False
        if ready.entries and self.fsync_always:
            if inline_sync:
                self._sync_inline()
                self.synced_index = max(self.synced_index, ready.entries[-1].index)
            else:
                assert self._syncer is not None  # started with the node
                self._persisting, self._syncing = True, ready
                self._syncer.request()
                return False
        return self._finish(ready)

    def _persist(self, ready: Ready) -> None:
        if ready.snapshot is not None:
            self.install_snapshot(ready.snapshot)
        if ready.entries:
            self.storage.append(ready.entries)
        if ready.hard_state is not None:
            stored = self.storage.hard_state()
            hard = ready.hard_state
            if (hard.term, hard.vote) != (stored.term, stored.vote):
                self.storage.save_hard_state(_capped(hard, self.storage.last_index()))
            else:
                self.storage.remember_hard_state(hard)

    # --- the keyspace follows the log (node/applying.py) ------------------------------

    def apply_committed(self, entries: list[Entry]) -> None:
        broker = self.server.engine.broker
        self.keyspace_index = applying.apply_entries(
            self.keyspace, broker, entries, self.keyspace_index, self.is_witness
        )

    def install_snapshot(self, snapshot: Snapshot) -> None:
        index = applying.install_snapshot(self.storage, self.keyspace, snapshot)
        self.keyspace_index = index
        self.synced_index = max(self.synced_index, index)

    def rebuild_keyspace(self) -> None:
        """After losing leadership: back to what is committed (see applying.py)."""
        self.needs_rebuild = False
        applied = self.replica.log.applied
        broker = self.server.engine.broker
        applying.rebuild_keyspace(self.store, broker, applied, self.keyspace_index)
        self.keyspace_index = applied

    def _synced(self, index: int) -> None:
        """The syncer made the log durable through `index` (on the loop's thread)."""
        self.synced_index = max(self.synced_index, index)
        ready = self._syncing
        if ready is not None and index >= ready.entries[-1].index and not self._stopped:
            self._persisting, self._syncing = False, None
            if self._finish(ready):
                self.schedule()

    def _finish(self, ready: Ready) -> bool:
        """Send, apply, release and advance; True if more work is ready now."""
        self._send(ready.messages)
        self.apply_committed(ready.committed_entries)
        for state in ready.read_states:
            self.log.read_confirmed(state)
        if ready.soft_state is not None:
            self._role_changed(ready.soft_state.role, ready.soft_state.leader)
        if ready.acked is not None:
            self.log.acked(ready.acked, self.replica.term)
        self.replica.advance(ready)
        self._after_advance()
        return self.replica.has_ready() or self.log.wants_round()

    def _send(self, messages: list[Message]) -> None:
        if not messages:
            return
        conf = self.conf
        grouped: dict[int, list[bytes]] = {}
        for message in messages:
            grouped.setdefault(message.to, []).append(encode_message(message))
        for peer, blobs in grouped.items():
            address = address_of(conf, peer) or self.address_hints.get(peer, "")
            if address:
                self.links.send(peer, address, blobs)

    # --- roles ------------------------------------------------------------------------

    def _role_changed(self, role: Role, leader: int) -> None:
        was_leader = self.role is Role.LEADER
        previous = self.leader_id
        self.role, self.leader_id = role, leader
        campaigns = self.replica.campaigns
        self.history.elections_started += campaigns - self._campaigns_seen
        self._campaigns_seen = campaigns
        if leader != previous:
            self._note_role_change(previous, leader, self.replica.reason)
        if was_leader and role is not Role.LEADER:
            self._lost_leadership()
        elif role is Role.LEADER and not was_leader:
            self.ready_from = self.replica.log.last_index()
            self.log.leadership_changed()
        if was_leader is not (role is Role.LEADER):
            self.runtime.set_role_policy(role is Role.LEADER, self.config.backup_scheduling)
        self._update_writable()

    def _note_role_change(self, previous: int, leader: int, reason: str) -> None:
        """Record and log a change of primary as this node sees it, with the core's reason."""
        term = self.replica.term
        address = self.primary_address() if leader != NONE else ""
        change = RoleChange(
            self.runtime.wall_ns() / 1e9, term, leader, address, status.own_role(self), reason
        )
        self.history.record(change, self.id, previous)
        fields = {
            "event": "role_change",
            "term": term,
            "primary_id": f"{leader:x}" if leader != NONE else "",
            "primary_address": address,
            "previous_primary_id": f"{previous:x}" if previous != NONE else "",
            "role": change.role,
            "reason": reason,
        }
        now = self.runtime.monotonic()
        if leader == NONE:
            if self.history.lost_primary_at is None:
                self.history.lost_primary_at = now
            if previous != NONE:
                log.info(
                    "lost sight of primary %x in term %d (%s)",
                    previous,
                    term,
                    reason,
                    extra={"fields": fields},
                )
            return
        lost_at, self.history.lost_primary_at = self.history.lost_primary_at, None
        if lost_at is not None:
            spent_ms = int((now - lost_at) * 1000)
            fields["election_ms"] = spent_ms
            self.server.engine.latency.record(ELECTION, self.server.unix_seconds(), spent_ms)
        who = "this node" if leader == self.id else f"node {leader:x}"
        # A group of one electing itself at start is no news: the start-up line says it.
        level = logging.DEBUG if reason == Why.SOLE_VOTER else logging.INFO
        log.log(
            level,
            "%s at %s became primary in term %d (%s)",
            who,
            address or "an unknown address",
            term,
            reason,
            extra={"fields": fields},
        )

    def _lost_leadership(self) -> None:
        log.info("no longer primary (term %d)", self.replica.term)
        self.writable = False
        self.keyspace.owns_expiry = False
        self.ready_from = NEVER
        self.log.leadership_changed()
        self._proposals.clear()
        # Clients blocked on keys are told, as Redis tells them when it becomes a replica;
        # ones already served wait on the log like any write, and are closed just below.
        self.server.engine.waiters.release_all(ErrorReply(STATE_CHANGED))
        self._close_held_connections()
        if self.keyspace_index > self.replica.log.applied:
            self.needs_rebuild = True
        membership_ops.fail_all(self, "this node is no longer the primary")

    def _update_writable(self) -> None:
        writable = (
            self.role is Role.LEADER
            and self.replica.log.applied >= self.ready_from
            and not self.transferring
            and not self.is_witness
        )
        became_primary = writable and not self.writable
        if became_primary:
            self.keyspace_index = max(self.keyspace_index, self.replica.log.applied)
            self.keyspace.owns_expiry = True
        self.writable = writable
        if became_primary:
            self.server.seed_users()  # an aclfile's users, into a group that has none

    def _after_advance(self) -> None:
        if self.needs_rebuild:
            self.rebuild_keyspace()
        if self.volatile:
            self.storage.forget_applied(self.replica.log.applied)
        self._update_writable()
        self._keep_links(self.conf)
        membership_ops.settle(self)

    def _keep_links(self, conf: ConfState) -> None:
        if conf == self._linked_conf:
            return
        self._linked_conf = conf
        self.sole_voter = conf.voters == (self.id,)
        self.links.forget(set(conf.voters) | set(conf.learners) | set(self.address_hints))
        if self.id in conf.voters:
            for member, address in conf.addresses:
                if member != self.id:
                    self.links.ensure(member, address)

    # --- reporting --------------------------------------------------------------------

    def status(self) -> NodeStatus:
        return status.node_status(self)

    def wait(self, index: int, replicas: int, timeout_ms: int) -> int | Pending:
        return membership_ops.wait(self, index, replicas, timeout_ms)

    def join(
        self, address: str, node_id: int, witness: bool, learner: bool, proven: bool = False
    ) -> object:
        return membership_ops.join(self, address, node_id, witness, learner, proven)

    def add_backup(self, address: str, witness: bool, learner: bool) -> Pending:
        return membership_ops.add_backup(self, address, witness, learner)

    def remove_node(self, target: str) -> Pending:
        return membership_ops.remove_node(self, target)

    def failover(self, target: str | None) -> Pending:
        return membership_ops.failover(self, target)

    def force_promote(self) -> object:
        return membership_ops.force_promote(self)

    def invited(
        self, primary: str, witness: bool = False, learner: bool = False, proven: bool = False
    ) -> object:
        return membership_ops.invited(self, primary, witness, learner, proven)

    def removed_by(self, by: int) -> object:
        return membership_ops.removed(self, by)

    def snapshot_point(self) -> SnapshotPoint | None:
        """Snapshots cut at the applied index, and only when the keyspace is exactly it."""
        applied = self.replica.log.applied
        if self.keyspace_index > applied or applied < self.store.wal.first_index - 1:
            return None
        term = self.replica.log.term(applied)
        if term is None:
            return None
        conf = encode_conf(self.conf)
        return SnapshotPoint(applied, term, self.keyspace.record_count(), conf)

    def fatal(self, message: str) -> None:
        self._fatal(message)

    def _fatal(self, message: str) -> None:
        self.log.failed = True
        self._stopped = True
        self.server.fatal(message)


def _capped(hard: HardState, last_index: int) -> HardState:
    """Recovery refuses a stored commit beyond the log's end; never write one."""
    if hard.commit <= last_index:
        return hard
    return HardState(hard.term, hard.vote, last_index)
