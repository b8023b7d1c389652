"""MULTI / EXEC / DISCARD / WATCH with Redis's queueing and abort rules."""

from __future__ import annotations

import pytest
import redis

from helpers.resp import RawClient, RespError
from helpers.servers import ServerProcess

EXECABORT = RespError("EXECABORT Transaction discarded because of previous errors.")


def test_exec_runs_queued_commands_in_order(raw: RawClient) -> None:
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "a", "1") == "QUEUED"
    assert raw.call("INCR", "a") == "QUEUED"
    assert raw.call("GET", "a") == "QUEUED"
    assert raw.call("GET", "missing") == "QUEUED"
    assert raw.call("EXEC") == ["OK", 2, b"2", None]
    assert raw.call("GET", "a") == b"2"


def test_empty_transaction(raw: RawClient) -> None:
    assert raw.call("MULTI") == "OK"
    assert raw.call("EXEC") == []


def test_runtime_errors_do_not_abort_the_rest(raw: RawClient) -> None:
    raw.call("SET", "s", "abc")
    assert raw.call("MULTI") == "OK"
    assert raw.call("INCR", "s") == "QUEUED"
    assert raw.call("SET", "k", "v", "NX", "XX") == "QUEUED"
    assert raw.call("SET", "t", "1") == "QUEUED"
    assert raw.call("EXEC") == [
        RespError("ERR value is not an integer or out of range"),
        RespError("ERR syntax error"),
        "OK",
    ]
    assert raw.call("GET", "t") == b"1"


@pytest.mark.parametrize(
    ("bad_command", "error"),
    [
        (("SET", "only-key"), RespError("ERR wrong number of arguments for 'set' command")),
        (
            ("NOSUCH", "x"),
            RespError("ERR unknown command 'NOSUCH', with args beginning with: 'x' "),
        ),
    ],
    ids=["wrong-arity", "unknown-command"],
)
def test_queue_time_error_aborts_exec(
    raw: RawClient, bad_command: tuple[str, ...], error: RespError
) -> None:
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "a", "1") == "QUEUED"
    assert raw.call(*bad_command) == error
    assert raw.call("SET", "b", "2") == "QUEUED"
    assert raw.call("EXEC") == EXECABORT
    assert raw.call("EXISTS", "a", "b") == 0
    assert raw.call("EXEC") == RespError("ERR EXEC without MULTI")


def test_discard(raw: RawClient) -> None:
    assert raw.call("DISCARD") == RespError("ERR DISCARD without MULTI")
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "a", "1") == "QUEUED"
    assert raw.call("DISCARD") == "OK"
    assert raw.call("GET", "a") is None
    assert raw.call("EXEC") == RespError("ERR EXEC without MULTI")


def test_nested_multi_and_watch_inside_multi_are_refused(raw: RawClient) -> None:
    assert raw.call("EXEC") == RespError("ERR EXEC without MULTI")
    assert raw.call("MULTI") == "OK"
    assert raw.call("MULTI") == RespError("ERR MULTI calls can not be nested")
    assert raw.call("WATCH", "a") == RespError("ERR WATCH inside MULTI is not allowed")
    assert raw.call("SET", "a", "1") == "QUEUED"
    assert raw.call("EXEC") == ["OK"]


def test_watch_conflict_makes_exec_return_nil(server: ServerProcess, raw: RawClient) -> None:
    raw.call("SET", "balance", "10")
    assert raw.call("WATCH", "balance") == "OK"
    with server.raw() as other:
        assert other.call("SET", "balance", "99") == "OK"
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "balance", "11") == "QUEUED"
    assert raw.call("EXEC") is None
    assert raw.call("GET", "balance") == b"99"
    # EXEC unwatches: the next transaction goes through.
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "balance", "12") == "QUEUED"
    assert raw.call("EXEC") == ["OK"]


def test_watch_sees_own_writes_deletes_and_flushes(server: ServerProcess, raw: RawClient) -> None:
    raw.call("SET", "k", "1")
    raw.call("WATCH", "k")
    raw.call("SET", "k", "2")
    raw.call("MULTI")
    raw.call("GET", "k")
    assert raw.call("EXEC") is None

    raw.call("WATCH", "k")
    with server.raw() as other:
        assert other.call("DEL", "k") == 1
    raw.call("MULTI")
    raw.call("GET", "k")
    assert raw.call("EXEC") is None

    raw.call("SET", "k", "3")
    raw.call("WATCH", "k")
    with server.raw() as other:
        assert other.call("FLUSHALL") == "OK"
    raw.call("MULTI")
    raw.call("GET", "k")
    assert raw.call("EXEC") is None


def test_watch_untouched_key_lets_exec_run(server: ServerProcess, raw: RawClient) -> None:
    raw.call("SET", "k", "1")
    raw.call("WATCH", "k", "other")
    with server.raw() as other:
        assert other.call("SET", "unrelated", "x") == "OK"
        assert other.call("GET", "k") == b"1"
    raw.call("MULTI")
    raw.call("INCR", "k")
    assert raw.call("EXEC") == [2]


def test_unwatch_and_discard_forget_watched_keys(server: ServerProcess, raw: RawClient) -> None:
    raw.call("SET", "k", "1")
    assert raw.call("WATCH", "k") == "OK"
    assert raw.call("UNWATCH") == "OK"
    with server.raw() as other:
        other.call("SET", "k", "changed")
    raw.call("MULTI")
    raw.call("GET", "k")
    assert raw.call("EXEC") == [b"changed"]

    raw.call("WATCH", "k")
    raw.call("MULTI")
    assert raw.call("DISCARD") == "OK"
    with server.raw() as other:
        other.call("SET", "k", "changed-again")
    raw.call("MULTI")
    raw.call("GET", "k")
    assert raw.call("EXEC") == [b"changed-again"]


def test_redis_py_transaction_and_watch_error(server: ServerProcess, r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as pipe:
        pipe.set("x", "1").incr("x").get("x")
        assert pipe.execute() == [True, 2, b"2"]

    other = server.client()
    try:
        with r.pipeline() as pipe:
            pipe.watch("x")
            assert pipe.get("x") == b"2"
            other.set("x", "from-other")
            pipe.multi()
            pipe.set("x", "from-watcher")
            with pytest.raises(redis.WatchError):
                pipe.execute()
        assert r.get("x") == b"from-other"

        def add_one(pipe: redis.client.Pipeline) -> None:
            current = int(pipe.get("counter") or 0)
            pipe.multi()
            pipe.set("counter", current + 1)

        for _ in range(5):
            r.transaction(add_one, "counter")
        assert r.get("counter") == b"5"
    finally:
        other.close()


def test_exec_abort_through_redis_py(r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as pipe:
        pipe.set("a", "1")
        pipe.execute_command("SET", "a")
        with pytest.raises(redis.ResponseError):
            pipe.execute()
    assert r.exists("a") == 0
