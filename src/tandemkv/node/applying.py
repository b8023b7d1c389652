"""How a node's keyspace follows the replicated log.

The node's keyspace index is the newest log index the keyspace reflects: ahead of the
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
from tandemkv.storage.store import Store, load_items

if TYPE_CHECKING:
    from tandemkv.commands.broker import Broker
    from tandemkv.node.disk_storage import DiskStorage

log = logging.getLogger("tandemkv.node")


def apply_entries(
    keyspace: Keyspace, broker: Broker, entries: list[Entry], keyspace_index: int, witness: bool
) -> int:
    """Apply committed entries after `keyspace_index` live; return the new keyspace index.

    The pub/sub messages they carry go to this node's subscribers (a primary delivered
    its own when it executed them). Messages are news, not history: entries at or below
    `broker.delivered_through` (what the log held when this process started, what a
    deposed primary executed) deliver nothing. A witness keeps no data."""
    history = broker.delivered_through
    for entry in entries:
        if entry.index <= keyspace_index:
            continue  # executed here as primary before it was replicated
        if entry.kind is EntryKind.NORMAL and not witness:
            mutation = decode_mutation(entry.data)
            keyspace.apply(mutation)
            if (type(mutation) is Publish or type(mutation) is Batch) and entry.index > history:
                broker.deliver(mutation)
        keyspace_index = entry.index
    if keyspace.expired:
        keyspace.expired.clear()  # a backup never logs expiries; the primary does
    return keyspace_index


def install_snapshot(storage: DiskStorage, keyspace: Keyspace, snapshot: Snapshot) -> int:
    """Store a snapshot received from the primary and load it; return its index."""
    stored = storage.install_snapshot(snapshot)
    _replace_with(keyspace, stored.items())
    _users_replaced(keyspace)
    return snapshot.meta.index


def rebuild_keyspace(store: Store, broker: Broker, applied: int, keyspace_index: int) -> None:
    """Forget writes executed but maybe never committed: load the snapshot and replay the
    committed log through `applied`, the index the keyspace then holds."""
    # What it executed as primary was delivered then: the new primary's commits of the
    # same entries must not deliver it twice.
    broker.delivered_through = max(broker.delivered_through, keyspace_index)
    keyspace = store.keyspace
    snapshot = load_snapshot(store.datadir.fs) if store.snapshot_meta is not None else None
    _replace_with(keyspace, snapshot.items() if snapshot is not None else ())
    store.replay_log(applied)
    _users_replaced(keyspace)
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
