"""Hash commands: HSET and friends, counters, HSCAN and HRANDFIELD.

A hash is a dict[bytes, bytes] (storage/values.py). Handlers read it through typed.py and
return HashSet / HashDelete mutations; a hash left empty is dropped by the keyspace.

HINCRBYFLOAT computes as Redis does, in x87 80-bit long double arithmetic (emulated
exactly by args.py, shared with INCRBYFLOAT), so replies such as "1000.09999999999999998"
for 0 + 1000.1 agree with Redis to the last digit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.commands.args import (
    INT64_MAX,
    INT64_MIN,
    add_long_doubles,
    check_random_reply,
    parse_int,
    parse_long_double,
)
from tandemkv.commands.collection_scan import parse_scan_args, scan_elements
from tandemkv.commands.errors import (
    CommandError,
    NotFloat,
    NotInteger,
    Overflow,
    SyntaxErr,
    wrong_arity,
)
from tandemkv.commands.random_picks import PICK_SLICE, picks_in_slices
from tandemkv.commands.table import Write, command
from tandemkv.commands.typed import read_hash
from tandemkv.protocol.types import OK
from tandemkv.storage.mutation import HashDelete, HashSet

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session

# Redis 7.0 accepts HRANDFIELD counts in [-LONG_MAX, LONG_MAX], half that with WITHVALUES.
_LONG_MAX = INT64_MAX


def _pairs_of(args: list[bytes], name: str) -> tuple[bytes, ...]:
    """HSET's field value pairs (args[2:]); an odd count is an arity error, as in Redis."""
    if len(args) % 2:
        raise wrong_arity(name)
    return tuple(args[2:])


def _new_fields(fields: dict[bytes, bytes] | None, pairs: tuple[bytes, ...]) -> int:
    """How many distinct fields of `pairs` the hash does not hold yet."""
    named = set(pairs[0::2])
    if fields is None:
        return len(named)
    return sum(1 for field in named if field not in fields)


@command(
    "hset",
    -4,
    "write denyoom fast",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Set hash fields, creating the hash if needed",
    syntax="key field value [field value ...]",
)
def hset(e: Engine, s: Session, args: list[bytes]) -> object:
    pairs = _pairs_of(args, "hset")
    added = _new_fields(read_hash(e, args[1]), pairs)
    return Write(added, HashSet(args[1], pairs))


@command(
    "hmset",
    -4,
    "write denyoom fast",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Set hash fields (deprecated: HSET does the same)",
    syntax="key field value [field value ...]",
)
def hmset(e: Engine, s: Session, args: list[bytes]) -> object:
    pairs = _pairs_of(args, "hmset")
    read_hash(e, args[1])
    return Write(OK, HashSet(args[1], pairs))


@command(
    "hsetnx",
    4,
    "write denyoom fast",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Set a hash field only if it does not exist",
    syntax="key field value",
)
def hsetnx(e: Engine, s: Session, args: list[bytes]) -> object:
    fields = read_hash(e, args[1])
    if fields is not None and args[2] in fields:
        return 0
    return Write(1, HashSet(args[1], (args[2], args[3])))


@command(
    "hget",
    3,
    "readonly fast",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="The value of a hash field",
    syntax="key field",
)
def hget(e: Engine, s: Session, args: list[bytes]) -> object:
    fields = read_hash(e, args[1])
    return None if fields is None else fields.get(args[2])


@command(
    "hmget",
    -3,
    "readonly fast",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="The values of several hash fields",
    syntax="key field [field ...]",
)
def hmget(e: Engine, s: Session, args: list[bytes]) -> object:
    fields = read_hash(e, args[1])
    if fields is None:
        return [None] * (len(args) - 2)
    return [fields.get(field) for field in args[2:]]


@command(
    "hgetall",
    2,
    "readonly",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Every field and value of a hash",
    syntax="key",
)
def hgetall(e: Engine, s: Session, args: list[bytes]) -> object:
    fields = read_hash(e, args[1])
    return {} if fields is None else dict(fields)  # a map in RESP3, pairs in RESP2


@command(
    "hkeys",
    2,
    "readonly",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Every field of a hash",
    syntax="key",
)
def hkeys(e: Engine, s: Session, args: list[bytes]) -> object:
    fields = read_hash(e, args[1])
    return [] if fields is None else list(fields)


@command(
    "hvals",
    2,
    "readonly",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Every value of a hash",
    syntax="key",
)
def hvals(e: Engine, s: Session, args: list[bytes]) -> object:
    fields = read_hash(e, args[1])
    return [] if fields is None else list(fields.values())


@command(
    "hlen",
    2,
    "readonly fast",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="The number of fields in a hash",
    syntax="key",
)
def hlen(e: Engine, s: Session, args: list[bytes]) -> object:
    fields = read_hash(e, args[1])
    return 0 if fields is None else len(fields)


@command(
    "hstrlen",
    3,
    "readonly fast",
    group="hash",
    keys=(1, 1, 1),
    since="3.2.0",
    summary="The length of a hash field's value",
    syntax="key field",
)
def hstrlen(e: Engine, s: Session, args: list[bytes]) -> object:
    fields = read_hash(e, args[1])
    value = None if fields is None else fields.get(args[2])
    return 0 if value is None else len(value)


@command(
    "hexists",
    3,
    "readonly fast",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Whether a hash field exists",
    syntax="key field",
)
def hexists(e: Engine, s: Session, args: list[bytes]) -> object:
    fields = read_hash(e, args[1])
    return int(fields is not None and args[2] in fields)


