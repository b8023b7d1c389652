"""String commands: replies, Redis 7 error texts, expiry options and the mutations they log."""

from __future__ import annotations

import pytest

from tandemkv.commands import strings
from tandemkv.protocol.types import OK, SimpleString
from tandemkv.storage.mutation import Append, Batch, Delete, SetExpiry, SetRange, SetValue

from .harness import NOT_FLOAT, NOT_INT, SYNTAX, Client, World, arity_err, err

INVALID_SET_EXPIRE = err("ERR invalid expire time in 'set' command")
INVALID_GETEX_EXPIRE = err("ERR invalid expire time in 'getex' command")
OVERFLOW = err("ERR increment or decrement would overflow")
TOO_BIG = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
INT64_MAX = 2**63 - 1


# ------------------------------------------------------------------ GET / SET basics


def test_get_missing_key_is_null(c: Client) -> None:
    assert c("GET", "nope") is None


def test_set_then_get_returns_the_exact_bytes(c: Client) -> None:
    value = bytes(range(256))
    assert c("SET", "k", value) == OK
    assert c("GET", "k") == value


def test_set_reply_is_a_status_not_a_bulk(c: Client) -> None:
    reply = c("SET", "k", "v")
    assert isinstance(reply, SimpleString) and reply == "OK"


def test_set_overwrites_and_clears_the_ttl(world: World, c: Client) -> None:
    c("SET", "k", "v", "EX", 100)
    assert c("SET", "k", "w") == OK
    assert c("GET", "k") == b"w"
    assert c("TTL", "k") == -1


def test_put_is_an_alias_of_set(c: Client) -> None:
    assert c("PUT", "k", "v", "EX", 10) == OK
    assert c("GET", "k") == b"v"
    assert c("TTL", "k") == 10


def test_commands_are_case_insensitive(c: Client) -> None:
    assert c("set", "k", "v", "ex", 10, "get") is None
    assert c("gEt", "k") == b"v"


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("GET",), "get"),
        (("GET", "a", "b"), "get"),
        (("SET", "k"), "set"),
        (("PUT", "k"), "put"),
        (("SETNX", "k"), "setnx"),
        (("GETDEL",), "getdel"),
        (("GETEX",), "getex"),
        (("MGET",), "mget"),
        (("MSET", "k"), "mset"),
        (("MSET", "a", "1", "b"), "mset"),
        (("MSETNX", "a", "1", "b"), "msetnx"),
        (("INCRBY", "k"), "incrby"),
        (("APPEND", "k"), "append"),
        (("GETRANGE", "k", 0), "getrange"),
        (("SETRANGE", "k", 0), "setrange"),
        (("DELIFEQ", "k"), "delifeq"),
        (("SETEX", "k", 10), "setex"),
        (("STRLEN", "a", "b"), "strlen"),
    ],
)
def test_wrong_arity(c: Client, args: tuple[str, ...], name: str) -> None:
    assert c(*args) == arity_err(name)


# ------------------------------------------------------------------ SET conditions


def test_set_nx_only_creates(c: Client) -> None:
    assert c("SET", "k", "v1", "NX") == OK
    assert c("SET", "k", "v2", "NX") is None
    assert c("GET", "k") == b"v1"


def test_set_xx_only_replaces(c: Client) -> None:
    assert c("SET", "k", "v1", "XX") is None
    assert c("EXISTS", "k") == 0
    c("SET", "k", "v1")
    assert c("SET", "k", "v2", "XX") == OK
    assert c("GET", "k") == b"v2"


def test_set_nx_treats_an_expired_key_as_absent(world: World, c: Client) -> None:
    c("SET", "k", "old", "PX", 100)
    world.advance(100)
    assert c("SET", "k", "new", "NX") == OK
    assert c("GET", "k") == b"new"
    assert c("TTL", "k") == -1


