"""Replication and cluster commands against a fake ClusterView: ROLE, INFO replication, WAIT,
READONLY/READWRITE, SENTINEL (read back through redis-py's own parsers and Sentinel
discovery), STATUS, ADD_BACKUP, REMOVE_NODE, FAILOVER, PROMOTE, PEER, REPLICATE, HEARTBEAT."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import hiredis
import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st
from redis.sentinel import MasterNotFoundError, Sentinel

from tandemkv.commands.cluster_view import (
    BACKUP,
    CANDIDATE,
    DETACHED,
    LEARNER,
    PRIMARY,
    WITNESS,
    ClusterView,
    MemberStatus,
    NodeStatus,
    Pending,
)
from tandemkv.commands.detached import DetachedHost
from tandemkv.commands.errors import CommandError
from tandemkv.commands.replication import parse_address, replication_info
from tandemkv.commands.settings import Settings
from tandemkv.commands.table import NO_REPLY, lookup
from tandemkv.protocol.encoder import encode_reply
from tandemkv.protocol.types import OK, ErrorReply, NullArray

from .harness import NOAUTH, NOT_INT, SYNTAX, Client, World, arity_err, err

GROUP = "tkv"
SECRET = b"cluster-secret"
NO_CLUSTER = err("ERR This instance has cluster support disabled")
NOT_IN_MULTI = err("ERR Command not allowed inside a transaction")


def member(
    node_id: int, role: str, match: int, lag: int, healthy: bool, contact: int, host: str = ""
) -> MemberStatus:
    address = f"{host or f'10.0.0.{node_id}'}:{7000 + node_id}"
    return MemberStatus(node_id, address, role, match, lag, healthy, contact)


# Node 1 is the primary; 2 a backup, 3 a witness, 4 a learner, 5 a backup gone silent.
PRIMARY_VIEW = NodeStatus(
    node_id=1,
    address="10.0.0.1:7001",
    role=PRIMARY,
    term=3,
    leader_id=1,
    primary_address="10.0.0.1:7001",
    last_index=120,
    commit_index=118,
    applied_index=118,
    ack_level="majority",
    members=(
        member(1, PRIMARY, 120, 0, True, 0),
        member(2, BACKUP, 118, 2, True, 150),
        member(3, WITNESS, 120, 0, True, 80),
        member(4, LEARNER, 90, 30, True, 2500),
        member(5, BACKUP, 40, 80, False, 9000),
    ),
)

# The same group seen from backup 2: it knows little about the other backups.
BACKUP_VIEW = NodeStatus(
    node_id=2,
    address="10.0.0.2:7002",
    role=BACKUP,
    term=3,
    leader_id=1,
    primary_address="10.0.0.1:7001",
    last_index=118,
    commit_index=118,
    applied_index=117,
    ack_level="majority",
    members=(
        member(1, PRIMARY, -1, -1, True, 40),
        member(2, BACKUP, 118, -1, False, -1),
        member(3, WITNESS, -1, -1, False, -1),
        member(4, LEARNER, -1, -1, False, -1),
        member(5, BACKUP, -1, -1, False, -1),
    ),
)

PRIMARY_SILENT_VIEW = dataclasses.replace(
    BACKUP_VIEW,
    members=tuple(dataclasses.replace(m, healthy=False) for m in BACKUP_VIEW.members),
)
WITNESS_VIEW = dataclasses.replace(
    BACKUP_VIEW, node_id=3, address="10.0.0.3:7003", role=WITNESS, last_index=119
)
CANDIDATE_VIEW = dataclasses.replace(
    BACKUP_VIEW, role=CANDIDATE, term=4, leader_id=0, primary_address=""
)
DETACHED_VIEW = NodeStatus(
    node_id=9,
    address="10.0.0.9:7009",
    role=DETACHED,
    term=0,
    leader_id=0,
    primary_address="",
    last_index=0,
    commit_index=0,
    applied_index=0,
    ack_level="majority",
    members=(),
)


@dataclass
class FakeCluster:
    """A ClusterView that answers from a fixed status and records what it was asked."""

    group_name: str = GROUP
    view: NodeStatus = PRIMARY_VIEW
    wait_answer: int | Pending = 0
    promote_answer: object = OK
    calls: list[tuple[object, ...]] = field(default_factory=list)
    pendings: list[Pending] = field(default_factory=list)

    def status(self) -> NodeStatus:
        return self.view

    def check_peer_secret(self, secret: bytes) -> bool:
        return secret == SECRET

    def receive(self, peer_id: int, messages: Sequence[bytes]) -> None:
        self.calls.append(("receive", peer_id, list(messages)))

    def wait(self, index: int, replicas: int, timeout_ms: int) -> int | Pending:
        self.calls.append(("wait", index, replicas, timeout_ms))
        return self.wait_answer

    def join(
        self, address: str, node_id: int, witness: bool, learner: bool, proven: bool = False
    ) -> object:
        self.calls.append(("join", address, node_id, witness, learner, proven))
        return [SECRET, self.group_name.encode(), b"joining", 1, b"10.0.0.1:7001"]

    def invited(
        self, primary: str, witness: bool = False, learner: bool = False, proven: bool = False
    ) -> object:
        self.calls.append(("invited", primary, witness, learner, proven))
        return OK

    def removed_by(self, by: int) -> object:
        self.calls.append(("removed_by", by))
        return OK

    def add_backup(self, address: str, witness: bool, learner: bool) -> Pending:
        self.calls.append(("add_backup", address, witness, learner))
        return self._pending()

    def remove_node(self, target: str) -> Pending:
        self.calls.append(("remove_node", target))
        return self._pending()

    def failover(self, target: str | None) -> Pending:
        self.calls.append(("failover", target))
        return self._pending()

    def force_promote(self) -> object:
        self.calls.append(("force_promote",))
        return self.promote_answer

    def _pending(self) -> Pending:
        self.pendings.append(Pending())
        return self.pendings[-1]


class ClusterHost(DetachedHost):
    def __init__(self, cluster: ClusterView) -> None:
        super().__init__()
        self._cluster = cluster

    @property
    def cluster(self) -> ClusterView | None:
        return self._cluster


def node(view: NodeStatus = PRIMARY_VIEW, password: str = "") -> tuple[World, FakeCluster]:
    fake = FakeCluster(view=view)
    world = World(settings=Settings(requirepass=password), host=ClusterHost(fake))
    return world, fake


def client_of(view: NodeStatus = PRIMARY_VIEW) -> tuple[Client, FakeCluster]:
    world, fake = node(view)
    return world.client(), fake


def peer_client(view: NodeStatus = PRIMARY_VIEW) -> tuple[Client, FakeCluster]:
    c, fake = client_of(view)
    assert c("PEER", "AUTH", SECRET, 5) == OK
    return c, fake


@pytest.fixture
def standalone() -> Client:
    return World().client()


# ------------------------------------------------------------------ ROLE


def test_role_on_the_primary_lists_reachable_data_replicas() -> None:
    c, _ = client_of(PRIMARY_VIEW)
    # The witness (3) stores no data; backup 5 has gone silent: neither is listed.
    assert c("ROLE") == [
        b"master",
        120,
        [[b"10.0.0.2", b"7002", b"118"], [b"10.0.0.4", b"7004", b"90"]],
    ]


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (BACKUP_VIEW, [b"slave", b"10.0.0.1", 7001, b"connected", 118]),
        (PRIMARY_SILENT_VIEW, [b"slave", b"10.0.0.1", 7001, b"connecting", 118]),
        (WITNESS_VIEW, [b"slave", b"10.0.0.1", 7001, b"connected", 119]),
        (CANDIDATE_VIEW, [b"slave", b"?", 0, b"connect", 118]),
        (DETACHED_VIEW, [b"slave", b"?", 0, b"connect", 0]),
    ],
    ids=["backup", "primary-silent", "witness", "candidate", "detached"],
)
def test_role_elsewhere_answers_in_the_replica_form(view: NodeStatus, expected: object) -> None:
    c, _ = client_of(view)
    assert c("ROLE") == expected


def test_role_shows_ipv6_hosts_without_brackets() -> None:
    view = dataclasses.replace(BACKUP_VIEW, primary_address="[::1]:7001")
    c, _ = client_of(view)
    assert c("ROLE") == [b"slave", b"::1", 7001, b"connected", 118]


def test_role_standalone_is_a_master_without_replicas(standalone: Client) -> None:
    assert standalone("ROLE") == [b"master", 0, []]


# ------------------------------------------------------------------ INFO replication


def test_replication_info_on_the_primary() -> None:
    assert replication_info(PRIMARY_VIEW) == {
        "role": "master",
        "connected_slaves": 2,
        "slave0": "ip=10.0.0.2,port=7002,state=online,offset=118,lag=0",
        "slave1": "ip=10.0.0.4,port=7004,state=online,offset=90,lag=2",
        "master_repl_offset": 120,
        "tandemkv_node_id": 1,
        "tandemkv_role": "primary",
        "tandemkv_term": 3,
        "tandemkv_leader_id": 1,
        "tandemkv_commit_index": 118,
        "tandemkv_applied_index": 118,
        "tandemkv_ack_level": "majority",
        "tandemkv_last_election_ago_ms": -1,
        "tandemkv_last_election_term": 0,
        "tandemkv_last_election_reason": "",
        "tandemkv_elections_started": 0,
        "tandemkv_times_became_primary": 0,
        "tandemkv_primary_changes": 0,
    }


def test_replication_info_on_a_backup() -> None:
    assert replication_info(BACKUP_VIEW) == {
        "role": "slave",
        "master_host": "10.0.0.1",
        "master_port": 7001,
        "master_link_status": "up",
        "master_sync_in_progress": 0,
        "slave_read_repl_offset": 118,
        "slave_repl_offset": 117,
        "slave_priority": 100,
        "slave_read_only": 1,
        "connected_slaves": 0,
        "master_repl_offset": 118,
        "tandemkv_node_id": 2,
        "tandemkv_role": "backup",
        "tandemkv_term": 3,
        "tandemkv_leader_id": 1,
        "tandemkv_commit_index": 118,
        "tandemkv_applied_index": 117,
        "tandemkv_ack_level": "majority",
        "tandemkv_last_election_ago_ms": -1,
        "tandemkv_last_election_term": 0,
        "tandemkv_last_election_reason": "",
        "tandemkv_elections_started": 0,
        "tandemkv_times_became_primary": 0,
        "tandemkv_primary_changes": 0,
    }


@pytest.mark.parametrize(
    ("view", "host", "port", "link"),
    [
        (PRIMARY_SILENT_VIEW, "10.0.0.1", 7001, "down"),
        (CANDIDATE_VIEW, "?", 0, "down"),
        (DETACHED_VIEW, "?", 0, "down"),
    ],
)
def test_replication_info_link_down(view: NodeStatus, host: str, port: int, link: str) -> None:
    fields = replication_info(view)
    assert fields["role"] == "slave"
    assert (fields["master_host"], fields["master_port"]) == (host, port)
    assert fields["master_link_status"] == link


def test_replication_info_learner_and_witness_are_never_promoted() -> None:
    assert replication_info(WITNESS_VIEW)["slave_priority"] == 0
    learner = dataclasses.replace(BACKUP_VIEW, role=LEARNER)
    assert replication_info(learner)["slave_priority"] == 0


# ------------------------------------------------------------------ WAIT


def test_wait_on_the_primary_waits_for_this_connections_last_write() -> None:
    c, fake = client_of(PRIMARY_VIEW)
    pending = Pending()
    fake.wait_answer = pending
    c.session.last_write_index = 57
    assert c("WAIT", 2, 1500) is pending
    assert fake.calls == [("wait", 57, 2, 1500)]


def test_wait_answers_at_once_when_the_view_does() -> None:
    c, fake = client_of(PRIMARY_VIEW)
    fake.wait_answer = 3
    assert c("WAIT", -4, 0) == 3
    assert fake.calls == [("wait", 0, 0, 0)]  # a negative count is met at once


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (("a", 0), NOT_INT),
        (("1", "a"), err("ERR timeout is not an integer or out of range")),
        (("1", "1.5"), err("ERR timeout is not an integer or out of range")),
        (("1", -1), err("ERR timeout is negative")),
    ],
)
def test_wait_argument_errors(
    args: tuple[object, ...], reply: ErrorReply, standalone: Client
) -> None:
    c, fake = client_of(PRIMARY_VIEW)
    assert c("WAIT", *args) == reply  # type: ignore[arg-type]
    assert standalone("WAIT", *args) == reply  # type: ignore[arg-type]
    assert fake.calls == []


def test_wait_on_a_backup_is_refused() -> None:
    c, fake = client_of(BACKUP_VIEW)
    reply = c("WAIT", 1, 0)
    assert isinstance(reply, ErrorReply)
    assert reply.message.startswith("ERR WAIT cannot be used with replica instances.")
    assert fake.calls == []


def test_wait_standalone_answers_zero_at_once(standalone: Client) -> None:
    assert standalone("WAIT", 1, 0) == 0


def test_wait_is_refused_inside_multi() -> None:
    c, fake = client_of(PRIMARY_VIEW)
    c("MULTI")
    assert c("WAIT", 1, 0) == NOT_IN_MULTI
    assert fake.calls == []


# ------------------------------------------------------------------ READONLY / READWRITE


@pytest.mark.parametrize("view", [BACKUP_VIEW, None], ids=["cluster", "standalone"])
def test_readonly_and_readwrite_toggle_stale_reads(view: NodeStatus | None) -> None:
    c = client_of(view)[0] if view is not None else World().client()
    assert not c.session.read_stale
    assert c("READONLY") == OK
    assert c.session.read_stale
    assert c("readonly") == OK
    assert c.session.read_stale
    assert c("READWRITE") == OK
    assert not c.session.read_stale


def test_readonly_is_per_connection() -> None:
    world, _ = node(BACKUP_VIEW)
    first, second = world.client(), world.client()
    first("READONLY")
    assert not second.session.read_stale


# ------------------------------------------------------------------ SENTINEL


MASTER_STATE = {
    b"name": b"tkv",
    b"ip": b"10.0.0.1",
    b"port": b"7001",
    b"runid": b"0000000000000000000000000000000000000001",
    b"flags": b"master",
    b"role-reported": b"master",
    b"config-epoch": b"3",
    b"num-slaves": b"3",
    b"num-other-sentinels": b"0",
    b"quorum": b"3",
}


def test_sentinel_get_master_addr_by_name() -> None:
    for view in (PRIMARY_VIEW, BACKUP_VIEW, PRIMARY_SILENT_VIEW):
        c, _ = client_of(view)
        assert c("SENTINEL", "get-master-addr-by-name", GROUP) == [b"10.0.0.1", b"7001"]
        assert c("SENTINEL", "GET-MASTER-ADDR-BY-NAME", GROUP) == [b"10.0.0.1", b"7001"]


@pytest.mark.parametrize(
    ("view", "name"),
    [
        (PRIMARY_VIEW, "nosuch"),
        (PRIMARY_VIEW, "TKV"),
        (CANDIDATE_VIEW, GROUP),
        (DETACHED_VIEW, GROUP),
    ],
)
def test_sentinel_get_master_addr_null_when_unknown(view: NodeStatus, name: str) -> None:
    c, _ = client_of(view)
    assert c("SENTINEL", "get-master-addr-by-name", name) is NullArray


def test_sentinel_masters_and_master() -> None:
    c, _ = client_of(PRIMARY_VIEW)
    assert c("SENTINEL", "masters") == [MASTER_STATE]
    assert c("SENTINEL", "master", GROUP) == MASTER_STATE


@pytest.mark.parametrize(
    ("view", "flags", "ip", "port"),
    [
        (BACKUP_VIEW, b"master", b"10.0.0.1", b"7001"),
        (PRIMARY_SILENT_VIEW, b"master,s_down", b"10.0.0.1", b"7001"),
        (CANDIDATE_VIEW, b"master,s_down", b"?", b"0"),
    ],
)
def test_sentinel_master_flags_follow_reachability(
    view: NodeStatus, flags: bytes, ip: bytes, port: bytes
) -> None:
    c, _ = client_of(view)
    state = c("SENTINEL", "master", GROUP)
    assert isinstance(state, dict)
    assert (state[b"flags"], state[b"ip"], state[b"port"]) == (flags, ip, port)


def test_sentinel_replicas_lists_data_members_with_their_health() -> None:
    c, _ = client_of(PRIMARY_VIEW)
    replicas = c("SENTINEL", "replicas", GROUP)
    assert c("SENTINEL", "slaves", GROUP) == replicas
    assert isinstance(replicas, list)
    assert [(r[b"name"], r[b"flags"], r[b"slave-priority"]) for r in replicas] == [
        (b"10.0.0.2:7002", b"slave", b"100"),
        (b"10.0.0.4:7004", b"slave", b"0"),
        (b"10.0.0.5:7005", b"slave,s_down", b"100"),
    ]
    assert replicas[0] == {
        b"name": b"10.0.0.2:7002",
        b"ip": b"10.0.0.2",
        b"port": b"7002",
        b"runid": b"0000000000000000000000000000000000000002",
        b"flags": b"slave",
        b"role-reported": b"slave",
        b"master-link-down-time": b"0",
        b"master-link-status": b"ok",
        b"master-host": b"10.0.0.1",
        b"master-port": b"7001",
        b"slave-priority": b"100",
        b"slave-repl-offset": b"118",
    }


def test_sentinel_sentinels_is_empty() -> None:
    c, _ = client_of(PRIMARY_VIEW)
    assert c("SENTINEL", "sentinels", GROUP) == []


@pytest.mark.parametrize("sub", ["master", "replicas", "slaves", "sentinels"])
def test_sentinel_unknown_name(sub: str) -> None:
    c, _ = client_of(PRIMARY_VIEW)
    assert c("SENTINEL", sub, "nosuch") == err("ERR No such master with that name")


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (("foo",), err("ERR unknown subcommand 'foo'. Try SENTINEL HELP.")),
        (("ckquorum", GROUP), err("ERR unknown subcommand 'ckquorum'. Try SENTINEL HELP.")),
        (("masters", "x"), err("ERR wrong number of arguments for 'sentinel|masters' command")),
        (("master",), err("ERR wrong number of arguments for 'sentinel|master' command")),
        (
            ("get-master-addr-by-name", GROUP, "x"),
            err("ERR wrong number of arguments for 'sentinel|get-master-addr-by-name' command"),
        ),
        ((), arity_err("sentinel")),
    ],
)
def test_sentinel_errors(args: tuple[str, ...], reply: ErrorReply) -> None:
    c, _ = client_of(PRIMARY_VIEW)
    assert c("SENTINEL", *args) == reply


def test_sentinel_help(standalone: Client) -> None:
    lines = standalone("SENTINEL", "HELP")
    assert isinstance(lines, list) and lines[0].startswith("SENTINEL <subcommand>")


def test_sentinel_standalone_says_it_needs_cluster_mode(standalone: Client) -> None:
    reply = standalone("SENTINEL", "masters")
    assert isinstance(reply, ErrorReply)
    assert reply.message.startswith("ERR SENTINEL needs cluster mode")


# ---- read back the way redis-py reads it: our bytes, hiredis, redis-py's callbacks


def redis_py_reads(reply: object, protocol: int, command_name: str) -> object:
    """`reply` encoded as we send it, decoded and parsed as redis-py does for `command_name`."""
    reader = hiredis.Reader()
    reader.feed(encode_reply(reply, resp3=protocol == 3))
    response = reader.gets()
    if isinstance(response, Exception):
        raise redis.ResponseError(str(response))
    callbacks = redis.Redis(protocol=protocol).response_callbacks
    return callbacks[command_name](response) if command_name in callbacks else response


def sentinel_manager(c: Client, protocol: int) -> Sentinel:
    """redis-py's Sentinel whose one sentinel is our engine instead of a socket."""
    manager = Sentinel([("127.0.0.1", 1)], sentinel_kwargs={"protocol": protocol})  # type: ignore[no-untyped-call]

    def execute_command(*args: object, **options: object) -> object:
        name = str(args[0])
        words = [*name.split(), *(str(a) for a in args[1:])]
        return redis_py_reads(c(*words), protocol, name)

    manager.sentinels[0].execute_command = execute_command  # type: ignore[method-assign]
    return manager


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_parses_sentinel_replies(protocol: int) -> None:
    c, _ = client_of(PRIMARY_VIEW)
    masters = redis_py_reads(c("SENTINEL", "MASTERS"), protocol, "SENTINEL MASTERS")
    assert isinstance(masters, dict) and set(masters) == {GROUP}
    state = masters[GROUP]
    assert (state["ip"], state["port"], state["quorum"]) == ("10.0.0.1", 7001, 3)
    assert state["is_master"] and not state["is_sdown"] and not state["is_odown"]
    assert state["num-other-sentinels"] == 0
    master = redis_py_reads(c("SENTINEL", "MASTER", GROUP), protocol, "SENTINEL MASTER")
    assert isinstance(master, dict) and master["num-slaves"] == 3
    replicas = redis_py_reads(c("SENTINEL", "SLAVES", GROUP), protocol, "SENTINEL SLAVES")
    assert isinstance(replicas, list)
    assert [(r["ip"], r["port"], r["is_sdown"]) for r in replicas] == [
        ("10.0.0.2", 7002, False),
        ("10.0.0.4", 7004, False),
        ("10.0.0.5", 7005, True),
    ]
    addr = redis_py_reads(
        c("SENTINEL", "GET-MASTER-ADDR-BY-NAME", GROUP),
        protocol,
        "SENTINEL GET-MASTER-ADDR-BY-NAME",
    )
    assert addr == (b"10.0.0.1", 7001)
    none = redis_py_reads(
        c("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"),
        protocol,
        "SENTINEL GET-MASTER-ADDR-BY-NAME",
    )
    assert none is None


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("view", [PRIMARY_VIEW, BACKUP_VIEW], ids=["primary", "backup"])
def test_redis_py_sentinel_finds_the_primary(protocol: int, view: NodeStatus) -> None:
    c, _ = client_of(view)
    manager = sentinel_manager(c, protocol)
    pool = manager.master_for(GROUP).connection_pool  # type: ignore[no-untyped-call]
    assert pool.get_master_address() == ("10.0.0.1", 7001)


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_sentinel_skips_silent_backups(protocol: int) -> None:
    c, _ = client_of(PRIMARY_VIEW)
    manager = sentinel_manager(c, protocol)
    replicas = manager.discover_slaves(GROUP)  # type: ignore[no-untyped-call]
    assert replicas == [("10.0.0.2", 7002), ("10.0.0.4", 7004)]


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize(
    "view", [CANDIDATE_VIEW, PRIMARY_SILENT_VIEW], ids=["no-primary", "primary-silent"]
)
def test_redis_py_sentinel_finds_no_primary(protocol: int, view: NodeStatus) -> None:
    c, _ = client_of(view)
    with pytest.raises(MasterNotFoundError):
        sentinel_manager(c, protocol).discover_master(GROUP)  # type: ignore[no-untyped-call]


