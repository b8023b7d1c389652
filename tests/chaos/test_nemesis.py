"""The nemesis carries out every step and undoes it, against single nodes and against a
group: real proxies for the links, process faults recorded instead of signalled."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.cluster import PeerMesh
from chaos.cluster_faults import ALL_CLUSTER_KINDS, ClusterFaults, ClusterTarget
from chaos.nemesis import Nemesis
from chaos.node_faults import ALL_KINDS, NodeFaults, NodeTarget
from chaos.proxy import BOTH, FaultProxy, Mode
from chaos.schedule import K, Schedule, make_schedule

pytestmark = pytest.mark.timeout(60)


def quick(schedule: Schedule[K]) -> Schedule[K]:
    """The same steps, a hundredth of a second apart and lasting two hundredths."""
    return Schedule(
        schedule.seed,
        tuple(replace(step, at=0.01 * n, duration=0.02) for n, step in enumerate(schedule.steps)),
    )


@pytest.fixture
def clients() -> Iterator[list[FaultProxy]]:
    """Each node's client-side proxy, in front of nothing: only its faults matter."""
    proxies = [FaultProxy(("127.0.0.1", 1), name=f"c{n}").start() for n in range(3)]
    try:
        yield proxies
    finally:
        for proxy in proxies:
            proxy.stop()


class _RecordingCluster:
    """What the nemesis asks of a cluster, with a real mesh and recorded process faults;
    ``node(n)`` is node n as a ``ChaosNode``, for the single-node target."""

    def __init__(self, mesh: PeerMesh, client_proxies: list[FaultProxy]) -> None:
        self.peers = mesh
        self.calls: list[tuple[str, int]] = []
        self.nodes = [SimpleNamespace(proxy=proxy) for proxy in client_proxies]

    def primary(self, wait: float = 0.0) -> int:
        return 1

    def kill(self, n: int) -> None:
        self.calls.append(("kill", n))

    def restart(self, n: int) -> None:
        self.calls.append(("restart", n))

    def pause(self, n: int) -> None:
        self.calls.append(("pause", n))

    def resume(self, n: int) -> None:
        self.calls.append(("resume", n))

    def heal(self) -> None:
        self.peers.heal_all()

    def node(self, n: int) -> Any:
        return SimpleNamespace(
            proxy=self.nodes[n].proxy,
            kill=partial(self.kill, n),
            restart=partial(self.restart, n),
            pause=partial(self.pause, n),
            resume=partial(self.resume, n),
        )

    def assert_undone(self) -> None:
        """Every kill was followed by a restart, every pause by a resume, and no link or
        client proxy was left with a fault."""
        kills = [n for call, n in self.calls if call == "kill"]
        assert kills and sorted(kills) == sorted(n for call, n in self.calls if call == "restart")
        pauses = [n for call, n in self.calls if call == "pause"]
        assert pauses and sorted(pauses) == sorted(n for call, n in self.calls if call == "resume")
        clients = [node.proxy for node in self.nodes]
        assert self.peers.faulty() == [] and all(not c.partitioned for c in clients)
        assert all(c.fault(d).mode is Mode.PASS for c in clients for d in BOTH)


def test_the_nemesis_undoes_every_fault_on_single_nodes(
    mesh: PeerMesh,
    clients: list[FaultProxy],
) -> None:
    fast = quick(make_schedule(11, 30.0, NodeFaults(), ALL_KINDS, nodes=3, required=ALL_KINDS))
    recorder = _RecordingCluster(mesh, clients)
    nemesis = Nemesis(fast, NodeTarget([recorder.node(n) for n in range(3)])).start()
    assert nemesis.wait(30)
    assert nemesis.errors == []
    assert fast.kinds() == set(ALL_KINDS)
    assert nemesis.hit == [step.node for step in fast.steps]
    recorder.assert_undone()


def test_the_nemesis_undoes_every_fault_and_aims_primary_faults_at_the_primary(
    mesh: PeerMesh,
    clients: list[FaultProxy],
) -> None:
    every = ALL_CLUSTER_KINDS
    fast = quick(make_schedule(11, 60.0, ClusterFaults(), every, nodes=3, required=every))
    cluster = _RecordingCluster(mesh, clients)
    nemesis = Nemesis(fast, ClusterTarget(cluster)).start()  # type: ignore[arg-type]
    assert nemesis.wait(30)
    assert nemesis.errors == []
    assert fast.kinds() == set(ALL_CLUSTER_KINDS)
    cluster.assert_undone()
    aimed = [
        hit
        for step, hit in zip(fast.steps, nemesis.hit, strict=True)
        if step.kind.value.endswith("primary")
    ]
    assert aimed and set(aimed) == {1}


def test_a_nemesis_never_started_stops_at_once_and_still_heals(
    mesh: PeerMesh,
    clients: list[FaultProxy],
) -> None:
    """A scripted cluster run never starts the nemesis, but stops and heals it."""
    cluster = _RecordingCluster(mesh, clients)
    mesh.cut(mesh.around(0))
    nemesis = Nemesis(Schedule(1, ()), ClusterTarget(cluster))  # type: ignore[arg-type]
    nemesis.stop(timeout=0.1)
    nemesis.heal_all()
    assert nemesis.errors == [] and mesh.faulty() == []
    assert nemesis.log and "healed" in nemesis.log[-1]