def test_set_get_returns_the_old_value(c: Client) -> None:
    assert c("SET", "k", "v1", "GET") is None
    assert c("SET", "k", "v2", "GET") == b"v1"
    assert c("GET", "k") == b"v2"


def test_set_nx_get_returns_the_old_value_and_does_not_write(world: World, c: Client) -> None:
    c("SET", "k", "v1")
    world.mutations()
    assert c("SET", "k", "v2", "NX", "GET") == b"v1"
    assert c("GET", "k") == b"v1"
    assert world.mutations() == []


def test_set_xx_get_on_missing_key(c: Client) -> None:
    assert c("SET", "k", "v", "XX", "GET") is None
    assert c("EXISTS", "k") == 0


@pytest.mark.parametrize(
    "options",
    [
        ("NX", "XX"),
        ("XX", "NX"),
        ("EX", 10, "PX", 100),
        ("PX", 100, "EX", 10),
        ("EX", 10, "KEEPTTL"),
        ("KEEPTTL", "EX", 10),
        ("KEEPTTL", "PXAT", 5_000_000),
        ("EXAT", 5000, "PXAT", 5_000_000),
        ("EX",),
        ("PX",),
        ("BADOPT",),
        ("IFEQ",),
        ("NX", "IFEQ", "v"),
        ("IFEQ", "v", "XX"),
        ("PERSIST",),
        ("EX", 10, "10"),
    ],
)
def test_set_option_combinations_refused_with_syntax_error(
    world: World, c: Client, options: tuple[object, ...]
) -> None:
    c("SET", "k", "v")
    world.mutations()
    assert c("SET", "k", "new", *options) == SYNTAX
    assert c("GET", "k") == b"v"
    assert world.mutations() == []


