"""List commands: replies, Redis 7.0 error texts, WRONGTYPE, RESP2/RESP3 null shapes, the
mutations they log (replayed through the codec and through a snapshot), and a hypothesis
comparison against a plain Python model of lists."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.commands import lists
from tandemkv.protocol.encoder import encode_reply
from tandemkv.protocol.types import OK, NullArray, SimpleString
from tandemkv.storage.codec import decode_mutation, encode_mutation
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.mutation import (
    Batch,
    Delete,
    ListInsert,
    ListPop,
    ListPush,
    ListRemove,
    ListSet,
    ListTrim,
    Mutation,
)
from tandemkv.storage.store import keyspace_items, load_items

from .harness import NO_SUCH_KEY, NOT_INT, SYNTAX, Arg, Client, World, arity_err, contents, err

WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_POSITIVE = err("ERR value is out of range, must be positive")
RANK_ZERO = err(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)
INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)


def rlist(c: Client, key: str = "l") -> object:
    return c("LRANGE", key, 0, -1)


def filled(c: Client, *items: str, key: str = "l") -> None:
    assert c("RPUSH", key, *items) == len(items)


# ------------------------------------------------------------------ replay helpers


def through_codec(mutations: Iterable[Mutation]) -> list[Mutation]:
    """Each mutation as the log hands it back: encoded, then decoded."""
    return [decode_mutation(encode_mutation(m)) for m in mutations]


def replayed(world: World) -> Keyspace:
    keyspace = Keyspace()
    for mutation in through_codec(world.mutations()):
        keyspace.apply(mutation)
    return keyspace


def snapshot_copy(keyspace: Keyspace) -> Keyspace:
    copy = Keyspace()
    load_items(copy, keyspace_items(keyspace))
    return copy


def assert_replays(world: World) -> None:
    """The logged mutations rebuild the engine's keyspace, and so does a snapshot."""
    want = contents(world.engine.keyspace)
    assert contents(replayed(world)) == want
    assert contents(snapshot_copy(world.engine.keyspace)) == want


# ------------------------------------------------------------------ pushes and LLEN


def test_push_replies_the_new_length_and_keeps_the_order(c: Client) -> None:
    assert c("RPUSH", "l", "a", "b") == 2
    assert c("LPUSH", "l", "x", "y") == 4
    assert rlist(c) == [b"y", b"x", b"a", b"b"]
    assert c("LLEN", "l") == 4
    assert c("LLEN", "nope") == 0


def test_pushx_only_pushes_onto_an_existing_list(world: World, c: Client) -> None:
    assert c("LPUSHX", "l", "a") == 0
    assert c("RPUSHX", "l", "a") == 0
    assert c("EXISTS", "l") == 0
    assert world.mutations() == []
    filled(c, "m")
    assert c("LPUSHX", "l", "a", "b") == 3
    assert c("RPUSHX", "l", "z") == 4
    assert rlist(c) == [b"b", b"a", b"m", b"z"]


def test_push_logs_one_push_with_every_item(world: World, c: Client) -> None:
    c("LPUSH", "l", "a", "b", "c")
    assert world.mutations() == [ListPush(b"l", (b"a", b"b", b"c"), True)]


def test_push_keeps_the_expiry(world: World, c: Client) -> None:
    filled(c, "a")
    c("EXPIRE", "l", 100)
    c("RPUSH", "l", "b")
    assert c("TTL", "l") == 100


def test_push_onto_an_expired_list_starts_a_new_one(world: World, c: Client) -> None:
    filled(c, "a", "b")
    c("PEXPIRE", "l", 10)
    world.advance(10)
    assert c("RPUSH", "l", "c") == 1
    assert rlist(c) == [b"c"]
    assert c("TTL", "l") == -1
    assert_replays(world)


# ------------------------------------------------------------------ pops


def test_pop_without_count_returns_one_item(c: Client) -> None:
    filled(c, "a", "b", "c")
    assert c("LPOP", "l") == b"a"
    assert c("RPOP", "l") == b"c"
    assert c("LPOP", "nope") is None


def test_pop_with_count_returns_items_in_popping_order(world: World, c: Client) -> None:
    filled(c, "a", "b", "c", "d")
    assert c("RPOP", "l", 2) == [b"d", b"c"]
    assert c("LPOP", "l", 1) == [b"a"]
    assert world.mutations()[1:] == [ListPop(b"l", 2, False), ListPop(b"l", 1, True)]


