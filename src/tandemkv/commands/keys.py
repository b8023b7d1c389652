"""Generic key commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, COPY, expiry and TTLs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.commands.args import INT64_MAX, parse_int
from tandemkv.commands.collection_scan import parse_scan_args
from tandemkv.commands.errors import CommandError, NoSuchKey, SyntaxErr
from tandemkv.commands.glob import compile_glob
from tandemkv.commands.session import Deferred
from tandemkv.commands.table import Write, command
from tandemkv.protocol.types import OK
from tandemkv.storage.mutation import Copy, Delete, Rename, SetExpiry
from tandemkv.storage.values import type_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session, SlicedJob


def _existing(e: Engine, keys: list[bytes]) -> tuple[bytes, ...]:
    ks, now = e.keyspace, e.now_ms
    return tuple(dict.fromkeys(k for k in keys if ks.contains(k, now)))


@command(
    "del",
    -2,
    "write",
    group="generic",
    keys=(1, -1, 1),
    aliases=("delete",),
    summary="Delete keys",
    syntax="key [key ...]",
)
def del_(e: Engine, s: Session, args: list[bytes]) -> object:
    found = _existing(e, args[1:])
    return Write(len(found), Delete(found)) if found else 0


@command(
    "unlink",
    -2,
    "write fast",
    group="generic",
    keys=(1, -1, 1),
    summary="Delete keys",
    syntax="key [key ...]",
)
def unlink(e: Engine, s: Session, args: list[bytes]) -> object:
    return del_(e, s, args)


@command(
    "exists",
    -2,
    "readonly fast",
    group="generic",
    keys=(1, -1, 1),
    summary="Count how many of the given keys exist",
    syntax="key [key ...]",
)
def exists(e: Engine, s: Session, args: list[bytes]) -> object:
    ks, now = e.keyspace, e.now_ms
    return sum(1 for key in args[1:] if ks.contains(key, now))


@command(
    "touch",
    -2,
    "readonly fast",
    group="generic",
    keys=(1, -1, 1),
    summary="Count how many of the given keys exist (alters last access)",
    syntax="key [key ...]",
)
def touch(e: Engine, s: Session, args: list[bytes]) -> object:
    return exists(e, s, args)


@command(
    "type",
    2,
    "readonly fast",
    group="generic",
    keys=(1, 1, 1),
    summary="The type of value stored at a key",
    syntax="key",
)
def type_(e: Engine, s: Session, args: list[bytes]) -> object:
    from tandemkv.protocol.types import SimpleString

    return SimpleString(type_name(e.keyspace.get(args[1], e.now_ms)).decode())


# Keys KEYS matches per slice of its work: a few milliseconds each. On a larger keyspace
# KEYS runs in slices between which the server serves other clients and, in a group, keeps
# heartbeating, where Redis blocks for the whole walk. Inside EXEC it is deferred, sliced
# the same way (commands/atomic_work.py).
KEYS_SLICE = 20_000


@command(
    "keys",
    -1,
    "readonly",
    group="generic",
    keys=(0, 0, 0),
    summary="All keys matching a pattern (KEYS alone lists every key)",
    syntax="[pattern]",
)
def keys(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) > 2:
        raise CommandError("wrong number of arguments for 'keys' command")
    matches = compile_glob(args[1] if len(args) == 2 else b"*")
    ks, now = e.keyspace, e.now_ms
    if e.atomic is not None:  # in EXEC: the keys as of here, matched after the queue
        stored, deadlines = e.atomic.keys_snapshot(ks, len(e.pending))
        return Deferred(_matching_keys(stored, deadlines, now, matches))
    if len(ks) <= KEYS_SLICE:
        return [key for key in ks.live_keys(now) if matches(key)]
    # The keys as of now (a copy made at C speed), matched a slice per event-loop turn.
    stored, deadlines = ks.snapshot_keys()
    return e.host.run_sliced(s, _matching_keys(stored, deadlines, now, matches))


def _matching_keys(
    stored: list[bytes], deadlines: dict[bytes, int], now: int, matches: Callable[[bytes], bool]
) -> SlicedJob:
    found: list[bytes] = []
    for start in range(0, len(stored), KEYS_SLICE):
        if start:
            yield
        for key in stored[start : start + KEYS_SLICE]:
            if matches(key) and ((deadline := deadlines.get(key)) is None or deadline > now):
                found.append(key)
    return found


# Keys one SCAN call examines at most: about 50 ms of Python on a slow machine.
SCAN_MAX_COUNT = 100_000


@command(
    "scan",
    -2,
    "readonly",
    group="generic",
    summary="Iterate over the keys incrementally",
    syntax="cursor [MATCH pattern] [COUNT count] [TYPE type]",
)
def scan(e: Engine, s: Session, args: list[bytes]) -> object:
    request = parse_scan_args(args, at=1, with_type=True)
    cursor, pattern, wanted_type = request.cursor, request.pattern, request.type
    # COUNT is a hint (SCAN may return fewer): capped so that no call holds the event loop
    # for long, where Redis would walk its whole keyspace for COUNT 1000000000.
    count = min(request.count, SCAN_MAX_COUNT)
    if e.atomic is not None:  # in EXEC, its SCANs share one call's work (atomic_work.py)
        count = e.atomic.scan_count(count)
        if not e.scans.continues(cursor):
            e.atomic.charge_copy(len(e.keyspace))
    cursor, page = e.scans.page(cursor, count, e.keyspace.keys_view())
    if e.atomic is not None:
        e.atomic.scanned(len(page))
    ks, now, matches = e.keyspace, e.now_ms, compile_glob(pattern)
    found = []
    for key in page:
        value = ks.get(key, now)
        if value is None or not matches(key):
            continue
        if wanted_type is not None and type_name(value) != wanted_type:
            continue
        found.append(key)
    return [str(cursor).encode(), found]


@command("randomkey", 1, "readonly", group="generic", summary="A random key", syntax="")
def randomkey(e: Engine, s: Session, args: list[bytes]) -> object:
    ks = e.keyspace
    for _ in range(16):
        key = e.evictor.any_key(ks, e.random)
        if key is None:
            return None
        if ks.contains(key, e.now_ms):
            return key
    live = ks.live_keys(e.now_ms)
    return e.random.choice(live) if live else None


@command(
    "rename",
    3,
    "write",
    group="generic",
    keys=(1, 2, 1),
    summary="Rename a key, replacing the destination",
    syntax="key newkey",
)
def rename(e: Engine, s: Session, args: list[bytes]) -> object:
    src, dst = args[1], args[2]
    if not e.keyspace.contains(src, e.now_ms):
        raise NoSuchKey()
    if src == dst:
        return OK
    return Write(OK, Rename(src, dst))


@command(
    "renamenx",
    3,
    "write fast",
    group="generic",
    keys=(1, 2, 1),
    summary="Rename a key if the new name is free",
    syntax="key newkey",
)
def renamenx(e: Engine, s: Session, args: list[bytes]) -> object:
    src, dst = args[1], args[2]
    if not e.keyspace.contains(src, e.now_ms):
        raise NoSuchKey()
    if src == dst or e.keyspace.contains(dst, e.now_ms):
        return 0
    return Write(1, Rename(src, dst))


@command(
    "copy",
    -3,
    "write denyoom",
    group="generic",
    since="6.2.0",
    keys=(1, 2, 1),
    summary="Copy a key's value and expiry to another key",
    syntax="source destination [DB destination-db] [REPLACE]",
)
def copy(e: Engine, s: Session, args: list[bytes]) -> object:
    src, dst = args[1], args[2]
    replace = False
    i = 3
    while i < len(args):
        word = args[i].upper()
        if word == b"REPLACE":
            replace = True
        elif word == b"DB" and i + 1 < len(args):
            if parse_int(args[i + 1]) != 0:
                raise CommandError("DB index is out of range")
            i += 1
        else:
            raise SyntaxErr()
        i += 1
    if src == dst:
        raise CommandError("source and destination objects are the same")
    if not e.keyspace.contains(src, e.now_ms):
        return 0
    if not replace and e.keyspace.contains(dst, e.now_ms):
        return 0
    return Write(1, Copy(src, dst))


def _expire(e: Engine, args: list[bytes], unit_ms: int, absolute: bool, name: str) -> object:
    key = args[1]
    flags = {a.upper() for a in args[3:]}
    if not flags <= {b"NX", b"XX", b"GT", b"LT"}:
        bad = next(a for a in args[3:] if a.upper() not in (b"NX", b"XX", b"GT", b"LT"))
        raise CommandError(f"Unsupported option {bad.decode('utf-8', 'replace')}")
    if b"NX" in flags and flags & {b"XX", b"GT", b"LT"}:
        raise CommandError("NX and XX, GT or LT options at the same time are not compatible")
    if {b"GT", b"LT"} <= flags:
        raise CommandError("GT and LT options at the same time are not compatible")
    amount = parse_int(args[2])
    if abs(amount) > INT64_MAX // unit_ms:
        raise CommandError(f"invalid expire time in '{name}' command")
    deadline = amount * unit_ms + (0 if absolute else e.now_ms)
    if deadline > INT64_MAX:
        raise CommandError(f"invalid expire time in '{name}' command")
    ks = e.keyspace
    if not ks.contains(key, e.now_ms):
        return 0
    current = ks.expire_at(key)
    if b"NX" in flags and current is not None:
        return 0
    if b"XX" in flags and current is None:
        return 0
    if b"GT" in flags and (current is None or deadline <= current):
        return 0
    if b"LT" in flags and current is not None and deadline >= current:
        return 0
    if deadline <= e.now_ms:
        return Write(1, Delete((key,)))
    return Write(1, SetExpiry(key, deadline))


@command(
    "expire",
    -3,
    "write fast",
    group="generic",
    keys=(1, 1, 1),
    summary="Set a key's time to live in seconds",
    syntax="key seconds [NX|XX|GT|LT]",
)
def expire(e: Engine, s: Session, args: list[bytes]) -> object:
    return _expire(e, args, 1000, False, "expire")


@command(
    "pexpire",
    -3,
    "write fast",
    group="generic",
    keys=(1, 1, 1),
    summary="Set a key's time to live in milliseconds",
    syntax="key milliseconds [NX|XX|GT|LT]",
)
def pexpire(e: Engine, s: Session, args: list[bytes]) -> object:
    return _expire(e, args, 1, False, "pexpire")


@command(
    "expireat",
    -3,
    "write fast",
    group="generic",
    keys=(1, 1, 1),
    summary="Set a key's expiry as a Unix time in seconds",
    syntax="key unix-time-seconds [NX|XX|GT|LT]",
)
def expireat(e: Engine, s: Session, args: list[bytes]) -> object:
    return _expire(e, args, 1000, True, "expireat")


@command(
    "pexpireat",
    -3,
    "write fast",
    group="generic",
    keys=(1, 1, 1),
    summary="Set a key's expiry as a Unix time in milliseconds",
    syntax="key unix-time-milliseconds [NX|XX|GT|LT]",
)
def pexpireat(e: Engine, s: Session, args: list[bytes]) -> object:
    return _expire(e, args, 1, True, "pexpireat")


def _deadline_or_code(e: Engine, key: bytes) -> int:
    """The key's deadline in ms, -2 if the key is absent, -1 if it has none."""
    if not e.keyspace.contains(key, e.now_ms):
        return -2
    deadline = e.keyspace.expire_at(key)
    return -1 if deadline is None else deadline


