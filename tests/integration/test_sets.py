"""Set commands end to end, with redis-py over RESP2 and RESP3 and with raw RESP bytes.

Everything here but the restart tests passes against real Redis too
(TANDEMKV_TEST_TARGET=redis); those need tandemkv's log and snapshot.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from helpers.resp import RawClient, encode_command
from helpers.servers import ServerGroup, ServerProcess

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def test_a_set_through_its_life(r: redis.Redis) -> None:
    assert r.sadd("s", "a", "b", "c", "a") == 3
    assert r.sadd("s", "c", "d") == 1
    assert r.scard("s") == 4
    assert r.smembers("s") == {b"a", b"b", b"c", b"d"}
    assert r.sismember("s", "a") == 1
    assert r.smismember("s", ["a", "x", "d"]) == [1, 0, 1]
    assert r.srem("s", "a", "x") == 1
    assert r.type("s") == b"set"
    assert r.smove("s", "t", "b") is True
    assert r.smove("s", "t", "zz") is False
    assert r.smembers("t") == {b"b"}
    assert r.srem("s", "c", "d") == 2
    assert r.exists("s") == 0


def test_algebra_and_store_forms(r: redis.Redis) -> None:
    r.sadd("a", 1, 2, 3, 4)
    r.sadd("b", 2, 3, 5)
    assert r.sinter("a", "b") == {b"2", b"3"}
    assert r.sunion("a", "b") == {b"1", b"2", b"3", b"4", b"5"}
    assert r.sdiff("a", "b") == {b"1", b"4"}
    assert r.sintercard(2, ["a", "b"]) == 2
    assert r.sintercard(1, ["a"], limit=3) == 3
    r.set("d", "string", ex=100)
    assert r.sinterstore("d", ["a", "b"]) == 2
    assert r.ttl("d") == -1 and r.smembers("d") == {b"2", b"3"}
    assert r.sunionstore("a", ["a", "b"]) == 5, "the destination may be a source"
    assert r.sdiffstore("d", ["b", "a"]) == 0
    assert r.exists("d") == 0


def test_random_draws(r: redis.Redis) -> None:
    everything = {str(i).encode() for i in range(20)}
    r.sadd("s", *range(20))
    assert r.srandmember("s") in everything
    some = r.srandmember("s", 5)
    assert len(set(some)) == 5 and set(some) <= everything
    repeated = r.srandmember("s", -40)
    assert len(repeated) == 40 and set(repeated) <= everything
    popped = r.spop("s", 5)
    assert len(set(popped)) == 5 and set(popped) <= everything
    one = r.spop("s")
    assert one in everything - set(popped)
    assert r.smembers("s") == everything - set(popped) - {one}
    assert r.spop("missing") is None and r.srandmember("missing") is None


def test_draining_a_large_set_returns_each_member_once(r: redis.Redis) -> None:
    size = 5000
    r.sadd("s", *range(size))
    pipe = r.pipeline(transaction=False)
    for _ in range(size):
        pipe.spop("s")
    popped = pipe.execute()
    assert sorted(popped) == sorted(str(i).encode() for i in range(size))
    assert r.exists("s") == 0


def test_sscan_walks_every_member(r: redis.Redis) -> None:
    r.sadd("s", *(f"m{i}" for i in range(2000)))
    seen = list(r.sscan_iter("s", count=100))
    assert sorted(seen) == sorted(f"m{i}".encode() for i in range(2000))
    assert set(r.sscan_iter("s", match="m19??")) == {f"m{i}".encode() for i in range(1900, 2000)}


def test_errors(r: redis.Redis) -> None:
    r.set("str", "x")
    r.sadd("s", "a")
    for call in (
        lambda: r.sadd("str", "a"),
        lambda: r.sinter("missing", "str"),
        lambda: r.sunionstore("d", ["s", "str"]),
        lambda: r.smove("s", "str", "a"),
        lambda: r.spop("str"),
    ):
        with pytest.raises(redis.ResponseError, match=WRONGTYPE):
            call()
    with pytest.raises(redis.ResponseError, match="value is out of range, must be positive"):
        r.execute_command("SPOP", "s", -1)
    with pytest.raises(redis.ResponseError, match="numkeys should be greater than 0"):
        r.execute_command("SINTERCARD", 0, "s")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'sadd'"):
        r.execute_command("SADD", "s")


def exact_reply(conn: RawClient, expected: bytes, *args: str | int) -> None:
    """Send one command and compare the reply's bytes (the RESP3 type byte included)."""
    conn.send(encode_command(*args))
    data = b""
    while len(data) < len(expected):
        chunk = conn.sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    assert data == expected, args