def test_popping_everything_removes_the_key_and_its_expiry(world: World, c: Client) -> None:
    filled(c, "a", "b")
    c("EXPIRE", "l", 100)
    assert c("LPOP", "l", 10) == [b"a", b"b"]
    assert c("EXISTS", "l") == 0
    assert world.mutations()[-1] == ListPop(b"l", 2, True)
    filled(c, "z")
    assert c("TTL", "l") == -1
    assert_replays(world)


def test_pop_count_zero_and_absent_keys_follow_redis_null_shapes(world: World, c: Client) -> None:
    filled(c, "a")
    world.mutations()
    assert c("LPOP", "l", 0) == []
    assert c("LPOP", "nope", 0) is NullArray
    assert c("RPOP", "nope", 3) is NullArray
    assert c("RPOP", "nope") is None
    assert world.mutations() == []


@pytest.mark.parametrize("proto", [2, 3])
def test_pop_null_replies_encode_as_redis_does(world: World, proto: int) -> None:
    c = world.client()
    c("HELLO", proto)
    filled(c, "a")
    wire = {
        ("LPOP", "nope"): (b"$-1\r\n", b"_\r\n"),
        ("LPOP", "nope", 0): (b"*-1\r\n", b"_\r\n"),
        ("RPOP", "nope", 2): (b"*-1\r\n", b"_\r\n"),
        ("LPOP", "l", 0): (b"*0\r\n", b"*0\r\n"),
        ("LMPOP", 1, "nope", "LEFT"): (b"*-1\r\n", b"_\r\n"),
        ("LMOVE", "nope", "x", "LEFT", "LEFT"): (b"$-1\r\n", b"_\r\n"),
        ("LPOS", "l", "zz"): (b"$-1\r\n", b"_\r\n"),
        ("LINDEX", "l", 5): (b"$-1\r\n", b"_\r\n"),
    }
    for args, shapes in wire.items():
        assert encode_reply(c(*args), proto == 3) == shapes[proto - 2], args


@pytest.mark.parametrize("count", ["-1", "x", "1.5", str(INT64_MAX + 1), "-0"])
def test_pop_count_must_be_a_non_negative_integer(c: Client, count: str) -> None:
    assert c("LPOP", "nope", count) == NOT_POSITIVE
    assert c("RPOP", "nope", count) == NOT_POSITIVE


def test_pop_with_a_huge_count_pops_everything(c: Client) -> None:
    filled(c, "a", "b")
    assert c("LPOP", "l", INT64_MAX) == [b"a", b"b"]


def test_pop_with_too_many_arguments_is_an_arity_error(c: Client) -> None:
    assert c("LPOP", "l", 1, 2) == arity_err("lpop")
    assert c("RPOP", "l", 1, 2) == arity_err("rpop")


# ------------------------------------------------------------------ WRONGTYPE


@pytest.mark.parametrize(
    "args",
    [
        ("LPUSH", "s", "a"),
        ("RPUSH", "s", "a"),
        ("LPUSHX", "s", "a"),
        ("RPUSHX", "s", "a"),
        ("LPOP", "s"),
        ("RPOP", "s", 0),
        ("LLEN", "s"),
        ("LRANGE", "s", 0, -1),
        ("LINDEX", "s", 0),
        ("LINDEX", "s", "x"),
        ("LSET", "s", 0, "v"),
        ("LSET", "s", "x", "v"),
        ("LREM", "s", 0, "v"),
        ("LTRIM", "s", 0, 1),
        ("LINSERT", "s", "BEFORE", "a", "b"),
        ("LPOS", "s", "a"),
        ("LMOVE", "s", "l", "LEFT", "RIGHT"),
        ("LMOVE", "l", "s", "LEFT", "RIGHT"),
        ("RPOPLPUSH", "s", "l"),
        ("RPOPLPUSH", "l", "s"),
        ("LMPOP", 1, "s", "LEFT"),
        ("LMPOP", 2, "nope", "s", "LEFT"),
    ],
)
def test_list_commands_refuse_other_types(world: World, c: Client, args: tuple[Arg, ...]) -> None:
    c("SET", "s", "v")
    filled(c, "a")
    world.mutations()
    assert c(*args) == WRONGTYPE
    assert world.mutations() == []
    assert rlist(c) == [b"a"]
    assert c("GET", "s") == b"v"


def test_lmpop_stops_at_the_first_list_without_checking_later_keys(c: Client) -> None:
    c("SET", "s", "v")
    filled(c, "a")
    assert c("LMPOP", 2, "l", "s", "LEFT") == [b"l", [b"a"]]


