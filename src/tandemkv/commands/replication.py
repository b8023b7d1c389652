"""Replication and cluster commands: ROLE, WAIT, READONLY/READWRITE, STATUS, the
operator's ADD_BACKUP/REMOVE_NODE/FAILOVER/PROMOTE, and the node-to-node PEER, REPLICATE and
HEARTBEAT; plus the INFO replication section (SENTINEL is in sentinel.py).

Handlers only read the node's ClusterView (`engine.host.cluster`) or ask it to start
something. Whatever takes time (WAIT, a membership change, a leadership transfer) comes back
as the Pending the view hands out, and the shell answers the client when it resolves.

A standalone server has no view: the commands a Redis client may send to any Redis master
(ROLE, WAIT, READONLY, READWRITE) answer as a standalone Redis master would; the others
answer Redis's "cluster support disabled" error.

Redis vocabulary in replies: the primary is "master", every other member "slave" (a witness
too: it follows the primary's log). Witnesses store no values, so they are never listed as
replicas a client could read from (ROLE, INFO, SENTINEL replicas).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.commands.args import parse_int, parse_positive_int
from tandemkv.commands.cluster_view import (
    BACKUP,
    LEARNER,
    PRIMARY,
    WITNESS,
    ClusterView,
    MemberStatus,
    NodeStatus,
)
from tandemkv.commands.errors import (
    CommandError,
    NoAuth,
    NoPerm,
    NotInteger,
    SyntaxErr,
    unknown_subcommand,
)
from tandemkv.commands.server import help_lines
from tandemkv.commands.table import NO_REPLY, command
from tandemkv.protocol.types import OK

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session

NO_CLUSTER = "This instance has cluster support disabled"
DATA_ROLES = (BACKUP, LEARNER)  # members other than the primary that store values
VOTING_ROLES = (PRIMARY, BACKUP, WITNESS)
UNKNOWN_HOST = "?"  # shown where Redis shows the master's host and none is known


# ------------------------------------------------------------------ shared helpers


def cluster_of(e: Engine) -> ClusterView:
    """The node's cluster view, or the error a standalone server answers."""
    cluster = e.host.cluster
    if cluster is None:
        raise CommandError(NO_CLUSTER)
    return cluster


def parse_address(raw: bytes) -> str:
    """A "HOST:PORT" argument, checked and with the port in canonical form.

    IPv6 hosts must be bracketed ("[::1]:7000") so the port is unambiguous; hosts never
    contain ',' ';' or '@', which the membership encoding uses as separators.
    """
    text = raw.decode("utf-8", "replace")
    host, sep, port = text.rpartition(":")
    valid = bool(sep) and _valid_host(host) and _valid_port_text(port)
    if not valid:
        raise CommandError(
            f"invalid address '{text}': expected HOST:PORT with a port from 1 to 65535"
        )
    return f"{host}:{int(port)}"


def _valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        return bool(inner) and all(ch in "0123456789abcdefABCDEF:." for ch in inner)
    return (
        bool(host)
        and host.isascii()
        and all(ch.isprintable() and not ch.isspace() and ch not in ",;@:[]" for ch in host)
    )


def _valid_port_text(port: str) -> bool:
    return port.isascii() and port.isdigit() and len(port) <= 5 and 1 <= int(port) <= 65535


def parse_node_id(raw: bytes) -> int:
    return parse_positive_int(raw, "node id must be a positive integer")


def split_address(address: str) -> tuple[str, int]:
    """(host, port) of a "HOST:PORT" string, IPv6 brackets removed; port 0 if there is none."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return address, 0
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def primary_address(st: NodeStatus) -> str:
    """Where the primary is, "" if this node knows of none."""
    if st.role == PRIMARY:
        return st.primary_address or st.address
    return st.primary_address if st.leader_id else ""


def primary_host_port(st: NodeStatus) -> tuple[str, int]:
    """The primary's host and port for replies, ("?", 0) when no primary is known."""
    address = primary_address(st)
    return split_address(address) if address else (UNKNOWN_HOST, 0)


def member_up(st: NodeStatus, member: MemberStatus) -> bool:
    """Whether `member` is reachable as far as this node knows (it always is to itself)."""
    return member.node_id == st.node_id or member.healthy