# ------------------------------------------------------------------ STATUS


def test_status_map() -> None:
    view = dataclasses.replace(
        PRIMARY_VIEW,
        last_election_ago_ms=2500,
        last_election_term=3,
        last_election_reason="leadership transfer",
        elections_started=1,
        times_became_primary=1,
        primary_changes=2,
    )
    c, _ = client_of(view)
    reply = c("STATUS")
    assert isinstance(reply, dict)
    assert {k: v for k, v in reply.items() if k != b"members"} == {
        b"group": b"tkv",
        b"node_id": 1,
        b"address": b"10.0.0.1:7001",
        b"role": b"primary",
        b"term": 3,
        b"leader_id": 1,
        b"primary": b"10.0.0.1:7001",
        b"last_index": 120,
        b"commit_index": 118,
        b"applied_index": 118,
        b"ack_level": b"majority",
        b"last_election_ago_ms": 2500,
        b"last_election_term": 3,
        b"last_election_reason": b"leadership transfer",
        b"elections_started": 1,
        b"times_became_primary": 1,
        b"primary_changes": 2,
    }
    members = reply[b"members"]
    assert isinstance(members, list) and len(members) == 5
    assert members[4] == {
        b"node_id": 5,
        b"address": b"10.0.0.5:7005",
        b"role": b"backup",
        b"match_index": 40,
        b"lag": 80,
        b"healthy": 0,
        b"last_contact_ms": 9000,
    }
    assert [m[b"healthy"] for m in members] == [1, 1, 1, 1, 0]