def test_lmove_from_an_absent_source_ignores_the_destination_type(c: Client) -> None:
    c("SET", "s", "v")
    assert c("LMOVE", "nope", "s", "LEFT", "LEFT") is None
    assert c("RPOPLPUSH", "nope", "s") is None


# ------------------------------------------------------------------ LRANGE and LINDEX


@pytest.mark.parametrize(
    ("start", "stop", "want"),
    [
        (0, -1, "abcde"),
        (1, 3, "bcd"),
        (-2, -1, "de"),
        (-100, 1, "ab"),
        (3, 100, "de"),
        (4, 4, "e"),
        (5, 10, ""),
        (3, 1, ""),
        (-1, -2, ""),
        (-100, -6, ""),
        (INT64_MIN, INT64_MAX, "abcde"),
    ],
)
def test_lrange_follows_redis_index_rules(c: Client, start: int, stop: int, want: str) -> None:
    filled(c, *"abcde")
    assert c("LRANGE", "l", start, stop) == [ch.encode() for ch in want]


def test_lrange_reply_is_a_copy(world: World, c: Client) -> None:
    filled(c, "a", "b")
    reply = c("LRANGE", "l", 0, -1)
    assert isinstance(reply, list)
    reply.append(b"z")
    assert rlist(c) == [b"a", b"b"]


def test_lrange_parses_indexes_before_reading_the_key(c: Client) -> None:
    assert c("LRANGE", "nope", "x", 1) == NOT_INT
    assert c("LRANGE", "nope", 0, "1.0") == NOT_INT
    assert c("LRANGE", "nope", 0, -1) == []


def test_items_between_walks_from_either_end() -> None:
    items = deque(str(i).encode() for i in range(50))
    for start in range(50):
        for stop in range(start, 50):
            assert lists.items_between(items, start, stop) == list(items)[start : stop + 1]


def test_lindex(c: Client) -> None:
    filled(c, "a", "b", "c")
    assert c("LINDEX", "l", 0) == b"a"
    assert c("LINDEX", "l", -1) == b"c"
    assert c("LINDEX", "l", -3) == b"a"
    assert c("LINDEX", "l", 3) is None
    assert c("LINDEX", "l", -4) is None
    assert c("LINDEX", "l", "x") == NOT_INT
    # Redis reads the key first: an absent key answers null whatever the index says.
    assert c("LINDEX", "nope", "x") is None


# ------------------------------------------------------------------ LSET


def test_lset(world: World, c: Client) -> None:
    filled(c, "a", "b", "c")
    world.mutations()
    assert c("LSET", "l", -1, "z") == OK
    assert isinstance(c("LSET", "l", 0, "y"), SimpleString)
    assert rlist(c) == [b"y", b"b", b"z"]
    assert world.mutations() == [ListSet(b"l", 2, b"z"), ListSet(b"l", 0, b"y")]


def test_lset_errors(world: World, c: Client) -> None:
    assert c("LSET", "nope", 0, "v") == NO_SUCH_KEY
    assert c("LSET", "nope", "x", "v") == NO_SUCH_KEY
    filled(c, "a")
    world.mutations()
    assert c("LSET", "l", 1, "v") == err("ERR index out of range")
    assert c("LSET", "l", -2, "v") == err("ERR index out of range")
    assert c("LSET", "l", "x", "v") == NOT_INT
    assert world.mutations() == []


# ------------------------------------------------------------------ LINSERT


def test_linsert_before_and_after_the_first_pivot(world: World, c: Client) -> None:
    filled(c, "a", "p", "b", "p")
    world.mutations()
    assert c("LINSERT", "l", "before", "p", "x") == 5
    assert c("LINSERT", "l", "AFTER", "p", "y") == 6
    assert rlist(c) == [b"a", b"x", b"p", b"y", b"b", b"p"]
    assert world.mutations() == [ListInsert(b"l", 1, b"x"), ListInsert(b"l", 3, b"y")]


def test_linsert_after_the_last_item(c: Client) -> None:
    filled(c, "a")
    assert c("LINSERT", "l", "AFTER", "a", "z") == 2
    assert rlist(c) == [b"a", b"z"]


def test_linsert_misses(world: World, c: Client) -> None:
    assert c("LINSERT", "nope", "BEFORE", "a", "b") == 0
    filled(c, "a")
    world.mutations()
    assert c("LINSERT", "l", "BEFORE", "zz", "b") == -1
    assert world.mutations() == []
    assert c("LINSERT", "l", "MIDDLE", "a", "b") == SYNTAX
    assert c("LINSERT", "nope", "MIDDLE", "a", "b") == SYNTAX