def primary_up(st: NodeStatus) -> bool:
    if st.role == PRIMARY:
        return True
    if not primary_address(st):
        return False
    return any(m.node_id == st.leader_id and member_up(st, m) for m in st.members)


def data_replicas(st: NodeStatus) -> list[MemberStatus]:
    """Members that store values and are not the primary, ordered by id."""
    return [m for m in st.members if m.role in DATA_ROLES and m.node_id != st.leader_id]


def _options(args: list[bytes], allowed: tuple[bytes, ...]) -> set[bytes]:
    """Trailing flag words such as WITNESS or LEARNER (case-insensitive, repeats harmless)."""
    found = {arg.upper() for arg in args}
    if not found <= set(allowed):
        raise SyntaxErr()
    return found


def sub_arity(command_name: str, sub: bytes, args: list[bytes], count: int) -> None:
    if len(args) != count:
        name = f"{command_name}|{sub.decode('utf-8', 'replace').lower()}"
        raise CommandError(f"wrong number of arguments for '{name}' command")


# ------------------------------------------------------------------ ROLE and INFO


@command(
    "role",
    1,
    "loading fast",
    group="replication",
    since="2.8.12",
    summary="The replication role of this node, in Redis's format",
    syntax="",
)
def role(e: Engine, s: Session, args: list[bytes]) -> object:
    cluster = e.host.cluster
    if cluster is None:
        return [b"master", 0, []]
    st = cluster.status()
    if st.role == PRIMARY:
        return [b"master", st.last_index, _role_replicas(st)]
    host, port = primary_host_port(st)
    return [b"slave", host.encode(), port, _link_state(st), st.last_index]


def _role_replicas(st: NodeStatus) -> list[object]:
    """Redis lists connected replicas only: here the data-storing members heard from lately."""
    replicas: list[object] = []
    for member in data_replicas(st):
        if member_up(st, member):
            host, port = split_address(member.address)
            offset = max(member.match_index, 0)
            replicas.append([host.encode(), str(port).encode(), str(offset).encode()])
    return replicas


def _link_state(st: NodeStatus) -> bytes:
    """Redis's replica link states: connected, connecting (primary known, not heard from
    lately) and connect (no primary known: an election, or not a member yet)."""
    if primary_up(st):
        return b"connected"
    return b"connecting" if primary_address(st) else b"connect"


def replication_info(status: NodeStatus) -> dict[str, object]:
    """The INFO replication section for this node, with Redis's field names.

    `slaveN` lines list the data-storing members heard from lately, as Redis lists its
    connected replicas; their `lag` is seconds since the primary last heard from them, as in
    Redis (entries behind is master_repl_offset - offset). The tandemkv_ fields are ours.
    """
    st = status
    if st.role == PRIMARY:
        fields: dict[str, object] = {"role": "master"}
        fields |= _replica_lines(st)
    else:
        host, port = primary_host_port(st)
        fields = {
            "role": "slave",
            "master_host": host,
            "master_port": port,
            "master_link_status": "up" if primary_up(st) else "down",
            "master_sync_in_progress": 0,
            "slave_read_repl_offset": st.last_index,
            "slave_repl_offset": st.applied_index,
            "slave_priority": 100 if st.role == BACKUP else 0,
            "slave_read_only": 1,
            "connected_slaves": 0,
        }
    fields["master_repl_offset"] = st.last_index
    fields |= {
        "tandemkv_node_id": st.node_id,
        "tandemkv_role": st.role,
        "tandemkv_term": st.term,
        "tandemkv_leader_id": st.leader_id,
        "tandemkv_commit_index": st.commit_index,
        "tandemkv_applied_index": st.applied_index,
        "tandemkv_ack_level": st.ack_level,
        "tandemkv_last_election_ago_ms": st.last_election_ago_ms,
        "tandemkv_last_election_term": st.last_election_term,
        "tandemkv_last_election_reason": st.last_election_reason,
        "tandemkv_elections_started": st.elections_started,
        "tandemkv_times_became_primary": st.times_became_primary,
        "tandemkv_primary_changes": st.primary_changes,
    }
    return fields


