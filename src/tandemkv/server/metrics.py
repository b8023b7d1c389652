"""The Prometheus collector: reads the running server's state when scraped.

Nothing is kept for the metrics between scrapes; each scrape walks the live counters on
the event loop's thread (the HTTP responder in server/metrics_http.py runs there too), so
no other thread reads state the loop mutates. Its cost is bounded by the number of
distinct commands seen (a few hundred at most) and of group members.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from tandemkv.commands.cluster_view import (
    BACKUP,
    CANDIDATE,
    DETACHED,
    LEARNER,
    PRIMARY,
    REMOVED,
    WITNESS,
    NodeStatus,
)
from tandemkv.commands.commandstats import BUCKET_BOUNDS_NS, Timings

if TYPE_CHECKING:
    from tandemkv.server.app import Server

ROLES = (PRIMARY, BACKUP, LEARNER, WITNESS, CANDIDATE, DETACHED, REMOVED)
# The bucket bounds as Prometheus writes them (seconds).
_LE = [f"{bound / 1e9:g}" for bound in BUCKET_BOUNDS_NS] + ["+Inf"]


def histogram_buckets(timings: Timings) -> list[tuple[str, float]]:
    """The cumulative (le, count) pairs of a histogram."""
    running, buckets = 0, []
    for le, count in zip(_LE, timings.counts(), strict=True):
        running += count
        buckets.append((le, float(running)))
    return buckets


class ServerCollector(Collector):
    def __init__(self, server: Server) -> None:
        self.server = server

    def collect(self) -> Iterator[Metric]:
        yield from self._commands()
        yield from self._clients()
        yield from self._keyspace()
        yield from self._storage()
        status = self.server.node.status()
        yield from self._group(status)
        yield from self._backups(status)
        yield from self._role_changes()

    def _commands(self) -> Iterator[Metric]:
        engine = self.server.engine
        calls = CounterMetricFamily(
            "tandemkv_commands",
            "Commands run, by name (INFO commandstats calls)",
            labels=["command"],
        )
        failed = CounterMetricFamily(
            "tandemkv_commands_failed",
            "Commands that ran and answered an error, by name",
            labels=["command"],
        )
        rejected = CounterMetricFamily(
            "tandemkv_commands_rejected",
            "Commands refused before running (arity, NOAUTH, OOM...), by name",
            labels=["command"],
        )
        duration = HistogramMetricFamily(
            "tandemkv_command_duration_seconds",
            "Time to run a command, parsing and reply encoding included (not the time a "
            "blocked command waited; commands inside EXEC count in EXEC's)",
            labels=["command"],
        )
        for name, stat in sorted(engine.commandstats.by_name.items()):
            calls.add_metric([name], stat.calls)
            failed.add_metric([name], stat.failed)
            rejected.add_metric([name], stat.rejected)
            if stat.timed:
                duration.add_metric([name], histogram_buckets(stat), stat.nanoseconds / 1e9)
        errors = CounterMetricFamily(
            "tandemkv_error_replies",
            "Error replies by error code (INFO errorstats)",
            labels=["code"],
        )
        for code, count in sorted(engine.commandstats.errors.items()):
            errors.add_metric([code], count)
        processed = CounterMetricFamily(
            "tandemkv_commands_processed", "Commands received, refused ones included"
        )
        processed.add_metric([], engine.stats.commands)
        yield from (calls, failed, rejected, duration, errors, processed)

    def _clients(self) -> Iterator[Metric]:
        server = self.server
        yield _gauge(
            "tandemkv_connected_clients", "Open client connections", len(server.connections)
        )
        yield _gauge(
            "tandemkv_blocked_clients",
            "Clients waiting in BLPOP and the like",
            len(server.engine.waiters),
        )
        yield _counter(
            "tandemkv_connections_received",
            "Connections accepted",
            server.stats.connections_received,
        )
        yield _counter(
            "tandemkv_connections_rejected",
            "Connections refused (maxclients)",
            server.stats.rejected_connections,
        )
        broker = server.engine.broker
        yield _gauge("tandemkv_pubsub_channels", "Channels with subscribers", len(broker.channels))
        yield _gauge("tandemkv_pubsub_patterns", "Pattern subscriptions", broker.numpat)
        yield _gauge(
            "tandemkv_monitors", "Clients in MONITOR mode", len(server.engine.monitors.sessions)
        )

    def _keyspace(self) -> Iterator[Metric]:
        server, engine = self.server, self.server.engine
        yield _gauge(
            "tandemkv_used_memory_bytes",
            "The keyspace's own memory estimate (INFO used_memory; what maxmemory limits)",
            engine.used_memory(),
        )
        yield _gauge(
            "tandemkv_maxmemory_bytes", "The memory limit (0: none)", server.settings.maxmemory
        )
        yield _gauge("tandemkv_resident_memory_bytes", "The process's resident set size", _rss())
        yield _gauge("tandemkv_keys", "Keys in the keyspace", len(engine.keyspace))
        yield _gauge(
            "tandemkv_expires", "Keys with a time to live", engine.keyspace.expiring_count()
        )
        yield _counter("tandemkv_expired_keys", "Keys removed by expiry", server.stats.expired_keys)
        yield _counter(
            "tandemkv_evicted_keys", "Keys evicted past maxmemory", engine.stats.evicted_keys
        )

    def _storage(self) -> Iterator[Metric]:
        server = self.server
        store = server.store
        yield _gauge("tandemkv_log_bytes", "Bytes of log segments on disk", _log_bytes(store.path))
        yield _gauge(
            "tandemkv_log_bytes_since_snapshot",
            "Log bytes written since the last snapshot (a snapshot is due at snapshot-log-bytes)",
            store.log_bytes_since_snapshot,
        )
        if store.last_save_time:
            yield _gauge(
                "tandemkv_snapshot_age_seconds",
                "Seconds since the last snapshot was written (absent before the first)",
                max(0.0, time.time() - store.last_save_time),
            )
            yield _gauge(
                "tandemkv_last_snapshot_timestamp_seconds",
                "Unix time of the last snapshot",
                store.last_save_time,
            )
        fsync = HistogramMetricFamily(
            "tandemkv_fsync_duration_seconds", "Time each fsync of the log took"
        )
        timings = server.node.fsync_timings
        fsync.add_metric([], histogram_buckets(timings), timings.nanoseconds / 1e9)
        yield fsync

    def _group(self, status: NodeStatus) -> Iterator[Metric]:
        role = GaugeMetricFamily(
            "tandemkv_role", "This node's role: 1 for the one it has", labels=["role"]
        )
        for name in ROLES:
            role.add_metric([name], 1 if status.role == name else 0)
        yield role
        yield _gauge("tandemkv_term", "The replication term", status.term)
        node = GaugeMetricFamily(
            "tandemkv_node",
            "This node: its id in its group and address",
            labels=["node_id", "address"],
        )
        node.add_metric([f"{status.node_id:x}", status.address], 1)
        yield node
        yield _gauge("tandemkv_log_last_index", "Last index in this node's log", status.last_index)
        yield _gauge("tandemkv_commit_index", "Last index known committed", status.commit_index)
        yield _gauge(
            "tandemkv_applied_index", "Last index applied to the keyspace", status.applied_index
        )

    def _backups(self, status: NodeStatus) -> Iterator[Metric]:
        """Per member, as far as this node knows (the primary knows each one's progress)."""
        labels = ["node_id", "address", "role"]
        lag = GaugeMetricFamily(
            "tandemkv_replication_lag_entries",
            "Log entries a member is behind the primary's last index (primary only)",
            labels=labels,
        )
        heard = GaugeMetricFamily(
            "tandemkv_member_last_contact_seconds",
            "Seconds since this node last heard from a member",
            labels=labels,
        )
        for member in status.members:
            if member.node_id == status.node_id:
                continue
            values = [f"{member.node_id:x}", member.address, member.role]
            if member.lag >= 0:
                lag.add_metric(values, member.lag)
            if member.last_contact_ms >= 0:
                heard.add_metric(values, member.last_contact_ms / 1000)
        yield lag
        yield heard

    def _role_changes(self) -> Iterator[Metric]:
        """Elections and failovers as this node saw them (node/history.py)."""
        history = self.server.node.history
        yield CounterMetricFamily(
            "tandemkv_elections_started",
            "Elections this node started as a candidate",
            value=history.elections_started,
        )
        yield CounterMetricFamily(
            "tandemkv_primary_changes",
            "Times a new primary became known to this node (failovers, and the first one)",
            value=history.primary_changes,
        )
        yield CounterMetricFamily(
            "tandemkv_became_primary",
            "Times this node became the primary",
            value=history.times_became_primary,
        )
        last = history.last_election()
        if last is not None:
            yield _gauge(
                "tandemkv_last_election_timestamp_seconds",
                "Unix time the current primary became known here",
                last.unix_time,
            )


def make_registry(server: Server) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(server))
    return registry


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _log_bytes(path: str) -> int:
    try:
        with os.scandir(path) as entries:
            return sum(e.stat().st_size for e in entries if e.name.endswith(".log"))
    except OSError:
        return 0


def _rss() -> int:
    from tandemkv.server.app import _rss_bytes

    return _rss_bytes()
