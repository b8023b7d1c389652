"""Role changes end to end: a 3-node group fails over by FAILOVER, then by losing its
primary; each new primary records and logs why, STATUS and `tandemkv status` show it, and
LATENCY keeps the election's duration. One group for the whole module."""

from __future__ import annotations

import json

import pytest
import redis

from helpers.cluster import Cluster, Node, wait_for
from helpers.servers import run_tandemkv

from .test_metrics import scrape, value

pytestmark = pytest.mark.tandemkv_only("cluster mode is tandemkv's own")


def _log_records(node: Node) -> list[dict[str, object]]:
    assert node.process is not None
    records = []
    for line in node.process.stderr_text().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def _metrics_url(node: Node) -> str:
    found = [r["message"] for r in _log_records(node) if str(r["message"]).startswith("metrics at")]
    assert found, "the start-up log names the metrics endpoint"
    return str(found[0]).removeprefix("metrics at ")


def _role_changes(node: Node) -> list[dict[str, object]]:
    return [r for r in _log_records(node) if r.get("event") == "role_change"]


def test_transfer_then_election_timeout_are_recorded_logged_and_shown(cluster: Cluster) -> None:
    args = ("--log-format", "json", "--latency-monitor-threshold", "1")
    args += ("--metrics-address", "127.0.0.1:0")
    a = cluster.start_three(*args)
    start = _log_records(a)[0]
    assert start["level"] == "info" and start["logger"] == "tandemkv.server"
    assert {"version", "build", "data_dir", "fsync", "appendonly", "role"} <= set(start)

    # The group replicates through the log: it cannot be turned off on a member.
    with a.client() as c:
        with pytest.raises(redis.ResponseError, match="only for a server on its own"):
            c.config_set("appendonly", "no")
        assert c.config_get("appendonly") == {"appendonly": "yes"}

    # FAILOVER: the target becomes primary by a transfer, and says so.
    b = cluster.nodes["b"]
    with a.client() as c:
        assert c.execute_command("FAILOVER", "TO", "127.0.0.1", b.port) == b"OK"
    wait_for(lambda: b.status()[b"role"] == b"primary" or None, 10, cluster.describe())
    status = b.status()
    assert status[b"last_election_reason"] == b"leadership transfer"
    assert status[b"times_became_primary"] == 1 and status[b"elections_started"] == 1
    assert 0 <= int(status[b"last_election_ago_ms"]) < 10_000  # type: ignore[call-overload]
    changes = [r for r in _role_changes(b) if r["primary_id"] == f"{status[b'node_id']:x}"]
    assert changes and changes[-1]["reason"] == "leadership transfer"

    # Kill the new primary: the next one is elected after the election timeout.
    cluster.kill("b")
    survivors = ["a", "c"]
    new = cluster.primary(among=survivors)
    status = new.status()
    assert status[b"last_election_reason"] == b"election timeout"
    assert int(status[b"elections_started"]) >= 1  # type: ignore[call-overload]
    wait_for(
        lambda: any(r["reason"] == "election timeout" for r in _role_changes(new)) or None,
        5,
        "the new primary logs why it became primary",
    )
    with new.client() as c:
        info = c.info("replication")
        assert info["tandemkv_last_election_reason"] == "election timeout"
        history = c.execute_command("LATENCY", "HISTORY", "election")
        assert history, "the election's duration is a LATENCY sample"
        assert all(ms >= 1 for _, ms in history)

    # The metrics say the same: a primary now, after an election it started itself.
    samples = scrape(_metrics_url(new))
    assert value(samples, "tandemkv_role", role="primary") == 1
    assert value(samples, "tandemkv_elections_started_total") >= 1
    assert value(samples, "tandemkv_became_primary_total") >= 1
    assert value(samples, "tandemkv_primary_changes_total") >= 2  # a, b, then itself
    assert value(samples, "tandemkv_last_election_timestamp_seconds") > 0

    # The CLI's status names the last election.
    result = run_tandemkv("status", "--server", new.address, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "last election:" in result.stdout and "election timeout" in result.stdout
