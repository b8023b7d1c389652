"""Blocking pops in the engine: who is served, in what order, with what reply, and what is
logged; timeouts, CLIENT UNBLOCK, MULTI, and hosts that cannot block."""

from __future__ import annotations

import time

import pytest

from tandemkv.commands.cluster_view import Pending
from tandemkv.commands.detached import DetachedHost
from tandemkv.commands.waiters import STATE_CHANGED, Logged, log_writes
from tandemkv.protocol.types import ErrorReply, NullArray
from tandemkv.storage.codec import decode_mutation, encode_mutation
from tandemkv.storage.mutation import Batch, Delete, ListPop, ListPush, Mutation

from .harness import World, contents, err, replay
from .parity import Step, check

WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value")


class BlockingHost(DetachedHost):
    @property
    def can_block(self) -> bool:
        return True


class Log:
    """Stands in for the write log: positions count appends."""

    def __init__(self) -> None:
        self.entries: list[list[Mutation]] = []

    def append(self, mutations: list[Mutation]) -> int:
        self.entries.append(mutations)
        return len(self.entries)


@pytest.fixture
def world() -> World:
    return World(host=BlockingHost())


def settle(world: World, log: Log | None = None) -> Log:
    """Log what the engine wrote, as the connection does at the end of a batch."""
    log = log or Log()
    if world.engine.pending:
        log_writes(world.engine, log)
    return log


def answer(pending: object) -> object:
    assert isinstance(pending, Pending) and pending.done
    value = pending.value
    return value.reply if isinstance(value, Logged) else value


def test_an_available_element_is_popped_at_once(world: World) -> None:
    c = world.client()
    c("RPUSH", "q", "a", "b")
    world.mutations()
    assert c("BLPOP", "empty", "q", 0) == [b"q", b"a"]
    assert c("BRPOP", "q", 0) == [b"q", b"b"]
    assert world.mutations() == [ListPop(b"q", 1, True), ListPop(b"q", 1, False)]


def test_a_push_serves_the_waiter_after_it_and_the_log_orders_them(world: World) -> None:
    waiting, pusher = world.client(), world.client()
    pending = waiting("BLPOP", "q", 5)
    assert isinstance(pending, Pending) and not pending.done
    assert pending.wait_ms == 5000
    assert pusher("RPUSH", "q", "x", "y") == 2
    assert not pending.done  # not before its pop has a log position
    log = settle(world)
    assert pending.value == Logged([b"q", b"x"], 1)
    assert log.entries == [[ListPush(b"q", (b"x", b"y"), False), ListPop(b"q", 1, True)]]
    assert pusher("LRANGE", "q", 0, -1) == [b"y"]


def test_waiters_are_served_first_come_first_served_one_element_each(world: World) -> None:
    first, second, third = world.client(), world.client(), world.client()
    p1, p2 = first("BRPOP", "q", 0), second("BLPOP", "q", "other", 0)
    third("LPUSH", "q", "only")
    settle(world)
    assert answer(p1) == [b"q", b"only"]
    assert isinstance(p2, Pending) and not p2.done
    third("LPUSH", "other", "o")
    settle(world)
    assert answer(p2) == [b"other", b"o"]
    assert len(world.engine.waiters) == 0


def test_a_push_inside_multi_serves_after_exec(world: World) -> None:
    waiting, writer = world.client(), world.client()
    pending = waiting("BLPOP", "q", 0)
    writer("MULTI")
    writer("RPUSH", "q", "a")
    writer("LPOP", "q")
    writer("RPUSH", "q", "b")
    assert writer("EXEC") == [1, b"a", 1]
    log = settle(world)
    assert answer(pending) == [b"q", b"b"]
    assert log.entries[0][-1] == ListPop(b"q", 1, True)
    assert isinstance(log.entries[0][0], Batch)


def test_a_served_blmove_can_feed_the_next_waiter(world: World) -> None:
    mover, popper, pusher = world.client(), world.client(), world.client()
    moved = mover("BLMOVE", "a", "b", "RIGHT", "LEFT", 0)
    popped = popper("BLPOP", "b", 0)
    pusher("RPUSH", "a", "x")
    log = settle(world)
    assert answer(moved) == b"x"
    assert answer(popped) == [b"b", b"x"]
    assert world.engine.keyspace.get(b"a", world.now) is None
    assert world.engine.keyspace.get(b"b", world.now) is None
    check_replay(world, log)


