"""Cluster mode end to end: real node processes forming a group, failing over, rejoining.

The chaos tests (tests/chaos) put faults on every link; these check the operator-visible
behaviour one scenario at a time.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest
import redis
from redis.sentinel import Sentinel

from helpers.cluster import Cluster, voters, wait_for
from helpers.scheduling import batch_scheduling_allowed
from helpers.servers import ServerStartError

pytestmark = pytest.mark.tandemkv_only("cluster mode is tandemkv's own")


def three_nodes(cluster: Cluster, *extra: str) -> None:
    cluster.start_three(*extra, timeout=15)


def test_a_backup_joins_and_serves_readonly_reads(cluster: Cluster) -> None:
    primary = cluster.start("a", "--role", "primary")
    primary.client().set("before", "1")
    backup = cluster.start("b", "--role", "backup", "--primary", primary.address)
    primary.client().set("after", "2")
    with backup.client() as c:
        assert c.execute_command("READONLY") is True  # redis-py turns OK into True
        wait_for(lambda: c.get("after") == b"2" or None, 10, cluster.describe())
        assert c.get("before") == b"1"
    roles = primary.client().execute_command("ROLE")
    assert roles[0] == b"master"
    assert [backup.address.split(":")[0].encode(), str(backup.port).encode()] == roles[2][0][:2]
    role = backup.client().execute_command("ROLE")
    assert role[:4] == [b"slave", b"127.0.0.1", primary.port, b"connected"]


def test_a_backup_refuses_writes_and_plain_reads_naming_the_primary(cluster: Cluster) -> None:
    primary = cluster.start("a", "--role", "primary")
    backup = cluster.start("b", "--role", "backup", "--primary", primary.address)
    wait_for(
        lambda: backup.status()[b"primary"] == primary.address.encode() or None,
        10,
        cluster.describe(),
    )
    with backup.client() as c:
        with pytest.raises(redis.ReadOnlyError, match=f"primary is {primary.address}"):
            c.set("k", "v")
        with pytest.raises(redis.ReadOnlyError, match="send READONLY"):
            c.get("k")
    assert primary.client().get("k") is None  # the refused write changed nothing


def test_clients_cannot_send_node_to_node_commands(cluster: Cluster) -> None:
    primary = cluster.start("a", "--role", "primary")
    with primary.client() as c:
        with pytest.raises(redis.ResponseError, match=r"^'replicate' is a node-to-node"):
            c.execute_command("REPLICATE", b"\x01\x02")
        with pytest.raises(redis.ResponseError, match="invalid cluster secret"):
            c.execute_command("PEER", "AUTH", "guess", "5")
        with pytest.raises(redis.ResponseError, match="node-to-node"):
            c.execute_command("HEARTBEAT")


def test_sigkill_of_the_primary_elects_a_backup_and_loses_no_acknowledged_write(
    cluster: Cluster,
) -> None:
    three_nodes(cluster, "--fsync", "always")
    old = cluster.primary()
    with old.client() as c:
        for i in range(200):
            assert c.set(f"k{i}", i)
    cluster.kill(old.name)
    started = time.monotonic()
    survivors = [n for n in cluster.nodes if n != old.name]
    new = cluster.primary(among=survivors)
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"failover took {elapsed:.1f}s"
    with new.client() as c:
        assert c.mget([f"k{i}" for i in range(200)]) == [str(i).encode() for i in range(200)]
        c.set("after", "failover")
    # The old primary comes back with the same data directory and no flags changed: it
    # rejoins as a backup and catches up.
    cluster.start(old.name)
    cluster.converged(list(cluster.nodes))
    with cluster.nodes[old.name].client() as c:
        c.execute_command("READONLY")
        assert c.get("after") == b"failover"
        assert c.get("k199") == b"199"
    assert cluster.nodes[old.name].status()[b"role"] == b"backup"


def test_redis_py_sentinel_finds_the_primary_and_follows_a_failover(cluster: Cluster) -> None:
    three_nodes(cluster)
    sentinel = Sentinel([("127.0.0.1", n.port) for n in cluster.nodes.values()], socket_timeout=1)
    master = sentinel.master_for("tandemkv", socket_timeout=1)
    master.set("x", "1")
    old = cluster.primary()
    assert sentinel.discover_master("tandemkv") == ("127.0.0.1", old.port)
    cluster.kill(old.name)

    def write() -> bool | None:
        master.set("y", "2")
        return True

    wait_for(write, 15, cluster.describe())
    _host, port = sentinel.discover_master("tandemkv")
    assert port != old.port
    assert master.get("x") == b"1"


def test_wait_counts_the_backups_holding_the_last_write(cluster: Cluster) -> None:
    three_nodes(cluster)
    primary = cluster.primary()
    with primary.client() as c:
        c.set("w", "1")
        assert c.execute_command("WAIT", 2, 2000) == 2
    cluster.kill("c" if primary.name != "c" else "b")
    with primary.client() as c:
        c.set("w", "2")
        started = time.monotonic()
        assert c.execute_command("WAIT", 2, 300) == 1
        assert time.monotonic() - started >= 0.25


def test_failover_command_hands_over_and_remove_node_shrinks_the_group(
    cluster: Cluster,
) -> None:
    three_nodes(cluster)
    old = cluster.primary()
    target = next(n for name, n in cluster.nodes.items() if name != old.name)
    with old.client() as c:
        c.set("k", "v")
        assert c.execute_command("FAILOVER", "TO", "127.0.0.1", target.port) == b"OK"
    assert target.status()[b"role"] == b"primary"
    new = cluster.primary()
    assert new.name == target.name
    with new.client() as c:
        assert c.execute_command("REMOVE_NODE", old.address) == b"OK"
        assert voters(new) == 2
        c.set("after", "remove")  # two voters left, both up: still a majority
    with pytest.raises(redis.ResponseError, match="cannot remove itself"):
        new.client().execute_command("REMOVE_NODE", new.address)
    # The removed node is told, stops taking part, and will not start on its stale data.
    wait_for(lambda: old.status()[b"role"] == b"removed" or None, 10, cluster.describe())
    cluster.kill(old.name, signal.SIGTERM)
    with pytest.raises(ServerStartError):
        cluster.start(old.name)
    assert old.process is not None
    assert "was removed from its group" in old.process.stderr_text()


def test_a_learner_replicates_but_never_votes(cluster: Cluster) -> None:
    primary = cluster.start("a", "--role", "primary")
    learner = cluster.start("b", "--role", "backup", "--primary", primary.address, "--learner")
    primary.client().set("k", "v")
    with learner.client() as c:
        c.execute_command("READONLY")
        wait_for(lambda: c.get("k") == b"v" or None, 10, cluster.describe())
    time.sleep(1)  # long enough for a promotion, were it to happen
    roles = {m[b"address"]: m[b"role"] for m in primary.status()[b"members"]}  # type: ignore[union-attr]
    assert roles[learner.address.encode()] == b"learner"
    # A learner does not count towards the majority: the group of one keeps working
    # with the learner gone.
    cluster.kill("b")
    primary.client().set("k2", "v2")


def test_two_nodes_and_a_witness_survive_the_primary(cluster: Cluster) -> None:
    primary = cluster.start("a", "--role", "primary")
    cluster.start("b", "--role", "backup", "--primary", primary.address)
    witness = cluster.start("w", "--role", "witness", "--primary", primary.address)
    wait_for(lambda: voters(primary) == 3 or None, 15, cluster.describe())
    primary.client().set("k", "v")
    # The witness learns its role from the log the primary sends it, a moment later.
    wait_for(lambda: witness.status()[b"role"] == b"witness" or None, 10, cluster.describe())
    cluster.kill("a")
    new = cluster.primary(among=["b", "w"])
    assert new.name == "b"  # a witness holds no data and never leads
    assert new.client().get("k") == b"v"


def test_promote_force_recovers_a_group_and_fences_the_members_it_left_behind(
    cluster: Cluster,
) -> None:
    three_nodes(cluster)
    old = cluster.primary()
    old.client().set("k", "v")
    cluster.converged(list(cluster.nodes))
    others = [name for name in cluster.nodes if name != old.name]
    lost = [old.name, others[0]]
    for name in lost:
        cluster.kill(name)
    survivor = cluster.nodes[others[1]]
    with survivor.client() as c:
        c.execute_command("READONLY")
        with pytest.raises(redis.ResponseError, match="FORCE"):
            c.execute_command("PROMOTE")
        assert c.execute_command("PROMOTE", "FORCE") == b"OK"
    new = cluster.primary(among=[survivor.name])
    assert new.client().get("k") == b"v"
    new.client().set("k", "after")
    assert voters(new) == 1

    # The lost majority comes back unwiped. Together it is a majority of the old
    # membership; the first of its messages to reach the promoted node gets it told
    # that it was removed, so it stops instead of running a second primary.
    for name in lost:
        cluster.nodes[name].args = cluster.nodes[name].args[:4]  # timing flags only
        cluster.start(name)

    def both_stopped() -> bool | None:
        return all(cluster.nodes[n].status()[b"role"] == b"removed" for n in lost) or None

    wait_for(both_stopped, 15, cluster.describe())
    for name in lost:
        with pytest.raises(redis.ResponseError):
            cluster.nodes[name].client().set("k", "split brain")
    assert cluster.primary().name == survivor.name
    assert new.client().get("k") == b"after"
    assert new.status()[b"role"] == b"primary" and voters(new) == 1


def test_a_copied_snapshot_started_as_primary_makes_a_new_group(cluster: Cluster) -> None:
    """Restoring a backup: the snapshot names the old group's members, but a node started
    on it with --role primary is a group of its own, and the old group is not touched."""
    old = cluster.start("a", "--role", "primary")
    with old.client() as c:
        for i in range(20):
            c.set(f"k{i}", i)
        wait_for(lambda: _saved(c), 10, "SAVE kept answering that writes are in flight")
    restored = cluster.base / "r" / "data"
    restored.mkdir(parents=True)
    shutil.copyfile(old.data / "snapshot", restored / "snapshot")
    cluster.start("r", "--role", "primary")
    new = cluster.primary(among=["r"])
    assert new.client().get("k19") == b"19"
    members = new.status()[b"members"]
    assert isinstance(members, list)
    assert [m[b"address"] for m in members] == [new.address.encode()]
    new.client().set("k0", "changed in the new group")
    assert old.client().get("k0") == b"0"
    assert voters(old) == 1 and old.status()[b"role"] == b"primary"


def _saved(c: redis.Redis) -> bool | None:
    try:
        return bool(c.execute_command("SAVE"))
    except redis.ResponseError as error:
        if "retry" in str(error):
            return None
        raise


def test_a_whole_group_restarts_with_its_data_and_no_flags(cluster: Cluster) -> None:
    three_nodes(cluster)
    primary = cluster.primary()
    with primary.client() as c:
        for i in range(50):
            c.set(f"k{i}", i)
    for name in list(cluster.nodes):
        cluster.kill(name, signal.SIGTERM)
    for node in cluster.nodes.values():
        node.args = node.args[:4]  # only the timing flags: no role, no primary
    for name in list(cluster.nodes):
        cluster.start(name)
    new = cluster.primary()
    assert new.client().get("k49") == b"49"


def test_a_single_node_group_restarts_as_its_own_primary(cluster: Cluster) -> None:
    node = cluster.start("a", "--role", "primary", "--fsync", "always")
    node.client().set("k", "v")
    cluster.kill("a")
    node.args = node.args[:4]
    cluster.start("a")
    assert cluster.primary().client().get("k") == b"v"


def test_zombie_primary_cannot_acknowledge_reads_or_writes(cluster: Cluster) -> None:
    """A SIGSTOPped primary wakes up deposed: what it then answers must not be stale."""
    three_nodes(cluster)
    old = cluster.primary()
    zombie = old.client(socket_timeout=3)
    zombie.set("k", "old")
    os.kill(old.pid, signal.SIGSTOP)
    try:
        new = cluster.primary(among=[n for n in cluster.nodes if n != old.name])
        new.client().set("k", "new")
    finally:
        os.kill(old.pid, signal.SIGCONT)
    try:
        value = zombie.get("k")
    except (redis.ReadOnlyError, redis.ConnectionError):
        return  # refused or dropped: fine
    assert value == b"new", "a deposed primary answered a stale read"


@pytest.mark.parametrize(
    "mode", [("--ack", "leader"), ("--read-mode", "lease")], ids=["ack-leader", "read-lease"]
)
def test_the_faster_modes_serve_and_fail_over(cluster: Cluster, mode: tuple[str, str]) -> None:
    three_nodes(cluster, *mode)
    old = cluster.primary()
    with old.client() as c:
        c.set("k", "v")
        assert c.get("k") == b"v"
    cluster.converged(list(cluster.nodes))
    cluster.kill(old.name)
    new = cluster.primary(among=[n for n in cluster.nodes if n != old.name])
    with new.client() as c:
        assert c.get("k") == b"v"
        c.set("k", "w")
        assert c.get("k") == b"w"
    assert new.status()[b"ack_level"] == (b"leader" if mode[1] == "leader" else b"majority")


def test_add_backup_invites_a_node_in_no_group_in_the_role_asked(cluster: Cluster) -> None:
    primary = cluster.start("a", "--role", "primary")
    cluster.start("b", "--role", "backup")  # no --primary: waits to be invited
    witness = cluster.start("w", "--role", "backup")
    with primary.client() as c:
        assert c.execute_command("ADD_BACKUP", cluster.nodes["b"].address) == b"OK"
        assert c.execute_command("ADD_BACKUP", witness.address, "WITNESS") == b"OK"
    roles = {m[b"address"]: m[b"role"] for m in primary.status()[b"members"]}  # type: ignore[union-attr]
    assert roles[witness.address.encode()] == b"witness"
    assert roles[cluster.nodes["b"].address.encode()] in (b"learner", b"backup")


def test_a_node_holding_a_password_ignores_an_invitation_that_proves_nothing(
    cluster: Cluster,
) -> None:
    """Following it would send the node's password and secret to any address."""
    node = cluster.start("b", "--role", "backup", "--requirepass", "pw")
    with (
        node.client(password="pw") as c,
        pytest.raises(redis.ResponseError, match="must come from a node that proved"),
    ):
        c.execute_command("PEER", "INVITE", "127.0.0.1:1")
    with node.client(password="pw", protocol=3) as c:
        assert c.execute_command("STATUS")[b"role"] == b"detached"


