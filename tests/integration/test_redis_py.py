"""Commands through redis-py (sync and asyncio, RESP2 and RESP3) and byte-exact replies.

Exact error texts are checked with the raw client because redis-py strips and re-types
error prefixes; redis-py checks that a real client library works end to end.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
import redis.asyncio

from helpers.resp import RawClient, RespError
from helpers.servers import ServerProcess

ERR_NOT_INT = RespError("ERR value is not an integer or out of range")
ERR_SYNTAX = RespError("ERR syntax error")
ERR_OVERFLOW = RespError("ERR increment or decrement would overflow")


def arity_error(command: str) -> RespError:
    return RespError(f"ERR wrong number of arguments for '{command}' command")


def run_script(conn: RawClient, script: list[tuple[tuple[Any, ...], Any]]) -> None:
    """Send each command in order and compare its decoded reply exactly."""
    for args, expected in script:
        assert conn.call(*args) == expected, f"{args!r}"


# --- connection and server commands -------------------------------------------------


def test_ping_and_echo(r: redis.Redis) -> None:
    assert r.ping() is True
    assert r.echo("hello") == b"hello"
    assert r.echo(b"\x00\xff\r\n") == b"\x00\xff\r\n"


def test_ping_echo_raw_replies(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("PING",), "PONG"),
            (("PING", "x y"), b"x y"),
            (("ECHO", ""), b""),
            (("PING", "a", "b"), arity_error("ping")),
            (("ECHO",), arity_error("echo")),
        ],
    )


def test_unknown_command_error_text(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("FOO", "a"), RespError("ERR unknown command 'FOO', with args beginning with: 'a' ")),
            (("foo",), RespError("ERR unknown command 'foo', with args beginning with: ")),
            (
                ("NOPE", "x", "y z"),
                RespError("ERR unknown command 'NOPE', with args beginning with: 'x' 'y z' "),
            ),
            (("PING",), "PONG"),
        ],
    )


def test_wrong_arity_error_text(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("GET",), arity_error("get")),
            (("get", "a", "b"), arity_error("get")),
            (("SET", "k"), arity_error("set")),
            (("MSET", "a", "1", "b"), arity_error("mset")),
            (("DEL",), arity_error("del")),
            (("EXPIRE", "k"), arity_error("expire")),
            (("CLIENT", "SETNAME"), arity_error("client|setname")),
            (("EXISTS", "k"), 0),
        ],
    )


def test_select(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("SELECT", "0"), "OK"),
            (("SELECT", "1"), RespError("ERR DB index is out of range")),
            (("SELECT", "x"), ERR_NOT_INT),
            (("SET", "k", "v"), "OK"),
            (("GET", "k"), b"v"),
        ],
    )


def test_hello_switches_protocol(raw2: RawClient) -> None:
    hello2 = raw2.call("HELLO", "2")
    assert isinstance(hello2, list)
    fields2 = dict(zip(hello2[::2], hello2[1::2], strict=True))
    assert fields2[b"proto"] == 2
    hello3 = raw2.call("HELLO", "3")
    assert isinstance(hello3, dict)
    expected_keys = {b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"}
    assert expected_keys <= set(hello3)
    assert hello3[b"proto"] == 3
    assert hello3[b"id"] == raw2.call("CLIENT", "ID")
    assert raw2.call("CONFIG", "GET", "maxclients") == {b"maxclients": b"10000"}
    assert raw2.call("HELLO", "4") == RespError("NOPROTO unsupported protocol version")
    assert raw2.call("HELLO", "2", "SETNAME", "via-hello")[4:6] == [b"proto", 2]
    assert raw2.call("CLIENT", "GETNAME") == b"via-hello"
    assert raw2.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"10000"]


def test_reset_restores_connection_defaults(raw2: RawClient) -> None:
    assert raw2.call("HELLO", "3", "SETNAME", "before-reset")[b"proto"] == 3
    run_script(
        raw2,
        [
            (("MULTI",), "OK"),
            (("SET", "k", "v"), "QUEUED"),
            (("RESET",), "RESET"),
            (("CLIENT", "GETNAME"), None),
            (("EXEC",), RespError("ERR EXEC without MULTI")),
            (("GET", "k"), None),
            (("CONFIG", "GET", "timeout"), [b"timeout", b"0"]),
        ],
    )


def test_quit_replies_ok_then_closes(server: ServerProcess) -> None:
    with server.raw() as conn:
        assert conn.call("QUIT") == "OK"
        assert conn.is_closed_by_peer(wait=5)


def test_client_commands(server: ServerProcess, raw2: RawClient) -> None:
    my_id = raw2.call("CLIENT", "ID")
    assert isinstance(my_id, int) and my_id > 0
    run_script(
        raw2,
        [
            (("CLIENT", "GETNAME"), None),
            (("CLIENT", "SETNAME", "worker-1"), "OK"),
            (("CLIENT", "GETNAME"), b"worker-1"),
            (
                ("CLIENT", "SETNAME", "has space"),
                RespError(
                    "ERR Client names cannot contain spaces, newlines or special characters."
                ),
            ),
            (("CLIENT", "NOSUCH"), RespError("ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.")),
        ],
    )
    info = raw2.call("CLIENT", "INFO")
    assert f"id={my_id} ".encode() in info and b" name=worker-1 " in info
    with server.raw() as other:
        other_id = other.call("CLIENT", "ID")
        listing = raw2.call("CLIENT", "LIST")
        ids = {line.split(b" ")[0] for line in listing.strip().split(b"\n")}
        assert {f"id={my_id}".encode(), f"id={other_id}".encode()} <= ids
        assert raw2.call("CLIENT", "KILL", "ID", str(other_id)) == 1
        assert other.is_closed_by_peer(wait=5)
    assert raw2.call("CLIENT", "KILL", "ID", "999999999") == 0
    assert raw2.call("PING") == "PONG"


def test_client_via_redis_py(r: redis.Redis) -> None:
    assert r.client_setname("py-client") is True
    assert r.client_getname() in (b"py-client", "py-client")
    assert isinstance(r.client_id(), int)
    names = [entry["name"] for entry in r.client_list()]
    assert "py-client" in names


def test_command_introspection(raw2: RawClient) -> None:
    count = raw2.call("COMMAND", "COUNT")
    assert isinstance(count, int) and count >= 61  # the commands tandemkv documents
    get_info, set_info, mget_info, missing = raw2.call(
        "COMMAND", "INFO", "get", "set", "mget", "no-such-command"
    )
    assert (get_info[0], get_info[1], get_info[3:6]) == (b"get", 2, [1, 1, 1])
    assert (set_info[0], set_info[1], set_info[3:6]) == (b"set", -3, [1, 1, 1])
    assert (mget_info[0], mget_info[1], mget_info[3:6]) == (b"mget", -2, [1, -1, 1])
    assert missing is None
    docs = raw2.call("COMMAND", "DOCS", "get")
    assert docs[0] == b"get" and b"summary" in docs[1]


def test_config_get_set(server: ServerProcess, raw2: RawClient) -> None:
    assert raw2.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"10000"]
    assert raw2.call("CONFIG", "GET", "timeout") == [b"timeout", b"0"]
    try:
        assert raw2.call("CONFIG", "SET", "timeout", "300") == "OK"
        assert raw2.call("CONFIG", "GET", "timeout") == [b"timeout", b"300"]
        assert raw2.call("CONFIG", "SET", "maxclients", "500") == "OK"
        assert raw2.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"500"]
    finally:
        raw2.call("CONFIG", "SET", "timeout", "0")
        raw2.call("CONFIG", "SET", "maxclients", "10000")
    assert raw2.call("CONFIG", "GET", "timeout") == [b"timeout", b"0"]


def test_config_set_refuses_file_paths(raw2: RawClient) -> None:
    reply = raw2.call("CONFIG", "SET", "dir", "/tmp")
    assert isinstance(reply, RespError) and reply.text.startswith("ERR "), reply
    current = raw2.call("CONFIG", "GET", "dir")
    assert current == [] or (current[:1] == [b"dir"] and current[1] != b"/tmp"), current
    rewrite = raw2.call("CONFIG", "REWRITE")
    assert isinstance(rewrite, RespError) and rewrite.text.startswith("ERR "), rewrite


def test_dbsize_flush_time(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("DBSIZE",), 0),
            (("MSET", "a", "1", "b", "2"), "OK"),
            (("DBSIZE",), 2),
            (("FLUSHDB",), "OK"),
            (("DBSIZE",), 0),
            (("SET", "a", "1"), "OK"),
            (("FLUSHALL", "SYNC"), "OK"),
            (("DBSIZE",), 0),
            (("FLUSHDB", "BOGUS"), ERR_SYNTAX),
        ],
    )
    seconds, micros = raw.call("TIME")
    assert abs(int(seconds) - time.time()) < 5
    assert 0 <= int(micros) < 1_000_000


def test_info(r: redis.Redis) -> None:
    r.set("plain", "1")
    r.set("volatile", "1", ex=100)
    info = r.info()
    assert "redis_version" in info
    assert r.info("keyspace")["db0"]["keys"] == 2
    assert r.info("keyspace")["db0"]["expires"] == 1


# --- strings -------------------------------------------------------------------------


def test_set_get_basics(r: redis.Redis) -> None:
    assert r.get("missing") is None
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.set("k", "") is True
    assert r.get("k") == b""
    assert r.strlen("k") == 0


def test_set_conditions_and_get_option(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("SET", "k", "1", "XX"), None),
            (("SET", "k", "1", "NX"), "OK"),
            (("SET", "k", "2", "NX"), None),
            (("SET", "k", "3", "XX"), "OK"),
            (("SET", "k", "4", "GET"), b"3"),
            (("SET", "new", "x", "GET"), None),
            (("SET", "k", "5", "NX", "GET"), b"4"),
            (("GET", "k"), b"4"),
            (("SET", "k", "v", "NX", "XX"), ERR_SYNTAX),
            (("SET", "k", "v", "EX", "10", "PX", "100"), ERR_SYNTAX),
            (("SET", "k", "v", "KEEPTTL", "EX", "10"), ERR_SYNTAX),
            (("SET", "k", "v", "BOGUS"), ERR_SYNTAX),
            (("SET", "k", "v", "EX"), ERR_SYNTAX),
            (("SET", "k", "v", "EX", "0"), RespError("ERR invalid expire time in 'set' command")),
            (("SET", "k", "v", "PX", "-5"), RespError("ERR invalid expire time in 'set' command")),
            (("SET", "k", "v", "EX", "abc"), ERR_NOT_INT),
            (("GET", "k"), b"4"),
        ],
    )


def test_set_expiry_options(r: redis.Redis) -> None:
    now = int(time.time())
    r.set("ex", "v", ex=100)
    assert 99 <= r.ttl("ex") <= 100
    r.set("px", "v", px=100_000)
    assert 99_000 < r.pttl("px") <= 100_000
    r.set("exat", "v", exat=now + 1000)
    assert r.expiretime("exat") == now + 1000
    r.set("pxat", "v", pxat=(now + 1000) * 1000 + 123)
    assert r.execute_command("PEXPIRETIME", "pxat") == (now + 1000) * 1000 + 123
    r.set("ex", "w", keepttl=True)
    assert 99 <= r.ttl("ex") <= 100
    r.set("ex", "x")
    assert r.ttl("ex") == -1
    assert r.ttl("missing") == -2
    assert r.pttl("missing") == -2
    assert r.expiretime("ex") == -1
    assert r.expiretime("missing") == -2


def test_key_expires(r: redis.Redis) -> None:
    assert r.set("short", "v", px=100) is True
    assert r.get("short") == b"v"
    time.sleep(0.3)
    assert r.get("short") is None
    assert r.exists("short") == 0
    assert r.ttl("short") == -2


def test_expired_keys_are_purged_without_being_read(r: redis.Redis) -> None:
    r.set("forgotten", "v", px=50)
    r.set("kept", "v")
    deadline = time.monotonic() + 3
    while r.dbsize() != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 1
    assert r.keys("*") == [b"kept"]


def test_setnx_setex_psetex_getset_getdel(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("SETNX", "k", "1"), 1),
            (("SETNX", "k", "2"), 0),
            (("GETSET", "k", "3"), b"1"),
            (("GETSET", "fresh", "x"), None),
            (("GETDEL", "k"), b"3"),
            (("GETDEL", "k"), None),
            (("EXISTS", "k"), 0),
            (("SETEX", "t", "100", "v"), "OK"),
            (("TTL", "t"), 100),
            (("PSETEX", "p", "100000", "v"), "OK"),
            (("GET", "p"), b"v"),
            (("SETEX", "t", "0", "v"), RespError("ERR invalid expire time in 'setex' command")),
            (("PSETEX", "t", "-1", "v"), RespError("ERR invalid expire time in 'psetex' command")),
            (("SETEX", "t", "x", "v"), ERR_NOT_INT),
        ],
    )


def test_getex(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("GETEX", "missing"), None),
            (("SET", "k", "v"), "OK"),
            (("GETEX", "k"), b"v"),
            (("TTL", "k"), -1),
            (("GETEX", "k", "EX", "100"), b"v"),
            (("TTL", "k"), 100),
            (("GETEX", "k", "PERSIST"), b"v"),
            (("TTL", "k"), -1),
            (("GETEX", "k", "PX", "200000"), b"v"),
            (("TTL", "k"), 200),
            (("GETEX", "k", "PERSIST", "EX", "10"), ERR_SYNTAX),
            (("GETEX", "k", "EX", "-1"), RespError("ERR invalid expire time in 'getex' command")),
        ],
    )


def test_mget_mset_msetnx(r: redis.Redis) -> None:
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "missing", "b") == [b"1", None, b"2"]
    assert r.msetnx({"b": "x", "c": "3"}) is False
    assert r.get("c") is None
    assert r.msetnx({"c": "3", "d": "4"}) is True
    assert r.mget("c", "d") == [b"3", b"4"]


def test_counters(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("INCR", "n"), 1),
            (("INCRBY", "n", "41"), 42),
            (("DECR", "n"), 41),
            (("DECRBY", "n", "50"), -9),
            (("INCRBY", "n", "-1"), -10),
            (("GET", "n"), b"-10"),
            (("SET", "n", "9223372036854775807"), "OK"),
            (("INCR", "n"), ERR_OVERFLOW),
            (("SET", "n", "-9223372036854775808"), "OK"),
            (("DECR", "n"), ERR_OVERFLOW),
            (("GET", "n"), b"-9223372036854775808"),
            (("SET", "s", "abc"), "OK"),
            (("INCR", "s"), ERR_NOT_INT),
            (("SET", "s", " 1"), "OK"),
            (("INCR", "s"), ERR_NOT_INT),
            (("SET", "s", "1.5"), "OK"),
            (("INCR", "s"), ERR_NOT_INT),
            (("INCRBY", "n", "abc"), ERR_NOT_INT),
            (("INCRBY", "n", "99999999999999999999"), ERR_NOT_INT),
        ],
    )


def test_incrbyfloat(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("SET", "f", "10.50"), "OK"),
            (("INCRBYFLOAT", "f", "0.1"), b"10.6"),
            (("INCRBYFLOAT", "f", "-5"), b"5.6"),
            (("SET", "f", "5.0e3"), "OK"),
            (("INCRBYFLOAT", "f", "2.0e2"), b"5200"),
            (("INCRBYFLOAT", "new", "3"), b"3"),
            (("INCRBYFLOAT", "f", "inf"), RespError("ERR increment would produce NaN or Infinity")),
            (("SET", "s", "abc"), "OK"),
            (("INCRBYFLOAT", "s", "1"), RespError("ERR value is not a valid float")),
            (("INCRBYFLOAT", "f", "x"), RespError("ERR value is not a valid float")),
            (("GET", "f"), b"5200"),
        ],
    )


def test_append_strlen_ranges(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("APPEND", "s", "This is"), 7),
            (("APPEND", "s", " a string"), 16),
            (("STRLEN", "s"), 16),
            (("STRLEN", "missing"), 0),
            (("GETRANGE", "s", "0", "3"), b"This"),
            (("GETRANGE", "s", "-3", "-1"), b"ing"),
            (("GETRANGE", "s", "0", "-1"), b"This is a string"),
            (("GETRANGE", "s", "10", "100"), b"string"),
            (("GETRANGE", "s", "5", "2"), b""),
            (("GETRANGE", "missing", "0", "-1"), b""),
            (("SETRANGE", "s", "10", "STRING"), 16),
            (("GET", "s"), b"This is a STRING"),
            (("SETRANGE", "pad", "3", "x"), 4),
            (("GET", "pad"), b"\x00\x00\x00x"),
            (("SETRANGE", "s", "-1", "x"), RespError("ERR offset is out of range")),
        ],
    )


def test_keys_commands(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("MSET", "a", "1", "b", "2"), "OK"),
            (("EXISTS", "a", "b", "a", "missing"), 3),
            (("TYPE", "a"), "string"),
            (("TYPE", "missing"), "none"),
            (("DEL", "a", "missing"), 1),
            (("UNLINK", "b", "b"), 1),
            (("DBSIZE",), 0),
            (("RANDOMKEY",), None),
            (("SET", "only", "1"), "OK"),
            (("RANDOMKEY",), b"only"),
            (("TOUCH", "only", "missing", "only"), 2),
        ],
    )


def test_keys_glob_patterns(r: redis.Redis) -> None:
    r.mset({k: "1" for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "other"]})

    def keys(pattern: str) -> set[bytes]:
        return set(r.keys(pattern))

    assert keys("h?llo") == {b"hello", b"hallo", b"hxllo", b"h*llo"}
    assert keys("h*llo") == {b"hello", b"hallo", b"hxllo", b"hllo", b"heeeello", b"h*llo"}
    assert keys("h[ae]llo") == {b"hello", b"hallo"}
    assert keys("h[^e]llo") == {b"hallo", b"hxllo", b"h*llo"}
    assert keys("h[a-b]llo") == {b"hallo"}
    assert keys("h\\*llo") == {b"h*llo"}
    assert len(keys("*")) == 7
    assert keys("nomatch*") == set()


def test_scan_visits_every_key(r: redis.Redis) -> None:
    expected = {f"key:{i}".encode() for i in range(500)}
    r.mset({k: "v" for k in expected})
    r.set("other", "v")
    seen: set[bytes] = set()
    cursor: int | bytes = 0
    for _ in range(2000):
        cursor, batch = r.scan(cursor=cursor, match="key:*", count=37)
        seen.update(batch)
        if int(cursor) == 0:
            break
    else:
        pytest.fail("SCAN did not finish within 2000 calls")
    assert seen == expected
    assert set(r.scan_iter(_type="string")) == expected | {b"other"}
    assert list(r.scan_iter(_type="hash")) == []
    assert set(r.scan_iter(match="oth*", count=1000)) == {b"other"}


def test_scan_bad_cursor(raw: RawClient) -> None:
    assert raw.call("SCAN", "abc") == RespError("ERR invalid cursor")


def test_rename(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("RENAME", "missing", "x"), RespError("ERR no such key")),
            (("SET", "a", "1", "EX", "100"), "OK"),
            (("RENAME", "a", "b"), "OK"),
            (("EXISTS", "a"), 0),
            (("GET", "b"), b"1"),
            (("TTL", "b"), 100),
            (("SET", "c", "3"), "OK"),
            (("RENAMENX", "b", "c"), 0),
            (("RENAMENX", "b", "d"), 1),
            (("GET", "d"), b"1"),
            (("RENAME", "d", "d"), "OK"),
            (("GET", "d"), b"1"),
            (("RENAMENX", "missing", "z"), RespError("ERR no such key")),
        ],
    )


def test_expire_family(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("EXPIRE", "missing", "10"), 0),
            (("SET", "k", "v"), "OK"),
            (("EXPIRE", "k", "100", "XX"), 0),
            (("EXPIRE", "k", "100", "GT"), 0),
            (("EXPIRE", "k", "100", "NX"), 1),
            (("EXPIRE", "k", "200", "NX"), 0),
            (("EXPIRE", "k", "50", "GT"), 0),
            (("EXPIRE", "k", "200", "GT"), 1),
            (("EXPIRE", "k", "300", "LT"), 0),
            (("EXPIRE", "k", "150", "LT"), 1),
            (("TTL", "k"), 150),
            (("EXPIRE", "k", "120", "XX"), 1),
            (("PEXPIRE", "k", "100000"), 1),
            (("TTL", "k"), 100),
            (("PERSIST", "k"), 1),
            (("PERSIST", "k"), 0),
            (("TTL", "k"), -1),
            (("EXPIRE", "k", "10", "LT"), 1),
            (
                ("EXPIRE", "k", "10", "NX", "XX"),
                RespError("ERR NX and XX, GT or LT options at the same time are not compatible"),
            ),
            (
                ("EXPIRE", "k", "10", "GT", "LT"),
                RespError("ERR GT and LT options at the same time are not compatible"),
            ),
            (("EXPIRE", "k", "10", "FOO"), RespError("ERR Unsupported option FOO")),
            (("EXPIRE", "k", "abc"), ERR_NOT_INT),
            (
                ("EXPIRE", "k", "99999999999999999"),
                RespError("ERR invalid expire time in 'expire' command"),
            ),
            (("EXPIRE", "k", "-1"), 1),
            (("EXISTS", "k"), 0),
            (("SET", "k", "v"), "OK"),
            (("EXPIREAT", "k", "1"), 1),
            (("EXISTS", "k"), 0),
        ],
    )


def test_expireat_and_expiretime(raw: RawClient) -> None:
    at = int(time.time()) + 1000
    run_script(
        raw,
        [
            (("SET", "k", "v"), "OK"),
            (("EXPIRETIME", "k"), -1),
            (("PEXPIRETIME", "missing"), -2),
            (("EXPIREAT", "k", str(at)), 1),
            (("EXPIRETIME", "k"), at),
            (("PEXPIRETIME", "k"), at * 1000),
            (("PEXPIREAT", "k", str(at * 1000 + 7)), 1),
            (("PEXPIRETIME", "k"), at * 1000 + 7),
            (("EXPIREAT", "k", str(at - 10), "GT"), 0),
            (("EXPIREAT", "k", str(at + 10), "GT"), 1),
            (("EXPIRETIME", "k"), at + 10),
        ],
    )


# --- data shapes ---------------------------------------------------------------------


def test_every_byte_value_round_trips(r: redis.Redis) -> None:
    all_bytes = bytes(range(256))
    assert r.set(all_bytes, all_bytes * 4) is True
    assert r.get(all_bytes) == all_bytes * 4
    single = {b"k" + bytes([i]): bytes([i]) for i in range(256)}
    assert r.mset(single) is True
    names = list(single)
    assert r.mget(names) == [single[name] for name in names]
    assert set(r.keys("k*")) == set(single)
    assert r.exists(all_bytes) == 1


def test_ten_megabyte_value(r: redis.Redis) -> None:
    value = bytes(range(256)) * (10 * 1024 * 1024 // 256)
    assert r.set("big", value) is True
    assert r.strlen("big") == len(value)
    assert r.get("big") == value
    assert r.getrange("big", len(value) - 3, -1) == value[-3:]
    assert r.append("big", b"!") == len(value) + 1


# --- Valkey / tandemkv extensions ----------------------------------------------------


@pytest.mark.tandemkv_only("SET ... IFEQ is a Valkey 8.1 option Redis 7 lacks")
def test_set_ifeq(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("SET", "lock", "new", "IFEQ", "old"), None),
            (("EXISTS", "lock"), 0),
            (("SET", "lock", "owner-a"), "OK"),
            (("SET", "lock", "owner-b", "IFEQ", "someone-else"), None),
            (("GET", "lock"), b"owner-a"),
            (("SET", "lock", "owner-b", "IFEQ", "owner-a"), "OK"),
            (("GET", "lock"), b"owner-b"),
            (("SET", "lock", "owner-c", "IFEQ", "owner-b", "GET"), b"owner-b"),
            (("SET", "lock", "owner-d", "IFEQ", "nope", "GET"), b"owner-c"),
            (("GET", "lock"), b"owner-c"),
            (("SET", "lock", "x", "IFEQ", "owner-c", "NX"), ERR_SYNTAX),
            (("SET", "lock", "x", "XX", "IFEQ", "owner-c"), ERR_SYNTAX),
            (("SET", "lock", "owner-e", "IFEQ", "owner-c", "EX", "100"), "OK"),
            (("TTL", "lock"), 100),
        ],
    )


@pytest.mark.tandemkv_only("DELIFEQ is a Valkey 9 command Redis 7 lacks")
def test_delifeq(raw: RawClient) -> None:
    run_script(
        raw,
        [
            (("DELIFEQ", "lock", "token"), 0),
            (("SET", "lock", "token"), "OK"),
            (("DELIFEQ", "lock", "other"), 0),
            (("GET", "lock"), b"token"),
            (("DELIFEQ", "lock", "token"), 1),
            (("EXISTS", "lock"), 0),
            (("DELIFEQ", "lock"), arity_error("delifeq")),
        ],
    )


# --- asyncio client ------------------------------------------------------------------


def test_asyncio_client(server: ServerProcess, protocol: int) -> None:
    async def scenario() -> None:
        client = redis.asyncio.Redis(
            host=server.host,
            port=server.port,
            protocol=protocol,
            password=server.password,
            socket_timeout=15,
            max_connections=300,
        )
        try:
            assert await client.ping() is True
            keys = [f"async:{i}" for i in range(200)]
            await asyncio.gather(*(client.set(k, k.upper()) for k in keys))
            values = await asyncio.gather(*(client.get(k) for k in keys))
            assert values == [k.upper().encode() for k in keys]
            assert await asyncio.gather(*(client.incr("counter") for _ in range(100)))
            assert await client.get("counter") == b"100"
            async with client.pipeline(transaction=True) as pipe:
                pipe.set("t", "1").incr("t").get("t")
                assert await pipe.execute() == [True, 2, b"2"]
            assert await client.set("e", "v", px=100) is True
            await asyncio.sleep(0.3)
            assert await client.get("e") is None
            with pytest.raises(redis.ResponseError, match="value is not an integer"):
                await client.incr("async:0")
        finally:
            await client.aclose()

    asyncio.run(asyncio.wait_for(scenario(), timeout=30))