def test_status_encodes_as_map_in_resp3_and_flat_array_in_resp2() -> None:
    c, _ = client_of(DETACHED_VIEW)
    reply = c("STATUS")
    assert encode_reply(reply, resp3=True).startswith(b"%18\r\n")
    assert encode_reply(reply, resp3=False).startswith(b"*36\r\n")
    assert redis_py_reads(reply, 2, "STATUS")[-1] == []  # type: ignore[index]


def test_status_standalone(standalone: Client) -> None:
    assert standalone("STATUS") == NO_CLUSTER


# ------------------------------------------------------------------ ADD_BACKUP / REMOVE_NODE


@pytest.mark.parametrize(
    ("args", "call"),
    [
        (("10.0.0.9:7009",), ("add_backup", "10.0.0.9:7009", False, False)),
        (("db9.example:7009", "witness"), ("add_backup", "db9.example:7009", True, False)),
        (("[::1]:7009", "LEARNER"), ("add_backup", "[::1]:7009", False, True)),
        (("h:07009", "LEARNER", "WITNESS"), ("add_backup", "h:7009", True, True)),
    ],
)
def test_add_backup(args: tuple[str, ...], call: tuple[object, ...]) -> None:
    c, fake = client_of(PRIMARY_VIEW)
    assert c("ADD_BACKUP", *args) is fake.pendings[-1]
    assert fake.calls == [call]


