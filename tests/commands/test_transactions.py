"""MULTI / EXEC / DISCARD / WATCH / UNWATCH, and how an EXEC is logged."""

from __future__ import annotations

import time

import pytest

from tandemkv.protocol.types import OK, QUEUED, NullArray
from tandemkv.storage.mutation import Batch, Delete, SetValue

from .harness import EXECABORT, NOT_INT, SYNTAX, Client, World, arity_err, contents, err, replay

# ------------------------------------------------------------------ MULTI / EXEC / DISCARD


def test_exec_runs_the_queue_in_order(world: World, c: Client) -> None:
    assert c("MULTI") == OK
    assert c("SET", "a", "1") == QUEUED
    assert c("INCR", "a") == QUEUED
    assert c("GET", "a") == QUEUED
    assert c("GET", "nope") == QUEUED
    assert c("EXISTS", "a") == QUEUED
    assert c("EXEC") == [OK, 2, b"2", None, 1]


def test_queued_commands_do_not_run_before_exec(world: World, c: Client) -> None:
    c("MULTI")
    c("SET", "a", "1")
    assert world.client()("GET", "a") is None
    assert world.mutations() == []


def test_empty_transaction(c: Client) -> None:
    c("MULTI")
    assert c("EXEC") == []


def test_exec_and_discard_without_multi(c: Client) -> None:
    assert c("EXEC") == err("ERR EXEC without MULTI")
    assert c("DISCARD") == err("ERR DISCARD without MULTI")


def test_nested_multi_is_an_error_that_does_not_abort(c: Client) -> None:
    c("MULTI")
    assert c("MULTI") == err("ERR MULTI calls can not be nested")
    c("SET", "a", "1")
    assert c("EXEC") == [OK]


def test_discard_drops_the_queue(world: World, c: Client) -> None:
    c("MULTI")
    c("SET", "a", "1")
    assert c("DISCARD") == OK
    assert c("GET", "a") is None
    assert c("EXEC") == err("ERR EXEC without MULTI")
    assert world.mutations() == []


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (("NOSUCH", "x"), err("ERR unknown command 'NOSUCH', with args beginning with: 'x' ")),
        (("SET", "a"), arity_err("set")),
        (("GET",), arity_err("get")),
        (("DISCARD", "x"), arity_err("discard")),
        (("MULTI", "x"), arity_err("multi")),
    ],
)
def test_a_queueing_error_aborts_exec(
    world: World, c: Client, bad: tuple[str, ...], error: object
) -> None:
    c("MULTI")
    assert c("SET", "b", "2") == QUEUED
    assert c(*bad) == error
    assert c("SET", "c", "3") == QUEUED
    assert c("EXEC") == EXECABORT
    assert c("MGET", "b", "c") == [None, None]
    assert world.mutations() == []
    assert c("EXEC") == err("ERR EXEC without MULTI")


def test_a_rejected_exec_aborts_the_transaction(world: World, c: Client) -> None:
    abort = err(
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
    )
    assert c("EXEC", "x") == abort
    c("MULTI")
    c("SET", "a", "1")
    assert c("EXEC", "x") == abort
    assert c("EXEC") == err("ERR EXEC without MULTI")
    assert world.mutations() == []


def test_runtime_errors_do_not_stop_the_rest(c: Client) -> None:
    c("SET", "s", "abc")
    c("MULTI")
    c("INCR", "s")
    c("SET", "k", "v", "NX", "XX")
    c("SET", "t", "1")
    assert c("EXEC") == [NOT_INT, SYNTAX, OK]
    assert c("GET", "t") == b"1"


def test_connection_commands_inside_multi_are_queued(c: Client) -> None:
    c("MULTI")
    assert c("PING") == QUEUED
    assert c("ECHO", "hi") == QUEUED
    assert c("UNWATCH") == QUEUED
    assert c("EXEC") == ["PONG", b"hi", OK]


def test_watch_inside_multi_is_refused_without_aborting(c: Client) -> None:
    c("MULTI")
    assert c("WATCH", "a") == err("ERR WATCH inside MULTI is not allowed")
    c("SET", "a", "1")
    assert c("EXEC") == [OK]


def test_reset_inside_multi_drops_the_transaction(c: Client) -> None:
    c("MULTI")
    c("SET", "a", "1")
    assert c("RESET") == "RESET"
    assert c("EXEC") == err("ERR EXEC without MULTI")
    assert c("GET", "a") is None


def test_quit_inside_multi_runs_at_once(c: Client) -> None:
    c("MULTI")
    assert c("QUIT") == OK
    assert c.session.close_after_reply


def test_shutdown_inside_multi_is_refused(c: Client) -> None:
    c("MULTI")
    assert c("SHUTDOWN", "NOSAVE") == err("ERR Command not allowed inside a transaction")
    assert c("EXEC") == EXECABORT


# ------------------------------------------------------------------ one EXEC = one mutation


