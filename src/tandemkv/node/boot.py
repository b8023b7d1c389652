"""Starting a node: its identity, the first membership of a new group, and a sole
voter's log replayed before it serves anyone.

Every server is a node. `tandemkv server` with no --role is a group of one (and stays
one until backups are added); a data directory written by an older, standalone release
becomes one on its first start, its log kept as it is.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from tandemkv.config import Config, parse_address
from tandemkv.node.disk_storage import DiskStorage
from tandemkv.node.identity import (
    IDENTITY_FILE,
    NodeIdentity,
    load_identity,
    new_node_id,
    new_secret,
    save_identity,
)
from tandemkv.node.node import Node
from tandemkv.replication import NONE, ConfState, Entry, EntryKind, HardState
from tandemkv.replication.conf import address_of, encode_conf, members
from tandemkv.replication.log import RaftLog
from tandemkv.storage.fs import FileSystem
from tandemkv.storage.store import Store

if TYPE_CHECKING:
    from tandemkv.server.app import Server

log = logging.getLogger("tandemkv.node")


def _unspecified(address: str) -> bool:
    host = parse_address(address).host
    return host in ("0.0.0.0", "::", "")


class BootError(Exception):
    """The node cannot start in cluster mode; the message is for the operator."""


def has_identity(fs: FileSystem) -> bool:
    return fs.exists(IDENTITY_FILE)


def starts_group(config: Config, new_identity: bool) -> bool:
    """Whether this start may write the first membership of a new group (this node
    alone): --role primary, or no role on a node that is a member of nothing yet. A node
    without a log on disk keeps its membership only in snapshots, so it may need one
    again on any start."""
    if config.role:
        return config.role == "primary"
    return new_identity or not config.appendonly


def _reachable_only_locally(config: Config) -> bool:
    addresses = [config.address, config.advertise, config.primary]
    return all(parse_address(a).is_loopback for a in addresses if a)


def prepare_identity(config: Config, store: Store, entropy: random.Random) -> NodeIdentity:
    """Load this node's identity, or create it on the first start (its id and secret
    drawn from `entropy`, the runtime's)."""
    if not config.appendonly and config.role in ("backup", "witness"):
        raise BootError(
            f"a {config.role} replicates through the log: --appendonly no is only for a "
            "server on its own"
        )
    if config.role and _unspecified(config.advertise or config.address):
        raise BootError(
            f"listening on {config.address} tells other nodes nothing about where to reach "
            "this one: pass --advertise HOST:PORT"
        )
    fs = store.datadir.fs
    identity = load_identity(fs)
    local = _reachable_only_locally(config)
    if identity is None:
        secret = config.cluster_secret
        if not secret and not local and config.role:
            raise BootError(
                "a group reachable from other machines needs a cluster secret: pass the same "
                "--cluster-secret (or TANDEMKV_CLUSTER_SECRET) to every node"
            )
        if not secret and config.role in ("primary", ""):
            # Handed to joining nodes on loopback; across machines every node is given
            # the same --cluster-secret (see docs/operations.md).
            secret = new_secret(entropy)
        identity = NodeIdentity(new_node_id(entropy), config.group_name, secret, config.learner)
        save_identity(fs, identity)
    elif identity.removed:
        raise BootError(
            f"this node was removed from its group ({identity.group_name}); its data is no "
            f"longer kept up to date: wipe {store.path} to start it as a new node"
        )
    elif config.cluster_secret and config.cluster_secret != identity.secret:
        identity = identity.with_secret(config.cluster_secret)
        save_identity(fs, identity)
    return identity


def catch_up_alone(config: Config, store: Store, identity: NodeIdentity, new_identity: bool) -> int:
    """Replay the whole log now, before the server listens, if this node is (or is about
    to become) its group's only voter; return the index the keyspace then holds.

    A sole voter's log is all committed once it elects itself, and nobody else can be
    elected, so it serves nothing stale by loading it all at once, as a single Redis
    loads its AOF. Any other member applies only what the group has committed, once it
    runs. A node without a log on disk (--appendonly no) must be alone.
    """
    held = RaftLog(DiskStorage(store)).conf_state()
    node_id = identity.node_id
    alone = held.voters == (node_id,) or (
        starts_group(config, new_identity) and _new_group_needed(held, node_id, new_identity)
    )
    if not alone:
        if not config.appendonly:
            raise BootError(
                f"this node is a member of a group of {len(members(held))}; --appendonly no "
                "is only for a server on its own (remove the other members first)"
            )
        return 0
    store.replay_log()
    return store.last_index


def node_factory(
    config: Config,
    store: Store,
    identity: NodeIdentity,
    new_identity: bool = False,
    applied: int = 0,
) -> Callable[[Server, str], Node]:
    """`new_identity`: the identity was created by this start (see bootstrap_group);
    `applied`: what catch_up_alone loaded into the keyspace."""

    def make(server: Server, bound: str) -> Node:
        advertise = config.advertise or bound
        if starts_group(config, new_identity):
            bootstrap_group(store, identity.node_id, advertise, new_identity)
        if not config.appendonly:
            store.drop_log(encode_conf(RaftLog(DiskStorage(store)).conf_state()))
        node = Node(server, store, identity, config, advertise, applied)
        known = address_of(node.conf, node.id)
        if known and known != advertise:
            log.warning(
                "this node is a member at %s, but now advertises %s: the others cannot reach "
                "it; restart it with --address (or --advertise) %s",
                known,
                advertise,
                known,
            )
        others = [a for n, a in node.conf.addresses if n != node.id]
        target = config.primary or (others[0] if others else "")
        if target:
            node.start_joining(target)  # returns at once if there is nothing to ask
        return node

    return make


def bootstrap_group(store: Store, node_id: int, advertise: str, new_identity: bool = False) -> None:
    """Write the first membership of a new group (this node alone) unless it has one.

    A data directory restored from another group's snapshot or log holds that group's
    membership. A node that has just been given its identity, so is a member of nothing,
    and is told `--role primary` starts a new group with that data instead of joining
    the old members.
    """
    storage = DiskStorage(store)
    held = RaftLog(storage).conf_state()
    if not _new_group_needed(held, node_id, new_identity):
        return
    if held != ConfState():
        log.warning(
            "the data directory holds the data of another group (%d members, this new node "
            "not among them): starting a new group of one with it; the old members are not "
            "contacted",
            len(members(held)),
        )
    conf = ConfState((node_id,), (), (), ((node_id, advertise),))
    index = storage.last_index() + 1
    term = max(1, store.wal.last_term)
    storage.append([Entry(term, index, encode_conf(conf), EntryKind.CONFIG)])
    storage.sync()
    storage.save_hard_state(HardState(term, NONE, index))


def _new_group_needed(held: ConfState, node_id: int, new_identity: bool) -> bool:
    """No membership yet, or (a new node on restored data) another group's."""
    return held == ConfState() or (new_identity and node_id not in members(held))
