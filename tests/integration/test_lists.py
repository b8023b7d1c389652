"""List commands end to end: redis-py over RESP2 and RESP3, exact error texts and null
shapes with the raw client, pipelines and MULTI, and (tandemkv only) lists surviving a
restart from the log and from a snapshot. Everything but the restarts also runs against
real Redis (TANDEMKV_TEST_TARGET=redis)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from helpers.resp import RawClient, RespError
from helpers.servers import ServerGroup, ServerProcess

WRONGTYPE = RespError("WRONGTYPE Operation against a key holding the wrong kind of value")


def test_push_range_and_length(r: redis.Redis) -> None:
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "x") == 4
    assert r.lrange("l", 0, -1) == [b"x", b"a", b"b", b"c"]
    assert r.lrange("l", -2, -1) == [b"b", b"c"]
    assert r.lrange("l", 10, 20) == []
    assert r.llen("l") == 4
    assert r.lpushx("nope", "a") == 0
    assert r.rpushx("l", "z") == 5
    assert r.exists("nope") == 0


def test_pops_with_and_without_count(r: redis.Redis) -> None:
    r.rpush("l", "a", "b", "c", "d")
    assert r.lpop("l") == b"a"
    assert r.rpop("l") == b"d"
    assert r.lpop("l", 0) == []
    assert r.rpop("l", 5) == [b"c", b"b"]
    assert r.exists("l") == 0
    assert r.lpop("l") is None
    assert r.lpop("l", 2) is None


def test_index_set_insert_remove_trim(r: redis.Redis) -> None:
    r.rpush("l", "a", "b", "a", "c", "a")
    assert r.lindex("l", -1) == b"a"
    assert r.lindex("l", 9) is None
    assert r.lset("l", 1, "B") is True
    assert r.linsert("l", "BEFORE", "c", "x") == 6
    assert r.linsert("l", "AFTER", "zz", "x") == -1
    assert r.lrem("l", -2, "a") == 2
    assert r.lrange("l", 0, -1) == [b"a", b"B", b"x", b"c"]
    assert r.ltrim("l", 1, -1) is True
    assert r.lrange("l", 0, -1) == [b"B", b"x", b"c"]
    assert r.ltrim("l", 5, 9) is True
    assert r.exists("l") == 0


def test_lpos(r: redis.Redis) -> None:
    r.rpush("l", "a", "b", "a", "c", "a")
    assert r.lpos("l", "a") == 0
    assert r.lpos("l", "a", rank=-1) == 4
    assert r.lpos("l", "a", count=0) == [0, 2, 4]
    assert r.lpos("l", "a", rank=2, count=1) == [2]
    assert r.lpos("l", "a", count=0, maxlen=3) == [0, 2]
    assert r.lpos("l", "z") is None
    assert r.lpos("l", "z", count=2) == []


def test_lmove_rpoplpush_and_rotation(r: redis.Redis) -> None:
    r.rpush("src", "a", "b", "c")
    assert r.lmove("src", "dst", "LEFT", "RIGHT") == b"a"
    assert r.rpoplpush("src", "dst") == b"c"
    assert r.lrange("dst", 0, -1) == [b"c", b"a"]
    assert r.lmove("dst", "dst", "LEFT", "RIGHT") == b"c"
    assert r.lrange("dst", 0, -1) == [b"a", b"c"]
    assert r.lmove("nope", "dst") is None
    assert r.rpoplpush("src", "dst") == b"b"
    assert r.exists("src") == 0


def test_lmpop(r: redis.Redis) -> None:
    r.rpush("second", "a", "b", "c")
    assert r.lmpop(2, "first", "second", direction="LEFT") == [b"second", [b"a"]]
    assert r.lmpop(2, "first", "second", direction="RIGHT", count=5) == [b"second", [b"c", b"b"]]
    assert r.lmpop(2, "first", "second", direction="LEFT") is None


def test_pipeline_and_transaction(r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=True)
    pipe.rpush("l", "a", "b", "c")
    pipe.lmove("l", "m", "LEFT", "LEFT")
    pipe.lrange("l", 0, -1)
    assert pipe.execute() == [3, b"a", [b"b", b"c"]]
    assert r.lrange("m", 0, -1) == [b"a"]


def test_errors_are_byte_exact(raw: RawClient) -> None:
    assert raw.call("SET", "s", "v") == "OK"
    assert raw.call("RPUSH", "l", "a") == 1
    script = [
        (("LPUSH", "s", "a"), WRONGTYPE),
        (("LMOVE", "l", "s", "LEFT", "LEFT"), WRONGTYPE),
        (("LSET", "nope", 0, "v"), RespError("ERR no such key")),
        (("LSET", "l", 5, "v"), RespError("ERR index out of range")),
        (("LPOP", "l", -1), RespError("ERR value is out of range, must be positive")),
        (("LPOS", "l", "a", "COUNT", -1), RespError("ERR COUNT can't be negative")),
        (("LPOS", "l", "a", "MAXLEN", -1), RespError("ERR MAXLEN can't be negative")),
        (("LMPOP", 0, "l", "LEFT"), RespError("ERR numkeys should be greater than 0")),
        (("LMPOP", 1, "l", "LEFT", "COUNT", 0), RespError("ERR count should be greater than 0")),
        (("LINSERT", "l", "MIDDLE", "a", "b"), RespError("ERR syntax error")),
        (("LPOP", "l", 1, 2), RespError("ERR wrong number of arguments for 'lpop' command")),
        (("LRANGE", "l", "x", 1), RespError("ERR value is not an integer or out of range")),
    ]
    for args, expected in script:
        assert raw.call(*args) == expected, args
    assert raw.call("LRANGE", "l", 0, -1) == [b"a"]


def test_null_shapes_are_byte_exact(raw: RawClient, protocol: int) -> None:
    """LPOP with a count on an absent key is a null array (*-1) in RESP2, a bare null
    without count ($-1); RESP3 has one null (_)."""
    raw.call("RPUSH", "l", "a")
    shapes = [
        (("LPOP", "nope"), b"$-1\r\n", b"_\r\n"),
        (("LPOP", "nope", 2), b"*-1\r\n", b"_\r\n"),
        (("LPOP", "nope", 0), b"*-1\r\n", b"_\r\n"),
        (("LMPOP", 1, "nope", "LEFT"), b"*-1\r\n", b"_\r\n"),
        (("LPOP", "l", 0), b"*0\r\n", b"*0\r\n"),
    ]
    for args, resp2, resp3 in shapes:
        raw.send(_command(*args) + _command("ECHO", "end"))
        want = (resp2 if protocol == 2 else resp3) + b"$3\r\nend\r\n"
        got = b""
        deadline = time.monotonic() + 5
        while len(got) < len(want) and time.monotonic() < deadline:
            got += raw.sock.recv(65536)
        assert got == want, args


def _command(*args: object) -> bytes:
    parts = [str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def test_a_big_list_round_trips(r: redis.Redis) -> None:
    items = [f"item-{i}".encode() for i in range(5000)]
    for start in range(0, len(items), 1000):
        r.rpush("big", *items[start : start + 1000])
    assert r.llen("big") == 5000
    assert r.lrange("big", -3, -1) == items[-3:]
    assert r.lrange("big", 0, -1) == items
    assert r.lindex("big", 4321) == items[4321]


# ------------------------------------------------------------------ durability


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


def fill_lists(server: ServerProcess) -> None:
    with server.raw() as conn:
        assert conn.call("RPUSH", "big", *[f"i{i}" for i in range(2500)]) == 2500
        assert conn.call("LTRIM", "big", 100, -1) == "OK"
        assert conn.call("LINSERT", "big", "BEFORE", "i500", "new") == 2401
        assert conn.call("LREM", "big", 0, "i600") == 1
        assert conn.call("LSET", "big", -1, "last") == "OK"
        assert conn.call("RPUSH", "rot", "a", "b", "c") == 3
        assert conn.call("LMOVE", "rot", "rot", "LEFT", "RIGHT") == b"a"
        assert conn.call("EXPIRE", "rot", 300) == 1
        assert conn.call("RPOPLPUSH", "rot", "moved") == b"a"
        assert conn.call("LMPOP", 2, "none", "moved", "LEFT") == [b"moved", [b"a"]]
        assert conn.call("LPOP", "big", 2) == [b"i100", b"i101"]


def check_lists(server: ServerProcess) -> None:
    want_big = [f"i{i}".encode() for i in range(102, 2500) if i != 600]
    want_big.insert(want_big.index(b"i500"), b"new")
    want_big[-1] = b"last"
    with server.raw() as conn:
        assert conn.call("LRANGE", "big", 0, -1) == want_big
        assert conn.call("LRANGE", "rot", 0, -1) == [b"b", b"c"]
        assert 290 < conn.call("TTL", "rot") <= 300
        assert conn.call("EXISTS", "moved") == 0


@pytest.mark.tandemkv_only("tandemkv's log and data directory")
def test_lists_survive_a_restart(servers: ServerGroup, tmp_path: Path) -> None:
    server = servers.start(tmp_path / "db", "--fsync", "always")
    fill_lists(server)
    server.stop(signal.SIGKILL)
    check_lists(servers.start(tmp_path / "db", "--fsync", "always"))


@pytest.mark.tandemkv_only("tandemkv's snapshots")
def test_lists_survive_a_snapshot_and_restart(servers: ServerGroup, tmp_path: Path) -> None:
    server = servers.start(tmp_path / "db", "--fsync", "always")
    fill_lists(server)
    with server.raw() as conn:
        assert conn.call("SAVE") == "OK"
    assert (tmp_path / "db" / "snapshot").exists()
    server.stop(signal.SIGKILL)
    check_lists(servers.start(tmp_path / "db", "--fsync", "always"))
