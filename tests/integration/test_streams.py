"""Stream commands end to end, against tandemkv or real Redis (TANDEMKV_TEST_TARGET=redis):
redis-py making exactly the calls python-rq 2.x makes to keep job results (rq/results.py),
the raw client for exact replies and RESP3 shapes; and streams surviving restarts and
snapshots (tandemkv only).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from helpers.resp import RawClient, RespError
from helpers.servers import ServerGroup

WRONGTYPE = RespError("WRONGTYPE Operation against a key holding the wrong kind of value")


def test_job_results_as_python_rq_keeps_them(r: redis.Redis) -> None:
    key = "rq:results:job-1"
    ids = []
    for n in range(14):  # Result.save: XADD key MAXLEN ~ 10 * field value...
        data = {"type": 1, "worker_name": "w", "return_value": f"v{n}", "execution_id": "e"}
        ids.append(r.xadd(key, data, maxlen=10))
        r.expire(key, 500)
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split(b"-"))))
    # Approximate trimming keeps at least MAXLEN entries (Redis whole nodes, tandemkv exact).
    assert 10 <= r.xlen(key) <= 14
    newest = r.xrevrange(key, "+", "-", count=1)  # Result.fetch_latest
    assert newest[0][0] == ids[-1]
    assert newest[0][1][b"return_value"] == b"v13"
    everything = r.xrevrange(key, "+", "-")  # Result.all
    assert [entry[0] for entry in everything] == ids[::-1][: len(everything)]
    blocked = r.xread({key: "0-0"}, block=1000)  # fetch_latest(timeout=...): data is there
    # redis-py gives a list of [key, entries] over RESP2, a dict over RESP3.
    found = blocked[key.encode()] if isinstance(blocked, dict) else blocked[0][1]
    if isinstance(blocked, dict) and found and isinstance(found[0], list):
        found = found[0]
    assert found[-1][0] == ids[-1]
    assert r.persist(key) is True  # Result.save with ttl -1
    assert r.ttl(key) == -1
    assert r.delete(key) == 1  # Result.delete_all
    assert r.xlen(key) == 0
    assert r.xrevrange(key, "+", "-", count=1) == []


def test_a_stream_through_redis_py(r: redis.Redis) -> None:
    assert r.xadd("s", {"a": "1"}, id="1-1") == b"1-1"
    assert r.xadd("s", {"a": "2"}, id="2-*") == b"2-0"
    assert r.xadd("s", {"b": "3"}, id="3-0", maxlen=2, approximate=False) == b"3-0"
    assert r.xrange("s") == [(b"2-0", {b"a": b"2"}), (b"3-0", {b"b": b"3"})]
    assert r.xdel("s", "2-0", "9-9") == 1
    assert r.xtrim("s", minid="4", approximate=False) == 1
    assert r.xlen("s") == 0
    assert r.type("s") == b"stream"
    assert r.xadd("none", {"a": "1"}, nomkstream=True) is None
    assert r.exists("none") == 0
    with pytest.raises(redis.ResponseError, match="equal or smaller"):
        r.xadd("s", {"a": "1"}, id="3-0")


def test_errors_and_wrong_type(raw: RawClient) -> None:
    raw.call("SET", "str", "x")
    assert raw.call("XADD", "str", "*", "a", "1") == WRONGTYPE
    assert raw.call("XLEN", "str") == WRONGTYPE
    assert raw.call("XREAD", "STREAMS", "str", "0") == WRONGTYPE
    assert raw.call("XADD", "s", "bad", "a", "1") == RespError(
        "ERR Invalid stream ID specified as stream command argument"
    )
    assert raw.call("XADD", "s", "MAXLEN", "1", "LIMIT", "1", "*", "a", "1") == RespError(
        "ERR syntax error, LIMIT cannot be used without the special ~ option"
    )
    assert raw.call("XREAD", "BLOCK", "-1", "STREAMS", "s", "0") == RespError(
        "ERR timeout is negative"
    )


def test_reply_shapes_per_protocol(raw: RawClient, protocol: int) -> None:
    raw.call("XADD", "s", "1-1", "f", "v")
    entry = [b"1-1", [b"f", b"v"]]
    assert raw.call("XRANGE", "s", "-", "+") == [entry]
    assert raw.call("XRANGE", "s", "-", "+", "COUNT", "0") is None
    assert raw.call("XREAD", "STREAMS", "s", "nokey", "0", "0") == (
        {b"s": [entry]} if protocol == 3 else [[b"s", [entry]]]
    )
    assert raw.call("XREAD", "STREAMS", "s", "$") is None


def test_a_transaction_of_stream_commands(r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=True)
    pipe.xadd("s", {"a": "1"}, id="5-0")
    pipe.xadd("s", {"a": "2"}, id="5-*")
    pipe.xlen("s")
    pipe.xread({"s": "$"}, block=100)  # inside MULTI a block answers at once
    replies = pipe.execute()
    assert replies[:3] == [b"5-0", b"5-1", 2]
    assert not replies[3]  # null: redis-py shows it as [] or {} by version and protocol


# ------------------------------------------------------------------ durability


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


def write_streams(conn: RawClient) -> None:
    for i in range(1, 3001):
        assert conn.call("XADD", "big", f"{i}-{i % 5}", "n", str(i), "b", b"\x00\r\n") is not None
    assert conn.call("XDEL", "big", "2-2", "3-3") == 2
    assert conn.call("XTRIM", "big", "MINID", "2") == 1
    assert conn.call("XADD", "empty", "MAXLEN", "0", "7-7", "a", "1") == b"7-7"
    assert conn.call("XADD", "ttl", "1-1", "a", "1") == b"1-1"
    assert conn.call("EXPIRE", "ttl", 300) == 1


def check_streams(conn: RawClient) -> None:
    assert conn.call("XLEN", "big") == 2997
    first = conn.call("XRANGE", "big", "-", "+", "COUNT", "1")
    assert first == [[b"4-4", [b"n", b"4", b"b", b"\x00\r\n"]]]
    assert conn.call("XADD", "big", "3000-0", "a", "1") == RespError(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    )
    assert conn.call("XLEN", "empty") == 0
    added = conn.call("XADD", "empty", "7-*", "a", "1")  # the last id survived: past 7-7
    assert isinstance(added, bytes) and added.startswith(b"7-") and added != b"7-7"
    assert conn.call("XDEL", "empty", added) == 1
    assert 290 < conn.call("TTL", "ttl") <= 300


@pytest.mark.tandemkv_only("restarts a tandemkv data directory")
def test_streams_survive_restarts_and_snapshots(servers: ServerGroup, tmp_path: Path) -> None:
    data_dir = tmp_path / "db"
    server = servers.start(data_dir, "--fsync", "always")
    with server.raw() as conn:
        write_streams(conn)
    assert server.stop(signal.SIGTERM) == 0, server.describe()

    again = servers.start(data_dir, "--fsync", "always")
    with again.raw() as conn:
        check_streams(conn)  # from the log
        assert conn.call("BGSAVE") == "Background saving started"
        for _ in range(200):
            fields = info_persistence(conn)
            if fields["rdb_bgsave_in_progress"] == "0" and int(fields["snapshot_index"]) > 0:
                break
            conn.call("PING")
        else:
            pytest.fail("the background save did not finish")
    again.stop(signal.SIGKILL)

    third = servers.start(data_dir, "--fsync", "always")
    with third.raw() as conn:
        check_streams(conn)  # from the snapshot and the log after it


def info_persistence(conn: RawClient) -> dict[str, str]:
    text = conn.call("INFO", "persistence")
    assert isinstance(text, bytes)
    return dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line)
