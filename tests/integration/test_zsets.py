"""Sorted sets end to end with redis-py (RESP2 and RESP3), against tandemkv or real Redis
(TANDEMKV_TEST_TARGET=redis). The restart tests are tandemkv's own: its log and snapshot."""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from helpers.resp import RawClient
from helpers.servers import ServerGroup


def pairs(reply: list[object]) -> list[tuple[bytes, float]]:
    """Scored replies as (member, score) tuples: redis-py gives tuples in RESP2, lists in
    RESP3, and a single pop flat."""
    if reply and isinstance(reply[0], bytes):
        reply = [reply]
    return [(bytes(p[0]), float(p[1])) for p in reply]  # type: ignore[index]


def test_zadd_zrange_and_scores(r: redis.Redis) -> None:
    assert r.zadd("z", {"a": 1, "b": 2.5, "c": -3}) == 3
    assert r.zadd("z", {"a": 10}, ch=True) == 1
    assert r.zrange("z", 0, -1) == [b"c", b"b", b"a"]
    assert pairs(r.zrange("z", 0, -1, withscores=True)) == [(b"c", -3.0), (b"b", 2.5), (b"a", 10.0)]
    assert r.zscore("z", "b") == 2.5
    assert r.zscore("z", "nope") is None
    assert r.zmscore("z", ["a", "nope"]) == [10.0, None]
    assert r.zincrby("z", 0.5, "b") == 3.0
    assert r.zadd("z", {"b": 1}, incr=True) == 4.0
    assert r.zadd("z", {"b": 1}, nx=True, incr=True) is None
    assert r.zcard("z") == 3
    assert r.zrank("z", "a") == 2
    assert r.zrevrank("z", "a") == 0


def test_score_ranges_and_limits(r: redis.Redis) -> None:
    r.zadd("z", {f"m{i}": i for i in range(10)})
    assert r.zcount("z", "(2", 5) == 3
    assert r.zrangebyscore("z", "(2", 5) == [b"m3", b"m4", b"m5"]
    assert r.zrangebyscore("z", "-inf", "+inf", start=2, num=2) == [b"m2", b"m3"]
    assert pairs(r.zrevrangebyscore("z", 5, "(2", withscores=True)) == [
        (b"m5", 5.0),
        (b"m4", 4.0),
        (b"m3", 3.0),
    ]
    assert r.zrange("z", 8, 3, byscore=True, desc=True, offset=1, num=2) == [b"m7", b"m6"]
    assert r.zremrangebyscore("z", 7, "+inf") == 3
    assert r.zremrangebyrank("z", 0, 1) == 2
    assert r.zrange("z", 0, -1) == [b"m2", b"m3", b"m4", b"m5", b"m6"]


def test_lex_ranges(r: redis.Redis) -> None:
    r.zadd("l", {m: 0 for m in ["a", "b", "c", "d", "e"]})
    assert r.zrangebylex("l", "[b", "(e") == [b"b", b"c", b"d"]
    assert r.zrevrangebylex("l", "+", "-", start=1, num=2) == [b"d", b"c"]
    assert r.zlexcount("l", "-", "+") == 5
    assert r.zremrangebylex("l", "-", "[b") == 2
    assert r.zrange("l", 0, -1) == [b"c", b"d", b"e"]


def test_pops(r: redis.Redis) -> None:
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    assert pairs(r.zpopmin("z")) == [(b"a", 1.0)]
    assert pairs(r.zpopmax("z", 5)) == [(b"c", 3.0), (b"b", 2.0)]
    assert r.exists("z") == 0
    assert r.zpopmin("z") == []


def test_zmpop_shape(raw: RawClient) -> None:
    raw.call("ZADD", "z", 1, "a", 2, "b")
    reply = raw.call("ZMPOP", 2, "nokey", "z", "MAX", "COUNT", 5)
    assert reply[0] == b"z"
    assert [pair[0] for pair in reply[1]] == [b"b", b"a"]
    assert float(reply[1][0][1]) == 2.0
    assert raw.call("ZMPOP", 1, "z", "MIN") is None


def test_set_algebra(r: redis.Redis) -> None:
    r.zadd("z1", {"a": 1, "b": 2})
    r.zadd("z2", {"b": 10, "c": 20})
    r.sadd("s", "a", "c")
    assert pairs(r.zunion(["z1", "z2"], withscores=True)) == [
        (b"a", 1.0),
        (b"b", 12.0),
        (b"c", 20.0),
    ]
    assert pairs(r.zinter({"z1": 2, "z2": 1}, withscores=True)) == [(b"b", 14.0)]
    assert r.zdiff(["z1", "z2"]) == [b"a"]
    assert r.zintercard(2, ["z1", "z2"]) == 1
    assert r.zunionstore("dst", ["z1", "s"], aggregate="MAX") == 3
    assert pairs(r.zrange("dst", 0, -1, withscores=True)) == [(b"a", 1.0), (b"c", 1.0), (b"b", 2.0)]
    assert r.zinterstore("dst", ["z1", "nokey"]) == 0
    assert r.exists("dst") == 0
    assert r.zdiffstore("dst", ["z2", "z1"]) == 1
    assert r.zrangestore("dst2", "z2", 0, 0) == 1
    assert r.zrange("dst2", 0, -1) == [b"b"]


