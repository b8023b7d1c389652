"""SENTINEL: the subset Sentinel clients use to find a group's primary and backups.

Every node answers for its group's name (`--group-name`), so redis-py's
`redis.sentinel.Sentinel`, given the node addresses, finds the primary and follows a
failover. There is no pub/sub and no other sentinel: SENTINELS is always empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.commands.cluster_view import BACKUP, MemberStatus, NodeStatus
from tandemkv.commands.errors import CommandError, unknown_subcommand
from tandemkv.commands.replication import (
    VOTING_ROLES,
    data_replicas,
    member_up,
    primary_address,
    primary_host_port,
    primary_up,
    split_address,
    sub_arity,
)
from tandemkv.commands.server import help_lines
from tandemkv.commands.table import command
from tandemkv.protocol.types import NullArray

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session


@command(
    "sentinel",
    -2,
    "admin loading",
    group="sentinel",
    since="2.8.4",
    subcommands=(
        "get-master-addr-by-name",
        "masters",
        "master",
        "replicas",
        "slaves",
        "sentinels",
        "help",
    ),
    summary="Find the primary and backups the way Redis Sentinel clients ask for them",
    syntax="GET-MASTER-ADDR-BY-NAME|MASTERS|MASTER|REPLICAS|SLAVES|SENTINELS|HELP [group-name]",
)
def sentinel(e: Engine, s: Session, args: list[bytes]) -> object:
    sub = args[1].upper()
    if sub == b"HELP":
        sub_arity("sentinel", sub, args, 2)
        return help_lines(*SENTINEL_HELP)
    cluster = e.host.cluster
    if cluster is None:
        raise CommandError(
            "SENTINEL needs cluster mode: this server runs standalone, so "
            "clients should connect to it directly"
        )
    if sub == b"MASTERS":
        sub_arity("sentinel", sub, args, 2)
        return [sentinel_master_state(cluster.group_name, cluster.status())]
    if sub not in _SENTINEL_BY_NAME:
        raise unknown_subcommand("sentinel", args[1])
    sub_arity("sentinel", sub, args, 3)
    known = args[2] == cluster.group_name.encode()
    if sub == b"GET-MASTER-ADDR-BY-NAME":
        return _master_addr(cluster.status()) if known else NullArray
    if not known:
        raise CommandError("No such master with that name")
    st = cluster.status()
    if sub == b"MASTER":
        return sentinel_master_state(cluster.group_name, st)
    if sub == b"SENTINELS":
        return []  # every node answers for itself; there are no separate sentinels
    return [sentinel_replica_state(st, member) for member in data_replicas(st)]


_SENTINEL_BY_NAME = (b"GET-MASTER-ADDR-BY-NAME", b"MASTER", b"REPLICAS", b"SLAVES", b"SENTINELS")


def _master_addr(st: NodeStatus) -> object:
    """[host, port] of the primary; a null array when none is known (Redis's reply for a
    name it does not monitor, which clients already treat as "no master")."""
    address = primary_address(st)
    if not address:
        return NullArray
    host, port = split_address(address)
    return [host.encode(), str(port).encode()]


def sentinel_master_state(name: str, st: NodeStatus) -> dict[bytes, bytes]:
    """One SENTINEL MASTER(S) entry. With no reachable primary it is flagged s_down, so
    Sentinel clients (redis-py's check_master_state) keep looking instead of using it."""
    host, port = primary_host_port(st)
    voters = sum(1 for m in st.members if m.role in VOTING_ROLES)
    fields = {
        "name": name,
        "ip": host,
        "port": port,
        "runid": _run_id(st.leader_id),
        "flags": "master" if primary_up(st) else "master,s_down",
        "role-reported": "master",
        "config-epoch": st.term,
        "num-slaves": len(data_replicas(st)),
        "num-other-sentinels": 0,
        "quorum": voters // 2 + 1,
    }
    return {key.encode(): str(value).encode() for key, value in fields.items()}


def sentinel_replica_state(st: NodeStatus, member: MemberStatus) -> dict[bytes, bytes]:
    """One SENTINEL REPLICAS entry; an unreachable backup is flagged s_down, which Sentinel
    clients skip. A learner is never promoted, which Redis says with priority 0."""
    host, port = split_address(member.address)
    master_host, master_port = primary_host_port(st)
    up = member_up(st, member)
    fields = {
        "name": member.address,
        "ip": host,
        "port": port,
        "runid": _run_id(member.node_id),
        "flags": "slave" if up else "slave,s_down",
        "role-reported": "slave",
        "master-link-down-time": 0,
        "master-link-status": "ok" if up else "err",
        "master-host": master_host,
        "master-port": master_port,
        "slave-priority": 100 if member.role == BACKUP else 0,
        "slave-repl-offset": max(member.match_index, 0),
    }
    return {key.encode(): str(value).encode() for key, value in fields.items()}


def _run_id(node_id: int) -> str:
    """Redis run ids are 40 hex digits; ours name the node, so they survive restarts."""
    return format(node_id, "040x")


SENTINEL_HELP = (
    "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET-MASTER-ADDR-BY-NAME <group-name>",
    "    Return the primary's host and port, or null when no primary is known.",
    "MASTERS",
    "    Show the replication group (tandemkv nodes serve exactly one).",
    "MASTER <group-name>",
    "    Show the state of the group's primary.",
    "REPLICAS <group-name>",
    "    Show the backups and learners that store data.",
    "SLAVES <group-name>",
    "    Alias for REPLICAS.",
    "SENTINELS <group-name>",
    "    Always empty: every node answers these queries itself.",
    "HELP",
    "    Print this help.",
)
