"""Set commands on the engine: replies, errors, the mutations they log and their replay.

Every test that writes ends by replaying what the engine logged, after an encode/decode
round trip through the log codec, onto a fresh keyspace, and by a snapshot round trip:
both must give the engine's own keyspace.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tandemkv.commands import sets as set_commands
from tandemkv.protocol.types import ErrorReply, SetReply
from tandemkv.storage.codec import decode_mutation, encode_mutation
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.mutation import Batch, Delete, Mutation, SetAdd, SetRemove
from tandemkv.storage.store import keyspace_items, load_items

from .harness import NOT_INT, SYNTAX, Client, World, arity_err, contents, replay
from .test_keys import SlicingHost

WRONGTYPE = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")
POSITIVE = ErrorReply("ERR value is out of range, must be positive")
RANDMEMBER_RANGE = ErrorReply(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
)
BIG = set_commands.DIRECT_DRAW * 3  # large enough to draw from the kept list


def members(reply: object) -> set[bytes]:
    """The members of a set-shaped reply, checking it holds no repeats."""
    items = reply.items if isinstance(reply, SetReply) else reply
    assert isinstance(items, list | tuple), reply
    assert len(set(items)) == len(items), f"repeated members in {reply!r}"
    return set(items)


def scan_sorted(reply: object) -> list[object]:
    assert isinstance(reply, list) and len(reply) == 2, reply
    return [reply[0], sorted(reply[1])]


def assert_replays(world: World, earlier: Sequence[Mutation] = ()) -> None:
    """The logged mutations (`earlier` ones already taken, then the rest), through the
    codec, and a snapshot both rebuild the keyspace."""
    logged = [decode_mutation(encode_mutation(m)) for m in [*earlier, *world.mutations()]]
    assert contents(replay(logged)) == world.state()
    loaded = Keyspace()
    load_items(loaded, keyspace_items(world.engine.keyspace))
    assert contents(loaded) == world.state()


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def c(world: World) -> Client:
    return world.client()


# ------------------------------------------------------------------ add, remove, read


def test_sadd_counts_new_members_only(world: World, c: Client) -> None:
    assert c("SADD", "s", "a", "b", "a") == 2
    assert c("SADD", "s", "b", "c") == 1
    assert c("SADD", "s", "a") == 0
    assert members(c("SMEMBERS", "s")) == {b"a", b"b", b"c"}
    assert c("SCARD", "s") == 3
    assert c("TYPE", "s") == "set"
    logged = world.mutations()
    assert logged == [SetAdd(b"s", (b"a", b"b")), SetAdd(b"s", (b"c",))], "no-op SADD logs nothing"


def test_srem_deletes_the_key_once_empty(world: World, c: Client) -> None:
    c("SADD", "s", "a", "b", "c")
    c("PEXPIRE", "s", 5000)
    assert c("SREM", "s", "a", "x", "a") == 1
    assert c("SREM", "s", "x") == 0
    assert c("SREM", "missing", "a") == 0
    assert c("PTTL", "s") == 5000
    assert c("SREM", "s", "b", "c") == 2
    assert c("EXISTS", "s") == 0
    c("SADD", "s", "z")
    assert c("PTTL", "s") == -1, "the expiry went with the emptied set"
    assert_replays(world)


def test_membership_and_cardinality(c: Client) -> None:
    c("SADD", "s", "a", "", "b")
    assert c("SISMEMBER", "s", "a") == 1
    assert c("SISMEMBER", "s", "") == 1
    assert c("SISMEMBER", "s", "x") == 0
    assert c("SISMEMBER", "missing", "a") == 0
    assert c("SMISMEMBER", "s", "a", "x", "b", "a") == [1, 0, 1, 1]
    assert c("SMISMEMBER", "missing", "a", "b") == [0, 0]
    assert c("SCARD", "missing") == 0
    assert c("SMEMBERS", "missing") == SetReply(())


def test_binary_members_are_kept_exactly(world: World, c: Client) -> None:
    odd = b"\x00\xff\r\n*"
    assert c("SADD", "s", odd, b"\x00") == 2
    assert members(c("SMEMBERS", "s")) == {odd, b"\x00"}
    assert c("SISMEMBER", "s", odd) == 1
    assert_replays(world)


def test_a_reply_is_a_copy_not_the_stored_set(c: Client) -> None:
    c("SADD", "s", "a", "b")
    reply = c("SMEMBERS", "s")
    union = c("SUNION", "s")
    c("SADD", "s", "c")
    assert isinstance(reply, SetReply) and isinstance(reply.items, tuple)
    assert members(reply) == {b"a", b"b"}
    assert members(union) == {b"a", b"b"}


def test_set_shaped_replies_are_resp3_sets_and_draws_are_arrays(c: Client) -> None:
    c("SADD", "s", "a", "b", "c")
    for command in (("SMEMBERS", "s"), ("SINTER", "s"), ("SUNION", "s"), ("SDIFF", "s")):
        assert isinstance(c(*command), SetReply), command
    assert isinstance(c("SPOP", "s", 1), SetReply)
    assert c("SPOP", "s", 0) == SetReply(())
    assert c("SPOP", "missing", 2) == SetReply(())
    assert isinstance(c("SRANDMEMBER", "s", 1), list)
    assert isinstance(c("SRANDMEMBER", "s", -1), list)
    assert c("SRANDMEMBER", "missing", 2) == []
    assert c("SRANDMEMBER", "s", 0) == []


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "command",
    [
        ("SADD", "str", "a"),
        ("SREM", "str", "a"),
        ("SMEMBERS", "str"),
        ("SISMEMBER", "str", "a"),
        ("SMISMEMBER", "str", "a"),
        ("SCARD", "str"),
        ("SPOP", "str"),
        ("SPOP", "str", 0),
        ("SRANDMEMBER", "str"),
        ("SRANDMEMBER", "str", 0),
        ("SRANDMEMBER", "str", -2),
        ("SMOVE", "str", "s", "a"),
        ("SMOVE", "s", "str", "a"),
        ("SMOVE", "s", "str", "nonmember"),
        ("SINTER", "s", "str"),
        ("SINTER", "missing", "str"),
        ("SUNION", "missing", "str"),
        ("SDIFF", "missing", "str"),
        ("SDIFF", "s", "str"),
        ("SINTERSTORE", "d", "missing", "str"),
        ("SUNIONSTORE", "d", "s", "str"),
        ("SDIFFSTORE", "d", "missing", "str"),
        ("SINTERCARD", 2, "missing", "str"),
        ("SINTERCARD", 1, "str", "LIMIT", 0),
        ("SSCAN", "str", 0),
        ("SSCAN", "str", 0, "COUNT", 0),
    ],
)
def test_wrongtype_from_any_key_even_after_a_missing_one(
    world: World, c: Client, command: tuple[object, ...]
) -> None:
    c("SET", "str", "x")
    c("SADD", "s", "a")
    c("SET", "d", "keep")
    world.mutations()
    assert c(*command) == WRONGTYPE
    assert world.mutations() == [], "an error writes nothing"
    assert c("GET", "d") == b"keep"


def test_smove_from_a_missing_source_answers_0_before_checking_the_destination(
    c: Client,
) -> None:
    c("SET", "str", "x")
    assert c("SMOVE", "missing", "str", "a") == 0


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (("SPOP", "s", -1), POSITIVE),
        (("SPOP", "s", "abc"), POSITIVE),
        (("SPOP", "s", "01"), POSITIVE),
        (("SPOP", "s", "-0"), POSITIVE),
        (("SPOP", "s", "99999999999999999999"), POSITIVE),
        (("SPOP", "str", "abc"), POSITIVE),  # the count is parsed before the key is read
        (("SPOP", "s", 1, 2), SYNTAX),
        (("SRANDMEMBER", "s", "abc"), NOT_INT),
        (("SRANDMEMBER", "s", "99999999999999999999"), NOT_INT),
        (("SRANDMEMBER", "s", str(-(2**63))), RANDMEMBER_RANGE),
        (("SRANDMEMBER", "str", "x"), NOT_INT),
        (("SRANDMEMBER", "s", 1, 2), SYNTAX),
        (("SINTERCARD", 0, "s"), ErrorReply("ERR numkeys should be greater than 0")),
        (("SINTERCARD", -1, "s"), ErrorReply("ERR numkeys should be greater than 0")),
        (("SINTERCARD", "x", "s"), ErrorReply("ERR numkeys should be greater than 0")),
        (("SINTERCARD", "01", "s"), ErrorReply("ERR numkeys should be greater than 0")),
        (
            ("SINTERCARD", 2, "s"),
            ErrorReply("ERR Number of keys can't be greater than number of args"),
        ),
        (
            ("SINTERCARD", str(2**63 - 1), "s"),
            ErrorReply("ERR Number of keys can't be greater than number of args"),
        ),
        (("SINTERCARD", 1, "s", "LIMIT", -1), ErrorReply("ERR LIMIT can't be negative")),
        (("SINTERCARD", 1, "s", "LIMIT", "x"), ErrorReply("ERR LIMIT can't be negative")),
        (("SINTERCARD", 1, "str", "LIMIT", -1), ErrorReply("ERR LIMIT can't be negative")),
        (("SINTERCARD", 1, "s", "LIMIT"), SYNTAX),
        (("SINTERCARD", 1, "s", "FOO", 3), SYNTAX),
        (("SINTERCARD", 1, "missing", "str"), SYNTAX),
        (("SSCAN", "s", "x"), ErrorReply("ERR invalid cursor")),
        (("SSCAN", "str", "x"), ErrorReply("ERR invalid cursor")),
        (("SSCAN", "s", 0, "COUNT", 0), SYNTAX),
        (("SSCAN", "s", 0, "FOO"), SYNTAX),
        (("SSCAN", "s", 0, "COUNT", "x"), NOT_INT),
    ],
)
def test_argument_errors(c: Client, command: tuple[object, ...], error: ErrorReply) -> None:
    c("SET", "str", "x")
    c("SADD", "s", "a", "b")
    assert c(*command) == error
    assert c("SCARD", "s") == 2


def test_sscan_of_a_missing_key_answers_before_reading_options(c: Client) -> None:
    assert c("SSCAN", "missing", 0, "COUNT", 0) == [b"0", []]


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("sadd", ("s",)),
        ("srem", ("s",)),
        ("smembers", ()),
        ("sismember", ("s",)),
        ("smismember", ("s",)),
        ("scard", ()),
        ("spop", ()),
        ("srandmember", ()),
        ("smove", ("a", "b")),
        ("sinter", ()),
        ("sunion", ()),
        ("sdiff", ()),
        ("sinterstore", ("d",)),
        ("sunionstore", ("d",)),
        ("sdiffstore", ("d",)),
        ("sintercard", (1,)),
        ("sscan", ("s",)),
    ],
)
def test_arity(c: Client, name: str, args: tuple[object, ...]) -> None:
    assert c(name.upper(), *args) == arity_err(name)


# ------------------------------------------------------------------ SPOP and SRANDMEMBER


def test_spop_removes_what_it_returns(world: World, c: Client) -> None:
    c("SADD", "s", *range(10))
    one = c("SPOP", "s")
    assert isinstance(one, bytes)
    three = members(c("SPOP", "s", 3))
    assert len(three) == 3 and one not in three
    left = members(c("SMEMBERS", "s"))
    assert len(left) == 6 and not left & (three | {one})
    assert left | three | {one} == {str(i).encode() for i in range(10)}
    assert_replays(world)


def test_spop_mutations_name_the_popped_members(world: World, c: Client) -> None:
    c("SADD", "s", *range(10))
    world.mutations()
    one = c("SPOP", "s")
    some = c("SPOP", "s", 3)
    assert isinstance(some, SetReply)
    logged = world.mutations()
    assert logged[0] == SetRemove(b"s", (one,))
    assert isinstance(logged[1], SetRemove) and set(logged[1].members) == set(some.items)


def test_spop_of_everything_deletes_the_key(world: World, c: Client) -> None:
    c("SADD", "s", "a", "b", "c")
    c("EXPIRE", "s", 100)
    assert members(c("SPOP", "s", 3)) == {b"a", b"b", b"c"}
    assert c("EXISTS", "s") == 0
    c("SADD", "t", "a")
    assert members(c("SPOP", "t", 10)) == {b"a"}
    c("SADD", "u", "a")
    assert c("SPOP", "u") == b"a"
    assert c("SPOP", "u") is None
    assert c("SPOP", "missing") is None
    assert c("DBSIZE") == 0
    assert_replays(world)


def test_srandmember_counts(c: Client) -> None:
    c("SADD", "s", "a", "b", "c", "d")
    everything = {b"a", b"b", b"c", b"d"}
    assert c("SRANDMEMBER", "s") in everything
    assert c("SRANDMEMBER", "missing") is None
    two = members(c("SRANDMEMBER", "s", 2))
    assert len(two) == 2 and two <= everything
    assert members(c("SRANDMEMBER", "s", 4)) == everything
    assert members(c("SRANDMEMBER", "s", 100)) == everything
    repeated = c("SRANDMEMBER", "s", -50)
    assert isinstance(repeated, list) and len(repeated) == 50
    assert set(repeated) <= everything
    c("SADD", "one", "x")
    assert c("SRANDMEMBER", "one", -3) == [b"x", b"x", b"x"]
    assert c("SCARD", "s") == 4, "SRANDMEMBER changes nothing"


def test_draws_follow_the_engine_seed() -> None:
    def draws(seed: int) -> list[object]:
        world = World(seed=seed)
        c = world.client()
        c("SADD", "s", *range(50))
        c("SADD", "big", *range(BIG))
        return [
            c("SRANDMEMBER", "s"),
            c("SRANDMEMBER", "s", 5),
            c("SRANDMEMBER", "big", -5),
            c("SPOP", "big", 3),
            c("SPOP", "s"),
        ]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


def test_draws_reach_every_member(c: Client) -> None:
    c("SADD", "s", *range(8))
    seen = Counter(c("SRANDMEMBER", "s", -4000))
    assert set(seen) == {str(i).encode() for i in range(8)}
    assert min(seen.values()) > 300, seen


# ------------------------------------------------------------------ large sets


def test_popping_a_large_set_one_by_one_returns_each_member_once(world: World, c: Client) -> None:
    c("SADD", "s", *range(BIG))
    popped = [c("SPOP", "s") for _ in range(BIG)]
    assert sorted(popped) == sorted(str(i).encode() for i in range(BIG))
    assert c("SPOP", "s") is None
    assert c("EXISTS", "s") == 0
    assert_replays(world)


def test_large_set_draws_see_members_added_and_never_removed_ones(c: Client) -> None:
    c("SADD", "s", *range(BIG))
    c("SRANDMEMBER", "s")  # the kept list is made here
    c("SREM", "s", *range(0, BIG, 2))  # half of it goes stale
    c("SADD", "s", *(f"new{i}" for i in range(BIG)))  # and the set outgrows the list
    drawn = c("SRANDMEMBER", "s", -(4 * BIG))
    assert isinstance(drawn, list)
    assert not {str(i).encode() for i in range(0, BIG, 2)} & set(drawn)
    assert any(d.startswith(b"new") for d in drawn)
    assert any(not d.startswith(b"new") for d in drawn)
    current = members(c("SMEMBERS", "s"))
    assert set(drawn) <= current
    distinct = members(c("SRANDMEMBER", "s", 20))
    assert len(distinct) == 20 and distinct <= current
    popped = members(c("SPOP", "s", 20))
    assert len(popped) == 20 and popped <= current
    assert not popped & members(c("SMEMBERS", "s"))


def test_large_set_draw_after_the_set_was_replaced(c: Client) -> None:
    c("SADD", "s", *range(BIG))
    c("SRANDMEMBER", "s")
    c("DEL", "s")
    c("SADD", "s", *(f"x{i}" for i in range(BIG)))
    drawn = c("SRANDMEMBER", "s", -100)
    assert isinstance(drawn, list) and all(d.startswith(b"x") for d in drawn)


def test_sscan_walks_a_large_set(world: World, c: Client) -> None:
    c("SADD", "s", *range(1000))
    cursor, seen = b"0", []
    for _ in range(1000):
        reply = c("SSCAN", "s", cursor, "COUNT", 100)
        assert isinstance(reply, list)
        cursor, page = reply
        seen.extend(page)
        if cursor == b"0":
            break
    assert sorted(seen) == sorted(str(i).encode() for i in range(1000))
    reply = c("SSCAN", "s", 0, "MATCH", "99*", "COUNT", 2000)
    assert isinstance(reply, list) and reply[0] == b"0"
    assert sorted(reply[1]) == [b"99", *(f"99{i}".encode() for i in range(10))]


def test_sscan_of_up_to_512_integers_answers_whole_in_numeric_order(c: Client) -> None:
    c("SADD", "n", *range(511, -2, -1))  # 513 members: one too many
    reply = c("SSCAN", "n", 0)
    assert isinstance(reply, list) and reply[0] != b"0" and len(reply[1]) == 10
    c("SREM", "n", -1)
    everything = [str(i).encode() for i in range(512)]
    assert c("SSCAN", "n", 0) == [b"0", everything]
    assert c("SSCAN", "n", 99, "COUNT", 1) == [b"0", everything], "whatever the cursor"
    assert c("SSCAN", "n", 0, "MATCH", "5?") == [
        b"0",
        [b"50", b"51", b"52", b"53", b"54", b"55", b"56", b"57", b"58", b"59"],
    ]
    c("SADD", "n", "-0")  # not an integer as Redis reads one: a hash table, paged
    assert scan_sorted(c("SSCAN", "n", 0))[0] != b"0"


def test_sscan_small_set(c: Client) -> None:
    c("SADD", "s", "a", "b", "ab")
    assert scan_sorted(c("SSCAN", "s", 0)) == [b"0", [b"a", b"ab", b"b"]]
    assert scan_sorted(c("SSCAN", "s", 0, "MATCH", "a*")) == [b"0", [b"a", b"ab"]]
    assert scan_sorted(c("SSCAN", "missing", 0)) == [b"0", []]


# ------------------------------------------------------------------ SMOVE


def test_smove(world: World, c: Client) -> None:
    c("SADD", "src", "a", "b")
    c("SADD", "dst", "b")
    log = world.mutations()
    assert c("SMOVE", "src", "dst", "a") == 1
    assert world.engine.pending == [Batch((SetRemove(b"src", (b"a",)), SetAdd(b"dst", (b"a",))))]
    log += world.mutations()
    assert c("SMOVE", "src", "dst", "a") == 0
    assert c("SMOVE", "src", "dst", "b") == 1, "already in the destination: removed from src"
    assert c("EXISTS", "src") == 0
    assert members(c("SMEMBERS", "dst")) == {b"a", b"b"}
    assert c("SMOVE", "dst", "dst", "a") == 1
    assert c("SMOVE", "dst", "dst", "zz") == 0
    assert world.engine.pending == [Batch((SetRemove(b"src", (b"b",)), SetAdd(b"dst", (b"b",))))], (
        "a move within one set, or of a non-member, logs nothing"
    )
    assert c("SMOVE", "dst", "new", "a") == 1
    assert c("TYPE", "new") == "set"
    assert_replays(world, log)


# ------------------------------------------------------------------ algebra


@pytest.fixture
def abc(c: Client) -> Client:
    c("SADD", "a", "1", "2", "3", "4")
    c("SADD", "b", "2", "3", "5")
    c("SADD", "c", "3", "4", "5", "6")
    return c


def test_inter_union_diff(abc: Client) -> None:
    c = abc
    assert members(c("SINTER", "a", "b")) == {b"2", b"3"}
    assert members(c("SINTER", "a", "b", "c")) == {b"3"}
    assert members(c("SINTER", "a", "missing")) == set()
    assert members(c("SINTER", "a")) == {b"1", b"2", b"3", b"4"}
    assert members(c("SUNION", "a", "b", "missing")) == {b"1", b"2", b"3", b"4", b"5"}
    assert members(c("SUNION", "missing")) == set()
    assert members(c("SDIFF", "a", "b")) == {b"1", b"4"}
    assert members(c("SDIFF", "a", "b", "c")) == {b"1"}
    assert members(c("SDIFF", "a", "missing")) == {b"1", b"2", b"3", b"4"}
    assert members(c("SDIFF", "missing", "a")) == set()
    assert members(c("SDIFF", "a", "a")) == set()


def test_sintercard(abc: Client) -> None:
    c = abc
    assert c("SINTERCARD", 2, "a", "b") == 2
    assert c("SINTERCARD", 3, "a", "b", "c") == 1
    assert c("SINTERCARD", 1, "a") == 4
    assert c("SINTERCARD", 1, "a", "LIMIT", 0) == 4
    assert c("SINTERCARD", 1, "a", "LIMIT", 3) == 3
    assert c("SINTERCARD", 1, "a", "limit", 9) == 4
    assert c("SINTERCARD", 1, "a", "LIMIT", 1, "LIMIT", 2) == 2, "the last LIMIT wins"
    assert c("SINTERCARD", 2, "a", "missing") == 0
    assert c("SINTERCARD", 1, "missing") == 0
    assert c("SINTERCARD", 2, "a", "a", "LIMIT", 2) == 2


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("SINTERSTORE", {b"2", b"3"}),
        ("SUNIONSTORE", {b"1", b"2", b"3", b"4", b"5"}),
        ("SDIFFSTORE", {b"1", b"4"}),
    ],
)
def test_store_forms(world: World, abc: Client, command: str, expected: set[bytes]) -> None:
    c = abc
    assert c(command, "d", "a", "b") == len(expected)
    assert members(c("SMEMBERS", "d")) == expected
    # Over a key of another type, with an expiry: both replaced.
    c("SET", "str", "x", "EX", 100)
    assert c(command, "str", "a", "b") == len(expected)
    assert members(c("SMEMBERS", "str")) == expected
    assert c("TTL", "str") == -1
    # The destination among the sources: the result is computed first.
    assert c(command, "a", "a", "b") == len(expected)
    assert members(c("SMEMBERS", "a")) == expected
    assert_replays(world)


def test_store_of_an_empty_result_deletes_the_destination(world: World, abc: Client) -> None:
    c = abc
    c("SET", "d", "x")
    log = world.mutations()
    assert c("SINTERSTORE", "d", "a", "missing") == 0
    assert c("EXISTS", "d") == 0
    assert c("SDIFFSTORE", "d", "a", "a") == 0
    assert c("SUNIONSTORE", "d", "missing") == 0
    assert world.engine.pending == [Delete((b"d",))], "nothing left to delete: nothing logged"
    assert c("SDIFFSTORE", "b", "b", "a", "c") == 0
    assert c("EXISTS", "b") == 0
    assert_replays(world, log)


def test_store_logs_a_fresh_set(world: World, abc: Client) -> None:
    c = abc
    world.mutations()
    c("SUNIONSTORE", "new", "b")
    c("SUNIONSTORE", "a", "b")
    logged = world.mutations()
    assert isinstance(logged[0], SetAdd) and set(logged[0].members) == {b"2", b"3", b"5"}
    assert isinstance(logged[1], Batch) and logged[1].items[0] == Delete((b"a",))


def test_expired_sets_read_as_missing(world: World, c: Client) -> None:
    c("SADD", "s", "a", "b")
    c("PEXPIRE", "s", 10)
    world.advance(11)
    assert c("SCARD", "s") == 0
    assert c("SADD", "s", "c") == 1
    assert members(c("SMEMBERS", "s")) == {b"c"}
    assert c("PTTL", "s") == -1
    assert_replays(world)


def test_sets_in_a_transaction_replay(world: World, c: Client) -> None:
    c("SADD", "a", "1", "2")
    c("MULTI")
    c("SADD", "a", "3")
    c("SPOP", "a")
    c("SUNIONSTORE", "b", "a")
    c("SMOVE", "a", "b", "1")
    replies = c("EXEC")
    assert isinstance(replies, list) and len(replies) == 4
    assert_replays(world)


def test_command_info_for_sets(c: Client) -> None:
    info = c("COMMAND", "INFO", "sintercard", "smove", "sadd")
    assert isinstance(info, list)
    assert info[0][:6] == [b"sintercard", -3, SetReply(("readonly",)), 0, 0, 0]
    assert info[1][1] == 4 and info[1][3:6] == [1, 2, 1]
    assert info[2][1] == -3


# ------------------------------------------------------------------ model


KEYS = [b"a", b"b", b"c"]
MEMBERS = [b"", b"1", b"2", b"x", b"y", b"\x00"]
keys = st.sampled_from(KEYS)
member_lists = st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=4)
key_lists = st.lists(keys, min_size=1, max_size=3)


class SetModel(RuleBasedStateMachine):
    """The engine against a dict of Python sets (and one string key for WRONGTYPE)."""

    def __init__(self) -> None:
        super().__init__()
        self.world = World(seed=7)
        self.c = self.world.client()
        self.model: dict[bytes, set[bytes] | bytes] = {}

    def sets(self, names: list[bytes]) -> list[set[bytes]] | None:
        """The model's sets at `names` (missing ones empty), None if one is not a set."""
        found = [self.model.get(name, set()) for name in names]
        if any(not isinstance(value, set) for value in found):
            return None
        return [value for value in found if isinstance(value, set)]

    def store(self, key: bytes, value: set[bytes]) -> None:
        if value:
            self.model[key] = set(value)
        else:
            self.model.pop(key, None)

    @rule(key=keys, items=member_lists)
    def sadd(self, key: bytes, items: list[bytes]) -> None:
        reply = self.c("SADD", key, *items)
        old = self.sets([key])
        if old is None:
            assert reply == WRONGTYPE
            return
        assert reply == len(set(items) - old[0])
        self.store(key, old[0] | set(items))

    @rule(key=keys, items=member_lists)
    def srem(self, key: bytes, items: list[bytes]) -> None:
        reply = self.c("SREM", key, *items)
        old = self.sets([key])
        if old is None:
            assert reply == WRONGTYPE
            return
        assert reply == len(old[0] & set(items))
        self.store(key, old[0] - set(items))

    @rule(key=keys, count=st.one_of(st.none(), st.integers(0, 5)))
    def spop(self, key: bytes, count: int | None) -> None:
        reply = self.c("SPOP", key) if count is None else self.c("SPOP", key, count)
        old = self.sets([key])
        if old is None:
            assert reply == WRONGTYPE
            return
        if count is None:
            assert (reply is None) == (not old[0])
            popped = {reply} if isinstance(reply, bytes) else set()
        else:
            assert isinstance(reply, SetReply)
            popped = members(reply)
            assert len(popped) == min(count, len(old[0]))
        assert popped <= old[0]
        self.store(key, old[0] - popped)

    @rule(key=keys, count=st.one_of(st.none(), st.integers(-5, 5)))
    def srandmember(self, key: bytes, count: int | None) -> None:
        reply = self.c("SRANDMEMBER", key) if count is None else self.c("SRANDMEMBER", key, count)
        old = self.sets([key])
        if old is None:
            assert reply == WRONGTYPE
            return
        if count is None:
            assert reply is None if not old[0] else reply in old[0]
            return
        assert isinstance(reply, list) and set(reply) <= old[0]
        if count >= 0:
            assert len(set(reply)) == len(reply) == min(count, len(old[0]))
        else:
            assert len(reply) == (-count if old[0] else 0)

    @rule(src=keys, dst=keys, member=st.sampled_from(MEMBERS))
    def smove(self, src: bytes, dst: bytes, member: bytes) -> None:
        reply = self.c("SMOVE", src, dst, member)
        source = self.sets([src])
        if source is not None and not source[0]:
            assert reply == 0
            return
        both = self.sets([src, dst])
        if both is None:
            assert reply == WRONGTYPE
            return
        assert reply == int(member in both[0])
        if member in both[0] and src != dst:
            self.store(src, both[0] - {member})
            self.store(dst, both[1] | {member})

    @rule(op=st.sampled_from(["SINTER", "SUNION", "SDIFF"]), names=key_lists, store=st.booleans())
    def algebra(self, op: str, names: list[bytes], store: bool) -> None:
        dst = b"c"
        reply = self.c(f"{op}STORE", dst, *names) if store else self.c(op, *names)
        found = self.sets(names)
        if found is None:
            assert reply == WRONGTYPE
            return
        if op == "SINTER":
            result = set.intersection(*found)
        elif op == "SUNION":
            result = set.union(*found)
        else:
            result = found[0].difference(*found[1:])
        if store:
            assert reply == len(result)
            self.store(dst, result)
        else:
            assert members(reply) == result

    @rule(names=key_lists, limit=st.integers(0, 3))
    def sintercard(self, names: list[bytes], limit: int) -> None:
        reply = self.c("SINTERCARD", len(names), *names, "LIMIT", limit)
        found = self.sets(names)
        if found is None:
            assert reply == WRONGTYPE
            return
        size = len(set.intersection(*found))
        assert reply == (min(size, limit) if limit else size)

    @rule(key=keys, items=member_lists)
    def smismember(self, key: bytes, items: list[bytes]) -> None:
        reply = self.c("SMISMEMBER", key, *items)
        found = self.sets([key])
        if found is None:
            assert reply == WRONGTYPE
            return
        assert reply == [int(i in found[0]) for i in items]

    @rule(key=keys)
    def make_string(self, key: bytes) -> None:
        self.c("SET", key, "str")
        self.model[key] = b"str"

    @rule(key=keys)
    def delete(self, key: bytes) -> None:
        self.c("DEL", key)
        self.model.pop(key, None)

    @invariant()
    def keyspace_matches(self) -> None:
        state = {key: value for key, value, _ in self.world.state()}
        assert state == self.model

    def teardown(self) -> None:
        assert_replays(self.world)


