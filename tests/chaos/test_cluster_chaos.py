"""A three-node tandemkv group of real processes under a seeded nemesis.

Every node-to-node link runs through its own fault proxy (``--peer-route``); clients
follow the primary through failovers. The nemesis SIGKILLs the primary and restarts it,
kills other nodes, freezes the primary past the election timeout (a zombie primary),
isolates it, splits the group, cuts single links one way, flaps, delays and resets
links, and drops the primary's replies to clients. Afterwards every fault is undone,
the group must settle (one primary, every node at the same commit index, all applied),
every node must hold the same data (strings, hash fields, counters and lists), the
history must be linearizable, no acknowledged write may be missing, and no list element
may be lost, duplicated or popped from nowhere.

With ``--ack leader`` (acknowledge once the primary alone has the write), a primary cut
off from its backups acknowledges writes that the new primary never receives; the same
checks must catch that.

A failure prints its seed and the command that replays it (``TANDEMKV_CHAOS_SEED=N``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from chaos.checks import is_acknowledged_write
from chaos.cluster import Cluster, ClusterSpec, GroupRouter, parse_role
from chaos.cluster_faults import FAILOVER_KINDS
from chaos.cluster_harness import (
    ClusterChaosConfig,
    ClusterResult,
    Observer,
    run_cluster_chaos,
)
from chaos.harness import SEED_ENV, replay_command
from chaos.proxy import Address
from chaos.schedule import Schedule
from chaos.workload import Clock, Workload, WorkloadConfig
from helpers.resp import ConnectionClosed, RawClient, RespError, encode_command
from tandemkv.testing.history import Operation
from tandemkv.testing.linearizability import Verdict

ClusterFactory = Callable[..., Cluster]  # (spec, reset_on_heal=True) -> a started group

SAFE = ClusterSpec(ack="majority", fsync="always", heartbeat_ms=50, election_ms=300)
UNSAFE = ClusterSpec(ack="leader", fsync="always", heartbeat_ms=50, election_ms=300)
BOUNDED = ClusterChaosConfig(duration=38.0, calm=2.0, required=FAILOVER_KINDS)
LONG = ClusterChaosConfig(
    duration=150.0,
    calm=3.0,
    required=FAILOVER_KINDS,
    workload=WorkloadConfig(clients=8, keys=6),
    check_seconds=300.0,
)
SLOW_SEEDS = (1001, 2002, 3003)
BROKEN = ClusterChaosConfig(calm=1.0, workload=WorkloadConfig(clients=6, keys=3, read_ratio=0.0))


@pytest.fixture
def make_cluster(tmp_path: Path, chaos_seed: int) -> Iterator[ClusterFactory]:
    """Start a group; every process and proxy is stopped by pid at teardown, even when
    the test fails (stopped processes are continued first)."""
    clusters: list[Cluster] = []

    def make(spec: ClusterSpec, reset_on_heal: bool = True) -> Cluster:
        cluster = Cluster(tmp_path / f"cluster{len(clusters)}", spec, chaos_seed, reset_on_heal)
        clusters.append(cluster)
        return cluster.start()

    problems: list[str] = []
    try:
        yield make
    finally:
        for cluster in clusters:
            problems += cluster.close()
    if problems:
        pytest.fail("a node did not stop cleanly after the run:\n" + "\n".join(problems))


def report_run(result: ClusterResult) -> None:
    print(result.summary())
    print("schedule:\n" + result.schedule.describe())
    print("nemesis log:\n" + "\n".join(result.nemesis_log))


def primaries_that_acknowledged(result: ClusterResult) -> set[Address]:
    return {
        result.placement[op.id]
        for op in result.history.ops
        if is_acknowledged_write(op) and op.id in result.placement
    }


def unknown_outcomes(result: ClusterResult) -> int:
    return sum(n for name, n in result.outcomes.items() if name.endswith(":info"))


# ---------------------------------------------------------------------- the plumbing


@pytest.mark.timeout(120)
def test_a_group_forms_redirects_writes_and_fails_over_after_a_kill(
    make_cluster: ClusterFactory,
) -> None:
    cluster = make_cluster(SAFE)
    primary = cluster.primary(wait=5.0)
    assert primary is not None
    backup = (primary + 1) % 3
    with RawClient(*cluster.direct(primary), timeout=5) as conn:
        assert conn.call("SET", "plumbing", "v1") == "OK"
        assert parse_role(conn.call("ROLE")) == (True, "")
    with RawClient(*cluster.direct(backup), timeout=5) as conn:
        refused = conn.call("SET", "plumbing", "v2")
        assert isinstance(refused, RespError) and refused.text.startswith("READONLY"), refused
        assert f"primary is {cluster.addresses[primary]}" in refused.text
        assert parse_role(conn.call("ROLE")) == (False, cluster.addresses[primary])
    cluster.kill(primary)
    deadline = time.monotonic() + 10
    while (successor := cluster.primary()) in (None, primary) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert successor not in (None, primary), "no new primary within 10 s"
    assert successor is not None
    with RawClient(*cluster.direct(successor), timeout=5) as conn:
        assert call_once_serving(conn, "GET", "plumbing") == b"v1"
        assert conn.call("SET", "plumbing", "v3") == "OK"
    cluster.restart(primary)
    assert cluster.wait_converged(20) == []
    contents = [cluster.read_contents(n, ["plumbing"]) for n in range(3)]
    assert contents == [{"plumbing": "v3"}] * 3


def call_once_serving(conn: RawClient, *args: str, seconds: float = 10.0) -> object:
    """The reply of a command to a just-elected primary, which answers READONLY until it
    has applied its log (clients retry, as this does)."""
    deadline = time.monotonic() + seconds
    while True:
        reply = conn.call(*args)
        applying = isinstance(reply, RespError) and "applying its log" in reply.text
        if not applying or time.monotonic() > deadline:
            return reply
        time.sleep(0.02)


# ---------------------------------------------------------------------- the chaos runs


@pytest.mark.timeout(240)
def test_majority_ack_stays_linearizable_and_loses_nothing_under_cluster_chaos(
    make_cluster: ClusterFactory,
    chaos_seed: int,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    cluster = make_cluster(SAFE)
    result = run_cluster_chaos(cluster, chaos_seed, BOUNDED, tmp_path)
    report_run(result)
    assert not result.problems(), result.report(replay_command(request.node.nodeid, chaos_seed))
    assert result.missing == [] and result.divergence == []
    # Not vacuous: the failovers happened, clients followed them, outcomes were lost.
    assert result.schedule.kinds() >= set(FAILOVER_KINDS), result.schedule.describe()
    assert result.acknowledged_writes() > 200, result.summary()
    assert len(primaries_that_acknowledged(result)) >= 2, "clients followed a failover"
    assert unknown_outcomes(result) > 0, result.summary()


def slow_seeds() -> list[int]:
    chosen = os.environ.get(SEED_ENV, "").strip()
    return [int(chosen)] if chosen else list(SLOW_SEEDS)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("seed", slow_seeds())
def test_majority_ack_survives_long_cluster_chaos(
    make_cluster: ClusterFactory, seed: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    cluster = make_cluster(SAFE)
    result = run_cluster_chaos(cluster, seed, LONG, tmp_path)
    report_run(result)
    assert not result.problems(), result.report(
        replay_command(request.node.nodeid, seed, slow=True)
    )
    assert result.schedule.kinds() >= set(FAILOVER_KINDS)


@pytest.mark.timeout(120)
def test_a_compare_and_set_never_answers_from_a_write_that_may_not_commit(
    make_cluster: ClusterFactory,
) -> None:
    """Found by the chaos run (seed 919859769): a primary holding an uncommitted write
    of ``new`` answered ``SET k x IFEQ old`` with nil (k is not ``old``), lost its
    leadership, and ``new`` never committed, so k was ``old`` throughout. Here the
    primary is cut off first, so ``new`` cannot commit; the nil reply is then a lie."""
    cluster = make_cluster(SAFE)
    primary = cluster.primary(wait=5.0)
    assert primary is not None
    with RawClient(*cluster.direct(primary), timeout=5) as conn:
        assert conn.call("SET", "k", "old") == "OK"
    cluster.peers.cut(cluster.peers.around(primary))
    with (
        RawClient(*cluster.direct(primary), timeout=5) as held,
        RawClient(*cluster.direct(primary), timeout=5) as other,
    ):
        held.send(encode_command("SET", "k", "new"))  # its reply is held: it cannot commit
        time.sleep(0.05)
        try:
            reply = other.call("SET", "k", "x", "IFEQ", "old")
        except (OSError, ConnectionClosed):
            reply = "unknown outcome"  # what a correct server may answer: nothing
        wait_for_successor(cluster, primary)  # so that "new" is lost for good
    cluster.heal()
    assert cluster.wait_converged(15.0) == []
    final = [cluster.read_contents(n, ["k"])["k"] for n in range(3)]
    assert not (reply is None and final == ["old"] * 3), (
        f"SET k x IFEQ old answered nil, but k was 'old' all along: {final}"
    )


# ---------------------------------------------------------------------- a broken mode


class IsolateThePrimary:
    """A scripted chaos phase for ``--ack leader``.

    Write-only clients run against the primary; it is cut off from both backups while
    every client stays on it (the router is pinned), so it keeps acknowledging writes
    until check-quorum makes it step down. Once it has, and a backup has won the
    election, an observer reads every key on the new primary and writes to it (recorded
    like any client), then the clients are let go and the harness heals everything.
    ``notes`` says what happened, and when (on the run's clock)."""

    def __init__(self, hold: float = 1.0) -> None:
        self.hold = hold
        self.notes: dict[str, float] = {}

    def __call__(self, cluster: Cluster, workload: Workload, clock: Clock) -> None:
        router = workload.router
        assert isinstance(router, GroupRouter)
        time.sleep(1.0)
        old = cluster.primary(wait=5.0)
        assert old is not None, "no primary before the partition"
        router.pinned = cluster.nodes[old].address
        cluster.peers.cut(cluster.peers.around(old))
        self.notes.update(old=old, cut=clock())
        new = wait_for_successor(cluster, old)
        self.notes.update(new=new, stepped_down=clock())
        observer = Observer(workload, clock)
        where = cluster.nodes[new].address
        keys = workload.config.key_names()
        for key in keys:
            observer.get(where, key)
        for key in keys:
            observer.put(where, key)
            observer.get(where, key)
        router.pinned = None
        time.sleep(self.hold)


def wait_for_successor(cluster: Cluster, old: int) -> int:
    """The new primary, once the old one (cut off) no longer claims to be primary: every
    write the old one acknowledged or applied was before this returns."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        views = cluster.statuses()
        new = cluster.primary()
        old_view = views[old]
        if new not in (None, old) and old_view is not None and old_view.role != "primary":
            assert new is not None
            return new
        time.sleep(0.02)
    raise AssertionError(f"no failover after the cut: {[v and v.describe() for v in views]}")


def acked_on(
    ops: Sequence[Operation], placement: Mapping[int, Address], where: Address, since: float
) -> int:
    """Writes sent to ``where`` after ``since`` and acknowledged."""
    return sum(
        1
        for op in ops
        if op.call >= since and is_acknowledged_write(op) and placement.get(op.id) == where
    )


@pytest.mark.timeout(120)
def test_the_checks_catch_acknowledged_writes_lost_with_ack_leader(
    make_cluster: ClusterFactory,
    chaos_seed: int,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """``--ack leader`` answers OK once the primary alone has a write. Cut off from both
    backups, the old primary acknowledges writes until check-quorum makes it step down;
    the backups elect a new primary that never saw them and takes writes of its own.
    After healing the old primary's writes are gone: reads on the new primary proved
    them missing, and the history is not linearizable."""
    cluster = make_cluster(UNSAFE)
    script = IsolateThePrimary()
    result = run_cluster_chaos(
        cluster,
        chaos_seed,
        BROKEN,
        tmp_path,
        schedule=Schedule(chaos_seed, ()),
        script=script,
    )
    report_run(result)
    notes = script.notes
    print(f"scenario: {notes}")
    old = cluster.nodes[int(notes["old"])].address
    old_acked = acked_on(result.history.ops, result.placement, old, notes["cut"])
    assert old_acked > 0, "the cut-off primary acknowledged no writes: the scenario did not happen"
    report = result.report(replay_command(request.node.nodeid, chaos_seed))
    assert result.missing, "acknowledged writes were lost, and the check must say so:\n" + report
    assert result.check.verdict is Verdict.ILLEGAL, report
    assert "the history is not linearizable" in report
    assert {result.placement[m.write.id] for m in result.missing} == {old}, (
        "only the cut-off primary's acknowledgements were premature"
    )


@pytest.mark.timeout(120)
def test_the_same_partition_loses_nothing_with_ack_majority(
    make_cluster: ClusterFactory,
    chaos_seed: int,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """The control for the test above: with ``--ack majority`` the cut-off primary
    acknowledges nothing after the cut, and the identical scenario checks out."""
    cluster = make_cluster(SAFE)
    script = IsolateThePrimary()
    result = run_cluster_chaos(
        cluster,
        chaos_seed,
        BROKEN,
        tmp_path,
        schedule=Schedule(chaos_seed, ()),
        script=script,
    )
    report_run(result)
    assert not result.problems(), result.report(replay_command(request.node.nodeid, chaos_seed))
    old = cluster.nodes[int(script.notes["old"])].address
    assert acked_on(result.history.ops, result.placement, old, script.notes["cut"]) == 0
    observed = [op for op in result.history.ops if op.process == 1000]
    assert observed and all(op.status.value == "ok" for op in observed), observed


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_primary_whose_links_went_silently_dead_rejoins_the_group(
    make_cluster: ClusterFactory,
) -> None:
    """The chaos runs reset a damaged link's connections when it heals (TCP would
    retransmit instead; the proxy cannot). Without that reset, a connection that lost
    bytes delivers nothing ever again but never closes either, as behind a middlebox
    that dropped the flow. A node must notice a peer that has gone quiet and dial again;
    today the isolated old primary stays a candidate forever."""
    cluster = make_cluster(SAFE, reset_on_heal=False)
    old = cluster.primary(wait=5.0)
    assert old is not None
    links = cluster.peers.around(old)
    cluster.peers.cut(links)
    time.sleep(2.0)
    cluster.peers.restore(links)
    assert cluster.wait_converged(10.0) == []