BAD_ADDRESSES = [
    "nohost",
    ":7000",
    "h:0",
    "h:65536",
    "h:x",
    "h:",
    "a b:1",
    "::1:7000",
    "h:+1",
    "h:-1",
    "[]:1",
    "h@x:1",
    "h,x:1",
    "h;x:1",
    "[::1:1",
    "h:123456",
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_add_backup_rejects_bad_addresses(address: str) -> None:
    c, fake = client_of(PRIMARY_VIEW)
    assert c("ADD_BACKUP", address) == err(
        f"ERR invalid address '{address}': expected HOST:PORT with a port from 1 to 65535"
    )
    assert fake.calls == []


def test_add_backup_errors(standalone: Client) -> None:
    c, fake = client_of(PRIMARY_VIEW)
    assert c("ADD_BACKUP", "h:1", "VOTER") == SYNTAX
    assert c("ADD_BACKUP") == arity_err("add_backup")
    c("MULTI")
    assert c("ADD_BACKUP", "h:1") == NOT_IN_MULTI
    assert fake.calls == []
    assert standalone("ADD_BACKUP", "h:1") == NO_CLUSTER


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("3", "3"),
        ("10.0.0.3:7003", "10.0.0.3:7003"),
        ("[::1]:7003", "[::1]:7003"),
    ],
)
def test_remove_node(target: str, expected: str) -> None:
    c, fake = client_of(PRIMARY_VIEW)
    assert c("REMOVE_NODE", target) is fake.pendings[-1]
    assert fake.calls == [("remove_node", expected)]