def test_exec_logs_one_batch(world: World, c: Client) -> None:
    c("MULTI")
    c("SET", "a", "1")
    c("GET", "a")
    c("MSET", "b", "2", "c", "3")
    c("INCR", "a")
    c("EXEC")
    assert world.mutations() == [
        Batch(
            (
                SetValue(b"a", b"1"),
                Batch((SetValue(b"b", b"2"), SetValue(b"c", b"3"))),
                SetValue(b"a", b"2", keep_ttl=True),
            )
        )
    ]


def test_exec_with_one_write_logs_it_alone(world: World, c: Client) -> None:
    c("MULTI")
    c("SET", "a", "1")
    c("GET", "a")
    c("EXEC")
    assert world.mutations() == [SetValue(b"a", b"1")]


def test_exec_of_reads_logs_nothing(world: World, c: Client) -> None:
    c("MULTI")
    c("GET", "a")
    c("EXISTS", "a")
    c("EXEC")
    assert world.mutations() == []


def test_exec_between_other_writes_keeps_log_order(world: World, c: Client) -> None:
    other = world.client()
    c("SET", "x", "0")
    c("MULTI")
    c("SET", "a", "1")
    other("SET", "y", "0")
    c("DEL", "x")
    c("EXEC")
    assert world.mutations() == [
        SetValue(b"x", b"0"),
        SetValue(b"y", b"0"),
        Batch((SetValue(b"a", b"1"), Delete((b"x",)))),
    ]


def test_exec_mutation_replays_to_the_same_keyspace(world: World, c: Client) -> None:
    c("SET", "n", "5", "EX", 100)
    c("MULTI")
    c("INCRBY", "n", 10)
    c("APPEND", "s", "abc")
    c("RENAME", "n", "m")
    c("SETRANGE", "s", 5, "z")
    c("EXPIRE", "s", 50)
    c("EXEC")
    assert contents(replay(world.mutations())) == world.state()


# ------------------------------------------------------------------ WATCH


@pytest.fixture
def other(world: World) -> Client:
    return world.client()


def watch_then(c: Client, *keys: str) -> None:
    assert c("WATCH", *keys) == OK


def exec_ping(c: Client) -> object:
    assert c("MULTI") == OK
    assert c("PING") == QUEUED
    return c("EXEC")


@pytest.mark.parametrize(
    "write",
    [
        ("SET", "k", "2"),
        ("SET", "k", "1"),
        ("DEL", "k"),
        ("INCR", "k"),
        ("APPEND", "k", ""),
        ("EXPIRE", "k", 100),
        ("EXPIRE", "k", -1),
        ("RENAME", "k", "j"),
        ("RENAME", "j", "k"),
        ("GETDEL", "k"),
        ("GETEX", "k", "EX", 5),
        ("SETRANGE", "k", 0, "x"),
        ("MSET", "k", "9"),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("PUT", "k", "3"),
        ("DELETE", "k"),
        ("GETSET", "k", "5"),
    ],
)
def test_watch_is_dirtied_by_another_sessions_write(
    c: Client, other: Client, write: tuple[object, ...]
) -> None:
    c("SET", "k", "1")
    c("SET", "j", "1")
    watch_then(c, "k")
    other(*write)
    assert exec_ping(c) is NullArray


@pytest.mark.parametrize(
    "noop",
    [
        ("DEL", "absent"),
        ("PERSIST", "k"),
        ("SET", "k", "2", "NX"),
        ("SETRANGE", "k", 0, ""),
        ("GETEX", "k"),
        ("GET", "k"),
        ("EXPIRE", "k", 10, "XX"),
        ("SET", "other", "1"),
        ("RENAMENX", "j", "k"),
    ],
)
def test_watch_ignores_commands_that_change_nothing(
    c: Client, other: Client, noop: tuple[object, ...]
) -> None:
    c("SET", "k", "1")
    c("SET", "j", "1")
    watch_then(c, "k")
    other(*noop)
    assert exec_ping(c) == ["PONG"]


def test_watch_of_an_absent_key_is_dirtied_when_it_is_created(c: Client, other: Client) -> None:
    watch_then(c, "k")
    other("SET", "k", "1")
    assert exec_ping(c) is NullArray


def test_flushall_does_not_dirty_an_absent_watched_key(c: Client, other: Client) -> None:
    other("SET", "unrelated", "1")
    watch_then(c, "k")
    other("FLUSHALL")
    assert exec_ping(c) == ["PONG"]


def test_own_write_dirties_own_watch(c: Client) -> None:
    c("SET", "k", "1")
    watch_then(c, "k")
    c("SET", "k", "2")
    assert exec_ping(c) is NullArray


def test_dirty_exec_runs_nothing_and_logs_nothing(world: World, c: Client, other: Client) -> None:
    watch_then(c, "k")
    other("SET", "k", "1")
    world.mutations()
    c("MULTI")
    c("SET", "k", "mine")
    assert c("EXEC") is NullArray
    assert c("GET", "k") == b"1"
    assert world.mutations() == []