# ------------------------------------------------------------------ LREM


def test_lrem_from_the_head_the_tail_or_everywhere(world: World, c: Client) -> None:
    filled(c, *"axaxaxa")
    world.mutations()
    assert c("LREM", "l", 2, "a") == 2
    assert rlist(c) == [b"x", b"x", b"a", b"x", b"a"]
    assert c("LREM", "l", -1, "a") == 1
    assert rlist(c) == [b"x", b"x", b"a", b"x"]
    assert c("LREM", "l", 0, "x") == 3
    assert rlist(c) == [b"a"]
    assert world.mutations() == [
        ListRemove(b"l", 2, b"a"),
        ListRemove(b"l", -1, b"a"),
        ListRemove(b"l", 3, b"x"),
    ]


def test_lrem_logs_what_it_removed_not_the_count_asked(world: World, c: Client) -> None:
    filled(c, "a", "b", "a")
    world.mutations()
    assert c("LREM", "l", INT64_MIN, "a") == 2
    assert world.mutations() == [ListRemove(b"l", -2, b"a")]
    assert rlist(c) == [b"b"]


def test_lrem_that_removes_nothing_writes_nothing(world: World, c: Client) -> None:
    assert c("LREM", "nope", 1, "a") == 0
    filled(c, "a")
    world.mutations()
    assert c("LREM", "l", 0, "zz") == 0
    assert world.mutations() == []
    assert c("LREM", "l", "x", "a") == NOT_INT
    assert c("LREM", "nope", "x", "a") == NOT_INT


def test_lrem_of_every_item_removes_the_key(c: Client) -> None:
    filled(c, "a", "a")
    assert c("LREM", "l", 0, "a") == 2
    assert c("EXISTS", "l") == 0


# ------------------------------------------------------------------ LTRIM


def test_ltrim_keeps_the_range(world: World, c: Client) -> None:
    filled(c, *"abcde")
    world.mutations()
    assert c("LTRIM", "l", 1, -2) == OK
    assert rlist(c) == [b"b", b"c", b"d"]
    assert world.mutations() == [ListTrim(b"l", 1, 3)]


def test_ltrim_to_nothing_deletes_the_key(world: World, c: Client) -> None:
    filled(c, *"abc")
    c("EXPIRE", "l", 100)
    world.mutations()
    assert c("LTRIM", "l", 5, 10) == OK
    assert c("EXISTS", "l") == 0
    assert world.mutations() == [Delete((b"l",))]
    filled(c, "a")
    assert c("TTL", "l") == -1


def test_ltrim_of_the_whole_list_is_a_change_as_in_redis(world: World, c: Client) -> None:
    filled(c, *"abc")
    world.mutations()
    assert c("LTRIM", "l", 0, -1) == OK
    assert c("LTRIM", "l", -100, 100) == OK
    assert c("LTRIM", "nope", 0, 1) == OK  # no key: nothing to change
    assert world.mutations() == [ListTrim(b"l", 0, 2), ListTrim(b"l", 0, 2)]
    assert c("LRANGE", "l", 0, -1) == [b"a", b"b", b"c"]


def test_ltrim_parses_indexes_first(c: Client) -> None:
    assert c("LTRIM", "nope", "x", 1) == NOT_INT
    c("SET", "s", "v")
    assert c("LTRIM", "s", 0, "x") == NOT_INT


# ------------------------------------------------------------------ LPOS


def test_lpos_rank_count_and_maxlen(c: Client) -> None:
    filled(c, *"abacaba")
    assert c("LPOS", "l", "a") == 0
    assert c("LPOS", "l", "a", "RANK", 2) == 2
    assert c("LPOS", "l", "a", "RANK", -1) == 6
    assert c("LPOS", "l", "a", "RANK", -2) == 4
    assert c("LPOS", "l", "a", "COUNT", 0) == [0, 2, 4, 6]
    assert c("LPOS", "l", "a", "COUNT", 2, "RANK", -1) == [6, 4]
    assert c("LPOS", "l", "a", "COUNT", 0, "MAXLEN", 3) == [0, 2]
    assert c("LPOS", "l", "a", "RANK", -1, "MAXLEN", 2, "COUNT", 0) == [6]
    assert c("LPOS", "l", "a", "RANK", 5) is None
    assert c("LPOS", "l", "a", "RANK", 5, "COUNT", 1) == []
    assert c("LPOS", "l", "z", "COUNT", 1) == []
    assert c("LPOS", "nope", "a") is None
    assert c("LPOS", "nope", "a", "COUNT", 0) == []