@pytest.mark.parametrize(
    ("target", "reply"),
    [
        ("0", err("ERR node id must be a positive integer")),
        ("-2", err("ERR invalid address '-2': expected HOST:PORT with a port from 1 to 65535")),
        (
            "node3",
            err("ERR invalid address 'node3': expected HOST:PORT with a port from 1 to 65535"),
        ),
    ],
)
def test_remove_node_errors(target: str, reply: ErrorReply, standalone: Client) -> None:
    c, fake = client_of(PRIMARY_VIEW)
    assert c("REMOVE_NODE", target) == reply
    assert fake.calls == []
    assert standalone("REMOVE_NODE", "3") == NO_CLUSTER


@given(st.binary(max_size=30))
def test_parse_address_only_raises_command_errors(raw: bytes) -> None:
    try:
        address = parse_address(raw)
    except CommandError:
        return
    host, _, port = address.rpartition(":")
    assert host and 1 <= int(port) <= 65535


@given(
    st.from_regex(r"[a-z0-9][a-z0-9.\-]{0,20}", fullmatch=True),
    st.integers(min_value=1, max_value=65535),
)
def test_parse_address_accepts_host_and_port(host: str, port: int) -> None:
    assert parse_address(f"{host}:{port}".encode()) == f"{host}:{port}"