def test_a_primary_stopped_with_sigterm_hands_its_role_over_first(cluster: Cluster) -> None:
    three_nodes(cluster)
    old = cluster.primary()
    old.client().set("k", "v")
    started = time.monotonic()
    cluster.kill(old.name, signal.SIGTERM)
    new = cluster.primary(among=[n for n in cluster.nodes if n != old.name])
    elapsed = time.monotonic() - started
    assert old.process is not None
    assert "handed the primary role over before stopping" in old.process.stderr_text()
    assert old.process.proc.returncode == 0
    assert new.client().get("k") == b"v"
    assert elapsed < 3, f"{elapsed:.2f}s"


@pytest.mark.skipif(
    not batch_scheduling_allowed(), reason="this machine does not allow SCHED_BATCH"
)
def test_backups_run_batch_scheduled_and_a_new_primary_goes_back_to_normal(
    cluster: Cluster,
) -> None:
    three_nodes(cluster)
    old = cluster.primary()
    backups = [node for node in cluster.nodes.values() if node is not old]

    def policies_settled() -> bool | None:
        return (
            os.sched_getscheduler(old.pid) == os.SCHED_OTHER
            and all(os.sched_getscheduler(b.pid) == os.SCHED_BATCH for b in backups)
        ) or None

    wait_for(policies_settled, 10, cluster.describe())
    cluster.kill(old.name)
    new = cluster.primary(among=[b.name for b in backups])
    wait_for(
        lambda: os.sched_getscheduler(new.pid) == os.SCHED_OTHER or None, 10, cluster.describe()
    )
    other = next(b for b in backups if b is not new)
    assert os.sched_getscheduler(other.pid) == os.SCHED_BATCH


@pytest.mark.skipif(not hasattr(os, "SCHED_OTHER"), reason="Linux scheduling policies")
def test_backup_scheduling_normal_leaves_backups_alone(cluster: Cluster) -> None:
    three_nodes(cluster, "--backup-scheduling", "normal")
    primary = cluster.primary()
    for node in cluster.nodes.values():
        if node is not primary:
            assert os.sched_getscheduler(node.pid) == os.SCHED_OTHER