def test_resp3_wire_types(server: ServerProcess) -> None:
    with server.raw() as conn:
        hello = conn.call("HELLO", "3")
        assert isinstance(hello, dict)
        conn.call("SADD", "one", "x")
        set_of_x = b"~1\r\n$1\r\nx\r\n"
        for command in (("SMEMBERS", "one"), ("SINTER", "one"), ("SUNION", "one")):
            exact_reply(conn, set_of_x, *command)
        exact_reply(conn, set_of_x, "SDIFF", "one", "missing")
        exact_reply(conn, b"~0\r\n", "SMEMBERS", "missing")
        exact_reply(conn, b"*1\r\n$1\r\nx\r\n", "SRANDMEMBER", "one", 1)
        exact_reply(conn, b"*2\r\n$1\r\nx\r\n$1\r\nx\r\n", "SRANDMEMBER", "one", -2)
        exact_reply(conn, b"*0\r\n", "SRANDMEMBER", "missing", 2)
        exact_reply(conn, b"_\r\n", "SRANDMEMBER", "missing")
        exact_reply(conn, b"*2\r\n:1\r\n:0\r\n", "SMISMEMBER", "one", "x", "y")
        exact_reply(conn, b"~0\r\n", "SPOP", "missing", 2)
        exact_reply(conn, set_of_x, "SPOP", "one", 3)
        exact_reply(conn, b"_\r\n", "SPOP", "one")


def test_resp2_shapes(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.call("SADD", "one", "x")
        exact_reply(conn, b"*1\r\n$1\r\nx\r\n", "SMEMBERS", "one")
        exact_reply(conn, b"*0\r\n", "SPOP", "missing", 2)
        exact_reply(conn, b"$-1\r\n", "SPOP", "missing")
        exact_reply(conn, b"*1\r\n$1\r\nx\r\n", "SPOP", "one", 1)


# ------------------------------------------------------------------ restarts


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


def write_sets(conn: RawClient) -> dict[bytes, set[bytes]]:
    """Sets made by every kind of set write; what they should hold afterwards."""
    big = [f"member-{i}".encode() for i in range(3000)]  # several snapshot chunks
    conn.call("SADD", "big", *big)
    conn.call("SADD", "a", "1", "2", "3", "\x00bin")
    conn.call("SADD", "b", "2", "3", "4")
    conn.call("SREM", "a", "1")
    popped = conn.call("SPOP", "big", 10)
    one = conn.call("SPOP", "big")
    conn.call("SMOVE", "b", "moved", "4")
    conn.call("SINTERSTORE", "inter", "a", "b")
    conn.call("SUNIONSTORE", "a", "a", "b")
    conn.call("SDIFFSTORE", "gone", "b", "a")
    conn.call("SADD", "empty", "x")
    conn.call("SPOP", "empty")
    return {
        b"big": set(big) - set(popped) - {one},
        b"a": {b"2", b"3", b"\x00bin"},
        b"b": {b"2", b"3"},
        b"moved": {b"4"},
        b"inter": {b"2", b"3"},
    }


def check_sets(conn: RawClient, expected: dict[bytes, set[bytes]]) -> None:
    assert sorted(conn.call("KEYS", "*")) == sorted(expected)
    for key, members in expected.items():
        assert set(conn.call("SMEMBERS", key)) == members, key
        assert conn.call("SCARD", key) == len(members)


@pytest.mark.tandemkv_only("tandemkv's log and data directory")
def test_sets_survive_a_restart(servers: ServerGroup, tmp_path: Path) -> None:
    data_dir = tmp_path / "db"
    server = servers.start(data_dir, "--fsync", "always")
    with server.raw() as conn:
        expected = write_sets(conn)
        check_sets(conn, expected)
    assert server.stop(signal.SIGTERM) == 0, server.describe()
    again = servers.start(data_dir, "--fsync", "always")
    with again.raw() as conn:
        check_sets(conn, expected)


@pytest.mark.tandemkv_only("tandemkv's snapshots and data directory")
def test_sets_survive_a_snapshot_and_a_crash(servers: ServerGroup, tmp_path: Path) -> None:
    data_dir = tmp_path / "db"
    server = servers.start(data_dir, "--fsync", "always")
    with server.raw() as conn:
        expected = write_sets(conn)
        assert conn.call("SAVE") == "OK"
        conn.call("SADD", "after", "x", "y")
        conn.call("SREM", "big", "member-0", "member-1")
        conn.call("EXPIRE", "moved", 1000)
        expected[b"after"] = {b"x", b"y"}
        expected[b"big"] -= {b"member-0", b"member-1"}
    server.stop(signal.SIGKILL)
    again = servers.start(data_dir, "--fsync", "always")
    with again.raw() as conn:
        check_sets(conn, expected)
        assert 990 < conn.call("TTL", "moved") <= 1000
