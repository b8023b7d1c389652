"""Generic key commands: DEL, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, RENAME, expiry and TTLs."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.commands.detached import DetachedHost
from tandemkv.commands.keys import KEYS_SLICE, SCAN_MAX_COUNT
from tandemkv.commands.session import Session, SlicedJob
from tandemkv.protocol.types import OK, SimpleString
from tandemkv.storage.mutation import Copy, Delete, Rename, SetAdd, SetExpiry

from .harness import NO_SUCH_KEY, NOT_INT, SYNTAX, Client, World, arity_err, err
from .parity import check

INT64_MAX = 2**63 - 1

# ------------------------------------------------------------------ DEL / EXISTS / TYPE


def test_del_counts_keys_removed_once_each(world: World, c: Client) -> None:
    c("MSET", "a", "1", "b", "2")
    world.mutations()
    assert c("DEL", "a", "a", "b", "nope") == 2
    assert c("EXISTS", "a", "b") == 0
    assert world.mutations() == [Delete((b"a", b"b"))]


def test_del_of_missing_keys_logs_nothing(world: World, c: Client) -> None:
    assert c("DEL", "nope") == 0
    assert world.mutations() == []


@pytest.mark.parametrize("cmd", ["DELETE", "UNLINK", "delete"])
def test_del_aliases(c: Client, cmd: str) -> None:
    c("SET", "a", "1")
    assert c(cmd, "a", "b") == 1
    assert c("EXISTS", "a") == 0


def test_exists_and_touch_count_repeats(c: Client) -> None:
    c("SET", "a", "1")
    assert c("EXISTS", "a", "a", "nope") == 2
    assert c("TOUCH", "a", "a", "nope") == 2


def test_expired_keys_do_not_exist(world: World, c: Client) -> None:
    c("SET", "a", "1", "PX", 50)
    world.advance(50)
    assert c("EXISTS", "a") == 0
    assert c("DEL", "a") == 0
    assert c("TYPE", "a") == "none"


def test_type(c: Client) -> None:
    c("SET", "a", "1")
    reply = c("TYPE", "a")
    assert isinstance(reply, SimpleString) and reply == "string"
    assert c("TYPE", "nope") == "none"


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("DEL",), "del"),
        (("EXISTS",), "exists"),
        (("TYPE",), "type"),
        (("TTL",), "ttl"),
        (("RENAME", "a"), "rename"),
        (("EXPIRE", "a"), "expire"),
        (("PERSIST",), "persist"),
        (("SCAN",), "scan"),
        (("RANDOMKEY", "x"), "randomkey"),
        (("KEYS", "a", "b"), "keys"),
        (("PEXPIRETIME",), "pexpiretime"),
    ],
)
def test_wrong_arity(c: Client, args: tuple[str, ...], name: str) -> None:
    assert c(*args) == arity_err(name)


# ------------------------------------------------------------------ KEYS

GLOB_KEYS = [
    b"hello",
    b"hallo",
    b"hxllo",
    b"hllo",
    b"heeeello",
    b"h*llo",
    b"h?llo",
    b"h[a]llo",
    b"h\\llo",
    b"a-b",
    b"]",
    b"^x",
    b"a\nb",
    b"[",
    b"-",
    b"a]b",
    b"a^b",
    b"\\",
    b"abc",
    b"ABC",
    b"a\xffb",
]

# Pattern -> keys matched, as redis-server 7.0 answers for GLOB_KEYS.
GLOB_CASES = [
    (b"h?llo", [b"h*llo", b"h?llo", b"h\\llo", b"hallo", b"hello", b"hxllo"]),
    (
        b"h*llo",
        [
            b"h*llo",
            b"h?llo",
            b"h[a]llo",
            b"h\\llo",
            b"hallo",
            b"heeeello",
            b"hello",
            b"hllo",
            b"hxllo",
        ],
    ),
    (b"h[ae]llo", [b"hallo", b"hello"]),
    (b"h[^e]llo", [b"h*llo", b"h?llo", b"h\\llo", b"hallo", b"hxllo"]),
    (b"h[a-b]llo", [b"hallo"]),
    (b"h[b-a]llo", [b"hallo"]),
    (b"h\\*llo", [b"h*llo"]),
    (b"h\\?llo", [b"h?llo"]),
    (b"h\\[a]llo", [b"h[a]llo"]),
    (b"h\\\\llo", [b"h\\llo"]),
    (b"[", []),
    (b"]", [b"]"]),
    (b"[]]", []),
    (b"[^]", [b"-", b"[", b"\\", b"]"]),
    (b"^x", [b"^x"]),
    (b"[\\^]x", [b"^x"]),
    (b"[^^]x", []),
    (b"a?b", [b"a\nb", b"a-b", b"a]b", b"a^b", b"a\xffb"]),
    (b"a[\n]b", [b"a\nb"]),
    (b"a[-]b", [b"a-b"]),
    (b"[-a]", [b"-"]),
    (b"[a-c-e]-b", [b"a-b"]),
    (b"h[^a-z]llo", [b"h*llo", b"h?llo", b"h\\llo"]),
    (b"h[!a]llo", [b"hallo"]),
    (b"*[*", []),
    (b"\\", [b"\\"]),
    (b"a[]]b", []),
    (b"a[\\]]b", [b"a]b"]),
    (b"[[]", [b"["]),
    (b"?", [b"-", b"[", b"\\", b"]"]),
    (b"abc", [b"abc"]),
    (b"ABC", [b"ABC"]),
    (b"[a-z]bc", [b"abc"]),
    (b"[A-Z]*", [b"ABC"]),
    (b"a[\xff]b", [b"a\xffb"]),
    (b"*b", [b"a\nb", b"a-b", b"a]b", b"a^b", b"a\xffb"]),
    (b"a*", [b"a\nb", b"a-b", b"a]b", b"a^b", b"abc", b"a\xffb"]),
    (b"*a*", [b"a\nb", b"a-b", b"a]b", b"a^b", b"abc", b"a\xffb", b"h[a]llo", b"hallo"]),
    (
        b"h**o",
        [
            b"h*llo",
            b"h?llo",
            b"h[a]llo",
            b"h\\llo",
            b"hallo",
            b"heeeello",
            b"hello",
            b"hllo",
            b"hxllo",
        ],
    ),
    (
        b"h*l*l*o",
        [
            b"h*llo",
            b"h?llo",
            b"h[a]llo",
            b"h\\llo",
            b"hallo",
            b"heeeello",
            b"hello",
            b"hllo",
            b"hxllo",
        ],
    ),
]


@pytest.fixture
def glob_world(world: World, c: Client) -> Client:
    for key in GLOB_KEYS:
        c("SET", key, "1")
    return c


@pytest.mark.parametrize(("pattern", "expected"), GLOB_CASES)
def test_keys_glob_patterns(glob_world: Client, pattern: bytes, expected: list[bytes]) -> None:
    result = glob_world("KEYS", pattern)
    assert isinstance(result, list)
    assert sorted(result) == sorted(expected)


@pytest.mark.parametrize(("pattern", "expected"), GLOB_CASES)
def test_scan_match_uses_the_same_globs(
    glob_world: Client, pattern: bytes, expected: list[bytes]
) -> None:
    assert sorted(scan_all(glob_world, "MATCH", pattern)) == sorted(expected)


@pytest.mark.parametrize(
    ("pattern", "expected"), [(b"[a-]", [b"]"]), (b"a[x-]b", []), (b"h[a-]llo", [])]
)
def test_keys_trailing_dash_in_a_set(
    glob_world: Client, pattern: bytes, expected: list[bytes]
) -> None:
    assert sorted(glob_world("KEYS", pattern)) == expected  # type: ignore[type-var]


def test_bare_keys_lists_everything(c: Client) -> None:
    c("MSET", "a", "1", "b", "2")
    assert sorted(c("KEYS")) == [b"a", b"b"]  # type: ignore[type-var]
    assert sorted(c("KEYS", "*")) == [b"a", b"b"]  # type: ignore[type-var]


def test_keys_skips_expired_keys(world: World, c: Client) -> None:
    c("SET", "a", "1", "PX", 10)
    c("SET", "b", "1")
    world.advance(10)
    assert c("KEYS", "*") == [b"b"]


# ------------------------------------------------------------------ SCAN


def scan_all(c: Client, *options: object) -> list[bytes]:
    """Every key a full SCAN iteration returns, in order, repeats included."""
    found: list[bytes] = []
    cursor = b"0"
    for _ in range(10_000):
        reply = c("SCAN", cursor, *options)
        assert isinstance(reply, list) and len(reply) == 2, reply
        cursor, page = reply
        assert isinstance(cursor, bytes) and isinstance(page, list)
        found.extend(page)
        if cursor == b"0":
            return found
    raise AssertionError("SCAN did not finish")


def test_scan_reply_shape(c: Client) -> None:
    c("SET", "a", "1")
    assert c("SCAN", 0) == [b"0", [b"a"]]


def test_scan_on_empty_keyspace(c: Client) -> None:
    assert c("SCAN", 0) == [b"0", []]


def test_scan_count_pages(c: Client) -> None:
    for i in range(25):
        c("SET", f"k{i}", "v")
    cursor, page = c("SCAN", 0, "COUNT", 10)  # type: ignore[misc]
    assert cursor != b"0" and len(page) == 10
    assert sorted(scan_all(c, "COUNT", 3)) == sorted(f"k{i}".encode() for i in range(25))


def test_scan_type_filter(c: Client) -> None:
    c("MSET", "a", "1", "b", "2")
    assert sorted(scan_all(c, "TYPE", "string")) == [b"a", b"b"]
    assert sorted(scan_all(c, "TYPE", "STRING")) == [b"a", b"b"]
    assert scan_all(c, "TYPE", "list") == []


def test_scan_options_combine_and_last_wins(c: Client) -> None:
    c("MSET", "a1", "1", "a2", "2", "b1", "3")
    assert sorted(scan_all(c, "count", 1, "match", "a*", "type", "string")) == [b"a1", b"a2"]
    assert sorted(scan_all(c, "MATCH", "zzz", "MATCH", "b*")) == [b"b1"]


def test_scan_skips_expired_keys(world: World, c: Client) -> None:
    c("SET", "a", "1", "PX", 10)
    c("SET", "b", "1")
    world.advance(10)
    assert scan_all(c) == [b"b"]


@pytest.mark.parametrize("cursor", ["abc", "1.5", " 1", "18446744073709551616"])
def test_scan_invalid_cursor(c: Client, cursor: str) -> None:
    assert c("SCAN", cursor) == err("ERR invalid cursor")


@pytest.mark.parametrize(
    ("options", "reply"),
    [
        (("COUNT", 0), SYNTAX),
        (("COUNT", -1), SYNTAX),
        (("COUNT", "abc"), NOT_INT),
        (("COUNT",), SYNTAX),
        (("MATCH",), SYNTAX),
        (("FOO", "x"), SYNTAX),
    ],
)
def test_scan_option_errors(c: Client, options: tuple[object, ...], reply: object) -> None:
    assert c("SCAN", 0, *options) == reply


def test_scan_unknown_cursor_never_fails(c: Client) -> None:
    c("MSET", "a", "1", "b", "2")
    reply = c("SCAN", "123456789")
    assert isinstance(reply, list) and len(reply) == 2


KEY_POOL = [f"k{i}".encode() for i in range(40)]


@settings(max_examples=60, deadline=None)
@given(
    initial=st.sets(st.sampled_from(KEY_POOL), max_size=30),
    count=st.integers(1, 7),
    changes=st.lists(st.tuples(st.booleans(), st.sampled_from(KEY_POOL)), max_size=40),
)
def test_scan_returns_every_stable_key_exactly_once(
    initial: set[bytes], count: int, changes: list[tuple[bool, bytes]]
) -> None:
    """Keys present for the whole iteration come back exactly once, whatever else changes
    between pages; nothing that never existed comes back."""
    world = World()
    c = world.client()
    other = world.client()
    for key in initial:
        c("SET", key, "v")
    touched: set[bytes] = set()
    ever: set[bytes] = set(initial)
    found: list[bytes] = []
    cursor = b"0"
    pending = list(changes)
    while True:
        cursor, page = c("SCAN", cursor, "COUNT", count)  # type: ignore[misc]
        found.extend(page)
        if cursor == b"0":
            break
        for add, key in pending[:3]:
            other("SET" if add else "DEL", key, *(["v"] if add else []))
            touched.add(key)
            if add:
                ever.add(key)
        pending = pending[3:]
    stable = initial - touched
    assert len(found) == len(set(found)), "a key came back twice"
    assert stable <= set(found)
    assert set(found) <= ever


# ------------------------------------------------------------------ RANDOMKEY


def test_randomkey_on_empty_keyspace(c: Client) -> None:
    assert c("RANDOMKEY") is None


def test_randomkey_returns_live_keys(world: World, c: Client) -> None:
    keys = {f"k{i}".encode() for i in range(10)}
    for key in keys:
        c("SET", key, "v")
    seen = {c("RANDOMKEY") for _ in range(200)}
    assert seen <= keys
    assert len(seen) > 5


def test_randomkey_skips_expired_keys(world: World, c: Client) -> None:
    for i in range(50):
        c("SET", f"gone{i}", "v", "PX", 10)
    c("SET", "live", "v")
    world.advance(10)
    assert {c("RANDOMKEY") for _ in range(20)} == {b"live"}


def test_randomkey_follows_keys_replaced_and_removed(c: Client) -> None:
    for i in range(100):
        c("SET", f"old{i}", "v")
    assert c("RANDOMKEY").startswith(b"old")
    c("FLUSHALL")
    for i in range(3):
        c("SET", f"new{i}", "v")
    assert {c("RANDOMKEY") for _ in range(100)} == {b"new0", b"new1", b"new2"}
    c("DEL", "new0", "new1")
    assert {c("RANDOMKEY") for _ in range(20)} == {b"new2"}


def test_randomkey_does_not_walk_the_keyspace_per_call(world: World, c: Client) -> None:
    """It took a random place in the dict's keys by walking to it: 16 tries of up to every
    key each, a stall a client could repeat at will on a large keyspace."""
    for i in range(200_000):
        world.engine.keyspace.load(b"k%d" % i, b"v", None)
    c("RANDOMKEY")  # the first call takes the list of keys once
    started = time.process_time()
    for _ in range(2000):
        assert c("RANDOMKEY") is not None
    assert time.process_time() - started < 0.5  # walking: about 1 ms a call


def test_randomkey_when_every_key_expired(world: World, c: Client) -> None:
    for i in range(40):
        c("SET", f"gone{i}", "v", "PX", 10)
    world.advance(10)
    assert c("RANDOMKEY") is None


def test_randomkey_is_deterministic_for_a_seed() -> None:
    picks = []
    for _ in range(2):
        world = World(seed=42)
        c = world.client()
        for i in range(20):
            c("SET", f"k{i}", "v")
        picks.append([c("RANDOMKEY") for _ in range(10)])
    assert picks[0] == picks[1]


# ------------------------------------------------------------------ RENAME / RENAMENX


def test_rename_moves_value_and_ttl(world: World, c: Client) -> None:
    c("SET", "a", "1", "EX", 100)
    world.mutations()
    assert c("RENAME", "a", "b") == OK
    assert c("GET", "b") == b"1"
    assert c("EXISTS", "a") == 0
    assert c("TTL", "b") == 100
    assert world.mutations() == [Rename(b"a", b"b")]


def test_rename_replaces_destination_and_its_ttl(c: Client) -> None:
    c("SET", "a", "1")
    c("SET", "b", "2", "EX", 100)
    assert c("RENAME", "a", "b") == OK
    assert c("GET", "b") == b"1"
    assert c("TTL", "b") == -1


def test_rename_missing_source(c: Client) -> None:
    assert c("RENAME", "nope", "b") == NO_SUCH_KEY
    assert c("RENAME", "nope", "nope") == NO_SUCH_KEY
    assert c("RENAMENX", "nope", "b") == NO_SUCH_KEY


def test_rename_expired_source_is_missing(world: World, c: Client) -> None:
    c("SET", "a", "1", "PX", 10)
    world.advance(10)
    assert c("RENAME", "a", "b") == NO_SUCH_KEY


def test_rename_to_itself(world: World, c: Client) -> None:
    c("SET", "a", "1", "EX", 10)
    world.mutations()
    assert c("RENAME", "a", "a") == OK
    assert c("RENAMENX", "a", "a") == 0
    assert c("GET", "a") == b"1"
    assert c("TTL", "a") == 10
    assert world.mutations() == []


def test_renamenx(c: Client) -> None:
    c("MSET", "a", "1", "b", "2")
    assert c("RENAMENX", "a", "b") == 0
    assert c("MGET", "a", "b") == [b"1", b"2"]
    assert c("RENAMENX", "a", "c") == 1
    assert c("MGET", "a", "c") == [None, b"1"]


def test_renamenx_onto_an_expired_key(world: World, c: Client) -> None:
    c("SET", "a", "1")
    c("SET", "b", "2", "PX", 10)
    world.advance(10)
    assert c("RENAMENX", "a", "b") == 1
    assert c("GET", "b") == b"1"


# ------------------------------------------------------------------ EXPIRE family


@pytest.mark.parametrize(
    ("cmd", "amount", "deadline"),
    [
        ("EXPIRE", 100, 1_100_000),
        ("PEXPIRE", 1500, 1_001_500),
        ("EXPIREAT", 2000, 2_000_000),
        ("PEXPIREAT", 1_234_567, 1_234_567),
    ],
)
def test_expire_commands_set_an_absolute_deadline(
    world: World, c: Client, cmd: str, amount: int, deadline: int
) -> None:
    c("SET", "k", "v")
    world.mutations()
    assert c(cmd, "k", amount) == 1
    assert c("PEXPIRETIME", "k") == deadline
    assert world.mutations() == [SetExpiry(b"k", deadline)]


@pytest.mark.parametrize("cmd", ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
def test_expire_on_a_missing_key(world: World, c: Client, cmd: str) -> None:
    assert c(cmd, "nope", 100) == 0
    assert world.mutations() == []


@pytest.mark.parametrize(
    ("cmd", "amount"),
    [
        ("EXPIRE", 0),
        ("EXPIRE", -5),
        ("PEXPIRE", 0),
        ("EXPIREAT", 1),
        ("PEXPIREAT", 100),
        ("PEXPIREAT", 1_000_000),
    ],
)
def test_expire_in_the_past_deletes_the_key(world: World, c: Client, cmd: str, amount: int) -> None:
    c("SET", "k", "v")
    world.mutations()
    assert c(cmd, "k", amount) == 1
    assert c("EXISTS", "k") == 0
    assert world.mutations() == [Delete((b"k",))]


def test_expire_conditions(c: Client) -> None:
    c("SET", "k", "v")
    assert c("EXPIRE", "k", 100, "XX") == 0  # no ttl yet
    assert c("EXPIRE", "k", 100, "GT") == 0  # no ttl counts as infinite
    assert c("TTL", "k") == -1
    assert c("EXPIRE", "k", 100, "NX") == 1
    assert c("EXPIRE", "k", 200, "NX") == 0
    assert c("EXPIRE", "k", 200, "XX") == 1
    assert c("EXPIRE", "k", 100, "GT") == 0
    assert c("EXPIRE", "k", 200, "GT") == 0  # equal is not greater
    assert c("EXPIRE", "k", 300, "GT") == 1
    assert c("EXPIRE", "k", 400, "LT") == 0
    assert c("EXPIRE", "k", 300, "LT") == 0
    assert c("EXPIRE", "k", 50, "lt") == 1
    assert c("TTL", "k") == 50
    assert c("EXPIRE", "k", 10, "XX", "LT") == 1
    assert c("TTL", "k") == 10


def test_expire_lt_applies_to_a_key_without_ttl(c: Client) -> None:
    c("SET", "k", "v")
    assert c("EXPIRE", "k", 100, "LT") == 1
    assert c("TTL", "k") == 100


def test_expire_negative_with_gt_on_persistent_key_keeps_it(c: Client) -> None:
    c("SET", "k", "v")
    assert c("EXPIRE", "k", -1, "GT") == 0
    assert c("EXISTS", "k") == 1
    assert c("EXPIRE", "k", -1, "LT") == 1
    assert c("EXISTS", "k") == 0


@pytest.mark.parametrize(
    ("options", "reply"),
    [
        (("NX", "XX"), err("ERR NX and XX, GT or LT options at the same time are not compatible")),
        (("NX", "GT"), err("ERR NX and XX, GT or LT options at the same time are not compatible")),
        (("GT", "LT"), err("ERR GT and LT options at the same time are not compatible")),
        (("FOO",), err("ERR Unsupported option FOO")),
        (("NX", "FOO"), err("ERR Unsupported option FOO")),
    ],
)
def test_expire_option_errors(c: Client, options: tuple[str, ...], reply: object) -> None:
    c("SET", "k", "v")
    assert c("EXPIRE", "k", 10, *options) == reply
    assert c("TTL", "k") == -1


@pytest.mark.parametrize(
    ("cmd", "amount"),
    [("EXPIRE", INT64_MAX), ("EXPIRE", -(2**63)), ("PEXPIRE", INT64_MAX), ("EXPIREAT", INT64_MAX)],
)
def test_expire_overflow(c: Client, cmd: str, amount: int) -> None:
    c("SET", "k", "v")
    assert c(cmd, "k", amount) == err(f"ERR invalid expire time in '{cmd.lower()}' command")


def test_pexpireat_at_int64_max_is_allowed(c: Client) -> None:
    c("SET", "k", "v")
    assert c("PEXPIREAT", "k", INT64_MAX) == 1
    assert c("PEXPIRETIME", "k") == INT64_MAX


def test_expire_bad_amount(c: Client) -> None:
    assert c("EXPIRE", "k", "abc") == NOT_INT
    assert c("EXPIRE", "k", "1.5") == NOT_INT


def test_expire_options_are_checked_before_the_amount(c: Client) -> None:
    assert c("EXPIRE", "k", "abc", "FOO") == err("ERR Unsupported option FOO")


def test_persist(world: World, c: Client) -> None:
    c("SET", "k", "v", "EX", 100)
    world.mutations()
    assert c("PERSIST", "k") == 1
    assert c("PERSIST", "k") == 0
    assert c("PERSIST", "nope") == 0
    assert c("TTL", "k") == -1
    assert world.mutations() == [SetExpiry(b"k", None)]


# ------------------------------------------------------------------ TTL family


def test_ttl_codes_for_missing_and_persistent_keys(c: Client) -> None:
    c("SET", "k", "v")
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"):
        assert c(cmd, "nope") == -2
        assert c(cmd, "k") == -1


def test_ttl_values(world: World, c: Client) -> None:
    c("SET", "k", "v", "PX", 10_400)
    assert c("PTTL", "k") == 10_400
    assert c("TTL", "k") == 10
    world.advance(1000)
    assert c("PTTL", "k") == 9_400
    assert c("EXPIRETIME", "k") == 1_010  # Unix seconds of 1_010_400 ms
    assert c("PEXPIRETIME", "k") == 1_010_400


def test_ttl_rounds_to_the_nearest_second(world: World, c: Client) -> None:
    c("SET", "k", "v", "PX", 1500)
    assert c("TTL", "k") == 2
    world.advance(1)
    assert c("TTL", "k") == 1


def test_ttl_of_an_expired_key_is_minus_two(world: World, c: Client) -> None:
    c("SET", "k", "v", "PX", 100)
    world.advance(100)
    assert c("TTL", "k") == -2
    assert c("PTTL", "k") == -2


def test_scan_count_is_capped_so_one_call_stays_short(c: Client) -> None:
    for start in range(0, SCAN_MAX_COUNT + 10, 10_000):
        c("MSET", *[x for i in range(start, start + 10_000) for x in (f"k{i}", "v")])
    cursor, page = c("SCAN", 0, "COUNT", 10**9)  # type: ignore[misc]
    assert cursor != b"0" and len(page) == SCAN_MAX_COUNT
    seen = set(page)
    while cursor != b"0":
        cursor, page = c("SCAN", cursor, "COUNT", 10**9)  # type: ignore[misc]
        seen.update(page)
    assert len(seen) == SCAN_MAX_COUNT + 10_000


# ------------------------------------------------------------------ KEYS in slices


class SlicingHost(DetachedHost):
    """Runs sliced commands to their end, counting the slices."""

    def __init__(self) -> None:
        super().__init__()
        self.slices = 0

    def run_sliced(self, session: Session, job: SlicedJob) -> object:
        while True:
            try:
                next(job)
            except StopIteration as done:
                return done.value
            self.slices += 1


def test_keys_on_a_large_keyspace_runs_in_slices_with_the_same_answer() -> None:
    host = SlicingHost()
    world = World(host=host)
    c = world.client()
    total = 2 * KEYS_SLICE + 500
    for start in range(0, total, 5000):
        c("MSET", *[x for i in range(start, min(total, start + 5000)) for x in (f"k{i}", "v")])
    c("SET", "k7", "v", "PX", 10)  # past its deadline by the time KEYS runs
    world.advance(20)
    expected = [f"k{i}".encode() for i in range(total) if i != 7]
    assert c("KEYS", "*") == expected
    assert host.slices == 2  # three slices of at most KEYS_SLICE keys
    assert c("KEYS", "k1*7") == [
        key for key in expected if key.startswith(b"k1") and key.endswith(b"7")
    ]


def test_keys_inside_exec_sees_its_place_in_the_queue_and_runs_in_slices() -> None:
    """EXEC of many KEYS held the event loop for their sum; now each takes its copy of the
    keys in place and is matched after the queue, a slice at a time."""
    host = SlicingHost()
    world = World(host=host)
    c = world.client()
    total = 15_000
    for start in range(0, total, 5000):
        c("MSET", *[x for i in range(start, start + 5000) for x in (f"k{i}", "v")])
    before = [f"k{i}".encode() for i in range(total)]
    c("MULTI")
    for command in [("KEYS", "*"), ("SET", "new", "v"), ("KEYS", "*"), ("DEL", "k0")]:
        c(*command)
    c("KEYS", "k*")
    assert c("EXEC") == [before, OK, [*before, b"new"], 1, before[1:]]
    assert host.slices >= 3
    assert world.engine.atomic is None


def test_one_exec_copies_at_most_four_keyspaces_for_keys_and_scans() -> None:
    world = World()
    c = world.client()
    total = 30_000  # four copies: 120,000 keys, over the 100,000 floor
    for start in range(0, total, 5000):
        c("MSET", *[x for i in range(start, start + 5000) for x in (f"k{i}", "v")])
    c("MULTI")
    for _ in range(3):
        c("KEYS", "nothing*")
        c("KEYS", "nothing*")  # no write between: shares the copy before it
        c("SET", "k0", "v")
    c("SCAN", "0", "MATCH", "nothing*")
    c("SCAN", "0")
    reply = c("EXEC")
    assert isinstance(reply, list) and len(reply) == 11
    assert reply[:9] == [[], [], OK] * 3
    assert reply[9][1] == [] and reply[9][0] != b"0"  # type: ignore[index]  # 4th copy
    assert reply[10] == err(
        "ERR too much keyspace-wide work in one transaction (its KEYS and new SCANs may "
        "copy 4 keyspaces' worth of keys); run the rest in another transaction"
    )
    assert c("KEYS", "k1") == [b"k1"]  # outside EXEC, no budget


def test_the_scans_of_one_exec_share_one_calls_work() -> None:
    world = World()
    c = world.client()
    for start in range(0, 120_000, 10_000):
        c("MSET", *[x for i in range(start, start + 10_000) for x in (f"k{i}", "v")])
    c("MULTI")
    c("SCAN", "0", "COUNT", "60000")
    c("SCAN", "0", "COUNT", "60000")
    c("SCAN", "0", "COUNT", "60000")
    first, second, third = c("EXEC")  # type: ignore[misc]
    assert [len(reply[1]) for reply in (first, second, third)] == [60_000, 40_000, 1]
    assert len(c("SCAN", "0", "COUNT", "60000")[1]) == 60_000  # type: ignore[index]


@pytest.mark.parametrize("command", [("KEYS",), ("SCAN", "0", "MATCH")])
def test_a_pattern_too_costly_to_compile_is_refused(c: Client, command: tuple[str, ...]) -> None:
    c("SET", "a", "1")
    too_complex = "ERR glob-style pattern too complex (more than 16384 wildcards, sets and bytes"
    assert c(*command, b"[ab]" * 100_000) == err(too_complex + " next to them)")
    assert c("KEYS", "[ab]" * 256 + "*") == []  # a 1 KiB pattern is answered


# ----------------------------------------------------------------------------- COPY


def test_copy_copies_value_and_expiry_and_logs_one_copy(world: World, c: Client) -> None:
    c("SET", "a", "1", "PX", 5000)
    world.mutations()
    assert c("COPY", "a", "b") == 1
    assert world.mutations() == [Copy(b"a", b"b")]
    assert c("GET", "b") == b"1"
    assert 0 < c("PTTL", "b") <= 5000


def test_copy_refuses_an_existing_destination_unless_replace(c: Client) -> None:
    c("MSET", "a", "1", "b", "2")
    assert c("COPY", "a", "b") == 0
    assert c("GET", "b") == b"2"
    assert c("COPY", "a", "b", "REPLACE") == 1
    assert c("GET", "b") == b"1"
    assert c("COPY", "nope", "c") == 0


def test_copy_errors_are_redis_errors(c: Client) -> None:
    c("SET", "a", "1")
    assert c("COPY", "a", "a") == err("ERR source and destination objects are the same")
    assert c("COPY", "a", "b", "DB", 1) == err("ERR DB index is out of range")
    assert c("COPY", "a", "b", "DB", "x") == NOT_INT
    assert c("COPY", "a", "b", "NOPE") == SYNTAX
    assert c("COPY", "a", "b", "DB") == SYNTAX
    assert c("COPY", "a", "b", "DB", 0, "REPLACE") == 1


def test_a_copied_collection_does_not_follow_its_source(world: World, c: Client) -> None:
    world.engine.apply(SetAdd(b"s", (b"x",)))
    assert c("COPY", "s", "t") == 1
    world.engine.apply(SetAdd(b"s", (b"y",)))
    assert world.engine.keyspace.get(b"t", world.now) == {b"x"}
    assert c("TYPE", "t") == SimpleString("set")


COPY_SCRIPT = [
    ("SET", "a", "1"),
    ("COPY", "a", "b"),
    ("COPY", "a", "b"),
    ("COPY", "a", "b", "REPLACE"),
    ("COPY", "a", "a"),
    ("COPY", "nope", "c"),
    ("COPY", "a", "b", "DB", 1),
    ("COPY", "a", "b", "DB", 0, "REPLACE"),
    ("COPY", "a", "b", "DB"),
    ("COPY", "a", "b", "FOO"),
    ("COPY", "a"),
    ("GET", "b"),
    ("TYPE", "b"),
    ("TYPE", "nope"),
]


def test_copy_replies_like_redis(redis_server: object) -> None:
    check(redis_server, COPY_SCRIPT)


CURSOR_SCRIPT = [
    # On an empty keyspace: where a nonzero cursor lands in Redis depends on its hash seed.
    ("SCAN", "-1"),
    ("SCAN", "18446744073709551615"),
    ("SET", "k", "v"),
    ("SCAN", "+0"),
    ("SCAN", "-0"),
    ("SCAN", "18446744073709551616"),
    ("SCAN", " 1"),
    ("SCAN", "1 "),
    ("SCAN", "0x10"),
    ("SCAN", "1" * 40),
    ("SADD", "s", "1"),
    ("SSCAN", "s", "-1"),  # an integer set is answered whole whatever the cursor
    ("SSCAN", "s", "+0"),
    ("HSCAN", "nokey", "-1"),
]


def test_scan_cursors_read_like_strtoul_as_in_redis(redis_server: object) -> None:
    check(redis_server, CURSOR_SCRIPT)