# ------------------------------------------------------------------ FAILOVER / PROMOTE


@pytest.mark.parametrize(
    ("args", "target"),
    [
        ((), None),
        (("TO", "10.0.0.2", 7002), "10.0.0.2:7002"),
        (("to", "::1", 7002), "[::1]:7002"),
    ],
)
def test_failover(args: tuple[object, ...], target: str | None) -> None:
    c, fake = client_of(PRIMARY_VIEW)
    assert c("FAILOVER", *args) is fake.pendings[-1]  # type: ignore[arg-type]
    assert fake.calls == [("failover", target)]


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (("FORCE",), "ERR FAILOVER FORCE is not supported"),
        (("TO", "h", 1, "FORCE"), "ERR FAILOVER FORCE is not supported"),
        (("TIMEOUT", 100), "ERR FAILOVER TIMEOUT is not supported"),
        (("abort",), "ERR FAILOVER ABORT is not supported"),
    ],
)
def test_failover_unsupported_options(args: tuple[object, ...], start: str) -> None:
    c, fake = client_of(PRIMARY_VIEW)
    reply = c("FAILOVER", *args)  # type: ignore[arg-type]
    assert isinstance(reply, ErrorReply) and reply.message.startswith(start)
    assert fake.calls == []


def test_failover_force_points_to_promote_force() -> None:
    c, _ = client_of(PRIMARY_VIEW)
    reply = c("FAILOVER", "FORCE")
    assert isinstance(reply, ErrorReply) and "PROMOTE FORCE" in reply.message


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (("TO", "h"), SYNTAX),
        (("TO", "h", 1, "TO", "h", 2), SYNTAX),
        (("FOO",), SYNTAX),
        (("TO", "h", "x"), NOT_INT),
        (
            ("TO", "h", 0),
            err("ERR invalid address 'h:0': expected HOST:PORT with a port from 1 to 65535"),
        ),
    ],
)
def test_failover_syntax_errors(args: tuple[object, ...], reply: ErrorReply) -> None:
    c, fake = client_of(PRIMARY_VIEW)
    assert c("FAILOVER", *args) == reply  # type: ignore[arg-type]
    assert fake.calls == []


def test_failover_elsewhere(standalone: Client) -> None:
    c, fake = client_of(BACKUP_VIEW)
    assert c("FAILOVER") == err("ERR FAILOVER is not valid when server is a replica.")
    assert fake.calls == []
    assert standalone("FAILOVER") == NO_CLUSTER


def test_promote_force() -> None:
    c, fake = client_of(CANDIDATE_VIEW)
    assert c("PROMOTE", "force") == OK
    fake.promote_answer = err("ERR this node is not a member")
    assert c("PROMOTE", "FORCE") == err("ERR this node is not a member")
    assert fake.calls == [("force_promote",), ("force_promote",)]


def test_promote_needs_force(standalone: Client) -> None:
    c, fake = client_of(CANDIDATE_VIEW)
    reply = c("PROMOTE")
    assert isinstance(reply, ErrorReply)
    assert "PROMOTE FORCE" in reply.message and "lost" in reply.message
    assert c("PROMOTE", "NOW") == SYNTAX
    assert c("PROMOTE", "FORCE", "NOW") == SYNTAX
    assert fake.calls == []
    assert standalone("PROMOTE", "FORCE") == NO_CLUSTER


