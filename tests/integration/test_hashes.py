"""Hash commands end to end, over RESP2 and RESP3, against tandemkv or real Redis
(TANDEMKV_TEST_TARGET=redis): redis-py for a real client library, the raw client for
exact replies, error texts and RESP3 shapes; and hashes surviving restarts (tandemkv only).
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
NOT_HASH_FLOAT = RespError("ERR hash value is not a float")


def test_a_hash_through_redis_py(r: redis.Redis) -> None:
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hset("h", "a", "3") == 0
    assert not r.hsetnx("h", "a", "x")
    assert r.hget("h", "a") == b"3"
    assert r.hmget("h", ["a", "zz", "b"]) == [b"3", None, b"2"]
    assert r.hgetall("h") == {b"a": b"3", b"b": b"2"}
    assert sorted(r.hkeys("h")) == [b"a", b"b"]
    assert sorted(r.hvals("h")) == [b"2", b"3"]
    assert r.hlen("h") == 2
    assert r.hstrlen("h", "a") == 1
    assert r.hexists("h", "b") is True
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrbyfloat("h", "f", 10.5) == 10.5
    assert r.hdel("h", "a", "b", "n", "f", "zz") == 4
    assert r.exists("h") == 0
    assert r.hgetall("h") == {}


def test_hincrbyfloat_replies_like_redis(raw: RawClient) -> None:
    assert raw.call("HINCRBYFLOAT", "h", "f", "10.5") == b"10.5"
    assert raw.call("HINCRBYFLOAT", "h", "f", "0.1") == b"10.6"
    assert raw.call("HINCRBYFLOAT", "h", "g", "1000.1") == b"1000.09999999999999998"
    assert raw.call("HINCRBYFLOAT", "h", "g", "5.0e3") == b"6000.10000000000000009"
    assert raw.call("HGET", "h", "g") == b"6000.10000000000000009"
    assert raw.call("HINCRBYFLOAT", "h", "f", "inf") == RespError("ERR value is NaN or Infinity")
    assert raw.call("HINCRBYFLOAT", "h", "f", "nan") == RespError("ERR value is not a valid float")
    raw.call("HSET", "h", "s", "abc", "i", "inf")
    assert raw.call("HINCRBYFLOAT", "h", "s", "1") == NOT_HASH_FLOAT
    assert raw.call("HINCRBYFLOAT", "h", "i", "1") == RespError(
        "ERR increment would produce NaN or Infinity"
    )


def test_hincrby_errors(raw: RawClient) -> None:
    raw.call("HSET", "h", "s", "abc", "big", str(2**63 - 1))
    assert raw.call("HINCRBY", "h", "s", 1) == RespError("ERR hash value is not an integer")
    assert raw.call("HINCRBY", "h", "big", 1) == RespError(
        "ERR increment or decrement would overflow"
    )
    assert raw.call("HINCRBY", "h", "n", "x") == RespError(
        "ERR value is not an integer or out of range"
    )


def test_wrong_type_and_arity(raw: RawClient) -> None:
    raw.call("SET", "s", "v")
    for args in (("HSET", "s", "a", "1"), ("HGETALL", "s"), ("HRANDFIELD", "s", 1)):
        assert raw.call(*args) == WRONGTYPE
    assert raw.call("HSET", "h", "a", "1", "b") == RespError(
        "ERR wrong number of arguments for 'hset' command"
    )
    assert raw.call("HMSET", "h", "a") == RespError(
        "ERR wrong number of arguments for 'hmset' command"
    )
    raw.call("HSET", "h", "a", "1")
    assert raw.call("GET", "h") == WRONGTYPE
    assert raw.call("TYPE", "h") == "hash"


def test_reply_shapes_per_protocol(raw: RawClient, protocol: int) -> None:
    raw.call("HSET", "h", "a", "1")
    if protocol == 3:
        assert raw.call("HGETALL", "h") == {b"a": b"1"}
        assert raw.call("HGETALL", "nokey") == {}
        assert raw.call("HRANDFIELD", "h", -2, "WITHVALUES") == [[b"a", b"1"], [b"a", b"1"]]
        assert raw.call("HRANDFIELD", "h", 3, "WITHVALUES") == [[b"a", b"1"]]
    else:
        assert raw.call("HGETALL", "h") == [b"a", b"1"]
        assert raw.call("HGETALL", "nokey") == []
        assert raw.call("HRANDFIELD", "h", -2, "WITHVALUES") == [b"a", b"1", b"a", b"1"]
        assert raw.call("HRANDFIELD", "h", 3, "WITHVALUES") == [b"a", b"1"]
    assert raw.call("HRANDFIELD", "h", -2) == [b"a", b"a"]
    assert raw.call("HRANDFIELD", "h") == b"a"
    assert raw.call("HRANDFIELD", "nokey") is None
    assert raw.call("HRANDFIELD", "nokey", 2) == []
    assert raw.call("HINCRBYFLOAT", "h", "f", "1.5") == b"1.5", "a bulk string, not a double"
    assert raw.call("HSCAN", "h", 0) == [b"0", [b"a", b"1", b"f", b"1.5"]]


def test_hrandfield_distinct_and_repeated(r: redis.Redis) -> None:
    fields = {f"f{i}".encode(): str(i).encode() for i in range(20)}
    r.hset("h", mapping=fields)  # type: ignore[arg-type]
    some = r.hrandfield("h", 5)
    assert len(some) == 5 and len(set(some)) == 5 and set(some) <= set(fields)
    assert sorted(r.hrandfield("h", 50)) == sorted(fields)
    many = r.hrandfield("h", -100)
    assert len(many) == 100 and set(many) <= set(fields)


def test_hscan_iterates_a_large_hash(r: redis.Redis) -> None:
    fields = {f"field:{i}".encode(): f"value:{i}".encode() for i in range(1000)}
    pipe = r.pipeline(transaction=False)
    items = list(fields.items())
    for start in range(0, len(items), 100):
        pipe.hset("big", mapping=dict(items[start : start + 100]))  # type: ignore[arg-type]
    pipe.execute()
    seen: dict[bytes, bytes] = {}
    for field, value in r.hscan_iter("big", count=50):
        assert field not in seen, "a field present throughout is returned once"
        seen[field] = value
    assert seen == fields
    matched = dict(r.hscan_iter("big", match="field:99*"))
    assert matched == {f: v for f, v in fields.items() if f.startswith(b"field:99")}


def test_a_transaction_of_hash_commands(r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=True)
    pipe.hset("h", "a", "1")
    pipe.hincrby("h", "a", 2)
    pipe.hget("h", "a")
    pipe.hdel("h", "a")
    assert pipe.execute() == [1, 3, b"3", 1]
    assert r.exists("h") == 0


# ------------------------------------------------------------------ durability


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


def write_hashes(conn: RawClient) -> dict[bytes, dict[bytes, bytes]]:
    """Hashes written with every kind of hash write; what they should hold afterwards."""
    big = {f"f{i}".encode(): f"v{i}".encode() for i in range(3000)}
    pairs = [x for item in big.items() for x in item]
    for start in range(0, len(pairs), 400):
        assert isinstance(conn.call("HSET", "big", *pairs[start : start + 400]), int)
    assert conn.call("HDEL", "big", "f0", "f1") == 2
    assert conn.call("HINCRBYFLOAT", "small", "f", "1000.1") == b"1000.09999999999999998"
    assert conn.call("HINCRBY", "small", "n", 7) == 7
    assert conn.call("HSETNX", "small", "s", b"\x00\r\n") == 1
    assert conn.call("HMSET", "gone", "a", "1") == "OK"
    assert conn.call("HDEL", "gone", "a") == 1
    assert conn.call("EXPIRE", "small", 300) == 1
    del big[b"f0"], big[b"f1"]
    small = {b"f": b"1000.09999999999999998", b"n": b"7", b"s": b"\x00\r\n"}
    return {b"big": big, b"small": small}


def check_hashes(conn: RawClient, expected: dict[bytes, dict[bytes, bytes]]) -> None:
    assert conn.call("DBSIZE") == len(expected)
    for key, fields in expected.items():
        reply = conn.call("HGETALL", key)
        assert dict(zip(reply[0::2], reply[1::2], strict=True)) == fields
    assert 290 < conn.call("TTL", "small") <= 300
    assert conn.call("EXISTS", "gone") == 0


@pytest.mark.tandemkv_only("restarts a tandemkv data directory")
def test_hashes_survive_restarts_and_snapshots(servers: ServerGroup, tmp_path: Path) -> None:
    data_dir = tmp_path / "db"
    server = servers.start(data_dir, "--fsync", "always")
    with server.raw() as conn:
        expected = write_hashes(conn)
    assert server.stop(signal.SIGTERM) == 0, server.describe()

    again = servers.start(data_dir, "--fsync", "always")
    with again.raw() as conn:
        check_hashes(conn, expected)  # from the log
        assert conn.call("BGSAVE") == "Background saving started"
        conn.call("HSET", "after", "a", "1")
        expected[b"after"] = {b"a": b"1"}
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
        check_hashes(conn, expected)  # from the snapshot and the log after it


def info_persistence(conn: RawClient) -> dict[str, str]:
    text = conn.call("INFO", "persistence")
    assert isinstance(text, bytes)
    return dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line)
