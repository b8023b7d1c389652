"""Fixtures for chaos tests: nodes behind fault proxies, a seed, tiny echo servers and a
peer mesh in front of three of them.

Every server and proxy a test starts is stopped in the fixture's teardown, by pid, even
when the test fails.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

TESTS_DIR = str(Path(__file__).resolve().parents[1])
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from chaos.cluster import PeerMesh  # noqa: E402
from chaos.echo import EchoServer  # noqa: E402
from chaos.harness import SEED_ENV, chosen_seed  # noqa: E402
from chaos.nodes import ChaosNode, NodeFactory  # noqa: E402
from helpers.servers import ServerGroup  # noqa: E402


def pytest_report_header(config: pytest.Config) -> str:
    value = os.environ.get(SEED_ENV)
    return f"chaos seed: {value or 'random per test'} (set {SEED_ENV}=N to replay one)"


@pytest.fixture
def chaos_seed() -> int:
    """The run's seed: ``TANDEMKV_CHAOS_SEED`` if set, else a fresh random one."""
    seed = chosen_seed(dict(os.environ), random.SystemRandom().randrange(2**31))
    print(f"chaos seed {seed}", flush=True)
    return seed


@pytest.fixture
def make_node(tmp_path: Path, chaos_seed: int) -> Iterator[NodeFactory]:
    """Start tandemkv (with the given server flags) behind a fault proxy."""
    group = ServerGroup(tmp_path / "runs")
    nodes: list[ChaosNode] = []

    def make(server_args: Sequence[str]) -> ChaosNode:
        name = f"node{len(nodes)}"
        node = ChaosNode(name, group, tmp_path / f"{name}-data", server_args, chaos_seed)
        nodes.append(node)
        return node.start()

    problems: list[str] = []
    try:
        yield make
    finally:
        for node in nodes:
            code = node.close()
            if code not in (None, 0):
                details = node.running().describe()
                problems.append(f"{node.name} exited {code} on SIGTERM:\n{details}")
        group.stop_all()
    if problems:
        pytest.fail("a server did not stop cleanly after the run:\n" + "\n".join(problems))


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def echoes() -> Iterator[list[EchoServer]]:
    servers = [EchoServer().start() for _ in range(3)]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def mesh(echoes: list[EchoServer]) -> Iterator[PeerMesh]:
    """One proxy per ordered pair of three nodes, each node an echo server."""
    running = PeerMesh([echo.address for echo in echoes], seed=5).start()
    try:
        yield running
    finally:
        running.stop()