@pytest.mark.parametrize(
    ("options", "reply"),
    [
        (("EX", "abc"), NOT_INT),
        (("EX", "1.5"), NOT_INT),
        (("PX", " 1"), NOT_INT),
        (("EX", 0), INVALID_SET_EXPIRE),
        (("EX", -1), INVALID_SET_EXPIRE),
        (("PX", 0), INVALID_SET_EXPIRE),
        (("EXAT", 0), INVALID_SET_EXPIRE),
        (("PXAT", -5), INVALID_SET_EXPIRE),
        (("EX", INT64_MAX), INVALID_SET_EXPIRE),
        (("EX", INT64_MAX // 1000 + 1), INVALID_SET_EXPIRE),
        (("PX", INT64_MAX), INVALID_SET_EXPIRE),
        (("EX", "9223372036854775808"), NOT_INT),
    ],
)
def test_set_invalid_expire_amounts(c: Client, options: tuple[object, ...], reply: object) -> None:
    assert c("SET", "k", "v", *options) == reply
    assert c("EXISTS", "k") == 0


@pytest.mark.parametrize(
    ("options", "pttl"),
    [
        (("NX", "NX"), -1),
        (("GET", "GET"), -1),
        (("KEEPTTL", "KEEPTTL"), -1),
        (("EX", 10, "EX", 20), 20_000),
        (("PX", 100, "PX", 200), 200),
    ],
)
def test_set_repeated_option_is_accepted_like_redis(
    c: Client, options: tuple[object, ...], pttl: int
) -> None:
    assert c("SET", "k", "v", *options) in (OK, None)
    assert c("GET", "k") == b"v"
    assert c("PTTL", "k") == pttl


# ------------------------------------------------------------------ SET expiry options


@pytest.mark.parametrize(
    ("options", "deadline"),
    [
        (("EX", 10), 1_010_000),
        (("PX", 1500), 1_001_500),
        (("EXAT", 2000), 2_000_000),
        (("PXAT", 1_234_567), 1_234_567),
        (("ex", 1), 1_001_000),
    ],
)
def test_set_expiry_options_store_an_absolute_deadline(
    world: World, c: Client, options: tuple[object, ...], deadline: int
) -> None:
    assert c("SET", "k", "v", *options) == OK
    assert c("PEXPIRETIME", "k") == deadline
    assert world.mutations() == [SetValue(b"k", b"v", deadline)]


def test_set_key_disappears_at_its_deadline(world: World, c: Client) -> None:
    c("SET", "k", "v", "PX", 100)
    world.advance(99)
    assert c("GET", "k") == b"v"
    world.advance(1)
    assert c("GET", "k") is None


@pytest.mark.parametrize("options", [("EXAT", 1), ("PXAT", 999_999), ("PXAT", 1_000_000)])
def test_set_with_a_deadline_already_past_deletes_the_key(
    world: World, c: Client, options: tuple[object, ...]
) -> None:
    c("SET", "k", "old")
    world.mutations()
    assert c("SET", "k", "v", *options) == OK
    assert c("EXISTS", "k") == 0
    assert world.mutations() == [Delete((b"k",))]


def test_set_past_deadline_with_get_returns_old_value(c: Client) -> None:
    c("SET", "k", "old")
    assert c("SET", "k", "v", "EXAT", 1, "GET") == b"old"
    assert c("EXISTS", "k") == 0


def test_set_keepttl_keeps_the_deadline(world: World, c: Client) -> None:
    c("SET", "k", "v", "PX", 5000)
    world.advance(1000)
    assert c("SET", "k", "w", "KEEPTTL") == OK
    assert c("GET", "k") == b"w"
    assert c("PTTL", "k") == 4000


def test_set_keepttl_on_a_key_without_ttl(c: Client) -> None:
    c("SET", "k", "v")
    c("SET", "k", "w", "KEEPTTL")
    assert c("TTL", "k") == -1
    assert c("SET", "new", "x", "KEEPTTL") == OK
    assert c("TTL", "new") == -1


def test_set_keepttl_on_an_expired_key_stores_a_live_value(world: World, c: Client) -> None:
    c("SET", "k", "v", "PX", 100)
    world.advance(250)
    assert c("SET", "k", "v2", "KEEPTTL") == OK
    assert c("GET", "k") == b"v2"
    assert c("PTTL", "k") == -1


# ------------------------------------------------------------------ IFEQ / DELIFEQ


def test_set_ifeq_sets_when_current_value_matches(c: Client) -> None:
    c("SET", "k", "old")
    assert c("SET", "k", "new", "IFEQ", "old") == OK
    assert c("GET", "k") == b"new"


def test_set_ifeq_leaves_a_different_value_alone(world: World, c: Client) -> None:
    c("SET", "k", "old")
    world.mutations()
    assert c("SET", "k", "new", "IFEQ", "other") is None
    assert c("GET", "k") == b"old"
    assert world.mutations() == []


def test_set_ifeq_never_creates_a_key(c: Client) -> None:
    assert c("SET", "k", "new", "IFEQ", "") is None
    assert c("EXISTS", "k") == 0


def test_set_ifeq_with_get_returns_the_old_value_either_way(c: Client) -> None:
    c("SET", "k", "a")
    assert c("SET", "k", "b", "IFEQ", "zzz", "GET") == b"a"
    assert c("GET", "k") == b"a"
    assert c("SET", "k", "b", "ifeq", "a", "GET") == b"a"
    assert c("GET", "k") == b"b"


def test_set_ifeq_with_expiry(c: Client) -> None:
    c("SET", "k", "a")
    assert c("SET", "k", "b", "IFEQ", "a", "EX", 30) == OK
    assert c("TTL", "k") == 30


def test_set_ifeq_compares_bytes_exactly(c: Client) -> None:
    c("SET", "k", b"a\x00")
    assert c("SET", "k", "b", "IFEQ", "a") is None
    assert c("SET", "k", "b", "IFEQ", b"a\x00") == OK


def test_set_ifeq_on_an_expired_key_does_nothing(world: World, c: Client) -> None:
    c("SET", "k", "a", "PX", 10)
    world.advance(10)
    assert c("SET", "k", "b", "IFEQ", "a") is None
    assert c("EXISTS", "k") == 0


def test_delifeq_deletes_only_on_equal_value(world: World, c: Client) -> None:
    c("SET", "k", "v")
    world.mutations()
    assert c("DELIFEQ", "k", "other") == 0
    assert c("GET", "k") == b"v"
    assert world.mutations() == []
    assert c("DELIFEQ", "k", "v") == 1
    assert c("EXISTS", "k") == 0
    assert world.mutations() == [Delete((b"k",))]
    assert c("DELIFEQ", "k", "v") == 0


# ------------------------------------------------------------------ SETNX / SETEX / GETSET ...


def test_setnx(c: Client) -> None:
    assert c("SETNX", "k", "a") == 1
    assert c("SETNX", "k", "b") == 0
    assert c("GET", "k") == b"a"


def test_setex_and_psetex(c: Client) -> None:
    assert c("SETEX", "k", 10, "v") == OK
    assert c("PTTL", "k") == 10_000
    assert c("PSETEX", "p", 1500, "v") == OK
    assert c("PTTL", "p") == 1500


@pytest.mark.parametrize(
    ("cmd", "amount", "reply"),
    [
        ("SETEX", 0, err("ERR invalid expire time in 'setex' command")),
        ("SETEX", -1, err("ERR invalid expire time in 'setex' command")),
        ("SETEX", INT64_MAX, err("ERR invalid expire time in 'setex' command")),
        ("SETEX", "abc", NOT_INT),
        ("PSETEX", 0, err("ERR invalid expire time in 'psetex' command")),
        ("PSETEX", INT64_MAX, err("ERR invalid expire time in 'psetex' command")),
    ],
)
def test_setex_invalid_amounts(c: Client, cmd: str, amount: object, reply: object) -> None:
    assert c(cmd, "k", amount, "v") == reply
    assert c("EXISTS", "k") == 0


def test_getset_returns_old_value_and_clears_ttl(c: Client) -> None:
    assert c("GETSET", "k", "a") is None
    c("EXPIRE", "k", 100)
    assert c("GETSET", "k", "b") == b"a"
    assert c("GET", "k") == b"b"
    assert c("TTL", "k") == -1


def test_getdel(world: World, c: Client) -> None:
    assert c("GETDEL", "k") is None
    assert world.mutations() == []
    c("SET", "k", "v")
    world.mutations()
    assert c("GETDEL", "k") == b"v"
    assert c("EXISTS", "k") == 0
    assert world.mutations() == [Delete((b"k",))]


# ------------------------------------------------------------------ GETEX


def test_getex_without_options_is_a_plain_read(world: World, c: Client) -> None:
    c("SET", "k", "v", "EX", 100)
    world.mutations()
    assert c("GETEX", "k") == b"v"
    assert c("TTL", "k") == 100
    assert world.mutations() == []


@pytest.mark.parametrize(
    ("options", "pttl"),
    [
        (("EX", 50), 50_000),
        (("PX", 5000), 5000),
        (("EXAT", 1100), 100_000),
        (("PXAT", 1_000_500), 500),
        (("PERSIST",), -1),
        (("persist",), -1),
    ],
)
def test_getex_changes_the_expiry(c: Client, options: tuple[object, ...], pttl: int) -> None:
    c("SET", "k", "v", "EX", 100)
    assert c("GETEX", "k", *options) == b"v"
    assert c("PTTL", "k") == pttl


def test_getex_logs_absolute_deadlines(world: World, c: Client) -> None:
    c("SET", "k", "v")
    world.mutations()
    c("GETEX", "k", "EX", 5)
    c("GETEX", "k", "PERSIST")
    assert world.mutations() == [SetExpiry(b"k", 1_005_000), SetExpiry(b"k", None)]


def test_getex_persist_on_a_key_without_ttl_logs_nothing(world: World, c: Client) -> None:
    c("SET", "k", "v")
    world.mutations()
    assert c("GETEX", "k", "PERSIST") == b"v"
    assert world.mutations() == []


def test_getex_with_a_past_deadline_deletes_the_key(world: World, c: Client) -> None:
    c("SET", "k", "v")
    world.mutations()
    assert c("GETEX", "k", "EXAT", 1) == b"v"
    assert c("EXISTS", "k") == 0
    assert world.mutations() == [Delete((b"k",))]


def test_getex_on_missing_key_is_null_and_writes_nothing(world: World, c: Client) -> None:
    assert c("GETEX", "nope", "EX", 10) is None
    assert c("EXISTS", "nope") == 0
    assert world.mutations() == []


@pytest.mark.parametrize(
    ("options", "reply"),
    [
        (("EX",), SYNTAX),
        (("EX", 10, "PX", 10), SYNTAX),
        (("PERSIST", "EX", 10), SYNTAX),
        (("KEEPTTL",), SYNTAX),
        (("FOO",), SYNTAX),
        (("EX", "abc"), NOT_INT),
        (("EX", 0), INVALID_GETEX_EXPIRE),
        (("EX", -1), INVALID_GETEX_EXPIRE),
        (("PXAT", 0), INVALID_GETEX_EXPIRE),
        (("EX", INT64_MAX), INVALID_GETEX_EXPIRE),
    ],
)
def test_getex_errors(c: Client, options: tuple[object, ...], reply: object) -> None:
    c("SET", "k", "v")
    assert c("GETEX", "k", *options) == reply
    assert c("TTL", "k") == -1


def test_getex_syntax_is_checked_even_for_a_missing_key(c: Client) -> None:
    assert c("GETEX", "nope", "FOO") == SYNTAX


# ------------------------------------------------------------------ MGET / MSET / MSETNX


def test_mget_returns_null_for_missing_keys(c: Client) -> None:
    c("SET", "a", "1")
    assert c("MGET", "a", "nope", "a") == [b"1", None, b"1"]


def test_mset_is_one_batch(world: World, c: Client) -> None:
    assert c("MSET", "a", "1", "b", "2") == OK
    assert c("MGET", "a", "b") == [b"1", b"2"]
    assert world.mutations() == [Batch((SetValue(b"a", b"1"), SetValue(b"b", b"2")))]


def test_mset_last_value_wins_for_a_repeated_key(c: Client) -> None:
    c("MSET", "a", "1", "a", "2")
    assert c("GET", "a") == b"2"


def test_mset_clears_ttls(c: Client) -> None:
    c("SET", "a", "0", "EX", 100)
    c("MSET", "a", "1")
    assert c("TTL", "a") == -1


def test_msetnx_all_or_nothing(c: Client) -> None:
    assert c("MSETNX", "a", "1", "b", "2") == 1
    assert c("MSETNX", "b", "x", "c", "3") == 0
    assert c("MGET", "a", "b", "c") == [b"1", b"2", None]


# ------------------------------------------------------------------ counters


def test_incr_family(c: Client) -> None:
    assert c("INCR", "n") == 1
    assert c("INCRBY", "n", 10) == 11
    assert c("DECR", "n") == 10
    assert c("DECRBY", "n", 15) == -5
    assert c("INCRBY", "n", -5) == -10
    assert c("GET", "n") == b"-10"


def test_counters_keep_the_ttl(world: World, c: Client) -> None:
    c("SET", "n", "1", "PX", 5000)
    world.advance(1000)
    assert c("INCR", "n") == 2
    assert c("PTTL", "n") == 4000


@pytest.mark.parametrize(
    "stored",
    [
        b"abc",
        b"",
        b" 1",
        b"1 ",
        b"+1",
        b"01",
        b"00",
        b"-0",
        b"1.5",
        b"1e3",
        b"0x10",
        b"123456789012345678901",
        b"9223372036854775808",
        b"-9223372036854775809",
        b"1\x00",
    ],
)
def test_incr_refuses_values_that_are_not_canonical_integers(
    world: World, c: Client, stored: bytes
) -> None:
    c("SET", "n", stored)
    world.mutations()
    assert c("INCR", "n") == NOT_INT
    assert c("GET", "n") == stored
    assert world.mutations() == []


@pytest.mark.parametrize(
    "amount", ["abc", "1.5", " 1", "1 ", "+1", "01", "-0", "", "9223372036854775808"]
)
def test_incrby_refuses_bad_increments(c: Client, amount: str) -> None:
    assert c("INCRBY", "n", amount) == NOT_INT
    assert c("DECRBY", "n", amount) == NOT_INT
    assert c("EXISTS", "n") == 0


@pytest.mark.parametrize(
    ("start", "cmd", "amount"),
    [
        (INT64_MAX, "INCR", None),
        (-(2**63), "DECR", None),
        (1, "INCRBY", INT64_MAX),
        (-2, "INCRBY", -(2**63)),
        (-2, "DECRBY", INT64_MAX),
    ],
)
def test_counter_overflow(c: Client, start: int, cmd: str, amount: int | None) -> None:
    c("SET", "n", start)
    args = ("n",) if amount is None else ("n", amount)
    assert c(cmd, *args) == OVERFLOW
    assert c("GET", "n") == str(start).encode()


def test_decrby_int64_min_is_refused(c: Client) -> None:
    c("SET", "n", 0)
    assert c("DECRBY", "n", -(2**63)) == err("ERR decrement would overflow")


def test_counter_limits_are_reachable(c: Client) -> None:
    c("SET", "n", INT64_MAX - 1)
    assert c("INCR", "n") == INT64_MAX
    c("SET", "m", -(2**63) + 1)
    assert c("DECR", "m") == -(2**63)


def test_incr_logs_the_resolved_value(world: World, c: Client) -> None:
    c("INCRBY", "n", 5)
    assert world.mutations() == [SetValue(b"n", b"5", keep_ttl=True)]


# ------------------------------------------------------------------ INCRBYFLOAT


@pytest.mark.parametrize(
    ("start", "increment", "result"),
    [
        (b"10.50", "0.1", b"10.6"),
        (b"5.0e3", "2.0e2", b"5200"),
        (b"3", "1.0", b"4"),
        (None, "3.0e0", b"3"),
        (None, "-5", b"-5"),
        (b"10", "+5", b"15"),
        (b"10", ".5", b"10.5"),
        (b"10", "5.", b"15"),
        (b"1", "-1", b"0"),
        (None, "1e20", b"100000000000000000000"),
        (b"7", "-0", b"7"),
    ],
)
def test_incrbyfloat_results(c: Client, start: bytes | None, increment: str, result: bytes) -> None:
    if start is not None:
        c("SET", "f", start)
    assert c("INCRBYFLOAT", "f", increment) == result
    assert c("GET", "f") == result


@pytest.mark.parametrize("increment", ["abc", "", " 1", "1 ", "1_0", "nan", "1e"])
def test_incrbyfloat_refuses_bad_increments(c: Client, increment: str) -> None:
    c("SET", "f", "1")
    assert c("INCRBYFLOAT", "f", increment) == NOT_FLOAT
    assert c("GET", "f") == b"1"


def test_incrbyfloat_refuses_a_stored_non_number(c: Client) -> None:
    c("SET", "f", "abc")
    assert c("INCRBYFLOAT", "f", 1) == NOT_FLOAT


@pytest.mark.parametrize(("start", "increment"), [(b"1", "inf"), (b"1", "-inf"), (b"inf", "1")])
def test_incrbyfloat_refuses_infinity(c: Client, start: bytes, increment: str) -> None:
    c("SET", "f", start)
    assert c("INCRBYFLOAT", "f", increment) == err("ERR increment would produce NaN or Infinity")
    assert c("GET", "f") == start


def test_incrbyfloat_of_huge_finite_values_answers_in_full(c: Client) -> None:
    """Regression (fuzz seed 1981017000): sums of 1e63 and more needed more digits than
    the decimal context had, and the handler raised InvalidOperation (connection closed,
    traceback on stderr). The digits are those of the nearest 80-bit long double, which
    Redis 7.0 prints in full (checked against redis-server on x86-64)."""
    huge = c("INCRBYFLOAT", "f", "1e309")
    assert isinstance(huge, bytes) and len(huge) == 309
    assert huge.startswith(b"99999999999999999998634942458125645476630776")
    assert c("INCRBYFLOAT", "g", "1e70") == (
        b"10000000000000000000222479489586148259025995410601157579323600873193472"
    )
    assert c("INCRBYFLOAT", "g", "-1e70") == b"0"
    top = c("INCRBYFLOAT", "h", "1.1e4932")
    assert isinstance(top, bytes) and len(top) == 4933 and top.startswith(b"10999999999999999999")


@pytest.mark.parametrize(
    ("start", "increment", "error"),
    [
        # Inputs no long double holds are not floats, as strtold overflows on them.
        (b"1", "1e99999999999999999999", "ERR value is not a valid float"),
        (b"1", "1.2e4932", "ERR value is not a valid float"),
        (b"1" * 100_000, "1", "ERR value is not a valid float"),
        # A sum past the largest long double is the NaN/Infinity error.
        (b"1e4932", "1e4932", "ERR increment would produce NaN or Infinity"),
    ],
)
def test_incrbyfloat_refuses_what_no_long_double_holds(
    c: Client, start: bytes, increment: str, error: str
) -> None:
    c("SET", "f", start)
    assert c("INCRBYFLOAT", "f", increment) == err(error)
    assert c("GET", "f") == start


def test_incrbyfloat_keeps_the_ttl_and_logs_the_text(world: World, c: Client) -> None:
    c("SET", "f", "1", "EX", 100)
    world.mutations()
    c("INCRBYFLOAT", "f", "0.5")
    assert c("TTL", "f") == 100
    assert world.mutations() == [SetValue(b"f", b"1.5", keep_ttl=True)]


def test_incrbyfloat_point_one_plus_point_two(c: Client) -> None:
    c("INCRBYFLOAT", "f", "0.1")
    assert c("INCRBYFLOAT", "f", "0.2") == b"0.3"


# ------------------------------------------------------------------ APPEND / STRLEN


def test_append_creates_and_extends(world: World, c: Client) -> None:
    assert c("APPEND", "s", "Hello") == 5
    assert c("APPEND", "s", " World") == 11
    assert c("GET", "s") == b"Hello World"
    assert c("STRLEN", "s") == 11
    assert c("STRLEN", "nope") == 0
    assert world.mutations() == [Append(b"s", b"Hello"), Append(b"s", b" World")]


def test_append_keeps_the_ttl(c: Client) -> None:
    c("SET", "s", "a", "EX", 100)
    c("APPEND", "s", "b")
    assert c("TTL", "s") == 100


def test_append_empty_string_creates_an_empty_key(c: Client) -> None:
    assert c("APPEND", "e", "") == 0
    assert c("EXISTS", "e") == 1
    assert c("GET", "e") == b""


def test_append_to_an_expired_key_starts_fresh(world: World, c: Client) -> None:
    c("SET", "s", "old", "PX", 10)
    world.advance(10)
    assert c("APPEND", "s", "new") == 3
    assert c("GET", "s") == b"new"
    assert c("TTL", "s") == -1


def test_append_beyond_the_size_limit_is_refused(
    c: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(strings, "MAX_STRING", 8)  # the real 512 MB would cost 512 MB
    c("SET", "s", "12345")
    assert c("APPEND", "s", "678") == 8
    assert c("APPEND", "s", "9") == TOO_BIG
    assert c("GET", "s") == b"12345678"


# ------------------------------------------------------------------ GETRANGE / SETRANGE


@pytest.mark.parametrize(
    ("start", "end", "result"),
    [
        (0, 4, b"Hello"),
        (-5, -1, b"World"),
        (0, -1, b"Hello World"),
        (100, 200, b""),
        (-100, 100, b"Hello World"),
        (5, 2, b""),
        (-1, -5, b""),
        (0, 0, b"H"),
        (-1, 0, b""),
        (10, 10, b"d"),
        (6, 100, b"World"),
        (INT64_MAX, INT64_MAX, b""),
        (-(2**63), -(2**63), b"H"),
        (-(2**63), INT64_MAX, b"Hello World"),
    ],
)
def test_getrange(c: Client, start: int, end: int, result: bytes) -> None:
    c("SET", "s", "Hello World")
    assert c("GETRANGE", "s", start, end) == result


def test_getrange_on_missing_or_empty(c: Client) -> None:
    assert c("GETRANGE", "nope", 0, -1) == b""
    c("SET", "e", "")
    assert c("GETRANGE", "e", 0, -1) == b""
    assert c("GETRANGE", "e", 0, 0) == b""


def test_getrange_bad_index(c: Client) -> None:
    assert c("GETRANGE", "s", "a", 1) == NOT_INT
    assert c("GETRANGE", "s", 0, "1.0") == NOT_INT


def test_substr_is_getrange(c: Client) -> None:
    c("SET", "s", "Hello")
    assert c("SUBSTR", "s", 1, 3) == b"ell"


def test_setrange_overwrites_and_pads_with_zero_bytes(world: World, c: Client) -> None:
    c("SET", "s", "Hello World")
    assert c("SETRANGE", "s", 6, "Redis") == 11
    assert c("GET", "s") == b"Hello Redis"
    assert c("SETRANGE", "pad", 5, "x") == 6
    assert c("GET", "pad") == b"\x00" * 5 + b"x"
    assert c("SETRANGE", "s", 9, "xyz") == 12
    assert c("GET", "s") == b"Hello Redxyz"
    muts = world.mutations()
    assert muts[-2:] == [SetRange(b"pad", 5, b"x"), SetRange(b"s", 9, b"xyz")]


def test_setrange_keeps_the_ttl(c: Client) -> None:
    c("SET", "s", "abc", "EX", 100)
    c("SETRANGE", "s", 1, "X")
    assert c("GET", "s") == b"aXc"
    assert c("TTL", "s") == 100


def test_setrange_with_empty_value_writes_nothing(world: World, c: Client) -> None:
    c("SET", "s", "abc")
    world.mutations()
    assert c("SETRANGE", "s", 0, "") == 3
    assert c("SETRANGE", "nope", 10, "") == 0
    assert c("EXISTS", "nope") == 0
    assert world.mutations() == []


@pytest.mark.parametrize(
    ("offset", "value", "reply"),
    [
        (-1, "x", err("ERR offset is out of range")),
        ("abc", "x", NOT_INT),
        (512 * 1024 * 1024, "x", TOO_BIG),
        (512 * 1024 * 1024 - 1, "xy", TOO_BIG),
    ],
)
def test_setrange_errors(c: Client, offset: object, value: str, reply: object) -> None:
    c("SET", "s", "abc")
    assert c("SETRANGE", "s", offset, value) == reply
    assert c("GET", "s") == b"abc"


def test_setrange_up_to_the_size_limit(c: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strings, "MAX_STRING", 8)
    assert c("SETRANGE", "s", 7, "x") == 8
    assert c("SETRANGE", "s", 7, "xy") == TOO_BIG
    assert c("SETRANGE", "s", 8, "x") == TOO_BIG
