"""The server: listening socket, the connection registry, periodic work and shutdown.

It is also the engine's Host, giving CLIENT, INFO and SHUTDOWN their view of the process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import random
import resource
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from tandemkv import BUILD, __version__
from tandemkv.commands.acl import replace_users
from tandemkv.commands.acl_model import User, default_user
from tandemkv.commands.cluster_view import ClusterView
from tandemkv.commands.engine import Engine
from tandemkv.commands.errors import CommandError
from tandemkv.commands.latency import EXPIRE_CYCLE, FORK, SNAPSHOT_WRITE
from tandemkv.commands.session import Session, SlicedJob
from tandemkv.commands.settings import save_points
from tandemkv.commands.waiters import log_writes
from tandemkv.config import Address, Config, parse_address
from tandemkv.protocol.types import OK, Push, SimpleString
from tandemkv.runtime import Listener, Runtime
from tandemkv.server import reconfigure
from tandemkv.server.background_save import BackgroundSave
from tandemkv.server.connection import ClientConnection
from tandemkv.server.metrics_http import MetricsEndpoint
from tandemkv.server.sliced import SlicedRunner
from tandemkv.server.tls_listener import TLSListener
from tandemkv.server.writelog import WriteLog
from tandemkv.storage.store import Store
from tandemkv.tls import ServerContexts, ServerTLS

if TYPE_CHECKING:
    from tandemkv.node.node import Node

# How many expired keys one cron step may delete before yielding to clients.
EXPIRE_BUDGET = 1000
SHUTDOWN_DRAIN_SECONDS = 5.0
# How often the TLS files are checked for a renewal (SIGHUP reloads at once).
TLS_WATCH_SECONDS = 10.0

log = logging.getLogger("tandemkv.server")


class ServerStats:
    __slots__ = (
        "connections_received",
        "expired_keys",
        "net_input_bytes",
        "net_output_bytes",
        "rejected_connections",
        "used_memory_peak",
    )

    def __init__(self) -> None:
        self.connections_received = 0
        self.rejected_connections = 0
        self.expired_keys = 0
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        self.used_memory_peak = 0  # the highest estimate seen by the cron or INFO


class Server:
    def __init__(
        self,
        config: Config,
        store: Store,
        runtime: Runtime,
        node_factory: Callable[[Server, str], Node],
        tls: ServerTLS | None = None,
    ) -> None:
        """`node_factory(server, bound_address)` builds the node (tandemkv.node) once the
        address is bound: its replication core decides when writes are safe, for a group
        of one as for a group of three. `tls`: the checked TLS settings (tls.py), if any.
        `runtime`: the clock, loop, sockets and disk (tandemkv/runtime.py)."""
        self.runtime = runtime
        self.config = config
        self.settings = config.runtime_settings()
        self.store = store
        seed = runtime.entropy().getrandbits(64)
        self.engine = Engine(random.Random(seed), store.keyspace, self.settings, host=self)
        self.engine.broker.sink = self._deliver
        self.engine.monitors.sink = self._deliver_monitor_line
        self.engine.monitors.clock = self._unix_micros
        # A member that restarts applies its own log again as the group commits it: the
        # messages in it were delivered before, by the process that logged them.
        self.engine.broker.delivered_through = store.last_index
        self._node_factory = node_factory
        self.node: Node  # set by start()
        self.log: WriteLog  # the node's write seam, set by start()
        self.bgsave = BackgroundSave(store, runtime)
        self.bgsave.on_fork = self._forked
        self.bgsave.on_done = self._snapshot_done
        # Save points (CONFIG SET save, --save): (seconds, changes) pairs; the log
        # changes counted when the last snapshot started, and when it began.
        self.save_points = save_points(self.settings.save)
        self._changes_at_save = 0
        self._changes_saving = 0
        self._last_save_try = 0.0
        # Settings CONFIG SET changed, which CONFIG REWRITE writes to the config file.
        self.changed_settings: set[str] = set()
        self.sliced = SlicedRunner(self._normal_hard_limit)
        self.exit_code = 0
        self.fatal_message = ""  # why the server stopped itself, if it did
        self._bgsave_scheduled = False
        self.use_hiredis = {"auto": None, "hiredis": True, "python": False}[config.parser]
        self.stats = ServerStats()
        self.connections: dict[Session, ClientConnection] = {}
        self.started_at = runtime.monotonic()
        self.started_unix = runtime.wall_ns() / 1e9
        self.stopping = asyncio.Event()
        self._next_id = 0
        self._listener: Listener | None = None
        # TLS listeners: the main address with `tls yes`, and tls-port.
        self.tls = ServerContexts(tls) if tls is not None else None
        self._tls_listeners: list[TLSListener] = []
        self.tls_port = 0  # the bound tls-port
        self.binding = ""  # the address start() is binding, for its error message
        self._tls_watch: asyncio.TimerHandle | None = None
        # The aclfile's users (server/run.py), loaded into a group that has none yet.
        self.acl_seed: list[User] | None = None
        self._cron: asyncio.TimerHandle | None = None
        self.metrics: MetricsEndpoint | None = None

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> str:
        """Listen; return the bound address as HOST:PORT (the port may have been 0)."""
        listen = self.config.listen
        if self.tls is not None and self.config.tls:
            sock = await self._listen_tls(listen.host, listen.port)
        else:
            self._listener, sock = await self.runtime.listen(
                lambda: ClientConnection(self), listen.host, listen.port
            )
        self.settings.port = sock[1]
        address = str(Address(sock[0], sock[1]))
        group_address = address
        if self.config.tls_port:
            self.binding = str(Address(listen.host, self.config.tls_port))
            tls_sock = await self._listen_tls(listen.host, self.config.tls_port)
            self.tls_port = self.settings.tls_port = tls_sock[1]
            if self.config.tls_replication and not self.config.tls:
                # Peers must reach a TLS listener: the node is known by its TLS address.
                group_address = str(Address(tls_sock[0], tls_sock[1]))
        self.node = node = self._node_factory(self, group_address)
        self.log = node.log
        self.engine.gate = node.gate
        self.store.point_source = node.snapshot_point
        node.start()
        self._schedule_cron()
        if self.tls is not None:
            self._tls_watch = self.runtime.loop.call_later(TLS_WATCH_SECONDS, self._watch_tls)
        return address

    async def _listen_tls(self, host: str, port: int) -> tuple[str, int]:
        tls = self.tls
        assert tls is not None
        listener = TLSListener(lambda: ClientConnection(self), lambda: tls.server)
        bound = await listener.start(host, port)
        self._tls_listeners.append(listener)
        return bound

    def _watch_tls(self) -> None:
        """Certificates renewed in place are picked up without a signal, too."""
        assert self.tls is not None
        self.tls.reload_if_changed()
        self._tls_watch = self.runtime.loop.call_later(TLS_WATCH_SECONDS, self._watch_tls)

    def reload_tls(self) -> None:
        """SIGHUP: read the certificate, key and CA files again (see tls.ServerContexts)."""
        if self.tls is None:
            log.info("SIGHUP: TLS is not enabled; nothing to reload")
            return
        self.tls.reload()

    async def start_metrics(self) -> str:
        """Serve GET /metrics at config.metrics_address; return the bound HOST:PORT."""
        listen = parse_address(self.config.metrics_address)
        self.metrics = MetricsEndpoint(self)
        return await self.metrics.start(listen.host, listen.port)

    async def serve_until_stopped(self) -> None:
        await self.stopping.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop accepting, let written replies drain, close clients, flush the log."""
        if self._cron is not None:
            self._cron.cancel()
        if self._tls_watch is not None:
            self._tls_watch.cancel()
        if self._listener is not None:
            self._listener.close()
        for listener in self._tls_listeners:
            listener.close()
        if self.metrics is not None:
            await self.metrics.close()
        # Peers keep talking until the end: their acknowledgements release the replies
        # being drained, and a primary hands its role over through them.
        connections = [c for c in self.connections.values() if not c.session.peer_id]
        for conn in connections:
            if conn.transport is not None:
                conn.transport.pause_reading()
        # Answer what is in flight: log the last group, wait for its replies to be
        # released and written out, within a bound.
        self.log.flush_now()
        clock = self.runtime.monotonic
        deadline = clock() + SHUTDOWN_DRAIN_SECONDS
        while clock() < deadline and any(
            c.has_held_replies
            or (c.transport is not None and c.transport.get_write_buffer_size() > 0)
            for c in connections
        ):
            await asyncio.sleep(0.01)
        for conn in connections:
            conn.close()
        await self.node.hand_over()
        self.node.stop()
        for conn in list(self.connections.values()):
            conn.close()
        self.bgsave.abort()
        if not self.log.failed:
            self.log.close()
        if self._listener is not None:
            await self._listener.wait_closed()

    def unix_seconds(self) -> int:
        return self.runtime.wall_ns() // 1_000_000_000

    def _unix_micros(self) -> int:
        return self.runtime.wall_ns() // 1000

    def request_shutdown(self) -> None:
        self.stopping.set()

    def fatal(self, message: str) -> None:
        """Storage failed: stop taking writes and exit non-zero with `message`."""
        log.critical("%s", message)
        self.fatal_message = message
        self.exit_code = 1
        self.stopping.set()

    # ---------------------------------------------------------------- snapshots

    def save(self, background: bool) -> object:
        if self.bgsave.in_progress or self._bgsave_scheduled:
            raise CommandError("Background save already in progress")
        if self.log.failed:
            raise CommandError("the log failed; this node is stopping")
        if background:
            # Fork once the current batch of commands has been logged: inside a pipeline or
            # an EXEC, the mutations before BGSAVE are not in the log yet.
            self._bgsave_scheduled = True
            self.runtime.loop.call_soon(self._start_background_save)
            return SimpleString("Background saving started")
        if self.node.sole_voter:
            self.log_pending_mutations()
        changes, started = self.log.changes, self.runtime.monotonic()
        if self.store.save() is None:
            raise CommandError(
                "cannot snapshot now: writes are still being replicated; retry in a moment"
            )
        self._changes_at_save = changes
        spent_ms = int((self.runtime.monotonic() - started) * 1000)
        self.engine.latency.record(SNAPSHOT_WRITE, self.unix_seconds(), spent_ms)
        return OK

    def _start_background_save(self) -> None:
        self._bgsave_scheduled = False
        if self.bgsave.in_progress or self.log.failed or self.stopping.is_set():
            return
        self.log.flush_now()
        self._start_snapshot()

    def _start_snapshot(self) -> None:
        self._last_save_try = 0.0
        changes = self.log.changes
        if self.bgsave.start():
            self._changes_saving = changes

    def log_pending_mutations(self) -> None:
        """A group of one commits the writes before SAVE in the current pipeline now.

        A snapshot at index N must hold exactly entries 1..N: replaying an APPEND that the
        snapshot already holds would apply it twice. SAVE is refused inside MULTI, so the
        engine's queue is the pipeline's own; its connection will not wait for these, so
        they are committed (and synced) here. A primary with backups cannot commit on its
        own: it refuses the SAVE while the keyspace is ahead of its log.
        """
        logged = bool(self.engine.pending)
        if logged:
            log_writes(self.engine, self.log)
        self.log.flush_now()
        if logged:
            self.store.sync()

    def last_save_time(self) -> int:
        return self.store.last_save_time

    def _forked(self, ms: int) -> None:
        self.engine.latency.record(FORK, self.unix_seconds(), ms)

    def _snapshot_done(self, ok: bool) -> None:
        if ok:
            self._changes_at_save = self._changes_saving

    def _save_point_due(self, now: float) -> bool:
        """A snapshot is due by the save points, as Redis's serverCron decides: CHANGES
        writes since the last one and SECONDS passed (after a failed try, 5 s more)."""
        if not self.save_points:
            return False
        if self.bgsave.last_status != "ok" and now - self._last_save_try < 5:
            return False
        changes = self.log.changes - self._changes_at_save
        since = now - (self.store.last_save_time or self.started_unix)
        return any(changes >= want and since >= seconds for seconds, want in self.save_points)

    def apply_settings(self, changes: dict[str, object]) -> str:
        return reconfigure.apply_settings(self, changes)

    def rewrite_config(self) -> object:
        return reconfigure.rewrite_config(self)

    def report_bug(self, command: str, error: Exception) -> None:
        log.error("a bug in the %s command; its client got an error reply", command, exc_info=error)

    def seed_users(self) -> None:
        """Called when this node becomes primary: a group whose user table is empty (a new
        group, or one that never had users) gets the aclfile's users, through the log like
        ACL LOAD, plus the built-in default user if the file has none, so the table is
        never empty again and a later primary's file does not reseed it."""
        users = self.acl_seed
        if users is None or self.engine.keyspace.users:
            return
        if not any(user.name == b"default" for user in users):
            users = [default_user(), *users]
        self.engine.apply(replace_users(users))
        log.info("loaded %d ACL users from %s", len(users), self.config.aclfile)

    def random_bytes(self, size: int) -> bytes:
        return secrets.token_bytes(size)

    def read_acl_file(self) -> bytes | None:
        path = self.config.aclfile
        if not path:
            return None
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as error:
            raise CommandError(f"Error loading the ACL file {path}: {error.strerror}") from None

    def write_acl_file(self, text: bytes) -> bool:
        path = self.config.aclfile
        if not path:
            return False
        temp = f"{path}.tmp"
        try:
            with open(temp, "wb") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        except OSError as error:
            raise CommandError(f"Error saving the ACL file {path}: {error.strerror}") from None
        return True

    def run_sliced(self, session: Session, job: SlicedJob) -> object:
        return self.sliced.run(session, job)

    def _normal_hard_limit(self) -> int:
        return self.settings.client_output_buffer_limit.normal.hard

    @property
    def cluster(self) -> ClusterView | None:
        return self.node

    @property
    def can_block(self) -> bool:
        return True

    # ---------------------------------------------------------------- clients

    def admit(self, conn: ClientConnection) -> bool:
        self.stats.connections_received += 1
        if len(self.connections) >= self.settings.maxclients or self.stopping.is_set():
            self.stats.rejected_connections += 1
            conn.refuse("ERR max number of clients reached")
            return False
        self.connections[conn.session] = conn
        return True

    def close_held_connections(self) -> None:
        """The node lost (or never had) the log position their replies wait for: their
        outcome is unknown, and a dropped connection is how Redis clients learn that."""
        for conn in list(self.connections.values()):
            if conn.awaits_the_log:
                conn.close()

    def forget(self, conn: ClientConnection) -> None:
        if self.connections.pop(conn.session, None) is not None:
            from tandemkv.commands.transactions import end_transaction

            self.engine.waiters.drop(conn.session)
            self.engine.broker.drop(conn.session)
            self.engine.monitors.drop(conn.session)
            end_transaction(self.engine, conn.session)

    def _deliver(self, session: Session, message: Push) -> None:
        """The broker's sink: a pub/sub message to the connection of `session`."""
        conn = self.connections.get(session)
        if conn is not None:
            conn.push(message)

    def _deliver_monitor_line(self, session: Session, line: bytes) -> None:
        conn = self.connections.get(session)
        if conn is not None:
            conn.push_line(line)

    def next_client_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def sessions(self) -> Iterable[Session]:
        return list(self.connections)

    def kill(self, session: Session) -> None:
        session.killed = True
        conn = self.connections.get(session)
        if conn is not None and not conn.session.close_after_reply:
            # Another client's connection: close it now; our own closes after the reply.
            conn.session.close_after_reply = True
            self.runtime.loop.call_soon(conn.close)

    # ---------------------------------------------------------------- cron

    def _schedule_cron(self) -> None:
        self._cron = self.runtime.loop.call_later(1 / max(self.settings.hz, 1), self._run_cron)

    def _run_cron(self) -> None:
        """Active expiry (bounded) and idle-client timeouts, hz times a second."""
        engine = self.engine
        engine.now_ms = now = self.runtime.wall_ns() // 1_000_000
        # In a group only the primary expires keys; backups learn of it from its log.
        removed = 0
        if self.node.writable:
            started = time.perf_counter()
            removed = engine.active_expire(EXPIRE_BUDGET)
            spent_ms = int((time.perf_counter() - started) * 1000)
            if spent_ms:
                engine.latency.record(EXPIRE_CYCLE, now // 1000, spent_ms)
        self.stats.expired_keys += removed
        used = engine.used_memory()
        if used > self.stats.used_memory_peak:
            self.stats.used_memory_peak = used
        if engine.pending:
            if self.log.failed:
                engine.take_mutations()  # the log refuses writes; clients are told so
            else:
                log_writes(engine, self.log)
        due = self.store.snapshot_due() or self._save_point_due(now / 1000)
        if due and not self.bgsave.in_progress and not self.log.failed:
            self.log.flush_now()
            self._start_snapshot()
        limits = self.settings.client_output_buffer_limit
        if limits.normal.soft:
            # A client that stopped reading sends nothing more to check it on.
            for conn in list(self.connections.values()):
                if conn.writing_paused:
                    conn.check_output_limit()
        if limits.pubsub.soft:
            # Nor does a subscriber (or a monitor) whose messages stopped coming.
            pushed_to = [*self.engine.broker.listeners, *self.engine.monitors.sessions]
            for session in pushed_to:
                subscriber = self.connections.get(session)
                if subscriber is not None:
                    subscriber.check_output_limit()
        if self.settings.timeout:
            limit = now - self.settings.timeout * 1000
            for session, conn in list(self.connections.items()):
                if session.last_active_ms < limit and session.queued is None:
                    conn.close()
        if removed >= EXPIRE_BUDGET:
            # More are due: keep going soon, but let clients run in between.
            self._cron = self.runtime.loop.call_later(0.001, self._run_cron)
        else:
            self._schedule_cron()

    # ---------------------------------------------------------------- INFO

    def server_info(self) -> dict[str, dict[str, object]]:
        uptime = int(self.runtime.monotonic() - self.started_at)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        rss = _rss_bytes()
        return {
            "server": {
                "redis_version": "7.2.0",
                "tandemkv_version": __version__,
                "tandemkv_build": BUILD.describe(),
                "redis_mode": "standalone",
                "os": f"{platform.system()} {platform.release()} {platform.machine()}",
                "arch_bits": 64 if sys.maxsize > 2**32 else 32,
                "python_version": platform.python_version(),
                "event_loop": type(self.runtime.loop).__module__.split(".")[0],
                "process_id": os.getpid(),
                "tcp_port": self.settings.port,
                "uptime_in_seconds": uptime,
                "uptime_in_days": uptime // 86400,
                "hz": self.settings.hz,
                "config_file": self.config.config_file,
            },
            "clients": {
                "connected_clients": len(self.connections),
                "maxclients": self.settings.maxclients,
                "blocked_clients": len(self.engine.waiters),
                "total_blocking_keys": self.engine.waiters.blocked_keys(),
            },
            "memory": self._memory_info(rss),
            "persistence": self._persistence_info(),
            "stats": {
                "total_connections_received": self.stats.connections_received,
                "total_commands_processed": self.engine.stats.commands,
                "total_net_input_bytes": self.stats.net_input_bytes,
                "total_net_output_bytes": self.stats.net_output_bytes,
                "rejected_connections": self.stats.rejected_connections,
                "expired_keys": self.stats.expired_keys,
                "evicted_keys": self.engine.stats.evicted_keys,
                "total_error_replies": self.engine.stats.errors,
                "pubsub_channels": len(self.engine.broker.channels),
                "pubsub_patterns": self.engine.broker.numpat,
            },
            "replication": self._replication_info(),
            "cpu": {
                "used_cpu_sys": f"{usage.ru_stime:.6f}",
                "used_cpu_user": f"{usage.ru_utime:.6f}",
            },
        }

    def _memory_info(self, rss: int) -> dict[str, object]:
        """used_memory is the keyspace's own estimate (what maxmemory limits), not the
        allocator's count as in Redis; docs/operations.md "Memory limit" compares it
        with RSS."""
        used = self.engine.used_memory()
        self.stats.used_memory_peak = peak = max(self.stats.used_memory_peak, used)
        limit = self.settings.maxmemory
        return {
            "used_memory": used,
            "used_memory_human": _human(used),
            "used_memory_rss": rss,
            "used_memory_rss_human": _human(rss),
            "used_memory_peak": peak,
            "used_memory_peak_human": _human(peak),
            "maxmemory": limit,
            "maxmemory_human": _human(limit),
            "maxmemory_policy": self.settings.maxmemory_policy,
            "mem_fragmentation_ratio": f"{rss / used:.2f}" if used else "0.00",
        }

    def _replication_info(self) -> dict[str, object]:
        from tandemkv.commands.replication import replication_info

        return replication_info(self.node.status())

    def _persistence_info(self) -> dict[str, object]:
        store = self.store
        return {
            "loading": 0,
            "rdb_changes_since_last_save": self.log.changes - self._changes_at_save,
            "rdb_bgsave_in_progress": int(self.bgsave.in_progress),
            "rdb_last_save_time": store.last_save_time,
            "rdb_last_bgsave_status": self.bgsave.last_status,
            "rdb_last_bgsave_time_sec": round(self.bgsave.last_duration),
            "aof_enabled": int(self.settings.appendonly),
            "aof_last_write_status": "err" if self.log.failed else "ok",
            "fsync_policy": self.settings.appendfsync,
            "log_last_index": store.last_index,
            "log_synced_index": self.log.synced_through,
            "log_bytes_since_snapshot": store.log_bytes_since_snapshot,
            "snapshot_index": store.snapshot_index,
            "data_dir": store.path,
        }


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "K", "M", "G"):
        if value < 1024:
            return f"{value:.2f}{unit}"
        value /= 1024
    return f"{value:.2f}T"