def test_lpos_options_repeat_and_are_case_insensitive(c: Client) -> None:
    filled(c, *"abacaba")
    assert c("LPOS", "l", "a", "rank", 1, "RANK", 3) == 4
    assert c("LPOS", "l", "a", "count", 1, "COUNT", 0) == [0, 2, 4, 6]


def test_lpos_rank_of_int64_min_searches_from_the_tail_as_redis_7_0_does(c: Client) -> None:
    filled(c, *"abacaba")
    assert c("LPOS", "l", "a", "RANK", INT64_MIN) == 6
    assert c("LPOS", "l", "a", "RANK", INT64_MIN, "COUNT", 0) == [6, 4, 2, 0]
    assert c("LPOS", "l", "a", "RANK", INT64_MIN + 1, "COUNT", 0) == []


@pytest.mark.parametrize(
    ("options", "reply"),
    [
        (("RANK", 0), RANK_ZERO),
        (("RANK", "x"), NOT_INT),
        (("COUNT", -1), err("ERR COUNT can't be negative")),
        (("COUNT", "x"), err("ERR COUNT can't be negative")),
        (("COUNT", str(INT64_MAX + 1)), err("ERR COUNT can't be negative")),
        (("MAXLEN", -1), err("ERR MAXLEN can't be negative")),
        (("MAXLEN", "x"), err("ERR MAXLEN can't be negative")),
        (("RANK",), SYNTAX),
        (("FOO", 1), SYNTAX),
        (("COUNT", -1, "RANK", 0), err("ERR COUNT can't be negative")),
        (("RANK", 0, "COUNT", -1), RANK_ZERO),
        (("COUNT", 1, "BAR"), SYNTAX),
    ],
)
def test_lpos_option_errors_come_before_the_key(
    c: Client, options: tuple[Arg, ...], reply: object
) -> None:
    c("SET", "s", "v")
    assert c("LPOS", "s", "a", *options) == reply
    assert c("LPOS", "nope", "a", *options) == reply


# ------------------------------------------------------------------ LMOVE and RPOPLPUSH


@pytest.mark.parametrize(
    ("wherefrom", "whereto", "src", "dst"),
    [
        ("LEFT", "LEFT", "bc", "axy"),
        ("LEFT", "RIGHT", "bc", "xya"),
        ("RIGHT", "LEFT", "ab", "cxy"),
        ("RIGHT", "RIGHT", "ab", "xyc"),
    ],
)
def test_lmove_between_lists(
    world: World, c: Client, wherefrom: str, whereto: str, src: str, dst: str
) -> None:
    filled(c, *"abc", key="src")
    filled(c, *"xy", key="dst")
    world.mutations()
    moved = c("LMOVE", "src", "dst", wherefrom.lower(), whereto)
    assert moved == (b"a" if wherefrom == "LEFT" else b"c")
    assert rlist(c, "src") == [ch.encode() for ch in src]
    assert rlist(c, "dst") == [ch.encode() for ch in dst]
    assert world.mutations() == [
        Batch(
            (
                ListPop(b"src", 1, wherefrom == "LEFT"),
                ListPush(b"dst", (moved,), whereto == "LEFT"),
            )
        )
    ]


def test_lmove_creates_the_destination_and_drops_an_emptied_source(world: World, c: Client) -> None:
    filled(c, "a", key="src")
    c("EXPIRE", "src", 100)
    assert c("RPOPLPUSH", "src", "dst") == b"a"
    assert c("EXISTS", "src") == 0
    assert rlist(c, "dst") == [b"a"]
    assert c("TTL", "dst") == -1
    assert_replays(world)


def test_lmove_onto_the_same_list_rotates(world: World, c: Client) -> None:
    filled(c, *"abc")
    assert c("LMOVE", "l", "l", "LEFT", "RIGHT") == b"a"
    assert rlist(c) == [b"b", b"c", b"a"]
    assert c("RPOPLPUSH", "l", "l") == b"a"
    assert rlist(c) == [b"a", b"b", b"c"]
    assert c("LMOVE", "l", "l", "LEFT", "LEFT") == b"a"
    assert rlist(c) == [b"a", b"b", b"c"]
    assert_replays(world)


def test_rotating_a_one_item_list_keeps_its_expiry(world: World, c: Client) -> None:
    filled(c, "a")
    c("EXPIRE", "l", 100)
    for wherefrom, whereto in [("LEFT", "RIGHT"), ("RIGHT", "RIGHT"), ("LEFT", "LEFT")]:
        assert c("LMOVE", "l", "l", wherefrom, whereto) == b"a"
    assert c("RPOPLPUSH", "l", "l") == b"a"
    assert rlist(c) == [b"a"]
    assert c("TTL", "l") == 100
    assert_replays(world)