# ------------------------------------------------------------------ PEER


def test_peer_auth_makes_the_connection_a_peer() -> None:
    world, _ = node(PRIMARY_VIEW, password="pw")
    c = world.client()
    assert not c.session.authenticated
    assert c("PEER", "AUTH", SECRET, 2) == OK  # allowed before AUTH
    assert (c.session.peer_id, c.session.authenticated) == (2, True)
    assert c("GET", "k") is None


def test_peer_auth_with_a_wrong_secret_changes_nothing() -> None:
    world, _ = node(PRIMARY_VIEW, password="pw")
    c = world.client()
    assert c("PEER", "AUTH", "guess", 2) == err("NOPERM invalid cluster secret")
    assert (c.session.peer_id, c.session.authenticated) == (0, False)
    assert c("GET", "k") == NOAUTH


def test_with_tls_replication_peers_need_a_verified_certificate() -> None:
    fake = FakeCluster(view=PRIMARY_VIEW)
    world = World(settings=Settings(tls_replication=True), host=ClusterHost(fake))
    refused = err(
        "NOPERM with tls-replication, node-to-node commands need a TLS connection with a "
        "certificate from the group's CA"
    )
    stranger = world.client()  # plaintext, or TLS without a client certificate
    for args in (("AUTH", SECRET, 2), ("JOIN", "10.0.0.8:7008", 8), ("INVITE", "10.0.0.9:1")):
        assert stranger("PEER", *args) == refused
    assert stranger.session.peer_id == 0
    assert isinstance(stranger("PEER", "HELP"), list)
    member = world.client(tls_verified=True)
    assert member("PEER", "AUTH", SECRET, 2) == OK
    assert member.session.peer_id == 2


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (("AUTH", SECRET, 0), err("ERR node id must be a positive integer")),
        (("AUTH", SECRET, -1), err("ERR node id must be a positive integer")),
        (("AUTH", SECRET, "x"), err("ERR node id must be a positive integer")),
        (("AUTH", SECRET), err("ERR wrong number of arguments for 'peer|auth' command")),
        (("AUTH", SECRET, 1, 2), err("ERR wrong number of arguments for 'peer|auth' command")),
        (("JOIN", "h:1"), err("ERR wrong number of arguments for 'peer|join' command")),
        (("JOIN", "h:1", 0), err("ERR node id must be a positive integer")),
        (
            ("JOIN", "h", 1),
            err("ERR invalid address 'h': expected HOST:PORT with a port from 1 to 65535"),
        ),
        (("JOIN", "h:1", 1, "VOTER"), SYNTAX),
        (("FOO",), err("ERR unknown subcommand 'FOO'. Try PEER HELP.")),
    ],
)
def test_peer_errors(args: tuple[object, ...], reply: ErrorReply) -> None:
    c, fake = client_of(PRIMARY_VIEW)
    assert c("PEER", *args) == reply  # type: ignore[arg-type]
    assert c.session.peer_id == 0
    assert fake.calls == []


JOIN_ANSWER = [SECRET, b"tkv", b"joining", 1, b"10.0.0.1:7001"]


def test_peer_join() -> None:
    c, fake = client_of(PRIMARY_VIEW)
    assert c("PEER", "JOIN", "10.0.0.8:7008", 8, "learner") == JOIN_ANSWER
    assert c("PEER", "JOIN", "10.0.0.7:7007", 7, "WITNESS") == JOIN_ANSWER
    assert fake.calls == [
        ("join", "10.0.0.8:7008", 8, False, True, False),
        ("join", "10.0.0.7:7007", 7, True, False, False),
    ]


def test_peer_join_after_peer_auth_is_proven() -> None:
    c, fake = peer_client(PRIMARY_VIEW)
    assert c("PEER", "JOIN", "10.0.0.5:7005", 5) == JOIN_ANSWER
    assert fake.calls == [("join", "10.0.0.5:7005", 5, False, False, True)]


def test_peer_join_still_needs_the_client_password() -> None:
    world, fake = node(PRIMARY_VIEW, password="pw")
    c = world.client()
    assert c("PEER", "JOIN", "10.0.0.8:7008", 8) == NOAUTH
    assert fake.calls == []
    assert c("AUTH", "pw") == OK
    assert c("PEER", "JOIN", "10.0.0.8:7008", 8) == JOIN_ANSWER
    assert fake.calls == [("join", "10.0.0.8:7008", 8, False, False, False)]


def test_peer_join_passes_the_nodes_refusal_on() -> None:
    c, fake = client_of(BACKUP_VIEW)

    def refuse(*args: object, **options: object) -> object:
        raise CommandError("this node is not the primary; the primary is 10.0.0.1:7001")

    fake.join = refuse  # type: ignore[method-assign]
    assert c("PEER", "JOIN", "10.0.0.8:7008", 8) == err(
        "ERR this node is not the primary; the primary is 10.0.0.1:7001"
    )


def test_peer_invite() -> None:
    world, fake = node(DETACHED_VIEW, password="pw")
    c = world.client()  # the inviting primary does not know this node's password
    assert c("PEER", "INVITE", "10.0.0.1:7001") == OK
    assert c("PEER", "INVITE", "10.0.0.1:7001", "witness") == OK
    # The node, not the command, decides whether an unproven inviter is trusted.
    assert fake.calls == [
        ("invited", "10.0.0.1:7001", False, False, False),
        ("invited", "10.0.0.1:7001", True, False, False),
    ]
    assert c("PEER", "INVITE", "nowhere") == err(
        "ERR invalid address 'nowhere': expected HOST:PORT with a port from 1 to 65535"
    )
    assert c("PEER", "INVITE") == err("ERR wrong number of arguments for 'peer|invite' command")
    assert c("PEER", "INVITE", "10.0.0.1:7001", "BOGUS") == err("ERR syntax error")
    assert len(fake.calls) == 2


