"""The cluster suites' judgements: when a group is whole, which write ends a failover, what
the SET+WAIT client counts as a replicated write."""

from __future__ import annotations

import json

import pytest
from bench.failover_writer import Ack, first_ack_after
from bench.group_measure import waitload_result
from bench.groups import healthy_tandemkv_status, online_replicas
from bench.waitload import percentile, reply_problem


def member(role: bytes, healthy: int = 1, lag: int = 0) -> dict[bytes, object]:
    return {b"role": role, b"healthy": healthy, b"lag": lag, b"address": b"127.0.0.1:1"}


def status(*members: dict[bytes, object], role: bytes = b"primary") -> dict[bytes, object]:
    return {b"role": role, b"members": list(members)}


def test_a_group_is_whole_when_the_primary_lists_two_healthy_caught_up_backups() -> None:
    whole = status(member(b"primary"), member(b"backup", lag=3), member(b"backup"))
    assert healthy_tandemkv_status(whole, members=3, max_lag=50)


@pytest.mark.parametrize(
    ("why", "reply"),
    [
        (
            "a learner is not yet a voter",
            status(member(b"primary"), member(b"learner"), member(b"backup")),
        ),
        (
            "a backup not heard from",
            status(member(b"primary"), member(b"backup", healthy=0), member(b"backup")),
        ),
        (
            "a backup far behind",
            status(member(b"primary"), member(b"backup", lag=51), member(b"backup")),
        ),
        ("lag unknown", status(member(b"primary"), member(b"backup", lag=-1), member(b"backup"))),
        ("a member missing", status(member(b"primary"), member(b"backup"))),
        (
            "asked a backup",
            status(member(b"primary"), member(b"backup"), member(b"backup"), role=b"backup"),
        ),
    ],
)
def test_a_group_is_not_whole(why: str, reply: dict[bytes, object]) -> None:
    assert not healthy_tandemkv_status(reply, members=3, max_lag=50), why


def test_online_replicas_counts_only_replicas_in_sync_with_a_primary() -> None:
    info: dict[str, object] = {
        "role": "master",
        "connected_slaves": 2,
        "slave0": {"ip": "127.0.0.1", "port": 1, "state": "online"},
        "slave1": {"ip": "127.0.0.1", "port": 2, "state": "wait_bgsave"},
    }
    assert online_replicas(info) == 1
    assert online_replicas({**info, "role": "slave"}) == 0


def test_the_failover_ends_with_the_first_write_a_new_primary_acknowledges() -> None:
    acks = [
        Ack(1.0, 0, "old:1"),
        Ack(2.0, 1, "old:1"),  # sent before the SIGKILL at 1.5, read just after
        Ack(2.6, 2, "new:2"),
        Ack(2.7, 3, "new:2"),
    ]
    assert first_ack_after(acks, 1.5, excluded="old:1") == acks[2]
    assert first_ack_after(acks, 2.7, excluded="old:1") is None


def test_wait_replies_count_only_writes_a_replica_holds() -> None:
    assert reply_problem(b"+OK\r\n", b":1\r\n") is None
    assert reply_problem(b"+OK\r\n", b":2\r\n") is None
    assert reply_problem(b"+OK\r\n", b":0\r\n") == "WAIT 1 0 returned with no replica"
    assert reply_problem(b"-READONLY x\r\n", b":1\r\n") == "SET answered b'-READONLY x'"
    assert reply_problem(b"+OK\r\n", b"-ERR no\r\n") == "WAIT answered b'-ERR no'"


def test_percentile_picks_from_sorted_values() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 100.0
    assert percentile([], 0.5) == 0.0


def test_the_wait_client_result_line_is_read_and_errors_refuse_it() -> None:
    line = {"writes": 10, "rps": 5.0, "p50_ms": 1.0, "p99_ms": 2.0, "errors": 0}
    result = waitload_result("noise\n" + json.dumps(line) + "\n")
    assert (result.requests, result.rps, result.p50_ms, result.p99_ms) == (10, 5.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="3 errors: boom"):
        waitload_result(json.dumps({**line, "errors": 3, "first_error": "boom"}))
    with pytest.raises(ValueError, match="no result line"):
        waitload_result("Traceback ...\n")