def test_lmove_side_errors(c: Client) -> None:
    c("SET", "s", "v")
    assert c("LMOVE", "s", "l", "LEFT", "UP") == SYNTAX
    assert c("LMOVE", "s", "l", "MIDDLE", "LEFT") == SYNTAX
    assert c("LMOVE", "a", "b", "LEFT") == arity_err("lmove")
    assert c("RPOPLPUSH", "a") == arity_err("rpoplpush")


def test_lmove_is_seen_by_watch(world: World, c: Client) -> None:
    filled(c, "a")
    other = world.client()
    assert c("WATCH", "l") == OK
    assert other("LMOVE", "l", "l", "LEFT", "LEFT") == b"a"
    assert c("MULTI") == OK
    c("LLEN", "l")
    assert c("EXEC") is NullArray


# ------------------------------------------------------------------ LMPOP


def test_lmpop_pops_from_the_first_non_empty_list(world: World, c: Client) -> None:
    filled(c, "a", "b", "c", key="second")
    world.mutations()
    assert c("LMPOP", 2, "first", "second", "LEFT") == [b"second", [b"a"]]
    assert c("LMPOP", 2, "first", "second", "right", "count", 5) == [b"second", [b"c", b"b"]]
    assert c("LMPOP", 2, "first", "second", "RIGHT") is NullArray
    assert world.mutations() == [ListPop(b"second", 1, True), ListPop(b"second", 2, False)]


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        ((0, "l", "LEFT"), err("ERR numkeys should be greater than 0")),
        ((-1, "l", "LEFT"), err("ERR numkeys should be greater than 0")),
        (("x", "l", "LEFT"), err("ERR numkeys should be greater than 0")),
        ((str(INT64_MAX + 1), "l", "LEFT"), err("ERR numkeys should be greater than 0")),
        ((2, "l", "LEFT"), SYNTAX),
        ((INT64_MAX, "l", "LEFT"), SYNTAX),
        ((1, "l", "MIDDLE"), SYNTAX),
        ((1, "l", "LEFT", "COUNT"), SYNTAX),
        ((1, "l", "LEFT", "COUNT", 0), err("ERR count should be greater than 0")),
        ((1, "l", "LEFT", "COUNT", -1), err("ERR count should be greater than 0")),
        ((1, "l", "LEFT", "COUNT", "x"), err("ERR count should be greater than 0")),
        ((1, "l", "LEFT", "COUNT", 1, "COUNT", 1), SYNTAX),
        ((1, "l", "LEFT", "extra"), SYNTAX),
        ((1, "l"), arity_err("lmpop")),
    ],
)
def test_lmpop_argument_errors(
    world: World, c: Client, args: tuple[Arg, ...], reply: object
) -> None:
    filled(c, "a")
    world.mutations()
    assert c("LMPOP", *args) == reply
    assert world.mutations() == []


def test_parse_mpop_reads_from_the_numkeys_position_it_is_given() -> None:
    args = [b"BLMPOP", b"0", b"2", b"a", b"b", b"RIGHT", b"COUNT", b"3"]
    assert lists.parse_mpop(args, 2) == lists.MpopArgs([b"a", b"b"], False, 3)


# ------------------------------------------------------------------ metadata, MULTI, replay


def test_command_metadata_matches_redis() -> None:
    from tandemkv.commands.table import lookup

    expected = {
        b"lpush": (-3, (1, 1, 1)),
        b"lpop": (-2, (1, 1, 1)),
        b"llen": (2, (1, 1, 1)),
        b"lrange": (4, (1, 1, 1)),
        b"lindex": (3, (1, 1, 1)),
        b"lset": (4, (1, 1, 1)),
        b"lrem": (4, (1, 1, 1)),
        b"ltrim": (4, (1, 1, 1)),
        b"linsert": (5, (1, 1, 1)),
        b"lpos": (-3, (1, 1, 1)),
        b"lmove": (5, (1, 2, 1)),
        b"rpoplpush": (3, (1, 2, 1)),
        b"lmpop": (-4, (0, 0, 0)),
    }
    for name, (arity, keys) in expected.items():
        spec = lookup(name)
        assert spec is not None and spec.group == "list", name
        assert (spec.arity, (spec.first_key, spec.last_key, spec.key_step)) == (arity, keys)
        assert spec.readonly == (name in (b"llen", b"lrange", b"lindex", b"lpos")), name