def test_peer_standalone(standalone: Client) -> None:
    assert standalone("PEER", "AUTH", SECRET, 1) == NO_CLUSTER
    assert standalone.session.peer_id == 0
    assert standalone("PEER", "JOIN", "h:1", 1) == NO_CLUSTER
    assert standalone("PEER", "INVITE", "h:1") == NO_CLUSTER
    assert isinstance(standalone("PEER", "HELP"), list)


# ------------------------------------------------------------------ REPLICATE / HEARTBEAT


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("REPLICATE", b"\x00blob"), "replicate"),
        (("HEARTBEAT",), "heartbeat"),
    ],
)
def test_peer_only_commands_refuse_clients(args: tuple[object, ...], name: str) -> None:
    c, fake = client_of(PRIMARY_VIEW)
    assert c(*args) == err(  # type: ignore[arg-type]
        f"NOPERM '{name}' is a node-to-node command; only peers that proved the cluster "
        "secret may send it"
    )
    assert c("PEER", "AUTH", "guess", 5) == err("NOPERM invalid cluster secret")
    assert isinstance(c(*args), ErrorReply)  # type: ignore[arg-type]
    assert fake.calls == []


def test_replicate_hands_messages_to_the_node_and_sends_nothing_back() -> None:
    c, fake = peer_client(BACKUP_VIEW)
    assert c("REPLICATE", b"\x00one", b"two\r\n") is NO_REPLY
    assert c("REPLICATE", b"three") is NO_REPLY
    assert fake.calls == [("receive", 5, [b"\x00one", b"two\r\n"]), ("receive", 5, [b"three"])]


def test_heartbeat_answers_id_term_and_role() -> None:
    assert peer_client(PRIMARY_VIEW)[0]("HEARTBEAT") == [1, 3, b"primary"]
    assert peer_client(BACKUP_VIEW)[0]("HEARTBEAT") == [2, 3, b"backup"]


def test_peer_commands_still_need_auth_first_for_clients() -> None:
    world, fake = node(PRIMARY_VIEW, password="pw")
    assert world.client()("REPLICATE", "x") == NOAUTH
    assert fake.calls == []


# ------------------------------------------------------------------ the table


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("role", {"loading", "fast"}),
        ("wait", {"no-multi"}),
        ("readonly", {"fast", "loading"}),
        ("readwrite", {"fast", "loading"}),
        ("sentinel", {"admin", "loading"}),
        ("status", {"loading"}),
        ("add_backup", {"admin", "no-multi"}),
        ("remove_node", {"admin", "no-multi"}),
        ("failover", {"admin", "no-multi"}),
        ("promote", {"admin", "no-multi"}),
        ("peer", {"noauth", "loading", "no-multi"}),
        ("replicate", {"internal", "loading", "no-multi"}),
        ("heartbeat", {"internal", "fast", "loading"}),
    ],
)
def test_flags(name: str, flags: set[str]) -> None:
    spec = lookup(name.encode())
    assert spec is not None
    assert spec.flags == flags
    assert spec.internal == ("internal" in flags)
    # None reads or writes keys: a backup's gate must let them all through.
    assert not spec.is_write and "readonly" not in spec.flags
    assert spec.summary and spec.group in ("replication", "cluster", "sentinel")


def test_peer_removed_needs_a_proven_peer() -> None:
    world, fake = node(DETACHED_VIEW)
    c = world.client()
    assert c("PEER", "REMOVED") == err(
        "NOPERM PEER REMOVED needs PEER AUTH with the cluster secret first"
    )
    assert fake.calls == []


def test_peer_stream_needs_a_proven_peer() -> None:
    world, fake = node(PRIMARY_VIEW)
    c = world.client()
    assert c("PEER", "STREAM") == err(
        "NOPERM PEER STREAM needs PEER AUTH with the cluster secret first"
    )
    assert c("PEER", "AUTH", "guess", 5) == err("NOPERM invalid cluster secret")
    assert c("PEER", "STREAM") == err(
        "NOPERM PEER STREAM needs PEER AUTH with the cluster secret first"
    )
    assert c.session.peer_stream is False
    assert fake.calls == []


def test_peer_stream_marks_the_session_for_the_connection_to_switch() -> None:
    c, fake = peer_client(BACKUP_VIEW)
    assert c("PEER", "STREAM", "now") == err(
        "ERR wrong number of arguments for 'peer|stream' command"
    )
    assert c.session.peer_stream is False
    assert c("peer", "stream") == OK
    assert c.session.peer_stream is True
    assert fake.calls == []


def test_peer_help_lists_each_subcommand_once() -> None:
    c, _ = client_of(PRIMARY_VIEW)
    lines = c("PEER", "HELP")
    assert isinstance(lines, list)
    names = [str(line).split()[0] for line in lines[1:] if not str(line).startswith(" ")]
    assert names == ["AUTH", "JOIN", "INVITE", "REMOVED", "STREAM", "HELP"]
    spec = lookup(b"peer")
    assert spec is not None
    assert [name.upper() for name in spec.subcommands] == names
