"""Stream commands on the engine: replies, errors, WRONGTYPE, the mutations they log, and
the recovery contract: the logged mutations, through the log codec, and a snapshot both
rebuild the same keyspace. A hypothesis test drives the commands against a plain model."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.commands.engine import Engine
from tandemkv.commands.streams import serve_xread
from tandemkv.protocol.types import OK, NullArray
from tandemkv.storage.codec import decode_mutation, encode_mutation
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.mutation import Batch, Mutation, StreamAdd, StreamDelete, StreamTrim
from tandemkv.storage.store import keyspace_items, load_items
from tandemkv.storage.stream import Stream

from .harness import START_MS, SYNTAX, Client, World, arity_err, contents, err, replay

WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value")
INVALID_ID = err("ERR Invalid stream ID specified as stream command argument")
TOO_SMALL = err("ERR The ID specified in XADD is equal or smaller than the target stream top item")


def assert_recovers(world: World, earlier: list[Mutation] | None = None) -> None:
    """The logged mutations (`earlier` ones, taken by the test, then the rest), through the
    codec, and a snapshot both rebuild the keyspace."""
    logged = [decode_mutation(encode_mutation(m)) for m in (earlier or []) + world.mutations()]
    assert contents(replay(logged)) == world.state()
    restored = Keyspace()
    load_items(restored, keyspace_items(world.engine.keyspace))
    assert contents(restored) == world.state()


def stream(world: World, key: bytes = b"s") -> Stream:
    value = world.engine.keyspace.get(key, world.now)
    assert type(value) is Stream
    return value


def test_xadd_star_takes_the_engine_clock_and_logs_the_id(world: World, c: Client) -> None:
    assert c("XADD", "s", "*", "f", "v") == b"%d-0" % START_MS
    assert c("XADD", "s", "*", "f", "w") == b"%d-1" % START_MS
    world.advance(5)
    assert c("XADD", "s", "*", "f", "x") == b"%d-0" % (START_MS + 5)
    world.advance(-100)  # a clock that went back: the sequence goes on
    assert c("XADD", "s", "*", "f", "y") == b"%d-1" % (START_MS + 5)
    logged = world.mutations()
    assert logged[0] == StreamAdd(b"s", START_MS, 0, (b"f", b"v"))
    assert_recovers(world, logged)


def test_xadd_explicit_and_partial_ids(world: World, c: Client) -> None:
    assert c("XADD", "s", "5-*", "a", "1") == b"5-0"
    assert c("XADD", "s", "5-*", "a", "1") == b"5-1"
    assert c("XADD", "s", "5", "a", "1") == TOO_SMALL
    assert c("XADD", "s", "6", "a", "1") == b"6-0"
    assert c("XADD", "s", "6-0", "a", "1") == TOO_SMALL
    assert c("XADD", "s", "0-0", "a", "1") == err(
        "ERR The ID specified in XADD must be greater than 0-0"
    )
    assert c("XADD", "s", " 7-+1", "a", "1") == b"7-1"  # strtoull's leniency, as in Redis
    assert c("XADD", "s", "8-1\x00junk", "a", "1") == b"8-1"  # C strings end at NUL
    assert c("XADD", "s", "x", "a", "1") == INVALID_ID
    assert c("XADD", "s", "9-1", "a") == arity_err("xadd")
    assert c("XLEN", "s") == 5
    assert_recovers(world)


def test_xadd_nomkstream_and_a_trim_to_nothing(world: World, c: Client) -> None:
    assert c("XADD", "s", "NOMKSTREAM", "*", "a", "1") is None
    assert c("EXISTS", "s") == 0
    assert c("XADD", "s", "MAXLEN", "0", "3-3", "a", "1") == b"3-3"
    assert c("XLEN", "s") == 0
    assert c("TYPE", "s") == "stream"
    assert c("XADD", "s", "3-3", "a", "1") == TOO_SMALL  # the last id survives
    assert world.mutations() == [
        Batch((StreamAdd(b"s", 3, 3, (b"a", b"1")), StreamTrim(b"s", 3, 3)))
    ]


def test_xadd_trims_exactly_and_logs_the_boundary(world: World, c: Client) -> None:
    for i in range(1, 11):
        c("XADD", "s", f"{i}-0", "f", str(i))
    c("XADD", "s", "MAXLEN", "~", "4", "11-0", "f", "11")
    logged = world.mutations()
    assert logged[-1] == Batch((StreamAdd(b"s", 11, 0, (b"f", b"11")), StreamTrim(b"s", 7, 0)))
    assert c("XLEN", "s") == 4
    c("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "2", "12-0", "f", "12")
    assert c("XLEN", "s") == 3  # LIMIT caps what one approximate trim removes
    c("XADD", "s", "MINID", "12", "13-0", "f", "13")
    assert [e[0] for e in c("XRANGE", "s", "-", "+")] == [b"12-0", b"13-0"]  # type: ignore[union-attr]
    assert_recovers(world, logged)


def test_xrange_replies(c: Client) -> None:
    for i in range(1, 6):
        c("XADD", "s", f"{i}-1", "f", str(i), "g", "x")
    assert c("XRANGE", "s", "2", "3") == [
        [b"2-1", [b"f", b"2", b"g", b"x"]],
        [b"3-1", [b"f", b"3", b"g", b"x"]],
    ]
    assert c("XRANGE", "s", "(2-1", "+", "COUNT", "1") == [[b"3-1", [b"f", b"3", b"g", b"x"]]]
    assert [e[0] for e in c("XREVRANGE", "s", "+", "(2-1")] == [b"5-1", b"4-1", b"3-1"]  # type: ignore[union-attr]
    assert c("XRANGE", "s", "-", "+", "COUNT", "0") is NullArray
    assert c("XRANGE", "nokey", "-", "+", "COUNT", "0") == []
    assert c("XRANGE", "s", "-", "+", "COUNT") == SYNTAX
    assert c("XRANGE", "s", "(+", "+") == INVALID_ID
    assert c("XRANGE", "s", "-", "(0-0") == err("ERR invalid end ID for the interval")


def test_replies_are_copies(world: World, c: Client) -> None:
    c("XADD", "s", "1-1", "f", "v")
    reply = c("XRANGE", "s", "-", "+")
    assert isinstance(reply, list)
    reply[0][1].append(b"junk")
    assert stream(world).entries[(1, 1)] == (b"f", b"v")


def test_xdel_and_xtrim(world: World, c: Client) -> None:
    for i in range(1, 7):
        c("XADD", "s", f"{i}-0", "f", str(i))
    assert c("XDEL", "s", "2-0", "2-0", "9-9") == 1
    logged = world.mutations()
    assert logged[-1] == StreamDelete(b"s", ((2, 0),))
    assert c("XDEL", "s", "2-0") == 0
    assert world.mutations() == []  # nothing changed: nothing logged
    assert c("XDEL", "s", "1-0", "bad") == INVALID_ID
    assert c("XLEN", "s") == 5
    assert c("XTRIM", "s", "MAXLEN", "3") == 2
    assert c("XTRIM", "s", "MINID", "5") == 1
    assert c("XTRIM", "s", "MINID", "5") == 0
    assert c("XTRIM", "s", "MAXLEN", "1", "LIMIT", "1") == err(
        "ERR syntax error, LIMIT cannot be used without the special ~ option"
    )
    assert c("XTRIM", "s", "FOO", "1") == SYNTAX
    assert stream(world).metadata() == ((6, 0), 6, (2, 0))
    assert_recovers(world, logged)


def test_xsetid(world: World, c: Client) -> None:
    assert c("XSETID", "s", "1-1") == err("ERR no such key")
    c("XADD", "s", "5-0", "f", "v")
    assert c("XSETID", "s", "4-0") == err(
        "ERR The ID specified in XSETID is smaller than the target stream top item"
    )
    assert c("XSETID", "s", "9-0", "ENTRIESADDED", "7", "MAXDELETEDID", "3-0") == OK
    assert stream(world).metadata() == ((9, 0), 7, (3, 0))
    assert c("XADD", "s", "9-*", "f", "v") == b"9-1"
    assert_recovers(world)


def test_xread(world: World, c: Client) -> None:
    c("XADD", "a", "1-0", "f", "1")
    c("XADD", "a", "2-0", "f", "2")
    c("XADD", "b", "1-0", "g", "1")
    assert c("XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0") == [
        [b"a", [[b"1-0", [b"f", b"1"]]]],
        [b"b", [[b"1-0", [b"g", b"1"]]]],
    ]
    assert c("XREAD", "STREAMS", "a", "b", "1", "$") == [[b"a", [[b"2-0", [b"f", b"2"]]]]]
    assert c("XREAD", "STREAMS", "a", "$") is NullArray
    assert c("XREAD", "BLOCK", "100", "STREAMS", "a", "$") is NullArray  # see serve_xread
    assert c("XREAD", "STREAMS", "a", ">") == err(
        "ERR The > ID can be specified only when calling XREADGROUP using the GROUP "
        "<group> <consumer> option."
    )
    c3 = world.client(resp=3)
    assert c3("XREAD", "STREAMS", "a", "1") == {b"a": [[b"2-0", [b"f", b"2"]]]}


def test_serve_xread_for_a_blocked_client(world: World, c: Client) -> None:
    engine: Engine = world.engine
    assert serve_xread(engine, 2, b"s", (0, 0), 0) is None
    c("XADD", "s", "3-0", "f", "v")
    assert serve_xread(engine, 2, b"s", (3, 0), 0) is None
    assert serve_xread(engine, 2, b"s", (2, 0), 0) == [[b"s", [[b"3-0", [b"f", b"v"]]]]]
    assert serve_xread(engine, 3, b"s", (2, 0), 1) == {b"s": [[b"3-0", [b"f", b"v"]]]}
    c("SET", "t", "x")
    assert serve_xread(engine, 2, b"t", (0, 0), 0) is None


@pytest.mark.parametrize(
    "args",
    [
        ("XADD", "k", "*", "f", "v"),
        ("XRANGE", "k", "-", "+"),
        ("XREVRANGE", "k", "+", "-"),
        ("XLEN", "k"),
        ("XDEL", "k", "1-1"),
        ("XTRIM", "k", "MAXLEN", "1"),
        ("XREAD", "STREAMS", "k", "0"),
        ("XSETID", "k", "1-1"),
    ],
)
def test_a_string_key_is_the_wrong_type(c: Client, args: tuple[str, ...]) -> None:
    c("SET", "k", "v")
    assert c(*args) == WRONGTYPE


def test_string_and_hash_commands_refuse_a_stream(c: Client) -> None:
    c("XADD", "s", "1-1", "f", "v")
    assert c("GET", "s") == WRONGTYPE
    assert c("HGET", "s", "f") == WRONGTYPE


def test_an_expired_stream_is_gone(world: World, c: Client) -> None:
    c("XADD", "s", "1-1", "f", "v")
    c("PEXPIRE", "s", "10")
    world.advance(11)
    assert c("XLEN", "s") == 0
    assert c("XADD", "s", "1-1", "f", "v") == b"1-1"


# ----------------------------------------------------------------- a model


def model_reply(model: dict[str, Any], cmd: tuple[str, ...]) -> object:
    """What each command should answer, computed from a plain sorted list of entries."""
    entries: list[tuple[tuple[int, int], tuple[bytes, ...]]] = model["entries"]
    name = cmd[0]
    if name == "XADD":
        maxlen = int(cmd[3]) if cmd[2] == "MAXLEN" else None
        sid = (int(cmd[-3]), 0)
        if sid <= model["last"]:
            return TOO_SMALL
        entries.append((sid, (b"f", cmd[-1].encode())))
        model["last"] = sid
        if maxlen is not None:
            del entries[: max(0, len(entries) - maxlen)]
        return b"%d-0" % sid[0]
    if name == "XDEL":
        sid = (int(cmd[2]), 0)
        before = len(entries)
        entries[:] = [e for e in entries if e[0] != sid]
        return before - len(entries)
    if name == "XTRIM":
        before = len(entries)
        entries[:] = [e for e in entries if e[0] >= (int(cmd[3]), 0)]
        return before - len(entries)
    if name == "XLEN":
        return len(entries)
    low = (int(cmd[2]), 0)
    return [[b"%d-0" % sid[0], list(fields)] for sid, fields in entries if sid >= low]


commands = st.one_of(
    st.tuples(
        st.just("XADD"),
        st.just("s"),
        st.integers(1, 30).map(str),
        st.just("f"),
        st.sampled_from(["a", "b"]),
    ),
    st.tuples(
        st.just("XADD"),
        st.just("s"),
        st.just("MAXLEN"),
        st.just("3"),
        st.integers(1, 30).map(str),
        st.just("f"),
        st.just("c"),
    ),
    st.tuples(st.just("XDEL"), st.just("s"), st.integers(1, 30).map(str)),
    st.tuples(st.just("XTRIM"), st.just("s"), st.just("MINID"), st.integers(1, 30).map(str)),
    st.tuples(st.just("XLEN"), st.just("s")),
    st.tuples(st.just("XRANGE"), st.just("s"), st.integers(0, 30).map(str), st.just("+")),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(commands, max_size=30))
def test_commands_agree_with_a_model(script: list[tuple[str, ...]]) -> None:
    world = World()
    c = world.client()
    model: dict[str, Any] = {"entries": [], "last": (0, 0)}
    for cmd in script:
        if cmd[0] in ("XDEL", "XTRIM") and not world.engine.keyspace.contains(b"s", world.now):
            continue  # the model has no "absent" state
        assert c(*cmd) == model_reply(model, cmd), cmd
    assert_recovers(world)
