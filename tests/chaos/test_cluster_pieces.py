"""The cluster harness's parts, without a real group: the peer mesh in front of echo
servers, STATUS / ROLE parsing, primary choice, the settle and divergence verdicts, and
the workload following a moving primary in a fake group. (The group's fault schedules
and nemesis are tested with a single node's: ``test_schedule.py``, ``test_nemesis.py``.)"""

from __future__ import annotations

import itertools
import socket
import time
from typing import Any

import pytest

from chaos.checks import check_registers
from chaos.cluster import (
    ClusterSpec,
    GroupRouter,
    NodeView,
    PeerMesh,
    choose_primary,
    convergence_problems,
    divergence,
    node_args,
    parse_role,
    parse_status,
)
from chaos.echo import EchoServer
from chaos.fakegroup import FakeGroup, fake_group
from chaos.harness import collection_problems
from chaos.workload import Workload, WorkloadConfig, redirect_hint
from helpers.resp import RespError
from tandemkv.testing.history import Status

pytestmark = pytest.mark.timeout(60)
FAST = WorkloadConfig(clients=3, keys=2, op_timeout=0.5, think_ms=(1, 5), backoff_ms=(10, 40))


# ---------------------------------------------------------------------- the peer mesh


def talk(mesh: PeerMesh, sender: int, receiver: int, payload: bytes = b"hi") -> socket.socket:
    sock = socket.create_connection(mesh.link(sender, receiver).address, timeout=2)
    sock.sendall(payload)
    return sock


def answered(sock: socket.socket, size: int = 2, wait: float = 0.4) -> bool:
    sock.settimeout(wait)
    try:
        return len(sock.recv(size)) == size
    except OSError:
        return False


def test_every_node_routes_each_peer_through_the_proxy_for_that_ordered_pair(
    mesh: PeerMesh, echoes: list[EchoServer]
) -> None:
    addresses = [f"{host}:{port}" for host, port in (echo.address for echo in echoes)]
    assert len(mesh.proxies) == 6
    for sender in range(3):
        flags = mesh.routes(sender, addresses)
        assert flags[::2] == ["--peer-route"] * 2
        routes = dict(flag.split("=") for flag in flags[1::2])
        assert set(routes) == {addresses[n] for n in range(3) if n != sender}
        for receiver in range(3):
            if receiver != sender:
                proxy = mesh.link(sender, receiver)
                assert routes[addresses[receiver]] == f"127.0.0.1:{proxy.port}"
                assert proxy.target == echoes[receiver].address


def test_isolating_a_node_silences_both_directions_and_nothing_else(mesh: PeerMesh) -> None:
    assert mesh.around(0) == [(0, 1), (0, 2), (1, 0), (2, 0)]
    mesh.cut(mesh.around(0))
    assert mesh.faulty() == [(0, 1), (0, 2), (1, 0), (2, 0)]
    for sender, receiver in itertools.permutations(range(3), 2):
        with talk(mesh, sender, receiver) as sock:
            assert answered(sock) == (0 not in (sender, receiver)), (sender, receiver)


def test_restoring_a_cut_link_resets_its_stuck_connections_and_new_ones_pass(
    mesh: PeerMesh,
) -> None:
    before = talk(mesh, 1, 2)
    assert answered(before)
    mesh.cut([(1, 2)])
    before.sendall(b"lost")
    assert not answered(before)
    mesh.restore([(1, 2)])
    before.settimeout(2)
    with pytest.raises(ConnectionResetError):  # a reset, not silence forever
        before.recv(10)
    before.close()
    with talk(mesh, 1, 2) as after:
        assert answered(after)
    assert mesh.faulty() == []


def test_a_split_cuts_exactly_the_links_between_the_sides() -> None:
    mesh = PeerMesh([("127.0.0.1", 1)] * 5, seed=1)
    crossing = mesh.between([0, 3])
    assert len(crossing) == 2 * 2 * 3
    assert all((a in (0, 3)) != (b in (0, 3)) for a, b in crossing)
    mesh.stop()


def test_node_flags_found_the_group_on_node0_and_join_it_elsewhere() -> None:
    spec = ClusterSpec(ack="leader", heartbeat_ms=40)
    addresses = ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]
    first = node_args(spec, 0, addresses, ["--peer-route", "x=y"])
    other = node_args(spec, 2, addresses, [])
    assert first[:4] == ["--address", "127.0.0.1:7001", "--role", "primary"]
    assert other[:6] == [
        "--address",
        "127.0.0.1:7003",
        "--role",
        "backup",
        "--primary",
        "127.0.0.1:7001",
    ]
    assert first[-2:] == ["--peer-route", "x=y"]
    assert "--ack" in other and other[other.index("--ack") + 1] == "leader"
    assert other[other.index("--heartbeat-ms") + 1] == "40"


# ---------------------------------------------------------------------- what nodes say


def status_reply(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "node_id": 1,
        "address": "127.0.0.1:1",
        "role": "primary",
        "term": 3,
        "leader_id": 1,
        "primary": "127.0.0.1:1",
        "last_index": 9,
        "commit_index": 9,
        "applied_index": 9,
        "ack_level": "majority",
        "members": [
            {"node_id": n, "address": f"127.0.0.1:{n}", "role": "primary" if n == 1 else "backup"}
            for n in (1, 2, 3)
        ],
    }
    fields.update(overrides)
    return fields


def view(**overrides: Any) -> NodeView:
    return parse_status(status_reply(**overrides))