def test_watch_several_keys(c: Client, other: Client) -> None:
    watch_then(c, "a", "b", "a")
    watch_then(c, "c")
    other("SET", "c", "1")
    assert exec_ping(c) is NullArray


def test_watch_of_many_keys_takes_linear_time(c: Client, other: Client) -> None:
    """Regression (found by the command fuzzer): each key was looked up in a list of the
    keys already watched, so WATCH of n keys did n*n/2 comparisons; 40,000 keys took
    seconds, all of it on the event loop. Linear, this takes a few tens of ms."""
    keys = [b"w%d" % i for i in range(40_000)]
    started = time.perf_counter()
    assert c("WATCH", *keys, *keys) == OK
    assert time.perf_counter() - started < 1.0
    assert len(c.session.watched) == len(keys)
    other("SET", keys[-1], "1")
    assert exec_ping(c) is NullArray


def test_unwatch_forgets(c: Client, other: Client) -> None:
    watch_then(c, "k")
    assert c("UNWATCH") == OK
    other("SET", "k", "1")
    assert exec_ping(c) == ["PONG"]


@pytest.mark.parametrize("ender", ["EXEC", "DISCARD"])
def test_exec_and_discard_unwatch(c: Client, other: Client, ender: str) -> None:
    watch_then(c, "k")
    c("MULTI")
    c(ender)
    other("SET", "k", "1")
    assert exec_ping(c) == ["PONG"]


def test_dirty_flag_is_reset_after_exec(c: Client, other: Client) -> None:
    watch_then(c, "k")
    other("SET", "k", "1")
    assert exec_ping(c) is NullArray
    assert exec_ping(c) == ["PONG"]


def test_watch_is_dirtied_by_active_expiry(world: World, c: Client) -> None:
    c("SET", "k", "1", "PX", 100)
    watch_then(c, "k")
    world.advance(100)
    assert world.engine.active_expire() == 1
    assert exec_ping(c) is NullArray


def test_watch_is_dirtied_when_another_session_reads_the_expired_key(
    world: World, c: Client, other: Client
) -> None:
    c("SET", "k", "1", "PX", 100)
    watch_then(c, "k")
    world.advance(100)
    assert other("GET", "k") is None
    assert exec_ping(c) is NullArray


def test_watch_is_dirtied_by_expiry_nobody_observed(world: World, c: Client) -> None:
    c("SET", "k", "1", "PX", 100)
    watch_then(c, "k")
    world.advance(250)
    assert exec_ping(c) is NullArray


@pytest.mark.parametrize("remover", ["active", "lazy"])
def test_removing_a_key_already_expired_at_watch_time_is_not_a_change(
    world: World, c: Client, other: Client, remover: str
) -> None:
    c("SET", "k", "1", "PX", 100)
    world.advance(250)
    watch_then(c, "k")
    if remover == "active":
        world.engine.active_expire()
    else:
        assert other("GET", "k") is None
    assert exec_ping(c) == ["PONG"]


def test_writing_a_key_already_expired_at_watch_time_is_a_change(
    world: World, c: Client, other: Client
) -> None:
    c("SET", "k", "1", "PX", 100)
    world.advance(250)
    watch_then(c, "k")
    other("SET", "k", "new")
    assert exec_ping(c) is NullArray


def test_an_aborted_exec_also_unwatches(c: Client, other: Client) -> None:
    watch_then(c, "k")
    c("MULTI")
    c("NOSUCH")
    assert c("EXEC") == EXECABORT
    other("SET", "k", "1")
    assert exec_ping(c) == ["PONG"]


def test_a_transaction_may_queue_no_more_than_a_request_may_hold(world: World, c: Client) -> None:
    """It is logged as one entry: beyond client-query-buffer-limit it would be one that
    recovery cannot read back. The refusal aborts EXEC, and the queue stays bounded."""
    assert c("CONFIG", "SET", "client-query-buffer-limit", "1mb") == OK
    value = "v" * (600 * 1024)
    assert c("MULTI") == OK
    assert c("SET", "a", value) == QUEUED
    refused = c("SET", "b", value)
    assert isinstance(refused, type(EXECABORT))
    assert refused.message.startswith("ERR transaction larger than client-query-buffer-limit")
    assert c("EXEC") == EXECABORT
    assert world.mutations() == []
    assert c("MULTI") == OK
    assert c("SET", "b", value) == QUEUED, "a new transaction starts from nothing"
    assert c("EXEC") == [OK]


def test_client_query_buffer_limit_is_at_most_1gb(c: Client) -> None:
    refused = c("CONFIG", "SET", "client-query-buffer-limit", "2gb")
    assert isinstance(refused, type(EXECABORT)) and "between" in refused.message