def _replica_lines(st: NodeStatus) -> dict[str, object]:
    connected = [m for m in data_replicas(st) if member_up(st, m)]
    lines: dict[str, object] = {"connected_slaves": len(connected)}
    for n, member in enumerate(connected):
        host, port = split_address(member.address)
        lag = max(member.last_contact_ms, 0) // 1000
        offset = max(member.match_index, 0)
        lines[f"slave{n}"] = f"ip={host},port={port},state=online,offset={offset},lag={lag}"
    return lines


# ------------------------------------------------------------------ WAIT, READONLY, READWRITE


@command(
    "wait",
    3,
    "no-multi",
    group="replication",
    since="3.0.0",
    summary="Wait until backups hold this connection's writes, or the timeout passes",
    syntax="numreplicas timeout",
)
def wait(e: Engine, s: Session, args: list[bytes]) -> object:
    # Redis lets WAIT into MULTI (it then answers at once); a transaction's reply array
    # cannot hold a reply that arrives later, so it is refused there instead.
    replicas = parse_int(args[1])
    timeout_ms = _wait_timeout(args[2])
    cluster = e.host.cluster
    if cluster is None:
        return 0  # a standalone server has no replicas to wait for
    if cluster.status().role != PRIMARY:
        raise CommandError(
            "WAIT cannot be used with replica instances. Only the primary knows which "
            "backups hold a write: send WAIT to the primary on the connection that wrote."
        )
    return cluster.wait(s.last_write_index, max(replicas, 0), timeout_ms)


def _wait_timeout(raw: bytes) -> int:
    try:
        timeout_ms = parse_int(raw)
    except NotInteger:
        raise CommandError("timeout is not an integer or out of range") from None
    if timeout_ms < 0:
        raise CommandError("timeout is negative")
    return timeout_ms


@command(
    "readonly",
    1,
    "fast loading",
    group="cluster",
    since="3.0.0",
    summary="Allow this connection to read possibly stale data from a backup",
    syntax="",
)
def readonly(e: Engine, s: Session, args: list[bytes]) -> object:
    s.read_stale = True
    return OK


@command(
    "readwrite",
    1,
    "fast loading",
    group="cluster",
    since="3.0.0",
    summary="Send this connection's reads to the primary again (undo READONLY)",
    syntax="",
)
def readwrite(e: Engine, s: Session, args: list[bytes]) -> object:
    s.read_stale = False
    return OK


# ------------------------------------------------------------------ STATUS


@command(
    "status",
    1,
    "loading",
    group="cluster",
    summary="This node's view of the replication group (for `tandemkv status`)",
    syntax="",
)
def status(e: Engine, s: Session, args: list[bytes]) -> object:
    # Not flagged readonly: that flag marks keyspace reads, which a backup refuses without
    # READONLY, and STATUS must answer on every node.
    cluster = cluster_of(e)
    return status_map(cluster.group_name, cluster.status())


def status_map(group: str, st: NodeStatus) -> dict[bytes, object]:
    return {
        b"group": group.encode(),
        b"node_id": st.node_id,
        b"address": st.address.encode(),
        b"role": st.role.encode(),
        b"term": st.term,
        b"leader_id": st.leader_id,
        b"primary": st.primary_address.encode(),
        b"last_index": st.last_index,
        b"commit_index": st.commit_index,
        b"applied_index": st.applied_index,
        b"ack_level": st.ack_level.encode(),
        b"last_election_ago_ms": st.last_election_ago_ms,
        b"last_election_term": st.last_election_term,
        b"last_election_reason": st.last_election_reason.encode(),
        b"elections_started": st.elections_started,
        b"times_became_primary": st.times_became_primary,
        b"primary_changes": st.primary_changes,
        b"members": [_member_map(m) for m in st.members],
    }


def _member_map(member: MemberStatus) -> dict[bytes, object]:
    return {
        b"node_id": member.node_id,
        b"address": member.address.encode(),
        b"role": member.role.encode(),
        b"match_index": member.match_index,
        b"lag": member.lag,
        b"healthy": int(member.healthy),
        b"last_contact_ms": member.last_contact_ms,
    }


