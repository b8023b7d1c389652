"""String commands: GET, SET and friends, counters, ranges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tandemkv.commands.args import (
    INT64_MAX,
    INT64_MIN,
    add_long_doubles,
    parse_int,
)
from tandemkv.commands.errors import CommandError, NotInteger, Overflow, SyntaxErr, WrongType
from tandemkv.commands.expiry import (
    ExpiryOption,
    merge_expiry,
    parse_expiry_option,
    parse_expiry_options,
    resolve_deadline,
)
from tandemkv.commands.table import Write, command
from tandemkv.protocol.types import OK
from tandemkv.storage.mutation import (
    Append,
    Batch,
    Delete,
    Mutation,
    SetExpiry,
    SetRange,
    SetValue,
    plain_set,
)

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session

MAX_STRING = 512 * 1024 * 1024


def read_string(e: Engine, key: bytes) -> bytes | None:
    """The string at `key`, None if absent; WRONGTYPE if it holds another type."""
    value = e.keyspace.get(key, e.now_ms)
    if value is None or type(value) is bytes:
        return value
    raise WrongType()


def store(key: bytes, value: bytes, deadline: int | None, now_ms: int) -> Mutation:
    """The mutation for SET-like writes; a deadline already past deletes the key."""
    if deadline is not None and deadline <= now_ms:
        return Delete((key,))
    return SetValue(key, value, deadline)


@command(
    "get",
    2,
    "readonly fast",
    group="string",
    summary="Get the value of a key",
    syntax="key",
    keys=(1, 1, 1),
)
def get(e: Engine, s: Session, args: list[bytes]) -> object:
    value = e.keyspace.get(args[1], e.now_ms)
    if value is None or type(value) is bytes:
        return value
    raise WrongType()


@command(
    "set",
    -3,
    "write denyoom",
    group="string",
    keys=(1, 1, 1),
    aliases=("put",),
    summary="Set a key to a string value, with optional expiry and conditions",
    syntax="key value [NX|XX|IFEQ comparison] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL]",
)
def set_(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) == 3:  # the common case, kept short
        return Write(OK, plain_set(args[1], args[2]))
    key, value = args[1], args[2]
    # Redis's order: every option word, then the expiry amount, then the key's type (GET),
    # then the condition.
    options = parse_set_options(args)
    expiry = options.expiry
    keep_ttl = expiry is not None and expiry.keep_ttl
    deadline = resolve_deadline(expiry, e.now_ms, "set") if expiry and not keep_ttl else None
    condition, want_old = options.condition, options.want_old
    old = read_string(e, key) if want_old or condition == b"IFEQ" else None
    if condition == b"NX" and e.keyspace.contains(key, e.now_ms):
        return old if want_old else None
    if condition == b"XX" and not e.keyspace.contains(key, e.now_ms):
        return old if want_old else None
    if condition == b"IFEQ" and old != options.compare:
        return old if want_old else None
    reply = old if want_old else OK
    if keep_ttl:
        # Reading first lets lazy expiry drop a key already past its deadline, so the
        # new value does not inherit a deadline that has passed.
        e.keyspace.get(key, e.now_ms)
        return Write(reply, SetValue(key, value, keep_ttl=True))
    return Write(reply, store(key, value, deadline, e.now_ms))


@dataclass(slots=True)
class SetOptions:
    condition: bytes | None = None  # NX, XX or IFEQ
    compare: bytes | None = None  # IFEQ's value
    want_old: bool = False  # GET
    expiry: ExpiryOption | None = None


def parse_set_options(args: list[bytes]) -> SetOptions:
    """SET's options as Redis reads them: repeating one is fine (the last wins), mixing
    ones that contradict each other (NX and XX, EX and PX...) is a syntax error. The
    expiry amount is not parsed yet: a clash later in the line is reported first."""
    options = SetOptions()
    i = 3
    while i < len(args):
        word = args[i].upper()
        if word in (b"NX", b"XX", b"IFEQ"):
            if options.condition not in (None, word):
                raise SyntaxErr()
            options.condition = word
            if word == b"IFEQ":
                if i + 1 >= len(args):
                    raise SyntaxErr()
                options.compare = args[i + 1]
                i += 1
        elif word == b"GET":
            options.want_old = True
        elif option := parse_expiry_option(args, i, allow_persist=False):
            options.expiry, i = merge_expiry(options.expiry, option[0]), option[1]
            continue
        else:
            raise SyntaxErr()
        i += 1
    return options


@command(
    "setnx",
    3,
    "write denyoom fast",
    group="string",
    keys=(1, 1, 1),
    summary="Set a key only if it does not exist",
    syntax="key value",
)
def setnx(e: Engine, s: Session, args: list[bytes]) -> object:
    if e.keyspace.contains(args[1], e.now_ms):
        return 0
    return Write(1, SetValue(args[1], args[2]))


def _set_with_ttl(e: Engine, args: list[bytes], unit_ms: int, name: str) -> object:
    amount = parse_int(args[2])
    if amount <= 0 or amount > INT64_MAX // unit_ms:
        raise CommandError(f"invalid expire time in '{name}' command")
    deadline = e.now_ms + amount * unit_ms
    if deadline > INT64_MAX:
        raise CommandError(f"invalid expire time in '{name}' command")
    return Write(OK, SetValue(args[1], args[3], deadline))


@command(
    "setex",
    4,
    "write denyoom",
    group="string",
    keys=(1, 1, 1),
    summary="Set a key with an expiry in seconds",
    syntax="key seconds value",
)
def setex(e: Engine, s: Session, args: list[bytes]) -> object:
    return _set_with_ttl(e, args, 1000, "setex")


@command(
    "psetex",
    4,
    "write denyoom",
    group="string",
    keys=(1, 1, 1),
    summary="Set a key with an expiry in milliseconds",
    syntax="key milliseconds value",
)
def psetex(e: Engine, s: Session, args: list[bytes]) -> object:
    return _set_with_ttl(e, args, 1, "psetex")


@command(
    "getset",
    3,
    "write denyoom fast",
    group="string",
    keys=(1, 1, 1),
    summary="Set a key and return its old value",
    syntax="key value",
)
def getset(e: Engine, s: Session, args: list[bytes]) -> object:
    old = read_string(e, args[1])
    return Write(old, SetValue(args[1], args[2]))


@command(
    "getdel",
    2,
    "write fast",
    group="string",
    keys=(1, 1, 1),
    summary="Get a key's value and delete the key",
    syntax="key",
)
def getdel(e: Engine, s: Session, args: list[bytes]) -> object:
    old = read_string(e, args[1])
    if old is None:
        return None
    return Write(old, Delete((args[1],)))


@command(
    "getex",
    -2,
    "write fast",
    group="string",
    keys=(1, 1, 1),
    summary="Get a key's value and change its expiry",
    syntax="key [EX s|PX ms|EXAT ts|PXAT ts|PERSIST]",
)
def getex(e: Engine, s: Session, args: list[bytes]) -> object:
    key = args[1]
    # Redis's order: the option words, then the key (absent: null), then the amount.
    expiry = parse_expiry_options(args, 2, allow_persist=True, allow_keepttl=False)
    value = read_string(e, key)
    if value is None or expiry is None:
        return value
    if expiry.persist:
        if e.keyspace.expire_at(key) is None:
            return value
        return Write(value, SetExpiry(key, None))
    deadline = resolve_deadline(expiry, e.now_ms, "getex")
    if deadline <= e.now_ms:
        return Write(value, Delete((key,)))
    return Write(value, SetExpiry(key, deadline))


@command(
    "delifeq",
    3,
    "write fast",
    group="string",
    keys=(1, 1, 1),
    since="9.0.0",
    summary="Delete a key if its value equals the given one",
    syntax="key value",
)
def delifeq(e: Engine, s: Session, args: list[bytes]) -> object:
    if read_string(e, args[1]) != args[2]:
        return 0
    return Write(1, Delete((args[1],)))


@command(
    "mget",
    -2,
    "readonly fast",
    group="string",
    keys=(1, -1, 1),
    summary="Get the values of several keys",
    syntax="key [key ...]",
)
def mget(e: Engine, s: Session, args: list[bytes]) -> object:
    ks, now = e.keyspace, e.now_ms
    values = []
    for key in args[1:]:
        value = ks.get(key, now)
        values.append(value if type(value) is bytes else None)
    return values


def _pairs(args: list[bytes], name: str) -> list[tuple[bytes, bytes]]:
    if len(args) % 2 == 0:
        raise CommandError(f"wrong number of arguments for '{name}' command")
    return list(zip(args[1::2], args[2::2], strict=True))


@command(
    "mset",
    -3,
    "write denyoom",
    group="string",
    keys=(1, -1, 2),
    summary="Set several keys at once",
    syntax="key value [key value ...]",
)
def mset(e: Engine, s: Session, args: list[bytes]) -> object:
    pairs = _pairs(args, "mset")
    if len(pairs) == 1:
        return Write(OK, plain_set(*pairs[0]))
    return Write(OK, Batch(tuple(plain_set(k, v) for k, v in pairs)))


@command(
    "msetnx",
    -3,
    "write denyoom",
    group="string",
    keys=(1, -1, 2),
    summary="Set several keys only if none of them exists",
    syntax="key value [key value ...]",
)
def msetnx(e: Engine, s: Session, args: list[bytes]) -> object:
    pairs = _pairs(args, "msetnx")
    if any(e.keyspace.contains(k, e.now_ms) for k, _ in pairs):
        return 0
    return Write(1, Batch(tuple(SetValue(k, v) for k, v in pairs)))


def _add_to_integer(e: Engine, key: bytes, delta: int) -> object:
    current = read_string(e, key)
    if current is None:
        base = 0
    elif len(current) > 20:
        raise NotInteger()
    else:
        base = parse_int(current)
    result = base + delta
    if not INT64_MIN <= result <= INT64_MAX:
        raise Overflow()
    return Write(result, SetValue(key, str(result).encode(), keep_ttl=True))


@command(
    "incr",
    2,
    "write denyoom fast",
    group="string",
    keys=(1, 1, 1),
    summary="Add one to a key's integer value",
    syntax="key",
)
def incr(e: Engine, s: Session, args: list[bytes]) -> object:
    return _add_to_integer(e, args[1], 1)


@command(
    "decr",
    2,
    "write denyoom fast",
    group="string",
    keys=(1, 1, 1),
    summary="Subtract one from a key's integer value",
    syntax="key",
)
def decr(e: Engine, s: Session, args: list[bytes]) -> object:
    return _add_to_integer(e, args[1], -1)


@command(
    "incrby",
    3,
    "write denyoom fast",
    group="string",
    keys=(1, 1, 1),
    summary="Add an amount to a key's integer value",
    syntax="key increment",
)
def incrby(e: Engine, s: Session, args: list[bytes]) -> object:
    return _add_to_integer(e, args[1], parse_int(args[2]))


@command(
    "decrby",
    3,
    "write denyoom fast",
    group="string",
    keys=(1, 1, 1),
    summary="Subtract an amount from a key's integer value",
    syntax="key decrement",
)
def decrby(e: Engine, s: Session, args: list[bytes]) -> object:
    amount = parse_int(args[2])
    if amount == INT64_MIN:
        raise CommandError("decrement would overflow")
    return _add_to_integer(e, args[1], -amount)


@command(
    "incrbyfloat",
    3,
    "write denyoom fast",
    group="string",
    keys=(1, 1, 1),
    summary="Add a floating-point amount to a key's value",
    syntax="key increment",
)
def incrbyfloat(e: Engine, s: Session, args: list[bytes]) -> object:
    key = args[1]
    current = read_string(e, key)
    text = add_long_doubles(b"0" if current is None else current, args[2])
    return Write(text, SetValue(key, text, keep_ttl=True))


@command(
    "append",
    3,
    "write denyoom fast",
    group="string",
    keys=(1, 1, 1),
    summary="Append to a key's string value",
    syntax="key value",
)
def append(e: Engine, s: Session, args: list[bytes]) -> object:
    current = read_string(e, args[1])
    length = (0 if current is None else len(current)) + len(args[2])
    if length > MAX_STRING:
        raise CommandError("string exceeds maximum allowed size (proto-max-bulk-len)")
    return Write(length, Append(args[1], args[2]))


@command(
    "strlen",
    2,
    "readonly fast",
    group="string",
    keys=(1, 1, 1),
    summary="The length of a key's string value",
    syntax="key",
)
def strlen(e: Engine, s: Session, args: list[bytes]) -> object:
    value = read_string(e, args[1])
    return 0 if value is None else len(value)


@command(
    "getrange",
    4,
    "readonly",
    group="string",
    keys=(1, 1, 1),
    aliases=("substr",),
    summary="A substring of a key's value",
    syntax="key start end",
)
def getrange(e: Engine, s: Session, args: list[bytes]) -> object:
    start, end = parse_int(args[2]), parse_int(args[3])
    value = read_string(e, args[1]) or b""
    length = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(length + start, 0)
    if end < 0:
        end = max(length + end, 0)
    end = min(end, length - 1)
    if start > end or length == 0:
        return b""
    return value[start : end + 1]


@command(
    "setrange",
    4,
    "write denyoom",
    group="string",
    keys=(1, 1, 1),
    summary="Overwrite part of a key's string value",
    syntax="key offset value",
)
def setrange(e: Engine, s: Session, args: list[bytes]) -> object:
    key, data = args[1], args[3]
    offset = parse_int(args[2])
    if offset < 0:
        raise CommandError("offset is out of range")
    current = read_string(e, key)
    length = 0 if current is None else len(current)
    if not data:
        return length
    if offset + len(data) > MAX_STRING:
        raise CommandError("string exceeds maximum allowed size (proto-max-bulk-len)")
    return Write(max(length, offset + len(data)), SetRange(key, offset, data))