def test_zscan_and_zrandmember(r: redis.Redis) -> None:
    r.zadd("big", {f"m{i}": i for i in range(500)})
    seen = dict(r.zscan_iter("big", count=100))
    assert len(seen) == 500 and seen[b"m42"] == 42.0
    picked = r.zrandmember("big", 10)
    assert len(picked) == 10 == len(set(picked))
    assert len(r.zrandmember("big", -20)) == 20
    assert r.zrandmember("nokey") is None


def test_errors(r: redis.Redis) -> None:
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.zadd("s", {"a": 1})
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        r.execute_command("ZADD", "z", "nan", "a")
    with pytest.raises(redis.ResponseError, match="not compatible"):
        r.execute_command("ZADD", "z", "NX", "XX", 1, "a")
    with pytest.raises(redis.ResponseError, match="min or max is not a float"):
        r.zcount("z", "x", 1)
    r.zadd("z", {"a": math.inf})
    with pytest.raises(redis.ResponseError, match="not a number"):
        r.zincrby("z", -math.inf, "a")


def test_resp3_doubles(raw: RawClient) -> None:
    raw.call("ZADD", "z", "0.1", "a")
    score = raw.call("ZSCORE", "z", "a")
    # RESP3 sends a double; RESP2 the %.17g text Redis 7.0 prints.
    assert score in (0.1, b"0.10000000000000001")


def test_a_big_set_survives_transactions(r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as pipe:
        pipe.zadd("z", {f"m{i}": i for i in range(2000)})
        pipe.zremrangebyrank("z", 0, 999)
        pipe.zcard("z")
        assert pipe.execute() == [2000, 1000, 1000]
    assert r.zrange("z", 0, 0) == [b"m1000"]


# ------------------------------------------------------------------- durability


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


def _state(conn: RawClient) -> list[object]:
    return [
        conn.call("ZRANGE", "z", 0, -1, "WITHSCORES"),
        conn.call("ZRANGE", "big", 0, -1, "WITHSCORES"),
        conn.call("EXISTS", "gone"),
        conn.call("TYPE", "stored"),
        conn.call("ZRANGE", "stored", 0, -1, "WITHSCORES"),
    ]


def _write(conn: RawClient) -> None:
    conn.call("ZADD", "z", 1, "a", "2.5", "b", "-inf", "c", "inf", "d")
    conn.call("ZINCRBY", "z", "0.1", "a")
    conn.call("ZPOPMAX", "z")
    for start in range(0, 3000, 500):
        pairs = [x for i in range(start, start + 500) for x in (i / 7, f"m{i}")]
        conn.call("ZADD", "big", *pairs)
    conn.call("ZREMRANGEBYSCORE", "big", 100, 200)
    conn.call("ZADD", "gone", 1, "x")
    conn.call("ZREM", "gone", "x")
    conn.call("SET", "stored", "string")
    conn.call("ZUNIONSTORE", "stored", 2, "z", "big", "WEIGHTS", 2, 1)


def _snapshot_done(conn: RawClient) -> bool:
    text = conn.call("INFO", "persistence").decode()
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return fields["rdb_bgsave_in_progress"] == "0" and int(fields["snapshot_index"]) > 0


@pytest.mark.tandemkv_only("tandemkv's log replay after a restart")
def test_sorted_sets_survive_a_restart(servers: ServerGroup, tmp_path: Path) -> None:
    server = servers.start(tmp_path / "db", "--fsync", "always")
    with server.raw() as conn:
        _write(conn)
        before = _state(conn)
    server.stop(signal.SIGKILL)  # no clean shutdown: the log alone must hold it all
    again = servers.start(tmp_path / "db", "--fsync", "always")
    with again.raw() as conn:
        assert _state(conn) == before


@pytest.mark.tandemkv_only("tandemkv's snapshot of a chunked sorted set")
def test_sorted_sets_survive_a_snapshot_and_restart(servers: ServerGroup, tmp_path: Path) -> None:
    server = servers.start(tmp_path / "db", "--fsync", "always")
    with server.raw() as conn:
        _write(conn)
        assert conn.call("BGSAVE") == "Background saving started"
        deadline = time.monotonic() + 20
        while not _snapshot_done(conn):
            assert time.monotonic() < deadline, "the background save did not finish"
            time.sleep(0.02)
        conn.call("ZADD", "z", 42, "after")
        before = _state(conn)
    assert server.stop(signal.SIGTERM) == 0, server.describe()
    assert (tmp_path / "db" / "snapshot").exists()
    again = servers.start(tmp_path / "db", "--fsync", "always")
    with again.raw() as conn:
        assert _state(conn) == before