def test_status_parses_from_a_resp3_map_and_from_a_resp2_flat_list() -> None:
    resp3 = {k.encode(): v.encode() if isinstance(v, str) else v for k, v in status_reply().items()}
    flat: list[Any] = []
    for key, value in status_reply().items():
        if key == "members":
            value = [[x for pair in m.items() for x in pair] for m in value]
        flat += [key.encode(), value.encode() if isinstance(value, str) else value]
    for reply in (resp3, flat):
        parsed = parse_status(reply)
        assert parsed.role == "primary" and parsed.term == 3 and parsed.commit_index == 9
        assert [m["role"] for m in parsed.members] == ["primary", "backup", "backup"]


def test_role_parses_redis_master_and_slave_replies() -> None:
    assert parse_role([b"master", 12, []]) == (True, "")
    assert parse_role([b"slave", b"127.0.0.1", 7001, b"connected", 12]) == (False, "127.0.0.1:7001")
    assert parse_role([b"slave", b"?", 0, b"connect", -1]) == (False, "")
    with pytest.raises(ValueError):
        parse_role(RespError("ERR unknown command"))


def test_the_primary_of_the_highest_term_wins_over_a_zombie() -> None:
    zombie = view(address="127.0.0.1:1", term=3)
    new = view(address="127.0.0.1:2", term=4, primary="127.0.0.1:2")
    follower = view(address="127.0.0.1:3", role="backup", term=4, primary="127.0.0.1:2")
    assert choose_primary([zombie, None, new, follower]) == "127.0.0.1:2"
    assert choose_primary([follower, None]) == "127.0.0.1:2", "followers name the primary"
    candidate = view(role="candidate", primary="", term=5)
    assert choose_primary([candidate, None]) is None


def test_a_settled_group_has_one_primary_all_voters_and_every_index_equal() -> None:
    leader = view()
    others = [view(node_id=n, address=f"127.0.0.1:{n}", role="backup") for n in (2, 3)]
    assert convergence_problems([leader, *others], 3) == []
    assert convergence_problems([leader, others[0], None], 3) == ["node2 does not answer STATUS"]
    lagging = view(node_id=3, address="127.0.0.1:3", role="backup", applied_index=8)
    assert any("not caught up" in p for p in convergence_problems([leader, others[0], lagging], 3))
    tail = view(node_id=3, address="127.0.0.1:3", role="backup", last_index=10)
    assert any("not caught up" in p for p in convergence_problems([leader, others[0], tail], 3))
    two = [leader, view(node_id=2, address="127.0.0.1:2", term=2), others[1]]
    assert "2 nodes claim to be primary" in convergence_problems(two, 3)[0]
    learner = view(members=[{"role": "primary"}, {"role": "backup"}, {"role": "learner"}])
    assert any("not 3 voters" in p for p in convergence_problems([learner, *others], 3))


def test_divergence_names_each_key_the_nodes_disagree_on() -> None:
    same = {"a": "1", "b": None}
    assert divergence([same, dict(same), dict(same)], ["n0", "n1", "n2"]) == []
    differs = divergence([same, {"a": "1", "b": "x"}, same], ["n0", "n1", "n2"])
    assert differs == ["b: n0=None, n1='x', n2=None"]


def test_readonly_errors_give_a_redirect_hint_and_other_errors_do_not() -> None:
    assert redirect_hint(RespError("READONLY not primary; primary is 127.0.0.1:7001")) == (
        "127.0.0.1:7001"
    )
    assert redirect_hint(RespError("READONLY no primary known")) == ""
    assert redirect_hint(RespError("ERR syntax error")) is None


# ---------------------------------------------------------------------- following the primary


def router_for(group: FakeGroup) -> GroupRouter:
    return GroupRouter({group.advertised(n): group.addresses[n] for n in range(3)})


def test_the_router_asks_the_nodes_follows_hints_and_ignores_a_zombie() -> None:
    with fake_group() as group:
        router = router_for(group)
        assert router.locate(None) == group.addresses[0]
        assert router.locate(group.advertised(2)) == group.addresses[2], "a hint is followed"
        assert router.locate("127.0.0.1:1") == group.addresses[0], "unknown hints are not"
        group.fail_over(1, leave_zombie=True)
        assert router.locate(None) == group.addresses[1]


def test_the_workload_follows_failovers_refused_writes_fail_and_all_checks_out() -> None:
    with fake_group() as group:
        workload = Workload(router_for(group), FAST, seed=4).start()
        time.sleep(0.4)
        group.fail_over(1, leave_zombie=True)
        time.sleep(0.4)
        switched = time.monotonic()
        group.fail_over(2)
        time.sleep(0.4)
        # Which operation first meets a moved primary is up to timing, and it may be a GET
        # for every client; fail over again (a few times at most) until a write met one.
        for _ in range(10):
            if group.writes_refused:
                break
            switched = time.monotonic()
            group.fail_over((group.primary + 1) % 3)
            time.sleep(0.3)
        workload.stop()
    outcomes = workload.outcomes()
    assert workload.errors == [] and workload.anomalies == []
    assert sum(stats.redirects for stats in workload.stats) >= 3, "every client was redirected"
    assert outcomes["put:ok"] > 0 and outcomes["get:ok"] > 0
    assert outcomes["put:fail"] + outcomes["get:fail"] + outcomes["cas:fail"] > 0
    assert workload.ok_since(switched) > 0, "clients found the newest primary"
    last = group.addresses[group.primary]
    assert any(where == last for where in workload.placement.values())
    assert group.writes_refused > 0
    ops = workload.history.ops
    assert all(workload.placement[op.id] in group.addresses for op in ops)
    assert len([op for op in ops if op.status is Status.INFO]) == 0, "nothing was lost"
    assert check_registers(ops).ok and collection_problems(ops) == []
