"""Fixtures for the fuzzer: the run's seed, a tandemkv server and a 3-node group.

Every server a test starts is stopped in the fixture's teardown, by pid, even when the
test fails.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS_DIR = str(Path(__file__).resolve().parents[1])
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from fuzz.seed import SEED_ENV, chosen_seed  # noqa: E402
from helpers.cluster import Cluster  # noqa: E402
from helpers.servers import ServerGroup  # noqa: E402


def pytest_report_header(config: pytest.Config) -> str:
    value = os.environ.get(SEED_ENV)
    return f"fuzz seed: {value or 'random per test'} (set {SEED_ENV}=N to replay one)"


@pytest.fixture
def fuzz_seed() -> int:
    """The run's seed: ``TANDEMKV_FUZZ_SEED`` if set, else a fresh random one."""
    seed = chosen_seed(os.environ, random.SystemRandom().randrange(2**31))
    print(f"fuzz seed {seed}", flush=True)
    return seed


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    """Start tandemkv servers on data directories of the test's; all stopped afterwards."""
    group = ServerGroup(tmp_path / "runs")
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A group of tandemkv processes in a temporary directory, all stopped afterwards."""
    group = Cluster(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()