def test_list_writes_inside_exec_replay(world: World, c: Client) -> None:
    c("MULTI")
    for args in [
        ("RPUSH", "l", "a", "b", "c"),
        ("LMOVE", "l", "m", "LEFT", "RIGHT"),
        ("LSET", "l", 0, "z"),
        ("LPOP", "nope"),
    ]:
        c(*args)
    assert c("EXEC") == [3, b"a", OK, None]
    assert_replays(world)


def test_a_mixed_session_replays_through_the_codec_and_a_snapshot(world: World, c: Client) -> None:
    big = [str(i) for i in range(3000)]  # several snapshot chunks
    c("RPUSH", "big", *big)
    c("LTRIM", "big", 10, -10)
    c("LINSERT", "big", "AFTER", "500", "x")
    c("LREM", "big", -1, "600")
    c("LSET", "big", -1, "last")
    c("RPOPLPUSH", "big", "other")
    c("LMOVE", "other", "other", "LEFT", "RIGHT")
    c("LMPOP", 2, "none", "big", "LEFT", "COUNT", 7)
    c("PEXPIRE", "other", 5000)
    c("LPUSH", "gone", "a")
    c("LTRIM", "gone", 1, 0)
    assert_replays(world)


# ------------------------------------------------------------------ the model

# A list is a Python list here; an empty one is removed after every step, as Redis does.
Model = dict[bytes, list[bytes]]
Cmd = tuple[Any, ...]

KEYS = [b"a", b"b"]
ITEMS = st.sampled_from([b"x", b"y"])
key_st = st.sampled_from(KEYS)
index_st = st.integers(-5, 5)
side_st = st.sampled_from([b"LEFT", b"RIGHT"])

pushes = st.builds(
    lambda name, key, items: (name, key, *items),
    st.sampled_from([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]),
    key_st,
    st.lists(ITEMS, min_size=1, max_size=5),
)
commands = st.one_of(
    pushes,
    st.tuples(st.sampled_from([b"LPOP", b"RPOP"]), key_st),
    st.tuples(st.sampled_from([b"LPOP", b"RPOP"]), key_st, st.integers(0, 4)),
    st.tuples(st.sampled_from([b"LRANGE", b"LTRIM"]), key_st, index_st, index_st),
    st.tuples(st.sampled_from([b"LINDEX", b"LLEN"]), key_st, index_st),
    st.tuples(st.just(b"LSET"), key_st, index_st, ITEMS),
    st.tuples(st.just(b"LREM"), key_st, st.integers(-3, 3), ITEMS),
    st.tuples(st.just(b"LINSERT"), key_st, st.sampled_from([b"BEFORE", b"AFTER"]), ITEMS, ITEMS),
    st.tuples(
        st.just(b"LPOS"),
        key_st,
        ITEMS,
        st.sampled_from([-3, -2, -1, 1, 2, 3]),
        st.sampled_from([None, 0, 1, 2]),
        st.integers(0, 4),
    ),
    st.tuples(st.sampled_from([b"LMOVE", b"RPOPLPUSH"]), key_st, key_st, side_st, side_st),
    st.tuples(st.just(b"LMPOP"), key_st, key_st, side_st, st.integers(1, 4)),
)


def model_push(model: Model, cmd: Cmd) -> object:
    name, key, *items = cmd
    if key not in model and name.endswith(b"X"):
        return 0
    target = model.setdefault(key, [])
    for item in items:
        target.insert(0 if name.startswith(b"L") else len(target), item)
    return len(target)


def model_pop(model: Model, cmd: Cmd) -> object:
    items = model.get(cmd[1])
    if items is None:
        return None if len(cmd) == 2 else NullArray
    count = 1 if len(cmd) == 2 else cmd[2]
    popped = [items.pop(0 if cmd[0] == b"LPOP" else -1) for _ in range(min(count, len(items)))]
    return popped[0] if len(cmd) == 2 else popped


def model_range(model: Model, cmd: Cmd) -> object:
    items = model.get(cmd[1], [])
    n = len(items)
    lo = max(cmd[2] + n if cmd[2] < 0 else cmd[2], 0)
    hi = max(min((cmd[3] + n if cmd[3] < 0 else cmd[3]) + 1, n), lo)
    if cmd[0] == b"LRANGE":
        return items[lo:hi]
    items[:] = items[lo:hi]
    return OK