# ------------------------------------------------------------------ operator commands


@command(
    "add_backup",
    -2,
    "admin no-multi",
    group="cluster",
    summary="Add the node at HOST:PORT to the group as a backup (or witness, learner)",
    syntax="address [WITNESS] [LEARNER]",
)
def add_backup(e: Engine, s: Session, args: list[bytes]) -> object:
    address = parse_address(args[1])
    options = _options(args[2:], (b"WITNESS", b"LEARNER"))
    return cluster_of(e).add_backup(address, b"WITNESS" in options, b"LEARNER" in options)


@command(
    "remove_node",
    2,
    "admin no-multi",
    group="cluster",
    summary="Remove a member, named by node id or HOST:PORT, from the group",
    syntax="node",
)
def remove_node(e: Engine, s: Session, args: list[bytes]) -> object:
    raw = args[1]
    target = str(parse_node_id(raw)) if raw.isdigit() else parse_address(raw)
    return cluster_of(e).remove_node(target)


_FAILOVER_UNSUPPORTED = {
    b"FORCE": "FAILOVER FORCE is not supported: FAILOVER only hands over to a caught-up "
    "backup. To promote a node of a group that lost its majority, use PROMOTE FORCE.",
    b"TIMEOUT": "FAILOVER TIMEOUT is not supported: a handover that does not complete within "
    "an election timeout is given up and this node stays primary.",
    b"ABORT": "FAILOVER ABORT is not supported: a handover completes or gives up on its own "
    "within an election timeout.",
}


@command(
    "failover",
    -1,
    "admin no-multi",
    group="replication",
    since="6.2.0",
    summary="Hand the primary role to a caught-up backup (the most caught-up by default)",
    syntax="[TO host port]",
)
def failover(e: Engine, s: Session, args: list[bytes]) -> object:
    target = _failover_target(args)
    cluster = cluster_of(e)
    if cluster.status().role != PRIMARY:
        raise CommandError("FAILOVER is not valid when server is a replica.")
    return cluster.failover(target)


def _failover_target(args: list[bytes]) -> str | None:
    target: str | None = None
    i = 1
    while i < len(args):
        option = args[i].upper()
        if option in _FAILOVER_UNSUPPORTED:
            raise CommandError(_FAILOVER_UNSUPPORTED[option])
        if option != b"TO" or target is not None or i + 2 >= len(args):
            raise SyntaxErr()
        port = parse_int(args[i + 2])
        host = args[i + 1]
        if b":" in host and not host.startswith(b"["):
            host = b"[" + host + b"]"
        target = parse_address(host + b":" + str(port).encode())
        i += 3
    return target


@command(
    "promote",
    -1,
    "admin no-multi",
    group="replication",
    summary="Make this node the only voter of a group that lost its majority",
    syntax="FORCE",
)
def promote(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) == 1:
        raise CommandError(
            "PROMOTE needs FORCE: it makes this node the only voter of its group, so every "
            "write the group acknowledged that this node never received is lost for good. "
            "Run PROMOTE FORCE only if the lost majority cannot come back."
        )
    if len(args) > 2 or args[1].upper() != b"FORCE":
        raise SyntaxErr()
    return cluster_of(e).force_promote()


# ------------------------------------------------------------------ node-to-node


