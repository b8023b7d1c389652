"""Adversarial argument values: what a hostile client puts where a command expects a key,
a number, an offset, a pattern or a plain string.

The grammar (grammar.py) decides *which kind* of value a slot wants from the argument's
documented name and type; this module draws a value of that kind, biased towards the
edges where parsers and allocators break: INT64 bounds and one past them, inf/nan/1e308,
offsets at the 512 MiB string limit, binary junk, empty strings, long arguments and
globs that make a naive matcher backtrack.

Sizes are capped on purpose. A command such as SETRANGE legitimately allocates up to its
offset, so offsets stay at or under ALLOCATION_CAP, or go past MAX_STRING where the server
must refuse; a value just under 512 MiB would only measure the machine's memory.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

KiB = 1024
MiB = 1024 * KiB
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_STRING = 512 * MiB  # Redis's proto-max-bulk-len: the largest string a key may hold
ALLOCATION_CAP = 4 * MiB  # the most a single offset may make the server allocate
LONG_ARGUMENT = MiB  # the longest argument drawn (rarely)


class Kind(Enum):
    """What a slot holds, as far as the fuzzer can tell from the docs."""

    KEY = "key"
    PATTERN = "pattern"
    CURSOR = "cursor"
    INTEGER = "integer"
    NUMBER = "number"  # integer or floating point (INCRBYFLOAT, increments)
    OFFSET = "offset"  # string offsets and ranges
    TIMEOUT = "timeout"  # a real wait: never 0 ("forever"), never long
    STRING = "string"


# Documented argument types (Redis's COMMAND DOCS vocabulary) that fix the kind outright.
_DOC_TYPES = {
    "key": Kind.KEY,
    "pattern": Kind.PATTERN,
    "integer": Kind.INTEGER,
    "double": Kind.NUMBER,
    "unix-time": Kind.INTEGER,
}

# Words in an argument's name that say what it holds, checked in this order.
_NAME_WORDS: tuple[tuple[frozenset[str], Kind], ...] = (
    (frozenset({"key", "newkey", "destination", "source"}), Kind.KEY),
    (frozenset({"pattern", "match"}), Kind.PATTERN),
    (frozenset({"cursor"}), Kind.CURSOR),
    (frozenset({"timeout"}), Kind.TIMEOUT),
    (frozenset({"offset", "start", "end", "index", "stop"}), Kind.OFFSET),
    (frozenset({"increment", "decrement", "score", "float"}), Kind.NUMBER),
    (
        frozenset(
            {
                "seconds",
                "milliseconds",
                "s",
                "ms",
                "ts",
                "time",
                "count",
                "numreplicas",
                "protover",
                "port",
                "numkeys",
                "id",
                "db",
                "number",
                "len",
                "length",
            }
        ),
        Kind.INTEGER,
    ),
)


def kind_for(name: str, doc_type: str = "") -> Kind:
    """The kind of value a documented argument takes."""
    if doc_type in _DOC_TYPES:
        return _DOC_TYPES[doc_type]
    words = set(name.lower().replace("_", "-").split("-"))
    for names, kind in _NAME_WORDS:
        if words & names:
            return kind
    return Kind.STRING


def _text(values: Sequence[int]) -> tuple[bytes, ...]:
    return tuple(str(v).encode() for v in values)


EDGE_INTEGERS = _text(
    (
        0,
        1,
        -1,
        2,
        7,
        10,
        100,
        1000,
        # Counts as big as the loaded collections (keyspace.py): pops, picks and ranges
        # of every element, and 100k repeating random picks.
        100_000,
        -100_000,
        2**31 - 1,
        2**31,
        -(2**31),
        2**32,
        2**53 + 1,
        INT64_MAX,
        INT64_MAX - 1,
        INT64_MIN,
        INT64_MIN + 1,
        INT64_MAX + 1,
        INT64_MIN - 1,
        2**64 - 1,
        2**64,
        10**30,
        -(10**30),
    )
)
# Integers written the ways parsers disagree on: signs, zeros, spaces, other bases.
MALFORMED_INTEGERS = (
    b"",
    b"+1",
    b"01",
    b"-0",
    b"00",
    b" 1",
    b"1 ",
    b"1.0",
    b"1e3",
    b"0x10",
    b"-",
    b"--1",
    b"9" * 40,
    b"1\x00",
    b"\x001",
    b"\xd9\xa1",
    b"\xef\xbc\x91",
    b"1_000",
    b"\t2",
)
EDGE_FLOATS = (
    b"inf",
    b"-inf",
    b"+inf",
    b"Infinity",
    b"nan",
    b"-nan",
    b"NaN",
    b"1e308",
    b"-1e308",
    b"1.7976931348623157e308",
    b"1e309",
    b"-1e309",
    b"5e-324",
    b"1e-400",
    b"0.1",
    b"-0.0",
    b"0.0",
    b"3.0e0",
    b"1_0",
    b" 1.5",
    b"1.5 ",
    b"0x1p3",
    b".5",
    b"5.",
    b"1e",
    b"e5",
    b"1e4932",
    b"1.2e4932",
    b"1e-4950",
    b"123456789012345678901234567890.5",
)
# Offsets at and past the string limit, where the server must refuse, and small ones.
EDGE_OFFSETS = _text(
    (
        0,
        1,
        -1,
        -2,
        7,
        1023,
        1024,
        MiB,
        3 * MiB,
        ALLOCATION_CAP,
        MAX_STRING,
        MAX_STRING + 1,
        2 * MAX_STRING,
        2**32,
        INT64_MAX,
        INT64_MAX - 1,
        INT64_MIN,
        -MAX_STRING,
        -(2**31),
    )
)
CURSORS = (
    b"0",
    b"1",
    b"7",
    b"-1",
    b"00",
    b"abc",
    b"",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775808",
    b"99999999999999999999999",
)
# Timeouts never 0 (which means "forever" for WAIT, XREAD BLOCK and the blocking pops) and
# never long. Mostly a few milliseconds at most: a blocking pop on an empty key waits its
# whole timeout, and a client waiting seconds at a time would send little else. The
# sub-millisecond ones wait 1 ms (Redis 7.0.8 rounds up; 0.0001 used to block for ever).
SHORT_TIMEOUTS = (b"0.01", b"0.001", b"0.0001", b"1e-400", b"0.1")
LONG_TIMEOUTS = (b"1", b"2")  # in seconds for the pops, milliseconds for WAIT and BLOCK
# Values the server must refuse.
REFUSED_TIMEOUTS = (
    b"-1",
    b"abc",
    b"",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"1e400",
    b"nan",
)
TIMEOUTS = SHORT_TIMEOUTS + LONG_TIMEOUTS + REFUSED_TIMEOUTS
# Strings that look like protocol, or are what naive code mishandles.
TRICKY_STRINGS = (
    b"",
    b"\x00",
    b"\r\n",
    b"\r",
    b"\n",
    b"\xff",
    b"\xff\xfe\xfd",
    b"\x00\r\n\xff",
    b"\r\n*1\r\n$4\r\nPING\r\n",
    b"-ERR fake\r\n",
    b"$-1\r\n",
    b"+OK",
    b":1",
    b"*",
    b"%s%n%x",
    b"\xc3\xa9\xf0\x9d\x84\x9e",
    b"\xed\xa0\x80",
    b" ",
    b'"',
    b"'",
    b"\\",
    b"nil",
    b"(nil)",
    b"NULL",
    b"\x1b[2J",
)
# Globs. The backtracking ones (CVE-2022-36021) take exponential time on a naive matcher
# when run against a long run of "a"s that has no "b".
BACKTRACKING_PATTERNS = (
    b"a*" * 17 + b"b",
    b"*a" * 40 + b"b",
    b"a*" * 1000 + b"b",
    b"*" * 1000 + b"b",
    b"[a-z]*" * 30 + b"!",
    b"?*" * 200 + b"b",
)
PATTERNS = (
    b"*",
    b"?",
    b"k*",
    b"*1",
    b"k?",
    b"[",
    b"[a-",
    b"[^k]*",
    b"[]",
    b"[]]",
    b"[\\]",
    b"\\",
    b"k\\*",
    b"\\\\*",
    b"",
    b"\x00*",
    b"[\xff-\x00]",
    b"[z-a]*",
    b"load:1*",
    b"*[0-9]",
    b"[" * 200,
    b"]" * 200,
    b"\\" * 201,
    *BACKTRACKING_PATTERNS,
)
PATTERN_ALPHABET = b"ak1*?[]^-\\"
# Keys a naive matcher chokes on with the patterns above, and keys that are hard to print.
LONG_KEYS = (b"a" * 66, b"a" * 1000, b"a" * 64 * KiB)
ODD_KEYS = (b"", b"\x00", b"\r\n", b"\xff\xfe", b"key with spaces", b"*", b"k\x00k")


@dataclass(frozen=True)
class ValueConfig:
    keys: int = 24  # plain key names k0..k23: few, so commands keep hitting the same ones
    loaded_keys: int = 0  # names load:0..load:N-1 that a loader filled beforehand
    long_chance: float = 0.01  # how often a string is about a mebibyte long
    # Keys a loader filled with big collections (keyspace.py), and how often a key is one
    # of them (never in a deep MULTI's queue: 2,000 HGETALLs of a 100k-field hash would
    # only measure a reply built whole, like MGET of one big value many times).
    collection_keys: tuple[bytes, ...] = ()
    collection_chance: float = 0.05


class Values:
    """Draws values of each kind; all randomness comes from the `rng` passed in."""

    def __init__(self, config: ValueConfig, tokens: Sequence[bytes] = ()) -> None:
        self.config = config
        self.plain_keys = tuple(b"k%d" % i for i in range(config.keys))
        # Set while a deep MULTI's queue is drawn: no long strings or long keys, so the
        # batch tests depth (thousands of commands), not thousands times a mebibyte.
        self.short = False
        # Option words of every command: a value slot sometimes gets one (SET k NX ...).
        self.tokens = tuple(tokens) or (b"NX",)

    def draw(self, rng: random.Random, kind: Kind) -> bytes:
        return _DRAW[kind](self, rng)

    def key(self, rng: random.Random) -> bytes:
        collections = self.config.collection_keys
        if collections and not self.short and rng.random() < self.config.collection_chance:
            return rng.choice(collections)
        roll = rng.random()
        if roll < 0.8:
            return rng.choice(self.plain_keys)
        if roll < 0.88 and self.config.loaded_keys:
            return b"load:%d" % rng.randrange(self.config.loaded_keys)
        if roll < 0.94 or self.short:
            return rng.choice(ODD_KEYS)
        return rng.choice(LONG_KEYS)

    def string(self, rng: random.Random) -> bytes:
        roll = rng.random()
        if roll < self.config.long_chance and not self.short:
            return _long(rng)
        if roll < 0.35:
            return b"v%d" % rng.randrange(1000)
        if roll < 0.50:
            return self.integer(rng)
        if roll < 0.58:
            return rng.choice(EDGE_FLOATS)
        if roll < 0.70:
            return rng.randbytes(rng.randrange(33))
        if roll < 0.82:
            return rng.choice(TRICKY_STRINGS)
        if roll < 0.90:
            return self.key(rng)  # a value that is also a key name
        if roll < 0.95:
            return rng.randbytes(rng.randrange(100, 1 * KiB if self.short else 64 * KiB))
        return self.token(rng)

    def integer(self, rng: random.Random) -> bytes:
        roll = rng.random()
        if roll < 0.55:
            return rng.choice(EDGE_INTEGERS)
        if roll < 0.80:
            return b"%d" % rng.randrange(-1000, 1000)
        if roll < 0.92:
            return rng.choice(MALFORMED_INTEGERS)
        return rng.choice(EDGE_FLOATS)

    def number(self, rng: random.Random) -> bytes:
        roll = rng.random()
        if roll < 0.45:
            return rng.choice(EDGE_FLOATS)
        if roll < 0.65:
            return self.integer(rng)
        if roll < 0.85:
            # Mantissa and exponent far apart in size, where exact decimal arithmetic
            # needs many digits.
            exponent = rng.choice((rng.randrange(-30, 30), rng.randrange(-5000, 5000)))
            return b"%de%d" % (rng.randrange(-(10**6), 10**6), exponent)
        return repr(rng.uniform(-1e6, 1e6)).encode()

    def offset(self, rng: random.Random) -> bytes:
        roll = rng.random()
        if roll < 0.6:
            return rng.choice(EDGE_OFFSETS)
        if roll < 0.9:
            return b"%d" % rng.randrange(-100, 1000)
        return b"%d" % rng.randrange(ALLOCATION_CAP + 1)

    def cursor(self, rng: random.Random) -> bytes:
        return rng.choice(CURSORS) if rng.random() < 0.7 else b"%d" % rng.randrange(10**6)

    def timeout(self, rng: random.Random) -> bytes:
        roll = rng.random()
        if roll < 0.65:
            return rng.choice(SHORT_TIMEOUTS)
        if roll < 0.7:
            return rng.choice(LONG_TIMEOUTS)
        return rng.choice(REFUSED_TIMEOUTS)

    def pattern(self, rng: random.Random) -> bytes:
        if rng.random() < 0.75:
            return rng.choice(PATTERNS)
        return bytes(rng.choice(PATTERN_ALPHABET) for _ in range(rng.randrange(1, 40)))

    def token(self, rng: random.Random) -> bytes:
        return case_variant(rng, rng.choice(self.tokens))


def case_variant(rng: random.Random, word: bytes) -> bytes:
    """The word as sent: usually upper case, sometimes lower or mixed (all must work)."""
    roll = rng.random()
    if roll < 0.7:
        return word.upper()
    if roll < 0.85:
        return word.lower()
    return bytes(c + 32 if 65 <= c <= 90 and rng.random() < 0.5 else c for c in word.upper())


def _long(rng: random.Random) -> bytes:
    """Up to a mebibyte: a repeated chunk, so drawing it costs little."""
    size = rng.randrange(64 * KiB, LONG_ARGUMENT + 1)
    chunk = rng.randbytes(256)
    return (chunk * (size // 256 + 1))[:size]


_DRAW = {
    Kind.KEY: Values.key,
    Kind.PATTERN: Values.pattern,
    Kind.CURSOR: Values.cursor,
    Kind.INTEGER: Values.integer,
    Kind.NUMBER: Values.number,
    Kind.OFFSET: Values.offset,
    Kind.TIMEOUT: Values.timeout,
    Kind.STRING: Values.string,
}