def model_index(model: Model, cmd: Cmd) -> object:
    items = model.get(cmd[1])
    if cmd[0] == b"LLEN":
        return len(items or [])
    if items is None:
        return None if cmd[0] == b"LINDEX" else NO_SUCH_KEY
    at = cmd[2] + len(items) if cmd[2] < 0 else cmd[2]
    if not 0 <= at < len(items):
        return None if cmd[0] == b"LINDEX" else err("ERR index out of range")
    if cmd[0] == b"LINDEX":
        return items[at]
    items[at] = cmd[3]
    return OK


def model_lrem(model: Model, cmd: Cmd) -> object:
    _, key, count, value = cmd
    items = model.get(key, [])
    positions = [i for i, item in enumerate(items) if item == value]
    if count < 0:
        positions = positions[::-1][:-count]
    elif count > 0:
        positions = positions[:count]
    for i in sorted(positions, reverse=True):
        del items[i]
    return len(positions)


def model_linsert(model: Model, cmd: Cmd) -> object:
    _, key, where, pivot, value = cmd
    items = model.get(key)
    if items is None:
        return 0
    if pivot not in items:
        return -1
    items.insert(items.index(pivot) + (where == b"AFTER"), value)
    return len(items)


def model_lpos(model: Model, cmd: Cmd) -> object:
    _, key, value, rank, count, maxlen = cmd
    items = model.get(key, [])
    order = range(len(items)) if rank > 0 else range(len(items) - 1, -1, -1)
    scanned = list(order)[: maxlen or None]
    hits = [i for i in scanned if items[i] == value][abs(rank) - 1 :]
    if count is None:
        return hits[0] if hits else None
    return hits[: count or None]


def model_move(model: Model, cmd: Cmd) -> object:
    name, src, dst, wherefrom, whereto = cmd
    if name == b"RPOPLPUSH":
        wherefrom, whereto = b"RIGHT", b"LEFT"
    items = model.get(src)
    if not items:
        return None
    item = items.pop(0 if wherefrom == b"LEFT" else -1)
    target = model.setdefault(dst, [])
    target.insert(0 if whereto == b"LEFT" else len(target), item)
    return item


def model_mpop(model: Model, cmd: Cmd) -> object:
    _, first, second, side, count = cmd
    for key in (first, second):
        items = model.get(key)
        if items:
            amount = min(count, len(items))
            return [key, [items.pop(0 if side == b"LEFT" else -1) for _ in range(amount)]]
    return NullArray


MODEL: dict[bytes, Callable[[Model, Cmd], object]] = {
    **dict.fromkeys([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"], model_push),
    **dict.fromkeys([b"LPOP", b"RPOP"], model_pop),
    **dict.fromkeys([b"LRANGE", b"LTRIM"], model_range),
    **dict.fromkeys([b"LINDEX", b"LSET", b"LLEN"], model_index),
    b"LREM": model_lrem,
    b"LINSERT": model_linsert,
    b"LPOS": model_lpos,
    **dict.fromkeys([b"LMOVE", b"RPOPLPUSH"], model_move),
    b"LMPOP": model_mpop,
}


def engine_args(cmd: Cmd) -> Cmd:
    """The model's command as the engine takes it: options gain their words."""
    name = cmd[0]
    if name == b"LLEN":
        return cmd[:2]
    if name == b"RPOPLPUSH":
        return cmd[:3]
    if name == b"LPOS":
        key, value, rank, count, maxlen = cmd[1:]
        counted = () if count is None else (b"COUNT", count)
        return (name, key, value, b"RANK", rank, *counted, b"MAXLEN", maxlen)
    if name == b"LMPOP":
        return (name, 2, *cmd[1:4], b"COUNT", cmd[4])
    return cmd


# Lists to start from, so that reads and removals usually find items to act on.
starts = st.lists(st.tuples(key_st, st.lists(ITEMS, min_size=1, max_size=10)), max_size=2)


@settings(max_examples=300, deadline=None)
@given(starts, st.lists(commands, max_size=40))
def test_lists_behave_like_the_model(
    start: list[tuple[bytes, list[bytes]]], script: list[Cmd]
) -> None:
    world = World()
    c = world.client()
    model: Model = {}
    for cmd in [(b"RPUSH", key, *items) for key, items in start] + script:
        want = MODEL[cmd[0]](model, cmd)
        for key in [k for k, v in model.items() if not v]:
            del model[key]
        assert c(*engine_args(cmd)) == want, cmd
    state = {key: list(value) for key, value, _ in world.engine.keyspace.items()}
    assert state == model
    assert_replays(world)