@command(
    "peer",
    -2,
    "noauth loading no-multi",
    group="cluster",
    subcommands=("auth", "join", "invite", "removed", "stream", "help"),
    summary="Node-to-node handshakes: prove the cluster secret, join a group, be invited",
    syntax="AUTH|STREAM|JOIN|INVITE|REMOVED|HELP [argument ...]",
)
def peer(e: Engine, s: Session, args: list[bytes]) -> object:
    sub = args[1].upper()
    if e.settings.tls_replication and not s.tls_verified and sub != b"HELP":
        # Mutual authentication: the secret alone does not let a node in.
        raise NoPerm(
            "with tls-replication, node-to-node commands need a TLS connection with a "
            "certificate from the group's CA"
        )
    if sub == b"AUTH":
        sub_arity("peer", sub, args, 4)
        return _peer_auth(e, s, args[2], parse_node_id(args[3]))
    if sub == b"JOIN":
        if len(args) < 4:
            sub_arity("peer", sub, args, 4)
        return _peer_join(e, s, args)
    if sub == b"REMOVED":
        # From the primary that just removed this node; only a proven peer may say so.
        sub_arity("peer", sub, args, 2)
        if not s.peer_id:
            raise NoPerm("PEER REMOVED needs PEER AUTH with the cluster secret first")
        return cluster_of(e).removed_by(s.peer_id)
    if sub == b"STREAM":
        # The connection sees the flag once this +OK is written and reads frames from then
        # on (see server/connection.py).
        sub_arity("peer", sub, args, 2)
        if not s.peer_id:
            raise NoPerm("PEER STREAM needs PEER AUTH with the cluster secret first")
        s.peer_stream = True
        return OK
    if sub == b"INVITE":
        # Sent by a primary running ADD_BACKUP to a node in no group yet. The node decides
        # whom to follow: one that holds a secret or a password follows only an inviter
        # that proved the cluster secret on this connection (PEER AUTH).
        if len(args) < 3:
            sub_arity("peer", sub, args, 3)
        options = _options(args[3:], (b"WITNESS", b"LEARNER"))
        return cluster_of(e).invited(
            parse_address(args[2]),
            b"WITNESS" in options,
            b"LEARNER" in options,
            proven=s.peer_id != 0,
        )
    if sub == b"HELP":
        sub_arity("peer", sub, args, 2)
        return help_lines(*PEER_HELP)
    raise unknown_subcommand("peer", args[1])


def _peer_auth(e: Engine, s: Session, secret: bytes, node_id: int) -> object:
    if not cluster_of(e).check_peer_secret(secret):
        raise NoPerm("invalid cluster secret")
    s.peer_id = node_id
    s.authenticated = True
    s.acl = None  # the cluster secret, not ACL, governs what a peer may send
    return OK


def _peer_join(e: Engine, s: Session, args: list[bytes]) -> object:
    # PEER is allowed before AUTH so peers can present the cluster secret; joining proves
    # nothing (and is answered with the secret), so it still needs the client password.
    if e.acl.locked and not s.authenticated:
        raise NoAuth()
    address, node_id = parse_address(args[2]), parse_node_id(args[3])
    options = _options(args[4:], (b"WITNESS", b"LEARNER"))
    witness, learner = b"WITNESS" in options, b"LEARNER" in options
    # `proven`: this connection showed the cluster secret (PEER AUTH) before asking.
    return cluster_of(e).join(address, node_id, witness, learner, proven=s.peer_id != 0)


PEER_HELP = (
    "PEER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "AUTH <secret> <node-id>",
    "    Prove the cluster secret; the connection then carries node-to-node commands.",
    "JOIN <host:port> <node-id> [WITNESS] [LEARNER]",
    "    Ask to join the group; answers the cluster secret, group name, join state and",
    "    the primary's id and address.",
    "INVITE <primary-host:port> [WITNESS] [LEARNER]",
    "    From a primary running ADD_BACKUP: a node in no group starts joining it.",
    "REMOVED",
    "    From the primary, once it removed this node: stop taking part (needs PEER AUTH).",
    "STREAM",
    "    Switch this connection to length-prefixed replication frames (needs PEER AUTH).",
    "HELP",
    "    Print this help.",
)


@command(
    "replicate",
    -2,
    "internal loading no-multi",
    group="cluster",
    summary="Replication messages from a peer (no reply: peers pipeline them)",
    syntax="message [message ...]",
)
def replicate(e: Engine, s: Session, args: list[bytes]) -> object:
    # Nodes now send frames after PEER STREAM; this stays for tools and older peers.
    cluster_of(e).receive(s.peer_id, args[1:])
    return NO_REPLY


@command(
    "heartbeat",
    1,
    "internal fast loading",
    group="cluster",
    summary="A peer's liveness probe: this node's id, term and role",
    syntax="",
)
def heartbeat(e: Engine, s: Session, args: list[bytes]) -> object:
    st = cluster_of(e).status()
    return [st.node_id, st.term, st.role.encode()]
