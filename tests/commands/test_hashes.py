"""Hash commands on the engine: replies, Redis 7.0 error texts, RESP3 shapes, the mutations
they log, and the recovery contract: the logged mutations, through the log codec, and a
snapshot round trip each rebuild the same keyspace. A hypothesis test compares the commands
with a dict-of-dicts model."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tandemkv.commands.args import MAX_RANDOM_REPLY
from tandemkv.protocol.types import OK, ErrorReply
from tandemkv.storage.codec import decode_mutation, encode_mutation
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.mutation import HashDelete, HashSet
from tandemkv.storage.store import keyspace_items, load_items

from .harness import NOT_FLOAT, NOT_INT, SYNTAX, Client, World, arity_err, contents, err, replay

WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value")
OVERFLOW = err("ERR increment or decrement would overflow")
NOT_HASH_INT = err("ERR hash value is not an integer")
NOT_HASH_FLOAT = err("ERR hash value is not a float")
NAN_OR_INF = err("ERR value is NaN or Infinity")
WOULD_BE_INF = err("ERR increment would produce NaN or Infinity")
OUT_OF_RANGE = err("ERR value is out of range")
INVALID_CURSOR = err("ERR invalid cursor")
INT64_MAX = 2**63 - 1


def assert_recovers(world: World) -> None:
    """The logged mutations (through the codec) and a snapshot both rebuild the keyspace."""
    logged = [decode_mutation(encode_mutation(m)) for m in world.mutations()]
    assert contents(replay(logged)) == world.state()
    restored = Keyspace()
    load_items(restored, keyspace_items(world.engine.keyspace))
    assert contents(restored) == world.state()


def stored(world: World, key: bytes) -> object:
    return world.engine.keyspace.get(key, world.now)


# ------------------------------------------------------------------ set and get


def test_hset_counts_new_fields_and_the_last_value_wins(world: World, c: Client) -> None:
    assert c("HSET", "h", "a", "1", "b", "2") == 2
    assert c("HSET", "h", "a", "3", "c", "4", "c", "5") == 1
    assert stored(world, b"h") == {b"a": b"3", b"b": b"2", b"c": b"5"}
    assert world.mutations() == [
        HashSet(b"h", (b"a", b"1", b"b", b"2")),
        HashSet(b"h", (b"a", b"3", b"c", b"4", b"c", b"5")),
    ]


def test_hset_of_the_same_value_still_writes_as_redis_does(world: World, c: Client) -> None:
    c("HSET", "h", "a", "1")
    world.mutations()
    assert c("HSET", "h", "a", "1") == 0
    assert world.mutations() == [HashSet(b"h", (b"a", b"1"))]


def test_hmset_replies_ok(world: World, c: Client) -> None:
    assert c("HMSET", "h", "a", "1", "b", "2") == OK
    assert c("HMGET", "h", "b", "zz", "a") == [b"2", None, b"1"]


@pytest.mark.parametrize("name", ["HSET", "HMSET"])
def test_odd_pairs_are_an_arity_error(c: Client, name: str) -> None:
    assert c(name, "h", "a", "1", "b") == arity_err(name.lower())
    assert c(name, "h", "a") == arity_err(name.lower())
    assert c("EXISTS", "h") == 0


def test_hsetnx_sets_only_a_new_field(world: World, c: Client) -> None:
    assert c("HSETNX", "h", "a", "1") == 1
    world.mutations()
    assert c("HSETNX", "h", "a", "2") == 0
    assert world.mutations() == [], "a write that changes nothing logs nothing"
    assert c("HGET", "h", "a") == b"1"


def test_reads_of_a_missing_key(c: Client) -> None:
    assert c("HGET", "h", "a") is None
    assert c("HMGET", "h", "a", "b") == [None, None]
    assert c("HGETALL", "h") == {}
    assert c("HKEYS", "h") == []
    assert c("HVALS", "h") == []
    assert c("HLEN", "h") == 0
    assert c("HSTRLEN", "h", "a") == 0
    assert c("HEXISTS", "h", "a") == 0


def test_reads_of_a_hash(c: Client) -> None:
    c("HSET", "h", "a", "1", "b", "", "c", "333")
    assert c("HGET", "h", "b") == b""
    assert c("HLEN", "h") == 3
    assert c("HSTRLEN", "h", "c") == 3
    assert c("HSTRLEN", "h", "b") == 0
    assert c("HEXISTS", "h", "b") == 1
    assert c("HEXISTS", "h", "zz") == 0
    assert c("HKEYS", "h") == [b"a", b"b", b"c"]
    assert c("HVALS", "h") == [b"1", b"", b"333"]
    assert c("HGETALL", "h") == {b"a": b"1", b"b": b"", b"c": b"333"}
    assert c("TYPE", "h") == "hash"


def test_replies_are_copies_not_the_stored_hash(world: World, c: Client) -> None:
    c("HSET", "h", "a", "1")
    reply = c("HGETALL", "h")
    assert isinstance(reply, dict)
    reply[b"x"] = b"y"
    keys = c("HKEYS", "h")
    assert isinstance(keys, list)
    keys.append(b"z")
    assert stored(world, b"h") == {b"a": b"1"}


def test_binary_fields_and_values(c: Client) -> None:
    field, value = bytes(range(256)), b"\r\n\x00"
    assert c("HSET", "h", field, value) == 1
    assert c("HGET", "h", field) == value


# ------------------------------------------------------------------ HDEL and emptiness


def test_hdel_counts_distinct_present_fields(world: World, c: Client) -> None:
    c("HSET", "h", "a", "1", "b", "2", "c", "3")
    world.mutations()
    assert c("HDEL", "h", "a", "a", "zz") == 1
    assert world.mutations() == [HashDelete(b"h", (b"a",))]
    assert c("HDEL", "h", "zz") == 0
    assert c("HDEL", "nokey", "a") == 0
    assert world.mutations() == []


def test_deleting_the_last_field_removes_the_key_and_its_ttl(world: World, c: Client) -> None:
    c("HSET", "h", "a", "1", "b", "2")
    c("EXPIRE", "h", 100)
    c("HSET", "h", "c", "3")
    assert c("TTL", "h") == 100, "writing a field keeps the expiry"
    assert c("HDEL", "h", "a", "b", "c") == 3
    assert c("EXISTS", "h") == 0
    c("HSET", "h", "a", "1")
    assert c("TTL", "h") == -1
    assert_recovers(world)


def test_an_expired_hash_is_gone(world: World, c: Client) -> None:
    c("HSET", "h", "a", "1")
    c("PEXPIRE", "h", 50)
    world.advance(50)
    assert c("HGET", "h", "a") is None
    assert c("HSETNX", "h", "a", "2") == 1
    assert c("TTL", "h") == -1
    assert_recovers(world)


# ------------------------------------------------------------------ wrong type and arity


@pytest.mark.parametrize(
    "args",
    [
        ("HSET", "s", "a", "1"),
        ("HMSET", "s", "a", "1"),
        ("HSETNX", "s", "a", "1"),
        ("HGET", "s", "a"),
        ("HMGET", "s", "a"),
        ("HGETALL", "s"),
        ("HKEYS", "s"),
        ("HVALS", "s"),
        ("HLEN", "s"),
        ("HSTRLEN", "s", "a"),
        ("HEXISTS", "s", "a"),
        ("HDEL", "s", "a"),
        ("HINCRBY", "s", "a", 1),
        ("HINCRBYFLOAT", "s", "a", "1.5"),
        ("HSCAN", "s", 0),
        ("HSCAN", "s", 0, "COUNT", 0),
        ("HRANDFIELD", "s"),
        ("HRANDFIELD", "s", 0),
        ("HRANDFIELD", "s", -2, "WITHVALUES"),
    ],
)
def test_a_string_key_is_the_wrong_type(world: World, c: Client, args: tuple[str, ...]) -> None:
    c("SET", "s", "v")
    world.mutations()
    assert c(*args) == WRONGTYPE
    assert world.mutations() == []
    assert c("GET", "s") == b"v"


def test_string_commands_refuse_a_hash(c: Client) -> None:
    c("HSET", "h", "a", "1")
    assert c("GET", "h") == WRONGTYPE
    assert c("APPEND", "h", "x") == WRONGTYPE


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("HSET", "h"), "hset"),
        (("HSETNX", "h", "a"), "hsetnx"),
        (("HGET", "h"), "hget"),
        (("HMGET", "h"), "hmget"),
        (("HGETALL",), "hgetall"),
        (("HKEYS", "h", "x"), "hkeys"),
        (("HVALS",), "hvals"),
        (("HLEN",), "hlen"),
        (("HSTRLEN", "h"), "hstrlen"),
        (("HEXISTS", "h"), "hexists"),
        (("HDEL", "h"), "hdel"),
        (("HINCRBY", "h", "a"), "hincrby"),
        (("HINCRBYFLOAT", "h", "a", "1", "2"), "hincrbyfloat"),
        (("HSCAN", "h"), "hscan"),
        (("HRANDFIELD",), "hrandfield"),
    ],
)
def test_arity(c: Client, args: tuple[str, ...], name: str) -> None:
    assert c(*args) == arity_err(name)


# ------------------------------------------------------------------ HINCRBY


def test_hincrby_creates_adds_and_stores_the_text(world: World, c: Client) -> None:
    assert c("HINCRBY", "h", "n", 5) == 5
    assert c("HINCRBY", "h", "n", -7) == -2
    assert c("HGET", "h", "n") == b"-2"
    assert world.mutations()[-1] == HashSet(b"h", (b"n", b"-2"))


def test_hincrby_errors(c: Client) -> None:
    c("HSET", "h", "s", "abc", "lz", "01", "sp", " 1", "e", "", "big", str(INT64_MAX))
    assert c("HINCRBY", "h", "n", "x") == NOT_INT
    assert c("HINCRBY", "h", "n", "1.5") == NOT_INT
    assert c("HINCRBY", "h", "n", "9223372036854775808") == NOT_INT
    for field in ("s", "lz", "sp", "e"):
        assert c("HINCRBY", "h", field, 1) == NOT_HASH_INT
    assert c("HINCRBY", "h", "big", 1) == OVERFLOW
    assert c("HINCRBY", "h", "small", -(2**63)) == -(2**63)
    assert c("HINCRBY", "h", "small", -1) == OVERFLOW
    assert c("HGET", "h", "big") == str(INT64_MAX).encode()


def test_hincrby_checks_the_increment_before_the_type(c: Client) -> None:
    c("SET", "s", "v")
    assert c("HINCRBY", "s", "a", "x") == NOT_INT


# ------------------------------------------------------------------ HINCRBYFLOAT


@pytest.mark.parametrize(
    ("start", "increment", "result"),
    [
        (None, "10.5", b"10.5"),
        ("10.5", "0.1", b"10.6"),
        (None, "5.0e3", b"5000"),
        (None, "1000.1", b"1000.09999999999999998"),  # long double's nearest, to 17 places
        ("123456.789", "0.001", b"123456.78999999999999915"),
        ("3.0e-5", "1e-20", b"0.00003"),
        ("5", "-5", b"0"),
        (None, "-0", b"0"),
        (None, "-1e-30", b"0"),  # "-0" after trimming is written "0"
        (None, "0x10", b"16"),
        ("1.50000", "0", b"1.5"),
        ("7", "-8.5", b"-1.5"),
        ("1e20", "1", b"100000000000000000000"),  # beyond the 64-bit significand
        # 2**-18 and 3 * 2**-18 have 18 decimals: printf's ties go to the even digit.
        (None, "0.000003814697265625", b"0.00000381469726562"),
        (None, "-0.000011444091796875", b"-0.00001144409179688"),
    ],
)
def test_hincrbyfloat_replies_and_stores_what_redis_prints(
    world: World, c: Client, start: str | None, increment: str, result: bytes
) -> None:
    if start is not None:
        c("HSET", "h", "f", start)
    assert c("HINCRBYFLOAT", "h", "f", increment) == result
    assert c("HGET", "h", "f") == result
    assert world.mutations()[-1] == HashSet(b"h", (b"f", result))


def test_hincrbyfloat_huge_values_print_every_digit(c: Client) -> None:
    reply = c("HINCRBYFLOAT", "h", "f", "1e4932")
    assert isinstance(reply, bytes) and len(reply) == 4933
    # Redis 7.0.15's reply, first and last digits.
    assert reply.startswith(b"1000000000000000000006018949387963891323837774")
    assert reply.endswith(b"538418113791886622720")
    assert c("HINCRBYFLOAT", "h", "f", "1e4932") == WOULD_BE_INF


@pytest.mark.parametrize(
    "increment",
    ["abc", "", " 1", "1 ", "1e", ".", "nan", "-nan", "1_0", b"1\x00", "1e5000", "1e-5000"],
)
def test_hincrbyfloat_refuses_what_is_not_a_float(c: Client, increment: str) -> None:
    assert c("HINCRBYFLOAT", "h", "f", increment) == NOT_FLOAT
    assert c("EXISTS", "h") == 0


def test_hincrbyfloat_long_texts(c: Client) -> None:
    assert c("HINCRBYFLOAT", "h", "f", "1" + "0" * 5119) == NOT_FLOAT
    assert c("HINCRBYFLOAT", "h", "f", "0." + "0" * 5000 + "1") == NOT_FLOAT  # underflows
    assert c("HINCRBYFLOAT", "h", "f", "0" * 5000 + "2.5") == b"2.5"
    assert c("HINCRBYFLOAT", "h", "f", "0e99999999999999999999") == b"2.5"


@pytest.mark.parametrize("increment", ["inf", "-inf", "Infinity", "+INF"])
def test_hincrbyfloat_refuses_an_infinite_increment(c: Client, increment: str) -> None:
    assert c("HINCRBYFLOAT", "h", "f", increment) == NAN_OR_INF


def test_hincrbyfloat_checks_the_stored_value(c: Client) -> None:
    c("HSET", "h", "s", "abc", "inf", "inf", "e", "", "sp", " 1")
    for field in ("s", "e", "sp"):
        assert c("HINCRBYFLOAT", "h", field, "1") == NOT_HASH_FLOAT
    assert c("HINCRBYFLOAT", "h", "inf", "1") == WOULD_BE_INF
    assert c("HGET", "h", "inf") == b"inf"


def test_hincrbyfloat_order_of_checks(c: Client) -> None:
    c("SET", "s", "v")
    assert c("HINCRBYFLOAT", "s", "f", "x") == NOT_FLOAT
    assert c("HINCRBYFLOAT", "s", "f", "inf") == NAN_OR_INF
    assert c("HINCRBYFLOAT", "s", "f", "1") == WRONGTYPE


# ------------------------------------------------------------------ HSCAN


def test_hscan_of_a_small_hash_returns_everything(c: Client) -> None:
    c("HSET", "h", "a1", "1", "a2", "2", "b1", "3")
    assert c("HSCAN", "h", 0) == [b"0", [b"a1", b"1", b"a2", b"2", b"b1", b"3"]]
    assert c("HSCAN", "h", 0, "MATCH", "a*", "COUNT", 1) == [b"0", [b"a1", b"1", b"a2", b"2"]]


def test_hscan_errors_in_redis_order(c: Client) -> None:
    assert c("HSCAN", "nokey", "x") == INVALID_CURSOR
    assert c("HSCAN", "nokey", 0, "COUNT", 0) == [b"0", []], "options are read after the key"
    c("HSET", "h", "a", "1")
    assert c("HSCAN", "h", "x") == INVALID_CURSOR
    assert c("HSCAN", "h", 0, "COUNT", 0) == SYNTAX
    assert c("HSCAN", "h", 0, "COUNT", "x") == NOT_INT
    assert c("HSCAN", "h", 0, "MATCH") == SYNTAX
    assert c("HSCAN", "h", 0, "BAD", "x") == SYNTAX


def test_hscan_walks_a_large_hash_once_skipping_removed_fields(world: World, c: Client) -> None:
    fields = [f"f{i}".encode() for i in range(500)]
    c("HSET", "h", *[x for f in fields for x in (f, b"v" + f)])
    other = world.client()
    seen: list[bytes] = []
    cursor = b"0"
    removed = {b"f499", b"f498"}
    first = True
    while first or cursor != b"0":
        reply = c("HSCAN", "h", cursor, "COUNT", 37)
        assert isinstance(reply, list)
        cursor, page = reply
        assert len(page) <= 2 * 37
        for i in range(0, len(page), 2):
            assert page[i + 1] == b"v" + page[i]
            seen.append(page[i])
        if first:
            other("HDEL", "h", *removed)
            first = False
    assert len(seen) == len(set(seen))
    assert set(seen) == set(fields) - removed


# ------------------------------------------------------------------ HRANDFIELD


def test_hrandfield_without_count(c: Client) -> None:
    assert c("HRANDFIELD", "h") is None
    c("HSET", "h", "a", "1", "b", "2")
    for _ in range(20):
        assert c("HRANDFIELD", "h") in (b"a", b"b")


def test_hrandfield_positive_count_gives_distinct_fields(c: Client) -> None:
    fields = [f"f{i}".encode() for i in range(10)]
    c("HSET", "h", *[x for f in fields for x in (f, f.upper())])
    for count in (1, 3, 9):
        reply = c("HRANDFIELD", "h", count)
        assert isinstance(reply, list) and len(reply) == count
        assert len(set(reply)) == count and set(reply) <= set(fields)
    assert c("HRANDFIELD", "h", 10) == fields, "all of them, in hash order"
    assert c("HRANDFIELD", "h", 100) == fields


def test_hrandfield_negative_count_repeats(c: Client) -> None:
    c("HSET", "h", "a", "1", "b", "2")
    reply = c("HRANDFIELD", "h", -50)
    assert isinstance(reply, list) and len(reply) == 50
    assert set(reply) == {b"a", b"b"}, "50 draws of two fields: both appear"
    assert c("HRANDFIELD", "one", -5) == []


def test_hrandfield_withvalues_shapes(world: World) -> None:
    c2, c3 = world.client(), world.client(resp=3)
    c2("HSET", "h", "a", "1")
    assert c2("HRANDFIELD", "h", -2, "WITHVALUES") == [b"a", b"1", b"a", b"1"]
    assert c3("HRANDFIELD", "h", -2, "WITHVALUES") == [[b"a", b"1"], [b"a", b"1"]]
    assert c3("HRANDFIELD", "h", 5, "withvalues") == [[b"a", b"1"]]
    assert c3("HRANDFIELD", "h", 1) == [b"a"]
    assert c3("HRANDFIELD", "h", 0, "WITHVALUES") == []


def test_hrandfield_is_a_seeded_choice() -> None:
    replies = []
    for _ in range(2):
        world = World(seed=7)
        c = world.client()
        c("HSET", "h", *[str(i) for i in range(40)])
        replies.append([c("HRANDFIELD", "h", 5), c("HRANDFIELD", "h", -5)])
    assert replies[0] == replies[1]


def test_hrandfield_count_errors(c: Client) -> None:
    c("HSET", "h", "a", "1")
    assert c("HRANDFIELD", "h", "x") == NOT_INT
    assert c("HRANDFIELD", "h", 1, "WITHVALUE") == SYNTAX
    assert c("HRANDFIELD", "h", 1, "WITHVALUES", "x") == SYNTAX
    assert c("HRANDFIELD", "nokey", 0, "BAD") == SYNTAX
    assert c("HRANDFIELD", "h", -(2**63)) == err(
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    )
    assert c("HRANDFIELD", "h", -(2**62), "WITHVALUES") == OUT_OF_RANGE
    assert c("HRANDFIELD", "h", 2**62, "WITHVALUES") == OUT_OF_RANGE
    assert c("HRANDFIELD", "h", INT64_MAX) == [b"a"]


@pytest.mark.parametrize(
    "command", [("HSET", "h", "a", "1"), ("SADD", "h", "a"), ("ZADD", "h", 1, "a")]
)
def test_random_picks_refuse_a_reply_past_the_cap(c: Client, command: tuple[object, ...]) -> None:
    c(*command)
    pick = {"HSET": "HRANDFIELD", "SADD": "SRANDMEMBER", "ZADD": "ZRANDMEMBER"}[command[0]]
    assert c(pick, "h", -MAX_RANDOM_REPLY - 1) == OUT_OF_RANGE
    reply = c(pick, "h", -MAX_RANDOM_REPLY)
    assert isinstance(reply, list) and len(reply) == MAX_RANDOM_REPLY


def test_reads_log_nothing(world: World, c: Client) -> None:
    c("HSET", "h", "a", "1")
    world.mutations()
    for args in (
        ("HGET", "h", "a"),
        ("HGETALL", "h"),
        ("HSCAN", "h", 0),
        ("HRANDFIELD", "h", -3, "WITHVALUES"),
        ("HSTRLEN", "h", "a"),
    ):
        c(*args)
    assert world.mutations() == []


# ------------------------------------------------------------------ transactions, recovery


def test_a_transaction_of_hash_writes_recovers(world: World, c: Client) -> None:
    c("MULTI")
    c("HSET", "h", "a", "1", "b", "2")
    c("HINCRBY", "h", "a", 10)
    c("HINCRBYFLOAT", "h", "f", "0.1")
    c("HDEL", "h", "b")
    c("HINCRBY", "h", "f", 1)
    reply = c("EXEC")
    assert reply == [2, 11, b"0.1", 1, NOT_HASH_INT]
    assert stored(world, b"h") == {b"a": b"11", b"f": b"0.1"}
    assert_recovers(world)


def test_a_large_hash_recovers_through_chunked_snapshots(world: World, c: Client) -> None:
    for start in range(0, 3000, 500):
        c("HSET", "big", *[x for i in range(start, start + 500) for x in (f"f{i}", f"v{i}")])
    c("PEXPIRE", "big", 10_000)
    c("HDEL", "big", "f0", "f1")
    c("HINCRBYFLOAT", "big", "f2", "1e-3")
    assert c("HLEN", "big") == 2998
    assert_recovers(world)


# ------------------------------------------------------------------ against a model

KEYS = [b"h", b"g", b"s"]
FIELDS = [b"a", b"b", b"c", b"1"]
VALUES = [b"", b"1", b"-2", b"x", b"2.5", b"01"]
INCREMENTS = [b"0.5", b"-1.25", b"3", b"-0", b"1e2"]

keys = st.sampled_from(KEYS)
fields = st.sampled_from(FIELDS)
values = st.sampled_from(VALUES)
pairs = st.lists(st.tuples(fields, values), min_size=1, max_size=4)
commands = st.one_of(
    st.builds(lambda k, p: ("HSET", k, *[x for pair in p for x in pair]), keys, pairs),
    st.builds(lambda k, p: ("HMSET", k, *[x for pair in p for x in pair]), keys, pairs),
    st.tuples(st.just("HSETNX"), keys, fields, values),
    st.tuples(st.sampled_from(["HGET", "HSTRLEN", "HEXISTS"]), keys, fields),
    st.builds(lambda k, f: ("HMGET", k, *f), keys, st.lists(fields, min_size=1, max_size=3)),
    st.builds(lambda k, f: ("HDEL", k, *f), keys, st.lists(fields, min_size=1, max_size=3)),
    st.tuples(st.sampled_from(["HGETALL", "HKEYS", "HVALS", "HLEN"]), keys),
    st.tuples(st.just("HINCRBY"), keys, fields, st.integers(-5, 5)),
    st.tuples(st.just("HINCRBYFLOAT"), keys, fields, st.sampled_from(INCREMENTS)),
    st.tuples(st.just("HSCAN"), keys, st.just(0)),
    st.tuples(st.just("HRANDFIELD"), keys, st.integers(-3, 5)),
    st.tuples(st.just("SET"), st.just(b"s"), values),
    st.tuples(st.just("DEL"), keys),
)


class Model:
    """Hashes as plain dicts; b"s" may hold a string (WRONGTYPE for hash commands)."""

    def __init__(self) -> None:
        self.hashes: dict[bytes, dict[bytes, bytes]] = {}
        self.strings: set[bytes] = set()

    def run(self, args: tuple[object, ...]) -> object:
        name = str(args[0])
        key = args[1]
        assert isinstance(key, bytes)
        if name == "SET":
            self.hashes.pop(key, None)
            self.strings.add(key)
            return OK
        if name == "DEL":
            found = key in self.hashes or key in self.strings
            self.hashes.pop(key, None)
            self.strings.discard(key)
            return int(found)
        if key in self.strings:
            return WRONGTYPE
        h = self.hashes.get(key, {})
        reply = self.hash_command(name, h, list(args[2:]))
        if h:
            self.hashes[key] = h
        else:
            self.hashes.pop(key, None)
        return reply

    def hash_command(self, name: str, h: dict[bytes, bytes], rest: list[object]) -> object:
        if name in ("HSET", "HMSET"):
            new = {f for f in rest[0::2] if f not in h}
            for f, v in zip(rest[0::2], rest[1::2], strict=True):
                h[f] = v  # type: ignore[index]
            return len(new) if name == "HSET" else OK
        if name == "HSETNX":
            if rest[0] in h:
                return 0
            h[rest[0]] = rest[1]  # type: ignore[index]
            return 1
        if name == "HDEL":
            gone = {f for f in rest if f in h}
            for f in gone:
                del h[f]  # type: ignore[arg-type]
            return len(gone)
        if name == "HINCRBY":
            return self.incrby(h, rest[0], rest[1])  # type: ignore[arg-type]
        if name == "HINCRBYFLOAT":
            return self.incrbyfloat(h, rest[0], rest[1])  # type: ignore[arg-type]
        return self.read(name, h, rest)

    def read(self, name: str, h: dict[bytes, bytes], rest: list[object]) -> object:
        if name == "HGET":
            return h.get(rest[0])  # type: ignore[call-overload]
        if name == "HSTRLEN":
            return len(h.get(rest[0], b""))  # type: ignore[call-overload]
        if name == "HEXISTS":
            return int(rest[0] in h)
        if name == "HMGET":
            return [h.get(f) for f in rest]  # type: ignore[call-overload]
        if name == "HGETALL":
            return dict(h)
        if name == "HKEYS":
            return sorted(h)
        if name == "HVALS":
            return sorted(h.values())
        if name == "HLEN":
            return len(h)
        if name == "HSCAN":
            return [b"0", sorted((f, v) for f, v in h.items())]
        count = rest[0]
        assert isinstance(count, int)
        return (count, sorted(h))  # HRANDFIELD: checked by its properties

    @staticmethod
    def incrby(h: dict[bytes, bytes], field: bytes, delta: int) -> object:
        current = h.get(field, b"0")
        if not re.fullmatch(rb"0|-?[1-9][0-9]*", current):
            return NOT_HASH_INT
        h[field] = str(int(current) + delta).encode()
        return int(h[field])

    @staticmethod
    def incrbyfloat(h: dict[bytes, bytes], field: bytes, delta: bytes) -> object:
        current = h.get(field, b"0")
        if current in (b"", b"x"):
            return NOT_HASH_FLOAT
        # The model's values are all exact in binary: plain decimal sums are exact too.
        total = Fraction(current.decode()) + Fraction(delta.decode())
        h[field] = f"{float(total):.17f}".rstrip("0").rstrip(".").encode()
        return h[field]


def normalized(args: tuple[object, ...], reply: object) -> object:
    name = str(args[0])
    if name in ("HKEYS", "HVALS") and isinstance(reply, list):
        return sorted(reply)
    if name == "HSCAN" and isinstance(reply, list):
        page = reply[1]
        return [reply[0], sorted(zip(page[0::2], page[1::2], strict=True))]
    return reply


def check_random(model_reply: object, reply: object) -> None:
    assert isinstance(model_reply, tuple)
    count, fields = model_reply
    assert isinstance(reply, list)
    if count >= 0:
        assert len(reply) == min(count, len(fields))
        assert len(set(reply)) == len(reply)
    else:
        assert len(reply) == (-count if fields else 0)
    assert set(reply) <= set(fields)


@settings(max_examples=300, deadline=None)
@example(
    [
        ("HSET", b"h", b"a", b"1", b"a", b"2", b"b", b"x"),
        ("HDEL", b"h", b"a", b"a", b"c"),
        ("HINCRBY", b"h", b"b", 1),
        ("HINCRBYFLOAT", b"h", b"c", b"0.5"),
        ("HRANDFIELD", b"h", -3),
        ("HDEL", b"h", b"b", b"c"),
        ("HSETNX", b"s", b"a", b"1"),
        ("SET", b"s", b"1"),
        ("HGETALL", b"s"),
    ]
)
@given(st.lists(commands, max_size=40))
def test_hash_commands_agree_with_a_model(script: list[tuple[object, ...]]) -> None:
    world = World()
    c = world.client()
    model = Model()
    for args in script:
        expected = model.run(args)
        reply = c(*args)
        if isinstance(expected, tuple):
            check_random(expected, reply)
        elif isinstance(expected, ErrorReply):
            assert reply == expected, args
        else:
            assert normalized(args, reply) == expected, args
    assert {k: v for k, v, _ in world.state() if type(v) is dict} == model.hashes
    assert_recovers(world)
