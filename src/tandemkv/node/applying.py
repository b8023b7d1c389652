"""How a node's keyspace follows the replicated log.

`node.keyspace_index` is the newest log index the keyspace reflects: ahead of the
applied index on a primary (it executes commands before they are replicated), equal to
it elsewhere. Committed entries at or below it are skipped; a received snapshot replaces
the keyspace; a primary that lost leadership rebuilds it from what is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tandemkv.replication import Entry, EntryKind, Snapshot
from tandemkv.storage.codec import decode_mutation
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.mutation import Batch, FlushAll, Publish
from tandemkv.storage.snapshot import SnapshotItem, load_snapshot
from tandemkv.storage.store import load_items

if TYPE_CHECKING:
    from tandemkv.node.node import Node

log = logging.getLogger("tandemkv.node")


def apply_entries(node: Node, entries: list[Entry]) -> None:
    """Apply committed entries live, delivering the pub/sub messages they carry to this
    node's subscribers (a primary delivered its own when it executed them). Messages are
    news, not history: entries at or below `broker.delivered_through` (what the log held
    when this process started, what a deposed primary executed) deliver nothing."""
    keyspace = node.keyspace
    skip_data = node.is_witness
    broker = node.server.engine.broker
    history = broker.delivered_through
    for entry in entries:
        if entry.index <= node.keyspace_index:
            continue  # executed here as primary before it was replicated
        if entry.kind is EntryKind.NORMAL and not skip_data:
            mutation = decode_mutation(entry.data)
            keyspace.apply(mutation)
            if (type(mutation) is Publish or type(mutation) is Batch) and entry.index > history:
                broker.deliver(mutation)
        node.keyspace_index = entry.index
    if keyspace.expired:
        keyspace.expired.clear()  # a backup never logs expiries; the primary does


def install_snapshot(node: Node, snapshot: Snapshot) -> None:
    stored = node.storage.install_snapshot(snapshot)
    _replace_with(node.keyspace, stored.items())
    _users_replaced(node.keyspace)
    node.keyspace_index = snapshot.meta.index
    node.synced_index = max(node.synced_index, snapshot.meta.index)


def rebuild_keyspace(node: Node) -> None:
    """Forget writes executed but maybe never committed: snapshot + committed log."""
    node.needs_rebuild = False
    applied = node.replica.log.applied
    # What it executed as primary was delivered then: the new primary's commits of the
    # same entries must not deliver it twice.
    broker = node.server.engine.broker
    broker.delivered_through = max(broker.delivered_through, node.keyspace_index)
    keyspace = node.keyspace
    snapshot = load_snapshot(node.storage.fs) if node.store.snapshot_meta is not None else None
    _replace_with(keyspace, snapshot.items() if snapshot is not None else ())
    node.store.replay_log(applied)
    _users_replaced(keyspace)
    node.keyspace_index = applied
    log.info("rebuilt the keyspace from the committed log (through index %d)", applied)


def _replace_with(keyspace: Keyspace, items: Iterable[SnapshotItem]) -> None:
    """Empty the keyspace in place (the engine and WATCHers hold it) and load `items`."""
    keyspace.apply(FlushAll())
    # The users too (FLUSHALL leaves them), quietly: their sessions are told once the new
    # table is complete (_users_replaced), so none is closed for a user that comes back.
    keyspace.users.clear()
    load_items(keyspace, items)
    keyspace.expired.clear()


def _users_replaced(keyspace: Keyspace) -> None:
    if keyspace.users_changed is not None:
        keyspace.users_changed(None)
