"""Changing how a running node persists its writes (CONFIG SET appendfsync / appendonly).

appendfsync switches the syncer's schedule and whether a write's reply waits for its fsync;
the next write follows the new policy. appendonly turns the log off or on without a
restart, as Redis turns its AOF off or rewrites it:

- yes -> no: the log is folded into a snapshot (nothing already written is lost), then kept
  in memory only, exactly as `--appendonly no` does at start. Only for a group of one: the
  other members of a group replicate from the log.
- no -> yes: a snapshot of the keyspace is written now (blocking, as SAVE), then a new log
  on disk starts after it; every later write is logged under the fsync policy.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tandemkv.commands.latency import SNAPSHOT_WRITE
from tandemkv.replication.conf import encode_conf, members
from tandemkv.storage.errors import StorageError
from tandemkv.storage.recovery import open_log
from tandemkv.storage.syncer import FsyncPolicy

if TYPE_CHECKING:
    from tandemkv.node.node import Node

log = logging.getLogger("tandemkv.node")


def set_fsync_policy(node: Node, policy: FsyncPolicy) -> None:
    node.policy = policy
    node.fsync_always = policy is FsyncPolicy.ALWAYS and not node.volatile
    syncer = node.syncer
    if syncer is not None:
        syncer.set_interval(node.sync_interval())
    log.info("fsync policy is now %s", policy.value)


def set_appendonly(node: Node, enabled: bool) -> str:
    """Turn the log on or off; "" when done, else why not (nothing changed then)."""
    if enabled == (not node.volatile):
        return ""
    if node.persisting:
        return "a log write is in progress; retry in a moment"
    if not enabled:
        count = len(members(node.conf))
        if count > 1 or not node.sole_voter:
            return (
                f"appendonly no is only for a server on its own: this node's group has "
                f"{count} members, which replicate through the log (remove them first)"
            )
    started = node.runtime.monotonic()
    try:
        refusal = _start_logging(node) if enabled else _stop_logging(node)
    except (OSError, StorageError) as error:
        node.fatal(f"cannot switch appendonly in {node.store.path}: {error}; stopping")
        return f"the switch failed ({error}); this node is stopping"
    if refusal:
        return refusal
    elapsed_ms = int((node.runtime.monotonic() - started) * 1000)
    node.server.engine.latency.record(SNAPSHOT_WRITE, node.server.unix_seconds(), elapsed_ms)
    return ""


def _stop_logging(node: Node) -> str:
    node.settle_alone()  # every write committed and applied: the snapshot holds them all
    node.stop_syncer()
    node.store.drop_log(encode_conf(node.conf))
    node.storage.wal = node.store.wal
    node.storage.clear_cache()
    node.volatile = True
    node.fsync_always = False
    log.warning(
        "appendonly is off: writes are not logged, so only SAVE/BGSAVE snapshots survive a restart"
    )
    return ""


def _start_logging(node: Node) -> str:
    node.settle_alone()
    store = node.store
    point = store.save()  # through the node's snapshot point: the applied index
    if point is None or point.index != store.wal.last_index:
        return "writes are still being applied; retry in a moment"
    memory_log = store.wal
    wal, _ = open_log(store.datadir.fs, point.index, point.term)
    store.wal = wal
    memory_log.close()
    store.written_index = wal.last_index
    store.log_bytes_since_snapshot = 0
    node.storage.wal = wal
    node.storage.clear_cache()
    node.volatile = False
    node.synced_index = wal.last_index
    node.fsync_always = node.policy is FsyncPolicy.ALWAYS
    node.storage.save_hard_state(node.replica.hard_state())
    node.start_syncer()
    log.info(
        "appendonly is on: snapshot written at index %d, every write is logged from here",
        point.index,
    )
    return ""