def test_blocking_zset_pops_and_their_shapes(world: World) -> None:
    waiting, writer = world.client(), world.client()
    low = waiting("BZPOPMIN", "z", 0)
    writer("ZADD", "z", 2, "two", 1, "one")
    settle(world)
    assert answer(low) == [b"z", b"one", 1.0]
    many = world.client()("BZMPOP", 0, 1, "y", "MAX", "COUNT", 5)
    log = settle(world, Log())
    writer("ZADD", "y", 1, "a", 3, "c")
    settle(world, log)
    assert answer(many) == [b"y", [[b"c", 3.0], [b"a", 1.0]]]
    assert log.entries[-1][-1] == Delete((b"y",))  # every member: the key goes at once
    assert writer("BZPOPMAX", "z", 0) == [b"z", b"two", 2.0]


def test_blmpop_takes_up_to_count(world: World) -> None:
    waiting, writer = world.client(), world.client()
    pending = waiting("BLMPOP", 0, 2, "a", "b", "RIGHT", "COUNT", 2)
    writer("RPUSH", "b", 1, 2, 3)
    settle(world)
    assert answer(pending) == [b"b", [b"3", b"2"]]


def test_a_key_of_another_type_is_wrongtype_at_once_and_never_served(world: World) -> None:
    waiting, writer = world.client(), world.client()
    writer("SET", "s", "v")
    assert waiting("BLPOP", "s", 0) == WRONGTYPE
    assert waiting("BZPOPMIN", "s", 0) == WRONGTYPE
    pending = waiting("BLPOP", "q", 0)
    writer("ZADD", "q", 1, "m")  # a sorted set where a list is awaited: stay blocked
    settle(world)
    assert isinstance(pending, Pending) and not pending.done
    writer("DEL", "q")
    writer("RPUSH", "q", "x")
    settle(world)
    assert answer(pending) == [b"q", b"x"]


def test_blmove_waits_while_its_destination_has_another_type(world: World) -> None:
    waiting, writer = world.client(), world.client()
    pending = waiting("BRPOPLPUSH", "src", "dst", 0)
    writer("SET", "dst", "string")
    writer("RPUSH", "src", "x")
    settle(world)
    assert isinstance(pending, Pending) and not pending.done
    assert writer("LLEN", "src") == 1  # nothing taken


