"""The engine: runs one command against the keyspace and says what to log.

Pure: the shell sets `now_ms` before a batch of commands, calls `execute` for each, then
drains `take_mutations()` into the log. A write is applied to the keyspace at once (so the
next command sees it) and queued for the log; the shell decides when its reply may go out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol, TypeVar

from tandemkv.commands.acl import Acl
from tandemkv.commands.acl_checks import check as acl_check
from tandemkv.commands.atomic_work import AtomicWork
from tandemkv.commands.broker import Broker
from tandemkv.commands.commandstats import CommandStats
from tandemkv.commands.detached import DetachedHost
from tandemkv.commands.errors import (
    CommandError,
    ExecAbort,
    NoAuth,
    NoPerm,
    unknown_command,
    wrong_arity,
)
from tandemkv.commands.latency import LatencyMonitor
from tandemkv.commands.monitor import Monitors
from tandemkv.commands.scan import ScanCursors
from tandemkv.commands.session import Deferred, Host, Session, SlicedJob
from tandemkv.commands.settings import Settings
from tandemkv.commands.slowlog import SlowLog
from tandemkv.commands.table import CommandSpec, Write, lookup
from tandemkv.commands.transactions import end_transaction
from tandemkv.commands.waiters import Waiters
from tandemkv.protocol.decoder import ARGUMENT_OVERHEAD
from tandemkv.protocol.types import QUEUED, ErrorReply
from tandemkv.storage.eviction import Evictor
from tandemkv.storage.keyspace import ACCESS_LFU, ACCESS_LRU, ACCESS_OFF, Keyspace
from tandemkv.storage.mutation import Batch, Delete, Mutation, Publish

# Importing the families fills the table.
from tandemkv.commands import (  # noqa: F401  isort: skip
    acl,
    blocking,
    connection,
    hashes,
    introspection,
    keys,
    latency,
    lists,
    monitor,
    pubsub,
    replication,
    sentinel,
    server,
    sets,
    slowlog,
    streams,
    strings,
    transactions,
    zsets,
)


T = TypeVar("T")

_PEER_ONLY: Final = (
    "'{}' is a node-to-node command; only peers that proved the cluster secret may send it"
)


class RandomSource(Protocol):
    """The part of `random.Random` the engine uses; the shell passes a seeded instance."""

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int: ...

    def choice(self, seq: Sequence[T]) -> T: ...

    def random(self) -> float: ...


# Past maxmemory, the most keys one command evicts before it runs; if memory is still over
# the limit then, the command runs anyway and the next ones (and the cron) go on evicting,
# so one large write cannot stall every client (Redis bounds this step by time instead).
EVICT_BATCH: Final = 1000
_OOM: Final = "command not allowed when used memory > 'maxmemory'."


# Decides whether this node may run a command now (cluster mode: writes only on the
# primary, reads on a backup only after READONLY); returns the error to answer, or None.
class Gate(Protocol):
    """Which commands may run now (a node's place in its group: node/gate.py)."""

    # True while every command may run (a primary in service): the engine then skips the
    # call, on every request. A plain field, set by the node when its state changes.
    open: bool

    def __call__(self, session: Session, spec: CommandSpec) -> CommandError | None: ...


class Engine:
    __slots__ = (
        "acl",
        "atomic",
        "broker",
        "commandstats",
        "evictor",
        "gate",
        "host",
        "keyspace",
        "latency",
        "monitors",
        "now_ms",
        "pending",
        "ran",
        "random",
        "read_ran",
        "scans",
        "settings",
        "slowlog",
        "stats",
        "waiters",
    )

    def __init__(
        self,
        rng: RandomSource,
        keyspace: Keyspace | None = None,
        settings: Settings | None = None,
        host: Host | None = None,
    ) -> None:
        self.random = rng
        self.scans = ScanCursors()
        self.keyspace = keyspace if keyspace is not None else Keyspace()
        self.settings = settings if settings is not None else Settings()
        self.host: Host = host if host is not None else DetachedHost()
        self.now_ms = 0
        self.pending: list[Mutation] = []
        self.stats = EngineStats()
        self.gate: Gate | None = None
        # Set when a command that reads the keyspace ran; the cluster shell clears it.
        self.read_ran = False
        # While EXEC runs its queue: what it may still spend (commands/atomic_work.py).
        self.atomic: AtomicWork | None = None
        # Clients blocked on keys (BLPOP...), served after the command that feeds them.
        self.waiters = Waiters()
        # Pub/sub subscriptions; the shell installs its delivery callback (broker.sink).
        self.broker = Broker()
        # Chooses keys to evict past maxmemory (storage/eviction.py).
        self.evictor = Evictor()
        # Spikes of slow server work the shell measures (LATENCY, commands/latency.py).
        self.latency = LatencyMonitor(self.settings)
        # Users and their permissions (commands/acl.py), kept in step with the keyspace's.
        self.acl = Acl(self)
        # INFO commandstats/errorstats. `ran` names the command execute() ran last (None
        # if it was refused or queued): the shell adds its duration to its entry.
        self.commandstats = CommandStats()
        self.ran: str | None = None
        self.slowlog = SlowLog()
        # MONITOR clients; the shell installs the delivery callback and the clock.
        self.monitors = Monitors()

    def execute(self, session: Session, args: list[bytes]) -> object:
        """Run one command for `session` and return its reply value."""
        spec = lookup(args[0])
        self.stats.commands += 1
        self.ran = None
        if spec is None:
            return self._refuse(session, unknown_command(args), args)
        # Redis's order: unknown command, then arity, then authentication.
        arity = spec.arity
        if (arity > 0 and len(args) != arity) or len(args) < -arity:
            return self._refuse(session, wrong_arity(spec.name), args)
        if not session.authenticated and "noauth" not in spec.flags and self.acl.locked:
            return self._refuse(session, NoAuth(), args)
        if spec.internal and not session.peer_id:
            return self._refuse(session, NoPerm(_PEER_ONLY.format(spec.name)), args)
        if session.acl is not None and "noauth" not in spec.flags:  # a restricted user
            denied = acl_check(session.acl, spec, args)
            if denied is not None:
                self.acl.record(session, denied)
                return self._refuse(session, NoPerm(denied.noperm()), args)
        gate = self.gate
        if gate is not None and not gate.open:
            refusal = gate(session, spec)
            if refusal is not None:
                return self._refuse(session, refusal, args)
        if self.settings.maxmemory and self._out_of_memory(session, spec):
            return self._refuse(session, CommandError(_OOM).with_prefix("OOM"), args)
        listeners = self.broker.listeners
        if listeners and session in listeners:  # subscribed mode (commands/pubsub.py)
            screened = pubsub.screen_subscribed(self, session, spec, args)
            if isinstance(screened, CommandError):
                return self._refuse(session, screened, args)
            if screened is not None:
                return screened
        if spec.reads_keyspace:
            self.read_ran = True
        if session.queued is not None and "multi-control" not in spec.flags:
            return self._queue(session, spec, args)
        reply = self.run(session, spec, args)
        if self.waiters.ready:  # a write fed keys that clients wait on (after all of EXEC)
            self.waiters.serve_ready(self)
        return reply

    def run(self, session: Session, spec: CommandSpec, args: list[bytes]) -> object:
        """Call a handler whose arguments have been checked; apply what it writes."""
        session.last_command = spec.name
        try:
            result = spec.handler(self, session, args)
            # The shell times it under this name: the subcommand the handler named
            # (config|get) as in Redis. Only a plain field on the hot path.
            self.ran = session.last_command
        except CommandError as error:
            self.stats.errors += 1
            self._failed(session, spec, error.prefix)
            result = error.reply()
        except Exception as error:
            # A bug in one handler. Handlers change nothing themselves (the engine applies
            # what they return), so the server can go on: the client gets an error, the
            # operator the traceback.
            self.stats.errors += 1
            self._failed(session, spec, "ERR")
            self.host.report_bug(spec.name, error)
            result = ErrorReply(
                f"ERR internal error running '{spec.name}' "
                f"({type(error).__name__}); the server log has the details"
            )
        # Keys the handler found expired were deleted before its own write happened, so
        # their deletes go to the log first: replay must see the same order.
        if self.keyspace.expired:
            self._log_expired()
        if type(result) is Write:
            self.apply(result.mutation)
            result = result.reply
        return result

    def _failed(self, session: Session, spec: CommandSpec, code: str) -> None:
        """Count a command that ran and answered an error (errorstats, failed_calls)."""
        self.commandstats.count_error(code)
        name = session.last_command
        if name == "NULL":  # an unknown subcommand: Redis counts it under the command
            name = spec.name
        self.commandstats.stat(name).failed += 1
        self.ran = name

    def apply(self, mutation: Mutation) -> None:
        self.keyspace.apply(mutation)
        self.pending.append(mutation)
        if self.waiters.by_key:
            self.waiters.signal(mutation)
        if type(mutation) is Publish:
            # Handlers return a Publish on its own (EXEC applies each command's mutation
            # before batching them for the log), so a Batch never needs looking into here.
            self.broker.publish(mutation.channel, mutation.message)

    def take_mutations(self) -> list[Mutation]:
        """The mutations made since the last call, in order, for the log."""
        pending = self.pending
        self.pending = []
        return pending

    def active_expire(self, budget: int = 200) -> int:
        """One bounded active-expiry step; its deletes are queued for the log. Also goes
        on evicting if memory is still past maxmemory (a command evicts a batch at most),
        and stops the access clock once there is no limit."""
        removed = self.keyspace.expire_cycle(self.now_ms, budget)
        if self.keyspace.expired:
            self._log_expired()
        if self.settings.maxmemory:
            self._track_access()
            if self.used_memory() > self.settings.maxmemory and self.keyspace.owns_expiry:
                self.evict()
        elif self.keyspace.access_mode != ACCESS_OFF:
            self.keyspace.track_access(ACCESS_OFF)
        return removed

    # ---------------------------------------------------------------- memory

    def used_memory(self) -> int:
        """The estimate that maxmemory limits: the keyspace's and eviction's own."""
        return self.keyspace.used_memory() + self.evictor.overhead_bytes()

    def _out_of_memory(self, session: Session, spec: CommandSpec) -> bool:
        """Called before a command while maxmemory is set: evict if over the limit and the
        policy allows; True if still over and the command may grow memory, so it must be
        refused (Redis's rules: denyoom commands, anything queued in MULTI, and an EXEC
        holding a denyoom command)."""
        self._track_access()
        limit = self.settings.maxmemory
        if self.used_memory() <= limit:
            return False
        if self.keyspace.owns_expiry and self.settings.maxmemory_policy != "noeviction":
            if self.evict() == EVICT_BATCH:
                return False  # more to do, as Redis's EVICT_RUNNING: let this one run
            if self.used_memory() <= limit:
                return False
        if "denyoom" in spec.flags:
            return True
        if session.queued is None:
            return False
        if "multi-control" not in spec.flags:
            return True
        return spec.name == "exec" and any(
            (queued := lookup(args[0])) is not None and "denyoom" in queued.flags
            for args in session.queued
        )

    def _track_access(self) -> None:
        """Keep the access clock the policy needs, at the engine's time."""
        keyspace = self.keyspace
        keyspace.clock_ms = self.now_ms
        policy = self.settings.maxmemory_policy
        wanted = (
            ACCESS_LRU
            if policy.endswith("-lru")
            else ACCESS_LFU
            if policy.endswith("-lfu")
            else ACCESS_OFF
        )
        if keyspace.access_mode != wanted:
            keyspace.track_access(wanted, self.random.random)

    def evict(self) -> int:
        """Evict keys by the policy until memory is under maxmemory, the policy has no
        candidate left, or EVICT_BATCH went; log them as one Delete. Returns how many."""
        settings, keyspace = self.settings, self.keyspace
        if settings.maxmemory_policy == "noeviction":
            return 0  # the cron calls this too: noeviction must never lose a key
        evicted: list[bytes] = []
        while len(evicted) < EVICT_BATCH and self.used_memory() > settings.maxmemory:
            key = self.evictor.pick(
                keyspace,
                settings.maxmemory_policy,
                settings.maxmemory_samples,
                self.now_ms,
                self.random,
            )
            if key is None:
                break
            keyspace.apply(Delete((key,)))
            evicted.append(key)
        if evicted:
            self.pending.append(Delete(tuple(evicted)))
            self.stats.evicted_keys += len(evicted)
        return len(evicted)

    def run_atomically(self, session: Session, queued: list[list[bytes]]) -> object:
        """Run queued commands back to back and log their effects as one entry. The reply
        is their replies, or a Pending for them if some finish in slices (Deferred)."""
        from tandemkv.commands.keys import SCAN_MAX_COUNT

        outer = self.pending
        self.pending = []
        replies: list[object] = []
        self.atomic = AtomicWork(len(self.keyspace), SCAN_MAX_COUNT)
        try:
            for args in queued:
                spec = lookup(args[0])
                assert spec is not None  # checked when queued
                if session.acl is not None:  # the user may have lost a permission since
                    denied = acl_check(session.acl, spec, args)
                    if denied is not None:
                        self.acl.record(session, denied)
                        replies.append(ErrorReply(denied.changed_since_queued()))
                        continue
                replies.append(self.run(session, spec, args))
                # Counted as a call, not timed: its time is EXEC's.
                name = session.last_command
                self.commandstats.stat(spec.name if name == "NULL" else name).inner += 1
                if self.monitors.sessions:  # each queued command, as Redis shows them
                    self.monitors.feed(session, args)
        finally:
            self.atomic = None
            session.last_command = "exec"  # EXEC's own name again, as CLIENT LIST shows it
        batch = self.pending
        self.pending = outer
        if len(batch) == 1:
            outer.append(batch[0])
        elif batch:
            outer.append(Batch(tuple(batch)))
        if any(type(reply) is Deferred for reply in replies):
            return self.host.run_sliced(session, _finish_deferred(replies))
        return replies

    def _log_expired(self) -> None:
        self.pending.append(Delete(tuple(self.keyspace.expired)))
        self.keyspace.expired.clear()

    def _refuse(self, session: Session, error: CommandError, args: list[bytes]) -> ErrorReply:
        self.stats.errors += 1
        self.commandstats.count_error(error.prefix)
        spec = lookup(args[0])
        if spec is not None:  # Redis counts an unknown command in errorstats only
            self.commandstats.stat(spec.name).rejected += 1
        if args[0].lower() == b"exec":
            # A refused EXEC ends any transaction and says so, as in Redis.
            end_transaction(self, session)
            # Redis quotes the error without "ERR " but keeps other codes (NOAUTH ...).
            reason = error.message if error.prefix == "ERR" else f"{error.prefix} {error.message}"
            return ExecAbort(f"Transaction discarded because of: {reason}").reply()
        if session.queued is not None:
            session.queue_failed = True
        return error.reply()

    def _queue(self, session: Session, spec: CommandSpec, args: list[bytes]) -> object:
        if "no-multi" in spec.flags:
            return self._refuse(
                session, CommandError("Command not allowed inside a transaction"), args
            )
        assert session.queued is not None
        held = session.queued_bytes + sum(map(len, args)) + ARGUMENT_OVERHEAD * len(args)
        if held > self.settings.client_query_buffer_limit:
            # The transaction is logged as one entry, which may be no larger than a request.
            return self._refuse(
                session,
                CommandError(
                    "transaction larger than client-query-buffer-limit "
                    f"({self.settings.client_query_buffer_limit} bytes); split it"
                ),
                args,
            )
        session.queued.append(args)
        session.queued_bytes = held
        return QUEUED


class EngineStats:
    __slots__ = ("commands", "errors", "evicted_keys")

    def __init__(self) -> None:
        self.commands = 0
        self.errors = 0
        self.evicted_keys = 0


def _finish_deferred(replies: list[object]) -> SlicedJob:
    """EXEC's replies with each Deferred one run in slices (the host encodes them so)."""
    for i, reply in enumerate(replies):
        if type(reply) is Deferred:
            replies[i] = yield from reply.job
            yield
    return replies