@command(
    "ttl",
    2,
    "readonly fast",
    group="generic",
    keys=(1, 1, 1),
    summary="Seconds until a key expires",
    syntax="key",
)
def ttl(e: Engine, s: Session, args: list[bytes]) -> object:
    deadline = _deadline_or_code(e, args[1])
    return deadline if deadline < 0 else (deadline - e.now_ms + 500) // 1000


@command(
    "pttl",
    2,
    "readonly fast",
    group="generic",
    keys=(1, 1, 1),
    summary="Milliseconds until a key expires",
    syntax="key",
)
def pttl(e: Engine, s: Session, args: list[bytes]) -> object:
    deadline = _deadline_or_code(e, args[1])
    return deadline if deadline < 0 else deadline - e.now_ms


@command(
    "expiretime",
    2,
    "readonly fast",
    group="generic",
    keys=(1, 1, 1),
    since="7.0.0",
    summary="The Unix time in seconds at which a key expires",
    syntax="key",
)
def expiretime(e: Engine, s: Session, args: list[bytes]) -> object:
    deadline = _deadline_or_code(e, args[1])
    return deadline if deadline < 0 else deadline // 1000


@command(
    "pexpiretime",
    2,
    "readonly fast",
    group="generic",
    keys=(1, 1, 1),
    since="7.0.0",
    summary="The Unix time in milliseconds at which a key expires",
    syntax="key",
)
def pexpiretime(e: Engine, s: Session, args: list[bytes]) -> object:
    return _deadline_or_code(e, args[1])


@command(
    "persist",
    2,
    "write fast",
    group="generic",
    keys=(1, 1, 1),
    summary="Remove a key's expiry",
    syntax="key",
)
def persist(e: Engine, s: Session, args: list[bytes]) -> object:
    key = args[1]
    if not e.keyspace.contains(key, e.now_ms) or e.keyspace.expire_at(key) is None:
        return 0
    return Write(1, SetExpiry(key, None))