@command(
    "hdel",
    -3,
    "write fast",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Remove hash fields",
    syntax="key field [field ...]",
)
def hdel(e: Engine, s: Session, args: list[bytes]) -> object:
    fields = read_hash(e, args[1])
    if fields is None:
        return 0
    present = tuple(dict.fromkeys(f for f in args[2:] if f in fields))
    if not present:
        return 0
    return Write(len(present), HashDelete(args[1], present))


# ------------------------------------------------------------------ counters


@command(
    "hincrby",
    4,
    "write denyoom fast",
    group="hash",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Add an integer to a hash field's value",
    syntax="key field increment",
)
def hincrby(e: Engine, s: Session, args: list[bytes]) -> object:
    key, field = args[1], args[2]
    delta = parse_int(args[3])
    fields = read_hash(e, key)
    current = None if fields is None else fields.get(field)
    base = 0
    if current is not None:
        try:
            base = parse_int(current)
        except NotInteger:
            raise CommandError("hash value is not an integer") from None
    result = base + delta
    if not INT64_MIN <= result <= INT64_MAX:
        raise Overflow()
    return Write(result, HashSet(key, (field, str(result).encode())))


@command(
    "hincrbyfloat",
    4,
    "write denyoom fast",
    group="hash",
    since="2.6.0",
    keys=(1, 1, 1),
    summary="Add a floating-point number to a hash field's value",
    syntax="key field increment",
)
def hincrbyfloat(e: Engine, s: Session, args: list[bytes]) -> object:
    key, field = args[1], args[2]
    if isinstance(parse_long_double(args[3]), float):  # NotFloat if it is no number
        raise CommandError("value is NaN or Infinity")
    fields = read_hash(e, key)
    current = None if fields is None else fields.get(field)
    if current is not None:
        try:
            parse_long_double(current)
        except NotFloat:
            raise CommandError("hash value is not a float") from None
    text = add_long_doubles(b"0" if current is None else current, args[3])
    return Write(text, HashSet(key, (field, text)))


# ------------------------------------------------------------- HSCAN, HRANDFIELD


@command(
    "hscan",
    -3,
    "readonly",
    group="hash",
    keys=(1, 1, 1),
    since="2.8.0",
    summary="Iterate over a hash's fields and values",
    syntax="key cursor [MATCH pattern] [COUNT count]",
)
def hscan(e: Engine, s: Session, args: list[bytes]) -> object:
    parse_scan_args(args[:3])  # Redis checks the cursor before the key, options after it
    fields = read_hash(e, args[1])
    if fields is None:
        return [b"0", []]
    scan = parse_scan_args(args)
    cursor, names = scan_elements(e, scan, len(fields), fields, fields.__contains__)
    page: list[bytes] = []
    for name in names:
        page += (name, fields[name])
    return [cursor, page]


@command(
    "hrandfield",
    -2,
    "readonly",
    group="hash",
    keys=(1, 1, 1),
    since="6.2.0",
    summary="Random fields of a hash",
    syntax="key [count [WITHVALUES]]",
)
def hrandfield(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) == 2:
        fields = read_hash(e, args[1])
        if not fields:
            return None
        return _random_fields(e, fields, -1)[0]
    count, with_values = _parse_random_count(args)
    fields = read_hash(e, args[1])
    if not fields or count == 0:
        return []
    if count < -PICK_SLICE:
        items, below = list(fields.items()), e.random.randrange
        size = len(items)

        def draw(n: int) -> list[object]:
            return _with_values([items[below(size)] for _ in range(n)], with_values, s.resp)

        return picks_in_slices(e, s, draw, -count)
    chosen = _random_fields(e, fields, count)
    if not with_values:
        return chosen
    return _with_values([(field, fields[field]) for field in chosen], True, s.resp)


def _with_values(pairs: list[tuple[bytes, bytes]], with_values: bool, resp: int) -> list[object]:
    """HRANDFIELD's reply: fields, or field, value flat in RESP2 and as pairs in RESP3."""
    if not with_values:
        return [field for field, _ in pairs]
    if resp >= 3:
        return [[field, value] for field, value in pairs]
    flat: list[object] = []
    for pair in pairs:
        flat += pair
    return flat


def _parse_random_count(args: list[bytes]) -> tuple[int, bool]:
    """HRANDFIELD's count and WITHVALUES, checked in Redis's order (before the key)."""
    count = parse_int(args[2])
    if not -_LONG_MAX <= count <= _LONG_MAX:
        raise CommandError(
            f"value is out of range, value must between {-_LONG_MAX} and {_LONG_MAX}"
        )
    if len(args) > 4 or (len(args) == 4 and args[3].upper() != b"WITHVALUES"):
        raise SyntaxErr()
    with_values = len(args) == 4
    if with_values and not -(_LONG_MAX // 2) <= count <= _LONG_MAX // 2:
        raise CommandError("value is out of range")
    check_random_reply(count)
    return count, with_values


def _random_fields(e: Engine, fields: dict[bytes, bytes], count: int) -> list[bytes]:
    """`count` distinct random fields (all of them, in hash order, if count reaches the
    size), or -count fields drawn independently when count is negative."""
    if count >= len(fields):
        return list(fields)
    names = list(fields)  # a dict has no random access: one C-speed copy of the references
    below = e.random.randrange
    if count < 0:
        size = len(names)
        return [names[below(size)] for _ in range(-count)]
    # The first `count` steps of a Fisher-Yates shuffle: distinct fields, in random order.
    for i in range(count):
        j = below(i, len(names))
        names[i], names[j] = names[j], names[i]
    del names[count:]
    return names