def test_timeouts_and_client_unblock_answer_as_redis(world: World) -> None:
    waiting, other = world.client(), world.client()
    pending = waiting("BLPOP", "q", "0.5")
    world.engine.waiters.time_out(waiting.session)
    assert answer(pending) is NullArray
    pending = waiting("BLMOVE", "q", "d", "LEFT", "LEFT", 0)
    assert other("CLIENT", "UNBLOCK", waiting.session.id) == 1
    assert answer(pending) is NullArray
    pending = waiting("BLPOP", "q", 0)
    assert other("CLIENT", "UNBLOCK", waiting.session.id, "ERROR") == 1
    assert answer(pending) == ErrorReply("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    assert other("CLIENT", "UNBLOCK", waiting.session.id) == 0
    assert other("CLIENT", "UNBLOCK", waiting.session.id, "FOO") == err(
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    )


def test_a_client_that_left_is_never_served(world: World) -> None:
    waiting, writer = world.client(), world.client()
    pending = waiting("BLPOP", "q", 0)
    world.engine.waiters.drop(waiting.session)
    writer("RPUSH", "q", "kept")
    settle(world)
    assert isinstance(pending, Pending) and not pending.done
    assert writer("LRANGE", "q", 0, -1) == [b"kept"]


def test_losing_the_primary_role_releases_every_waiter_with_an_error(world: World) -> None:
    pending = world.client()("BLPOP", "q", 0)
    world.engine.waiters.release_all(ErrorReply(STATE_CHANGED))
    assert answer(pending) == ErrorReply(STATE_CHANGED)
    assert STATE_CHANGED.startswith("UNBLOCKED ")


def test_blocking_commands_answer_at_once_inside_multi() -> None:
    c = World(host=BlockingHost()).client()
    c("MULTI")
    for args in (
        ("BLPOP", "q", 0),
        ("BRPOPLPUSH", "q", "d", 0),
        ("BLMOVE", "q", "d", "LEFT", "LEFT", 0),
        ("BLMPOP", 0, 1, "q", "LEFT"),
        ("BZPOPMIN", "z", 0),
        ("BZMPOP", 0, 1, "z", "MIN"),
    ):
        c(*args)
    assert c("EXEC") == [NullArray, None, None, NullArray, NullArray, NullArray]


def test_xread_block_waits_for_an_xadd_and_reads_what_it_added(world: World) -> None:
    reader, writer = world.client(), world.client()
    writer("XADD", "s", "1-1", "f", "old")
    pending = reader("XREAD", "BLOCK", 0, "STREAMS", "s", "$")
    assert isinstance(pending, Pending) and pending.wait_ms == 0
    writer("XADD", "other", "1-1", "f", "v")
    settle(world)
    assert not pending.done
    writer("XADD", "s", "2-1", "f", "new")
    log = settle(world)
    assert answer(pending) == [[b"s", [[b"2-1", [b"f", b"new"]]]]]
    assert pending.value == Logged(answer(pending), 1)  # after the XADD it read is logged
    assert log.entries[0] and len(world.engine.waiters) == 0


def test_a_blocking_read_on_a_backup_is_refused(world: World) -> None:
    world.engine.keyspace.owns_expiry = False
    reply = world.client()("XREAD", "BLOCK", 100, "STREAMS", "s", "$")
    assert reply == err("READONLY a blocking read waits on the primary; this node is a backup")


def test_a_host_without_an_event_loop_never_blocks() -> None:
    c = World().client()  # DetachedHost: the embedded store's
    assert c("BLPOP", "q", 0) is NullArray


@pytest.mark.parametrize(
    ("timeout", "wait_ms"),
    [
        ("0.0001", 1),  # rounded up, as Redis does since 7.0.8: not 0, which is for ever
        ("1e-400", 1),
        ("0.001", 1),
        ("0.1", 100),  # 0.1 is not exact, but the product rounds to 100.0 first
        ("1.0005", 1001),
        ("-0.0001", 0),  # rounds up to 0: for ever, as in Redis
        ("0", 0),
    ],
)
def test_a_timeout_counts_whole_milliseconds_rounded_up(
    world: World, timeout: str, wait_ms: int
) -> None:
    """The fuzzer found BLPOP q 0.0001 waiting for ever (it truncated to 0)."""
    pending = world.client()("BLPOP", "q", timeout)
    assert isinstance(pending, Pending) and pending.wait_ms == wait_ms


def test_redis_answers_a_sub_millisecond_timeout_at_once(redis_server: object) -> None:
    """The reference for the test above: Redis 7.0 waits 1 ms, not for ever."""
    from helpers.resp import RawClient

    host, port = redis_server.host, redis_server.port  # type: ignore[attr-defined]
    with RawClient(host, port, timeout=5) as client:
        began = time.monotonic()
        assert client.call("BLPOP", "q", "0.0001") is None
        assert client.call("BZPOPMIN", "z", "1e-400") is None
        assert time.monotonic() - began < 1


def check_replay(world: World, log: Log) -> None:
    logged = [decode_mutation(encode_mutation(m)) for entry in log.entries for m in entry]
    assert contents(replay(logged)) == contents(world.engine.keyspace)


@pytest.mark.parametrize("seed", range(20))
def test_random_pushes_and_waiters_lose_and_duplicate_nothing(seed: int) -> None:
    import random

    rng = random.Random(seed)
    world = World(host=BlockingHost())
    clients = [world.client() for _ in range(6)]
    log, pushed, received = Log(), [], []
    waiting: dict[int, object] = {}
    for step in range(200):
        c = rng.choice(clients)
        if c.session.id in waiting:
            continue
        if rng.random() < 0.5:
            item = b"%d" % step
            pushed.append(item)
            c(rng.choice(["LPUSH", "RPUSH"]), rng.choice(["a", "b"]), item)
        else:
            keys = rng.sample(["a", "b"], rng.randint(1, 2))
            reply = c(rng.choice(["BLPOP", "BRPOP"]), *keys, 0)
            if isinstance(reply, Pending):
                waiting[c.session.id] = reply
            else:
                received.append(reply[1])  # type: ignore[index]
        settle(world, log)
        for client_id, pending in list(waiting.items()):
            if isinstance(pending, Pending) and pending.done:
                received.append(answer(pending)[1])  # type: ignore[index]
                del waiting[client_id]
    left = [item for key in (b"a", b"b") for item in world.engine.keyspace.get(key, 0) or ()]
    assert sorted(received + left) == sorted(pushed)
    check_replay(world, log)


# ------------------------------------------------------------------------- Redis

BLOCKING_SCRIPTS: dict[str, list[Step]] = {
    "timeouts refused as redis refuses them": [
        ("BLPOP", "q", "abc"),
        ("BLPOP", "q", -1),
        ("BLPOP", "q", "1e400"),
        ("BLPOP", "q", "inf"),
        ("BLPOP", "q", " 1"),
        ("BLPOP", "q", "nan"),
        ("BLPOP", "q", "99999999999999999"),
        ("BRPOP", "q", "1e5000"),
        ("BLMOVE", "q", "d", "LEFT", "UP", 1),
        ("BLMOVE", "q", "d", "LEFT", "LEFT", "x"),
        ("BLMPOP", "x", 1, "q", "LEFT"),
        ("BLMPOP", 0, 0, "q", "LEFT"),
        ("BLMPOP", 0, 1, "q", "UP"),
        ("BZPOPMIN", "z", "-0.5"),
        ("BZMPOP", 0, 1, "z", "SIDEWAYS"),
        ("BLPOP", "q"),
    ],
    "available elements are taken at once": [
        ("RPUSH", "q", "a", "b", "c"),
        ("BLPOP", "none", "q", 1),
        ("BRPOP", "q", 1),
        ("BLMOVE", "q", "d", "LEFT", "RIGHT", 1),
        ("BRPOPLPUSH", "d", "q", 1),
        ("BLMPOP", 1, 2, "none", "q", "RIGHT", "COUNT", 5),
        ("ZADD", "z", 1, "a", 2, "b", 3, "c"),
        ("BZPOPMIN", "z", 1),
        ("BZPOPMAX", "z", 1),
        ("BZMPOP", 1, 1, "z", "MIN", "COUNT", 3),
        ("EXISTS", "q", "z"),
    ],
    "wrong types": [
        ("SET", "s", "v"),
        ("BLPOP", "s", 1),
        ("BRPOPLPUSH", "s", "d", 1),
        ("RPUSH", "q", "x"),
        ("BLMOVE", "q", "s", "LEFT", "LEFT", 1),
        ("BZPOPMIN", "s", 1),
        ("BZMPOP", 1, 1, "s", "MIN"),
        ("BLMPOP", 1, 1, "s", "LEFT"),
    ],
    "inside multi they do not wait": [
        ("MULTI",),
        ("BLPOP", "q", 0),
        ("BRPOPLPUSH", "q", "d", 0),
        ("BLMOVE", "q", "d", "LEFT", "LEFT", 0),
        ("BLMPOP", 0, 1, "q", "LEFT"),
        ("BZPOPMIN", "z", 0),
        ("BZMPOP", 0, 1, "z", "MIN"),
        ("EXEC",),
    ],
    "client unblock of nobody": [
        ("CLIENT", "UNBLOCK", 99999),
        ("CLIENT", "UNBLOCK", 99999, "ERROR"),
        ("CLIENT", "UNBLOCK", 99999, "FOO"),
        ("CLIENT", "UNBLOCK", "abc"),
        ("CLIENT", "UNBLOCK"),
        ("CLIENT", "UNBLOCK", 1, "TIMEOUT", "x"),
    ],
}


@pytest.mark.parametrize("name", list(BLOCKING_SCRIPTS))
def test_blocking_commands_reply_like_redis(redis_server: object, name: str) -> None:
    check(redis_server, BLOCKING_SCRIPTS[name])
