"""The Prometheus endpoint (--metrics-address): scraped with urllib, parsed with
prometheus_client's own parser, its series followed as the server is used."""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers.resp import RespError
from helpers.servers import (
    ServerOptions,
    ServerProcess,
    kill_process_group,
    start_server,
    tandemkv_command,
    tandemkv_env,
)

pytestmark = pytest.mark.tandemkv_only("the metrics endpoint is tandemkv's own")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def node(target: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    if target != "tandemkv":
        pytest.skip("tandemkv only")
    options = ServerOptions(extra_args=("--metrics-address", "127.0.0.1:0", "--fsync", "always"))
    proc = start_server(target, tmp_path_factory.mktemp("metrics"), options)
    yield proc
    code = proc.stop()
    kill_process_group(proc)
    assert code == 0, proc.describe()


@pytest.fixture(scope="module")
def url(node: ServerProcess) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.search(r"metrics at (http://\S+/metrics)", node.stderr_text())
        if found:
            return found.group(1)
        time.sleep(0.02)
    raise AssertionError(f"no metrics line:\n{node.describe()}")


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        assert family.documentation, family.name  # every series says what it is
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_series_follow_writes(node: ServerProcess, url: str) -> None:
    before = scrape(url)
    with node.raw() as conn:
        for i in range(5):
            assert conn.call("SET", f"k{i}", "v") == "OK"
        assert conn.call("EXPIRE", "k0", "100") == 1
        assert conn.call("GET", "k1") == b"v"
        assert isinstance(conn.call("LPUSH", "k1", "x"), RespError)  # WRONGTYPE
        assert isinstance(conn.call("GET"), RespError)  # arity: rejected
        after = scrape(url)
        assert value(after, "tandemkv_connected_clients") >= 1
    sets = value(after, "tandemkv_commands_total", command="set")
    assert sets - before.get(("tandemkv_commands_total", (("command", "set"),)), 0) == 5
    assert value(after, "tandemkv_commands_failed_total", command="lpush") == 1
    assert value(after, "tandemkv_commands_rejected_total", command="get") == 1
    assert value(after, "tandemkv_error_replies_total", code="WRONGTYPE") == 1
    count = value(after, "tandemkv_command_duration_seconds_count", command="set")
    assert (
        count
        == sets
        == value(after, "tandemkv_command_duration_seconds_bucket", command="set", le="+Inf")
    )
    assert value(after, "tandemkv_command_duration_seconds_sum", command="set") > 0
    assert value(after, "tandemkv_keys") == 5
    assert value(after, "tandemkv_expires") == 1
    assert value(after, "tandemkv_used_memory_bytes") > 0
    assert value(after, "tandemkv_resident_memory_bytes") > 1_000_000
    assert value(after, "tandemkv_log_bytes") > value(before, "tandemkv_log_bytes")
    # --fsync always: every write's entry was fsynced before its reply.
    assert value(after, "tandemkv_fsync_duration_seconds_count") > value(
        before, "tandemkv_fsync_duration_seconds_count"
    )
    assert value(after, "tandemkv_commit_index") >= value(before, "tandemkv_commit_index") + 6
    assert value(after, "tandemkv_applied_index") == value(after, "tandemkv_commit_index")


def test_node_state_series(node: ServerProcess, url: str) -> None:
    samples = scrape(url)
    assert value(samples, "tandemkv_role", role="primary") == 1
    assert value(samples, "tandemkv_role", role="backup") == 0
    assert value(samples, "tandemkv_term") >= 1
    assert value(samples, "tandemkv_connections_received_total") >= 1
    assert value(samples, "tandemkv_pubsub_channels") == 0
    assert value(samples, "tandemkv_blocked_clients") == 0
    with node.raw() as conn:
        assert conn.call("SAVE") == "OK"
        samples = scrape(url)
    assert 0 <= value(samples, "tandemkv_snapshot_age_seconds") < 60


def test_only_get_metrics_is_served(url: str) -> None:
    base = url.removesuffix("/metrics")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(base + "/other", timeout=10)
    assert missing.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as post:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x"), timeout=10)
    assert post.value.code == 405
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"x" * 10_000)  # a head that never ends is not buffered for ever
        assert sock.recv(100).startswith(b"HTTP/1.1 400")


def test_a_public_metrics_address_needs_protected_mode_off(tmp_path: Path) -> None:
    cmd = tandemkv_command(
        "--db-path", str(tmp_path / "d"), "server", "--address", "127.0.0.1:0",
        "--metrics-address", "0.0.0.0:0",
    )  # fmt: skip
    done = subprocess.run(cmd, env=tandemkv_env({}), capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "refusing to serve metrics on 0.0.0.0:0" in done.stderr
    assert "--protected-mode no" in done.stderr