SetModel.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_set_model = SetModel.TestCase


# ------------------------------------------------- repeating random picks, in slices

MANY = 2 * set_commands.PICK_SLICE + 1  # three slices


@pytest.mark.parametrize(
    ("fill", "pick", "resp", "shape"),
    [
        (("SADD", "k", "a", "b"), ("SRANDMEMBER", "k", -MANY), 2, [b"a", b"b"]),
        (("ZADD", "k", 1, "a", 2, "b"), ("ZRANDMEMBER", "k", -MANY), 3, [b"a", b"b"]),
        (
            ("ZADD", "k", 1, "a", 2, "b"),
            ("ZRANDMEMBER", "k", -MANY, "WITHSCORES"),
            2,
            [b"a", 1.0, b"b", 2.0],
        ),
        (
            ("ZADD", "k", 1, "a", 2, "b"),
            ("ZRANDMEMBER", "k", -MANY, "WITHSCORES"),
            3,
            [[b"a", 1.0], [b"b", 2.0]],
        ),
        (("HSET", "k", "a", "1", "b", "2"), ("HRANDFIELD", "k", -MANY), 2, [b"a", b"b"]),
        (
            ("HSET", "k", "a", "1", "b", "2"),
            ("HRANDFIELD", "k", -MANY, "WITHVALUES"),
            2,
            [b"a", b"1", b"b", b"2"],
        ),
        (
            ("HSET", "k", "a", "1", "b", "2"),
            ("HRANDFIELD", "k", -MANY, "WITHVALUES"),
            3,
            [[b"a", b"1"], [b"b", b"2"]],
        ),
    ],
)
def test_many_repeating_random_picks_are_drawn_in_slices(
    fill: tuple[object, ...], pick: tuple[object, ...], resp: int, shape: list[object]
) -> None:
    """The fuzzer found SRANDMEMBER/ZRANDMEMBER/HRANDFIELD key -1000000 (a 20-byte request,
    on a key of one member) holding the event loop 2-5 s; past PICK_SLICE picks they are
    drawn a slice per loop turn. The reply's shape is the unsliced one's."""
    host = SlicingHost()
    c = World(host=host).client(resp=resp)
    c(*fill)
    reply = c(*pick)
    flat = resp == 2 and len(pick) == 4
    items = _pairs(reply) if flat else reply
    assert len(items) == MANY and host.slices == 2
    assert {repr(x) for x in items} == {repr(x) for x in (_pairs(shape) if flat else shape)}
    host.slices = 0
    assert len(c(*pick[:2], -set_commands.PICK_SLICE)) == set_commands.PICK_SLICE
    assert host.slices == 0  # up to a slice: drawn at once, as before


def _pairs(flat: list[object]) -> list[object]:
    return [flat[i : i + 2] for i in range(0, len(flat), 2)]


def test_sliced_picks_in_exec_draw_from_the_set_at_their_place_in_the_queue() -> None:
    host = SlicingHost()
    c = World(host=host).client()
    c("SADD", "s", "a", "b", "c")
    c("MULTI")
    c("SRANDMEMBER", "s", -MANY)
    c("SREM", "s", "a", "b")
    c("SRANDMEMBER", "s", -MANY)
    before, removed, after = c("EXEC")
    assert removed == 2 and len(before) == len(after) == MANY
    assert set(before) == {b"a", b"b", b"c"} and set(after) == {b"c"}
    assert host.slices >= 4
