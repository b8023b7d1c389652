"""Fixtures for end-to-end tests against a real server process.

``TANDEMKV_TEST_TARGET=redis`` runs the same tests against redis-server; tests marked
``tandemkv_only`` are then skipped with their reason shown in the summary.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

TESTS_DIR = str(Path(__file__).resolve().parents[1])
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from helpers.cluster import Cluster  # noqa: E402
from helpers.resp import RawClient  # noqa: E402
from helpers.servers import (  # noqa: E402
    ServerOptions,
    ServerProcess,
    SharedServer,
    current_target,
    kill_process_group,
    raise_nofile_limit,
    start_server,
)

INTEGRATION_DIR = Path(__file__).resolve().parent
DEFAULT_TEST_TIMEOUT = 60


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tandemkv_only(reason): tandemkv behaviour Redis 7 lacks; skipped when the "
        "integration target is redis",
    )
    raise_nofile_limit(8192)


def pytest_report_header(config: pytest.Config) -> str:
    return f"integration target: {current_target()} (set TANDEMKV_TEST_TARGET=redis|tandemkv)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    target = current_target()
    for item in items:
        if INTEGRATION_DIR not in Path(item.path).resolve().parents:
            continue
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TEST_TIMEOUT))
        marker = item.get_closest_marker("tandemkv_only")
        if marker is not None and target != "tandemkv":
            reason = marker.args[0] if marker.args else "tandemkv-only behaviour"
            item.add_marker(pytest.mark.skip(reason=f"tandemkv-only, target is {target}: {reason}"))


@pytest.fixture(scope="session")
def target() -> str:
    return current_target()


@pytest.fixture(scope="module")
def shared_server(target: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServer]:
    shared = SharedServer(target, tmp_path_factory.mktemp("server"))
    yield shared
    code = shared.process.stop()
    kill_process_group(shared.process)
    if code != 0 or shared.process.crash_reports():
        pytest.fail(f"shared server did not stop cleanly:\n{shared.process.describe()}")


@pytest.fixture
def server(shared_server: SharedServer) -> Iterator[ServerProcess]:
    """The module's server, emptied before the test; a crash during the test fails it."""
    proc = shared_server.ensure_running()
    with proc.raw() as conn:
        assert conn.call("FLUSHALL") == "OK"
    stderr_offset = len(proc.stderr_text())
    yield proc
    if not proc.alive():
        pytest.fail(f"the server exited during this test:\n{proc.describe()}")
    if proc.crash_reports(since=stderr_offset):
        pytest.fail(f"the server logged an internal error during this test:\n{proc.describe()}")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def r(server: ServerProcess, protocol: int) -> Iterator[redis.Redis]:
    """A redis-py client speaking RESP2 or RESP3."""
    client = server.client(protocol=protocol)
    yield client
    client.close()


@pytest.fixture
def raw(server: ServerProcess, protocol: int) -> Iterator[RawClient]:
    """A byte-level client; switched to RESP3 with HELLO 3 for the resp3 variant."""
    with server.raw() as conn:
        if protocol == 3:
            hello = conn.call("HELLO", "3")
            assert isinstance(hello, dict) and hello[b"proto"] == 3, hello
        yield conn


@pytest.fixture
def raw2(server: ServerProcess) -> Iterator[RawClient]:
    """A byte-level RESP2 client (for replies whose shape differs between protocols)."""
    with server.raw() as conn:
        yield conn


@pytest.fixture
def make_server(target: str, tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start extra servers with options; all are stopped (by pid) after the test."""
    started: list[ServerProcess] = []

    def make(**options: Any) -> ServerProcess:
        proc = start_server(target, tmp_path / f"server{len(started)}", ServerOptions(**options))
        started.append(proc)
        return proc

    yield make
    problems = []
    for proc in started:
        was_running = proc.alive()
        code = proc.stop()
        kill_process_group(proc)  # a child it forked (a background save) must not linger
        if was_running and code != 0:
            problems.append(f"exit code {code} after SIGTERM:\n{proc.describe()}")
        if proc.crash_reports():
            problems.append(f"internal error on stderr:\n{proc.describe()}")
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A group of tandemkv processes in a temporary directory, all stopped afterwards."""
    group = Cluster(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()
