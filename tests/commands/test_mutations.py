"""The replication/recovery contract: replaying take_mutations() rebuilds the keyspace exactly.

A backup or a recovering node applies the logged mutations, in order, to a fresh keyspace;
whatever the commands were, the result must equal the engine's own keyspace: same keys,
same values, same absolute deadlines (Keyspace.items()).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tandemkv.storage.mutation import Append, Delete

from .harness import NO_SUCH_KEY, Arg, World, contents, replay

KEYS = [b"a", b"b", b"c"]
VALUES = [b"", b"1", b"-2", b"x", b"10.5", b"01"]


@dataclass(frozen=True)
class At:
    """An absolute time argument, `delta` ms from the engine clock when the command runs."""

    delta_ms: int
    unit_ms: int = 1


@dataclass(frozen=True)
class Advance:
    ms: int


@dataclass(frozen=True)
class ActiveExpire:
    budget: int


Command = tuple[object, ...]
Step = Command | Advance | ActiveExpire | list[Command]

keys = st.sampled_from(KEYS)
values = st.sampled_from(VALUES)
seconds = st.integers(-1, 3)
millis = st.integers(-200, 3000)
at_ms = st.builds(At, st.integers(-500, 3000))
at_s = st.builds(At, st.integers(-2000, 4000), st.just(1000))

set_expiry = st.one_of(
    st.just(()),
    st.tuples(st.just("EX"), st.integers(1, 3)),
    st.tuples(st.just("PX"), st.integers(1, 3000)),
    st.tuples(st.just("PXAT"), at_ms),
    st.tuples(st.just("EXAT"), at_s),
    st.just(("KEEPTTL",)),
)
set_command = st.builds(
    lambda k, v, cond, exp, get: ("SET", k, v, *cond, *exp, *get),
    keys,
    values,
    st.sampled_from([(), ("NX",), ("XX",), ("IFEQ", b"1"), ("IFEQ", b"x")]),
    set_expiry,
    st.sampled_from([(), ("GET",)]),
)
expire_flags = st.sampled_from([(), ("NX",), ("XX",), ("GT",), ("LT",)])

write_commands: st.SearchStrategy[Command] = st.one_of(
    set_command,
    st.tuples(st.just("SETNX"), keys, values),
    st.tuples(st.sampled_from(["SETEX"]), keys, st.integers(1, 3), values),
    st.tuples(st.sampled_from(["PSETEX"]), keys, st.integers(1, 3000), values),
    st.tuples(st.just("GETSET"), keys, values),
    st.tuples(st.just("GETDEL"), keys),
    st.builds(
        lambda k, o: ("GETEX", k, *o),
        keys,
        st.one_of(
            st.just(()),
            st.just(("PERSIST",)),
            st.tuples(st.just("PX"), st.integers(1, 3000)),
            st.tuples(st.just("PXAT"), at_ms),
        ),
    ),
    st.tuples(st.just("DELIFEQ"), keys, values),
    st.builds(
        lambda pairs: ("MSET", *[x for p in pairs for x in p]),
        st.lists(st.tuples(keys, values), min_size=1, max_size=3),
    ),
    st.builds(
        lambda pairs: ("MSETNX", *[x for p in pairs for x in p]),
        st.lists(st.tuples(keys, values), min_size=1, max_size=3),
    ),
    st.tuples(st.sampled_from(["INCR", "DECR"]), keys),
    st.tuples(st.sampled_from(["INCRBY", "DECRBY"]), keys, st.integers(-5, 5)),
    st.tuples(st.just("INCRBYFLOAT"), keys, st.sampled_from(["0.5", "-1", "3"])),
    st.tuples(st.just("APPEND"), keys, values),
    st.tuples(st.just("SETRANGE"), keys, st.integers(0, 6), values),
    st.builds(lambda ks: ("DEL", *ks), st.lists(keys, min_size=1, max_size=3)),
    st.builds(lambda ks: ("UNLINK", *ks), st.lists(keys, min_size=1, max_size=2)),
    st.builds(lambda k, n, f: ("EXPIRE", k, n, *f), keys, seconds, expire_flags),
    st.builds(lambda k, n, f: ("PEXPIRE", k, n, *f), keys, millis, expire_flags),
    st.builds(lambda k, t, f: ("PEXPIREAT", k, t, *f), keys, at_ms, expire_flags),
    st.builds(lambda k, t: ("EXPIREAT", k, t), keys, at_s),
    st.tuples(st.just("PERSIST"), keys),
    st.tuples(st.sampled_from(["RENAME", "RENAMENX"]), keys, keys),
    st.just(("FLUSHALL",)),
)
read_commands: st.SearchStrategy[Command] = st.one_of(
    st.tuples(st.sampled_from(["GET", "EXISTS", "TTL", "PTTL", "STRLEN", "TYPE"]), keys),
    st.builds(lambda ks: ("MGET", *ks), st.lists(keys, min_size=1, max_size=3)),
    st.just(("KEYS", "*")),
    st.just(("RANDOMKEY",)),
    st.just(("DBSIZE",)),
)
commands = st.one_of(write_commands, write_commands, read_commands)
steps: st.SearchStrategy[Step] = st.one_of(
    commands,
    commands,
    commands,
    st.builds(Advance, st.integers(0, 2500)),
    st.builds(ActiveExpire, st.integers(1, 4)),
    st.lists(commands, min_size=1, max_size=4),  # one MULTI/EXEC
)


def resolve(command: Command, now_ms: int) -> list[Arg]:
    out: list[Arg] = []
    for arg in command:
        if isinstance(arg, At):
            out.append((now_ms + arg.delta_ms) // arg.unit_ms)
        else:
            assert isinstance(arg, bytes | str | int)
            out.append(arg)
    return out


def run_steps(script: Sequence[Step], expire_after_advance: bool) -> World:
    world = World()
    c = world.client()
    for step in script:
        if isinstance(step, Advance):
            world.advance(step.ms)
            if expire_after_advance:
                world.engine.active_expire(budget=1_000_000)
        elif isinstance(step, ActiveExpire):
            assert world.engine.active_expire(step.budget) <= step.budget
        elif isinstance(step, list):
            c("MULTI")
            for command in step:
                c(*resolve(command, world.now))
            assert isinstance(c("EXEC"), list)
        else:
            c(*resolve(step, world.now))
    return world


def assert_replay_matches(world: World) -> None:
    mutations = world.mutations()
    assert world.mutations() == [], "take_mutations() must drain the queue"
    for owns_expiry in (True, False):
        assert contents(replay(mutations, owns_expiry)) == world.state()


@settings(max_examples=250, deadline=None)
@given(st.lists(steps, max_size=30))
def test_replay_rebuilds_the_keyspace(script: list[Step]) -> None:
    """Writes never meet a key that is past its deadline but still stored: the clock only
    moves in Advance steps, and each one is followed by a full active-expiry pass."""
    assert_replay_matches(run_steps(script, expire_after_advance=True))


@settings(max_examples=150, deadline=None)
@example([("SET", b"a", b"v", "PX", 100), Advance(200), ("APPEND", b"a", b"x")])
@example([("SET", b"a", b"5", "PX", 100), Advance(200), [("INCR", b"a")]])
@example(
    [("SET", b"a", b"v", "PX", 100), Advance(200), ("RENAME", b"a", b"b"), ("SET", b"a", b"w")]
)
@given(st.lists(steps, max_size=30))
def test_replay_rebuilds_the_keyspace_with_lazy_expiry(script: list[Step]) -> None:
    """The same contract when commands meet keys past their deadline that nothing removed."""
    assert_replay_matches(run_steps(script, expire_after_advance=False))


def test_fixed_script_with_every_kind_of_write() -> None:
    script: list[Step] = [
        ("SET", b"a", b"1", "EX", 2),
        ("APPEND", b"a", b"2"),
        ("INCRBY", b"a", 5),
        ("SETRANGE", b"b", 3, b"xy"),
        ("MSET", b"c", b"3", b"b", b"q"),
        ("RENAME", b"c", b"d"),
        ("PEXPIRE", b"d", 500),
        Advance(600),
        ("GETEX", b"a", "PERSIST"),
        [("INCRBYFLOAT", b"e", "1.5"), ("DEL", b"b"), ("SET", b"f", b"v", "PXAT", At(50))],
        Advance(100),
        ActiveExpire(10),
        ("FLUSHALL",),
        ("SET", b"g", b"1", "KEEPTTL"),
    ]
    world = run_steps(script, expire_after_advance=True)
    assert world.state() == [(b"g", b"1", None)]
    assert_replay_matches(world)


def test_a_read_that_expires_a_key_logs_the_delete_at_once() -> None:
    world = World()
    c = world.client()
    c("SET", "a", "v", "PX", 100)
    world.mutations()
    world.advance(100)
    assert c("GET", "a") is None
    assert world.mutations() == [Delete((b"a",))]


def test_a_failing_command_that_expires_a_key_logs_the_delete_at_once() -> None:
    world = World()
    c = world.client()
    c("SET", "a", "v", "PX", 100)
    world.mutations()
    world.advance(100)
    assert c("RENAME", "a", "b") == NO_SUCH_KEY
    assert world.mutations() == [Delete((b"a",))]


def test_a_write_that_expires_its_key_logs_the_delete_first() -> None:
    world = World()
    c = world.client()
    c("SET", "a", "v", "PX", 100)
    world.mutations()
    world.advance(100)
    assert c("APPEND", "a", "x") == 1
    assert world.mutations() == [Delete((b"a",)), Append(b"a", b"x")]
