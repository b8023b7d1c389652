"""List commands: pushes, pops, ranges, LPOS, LINSERT, LMOVE and LMPOP.

A list is a deque (storage/values.py). Handlers only read it and return the mutation; a
reply is always a fresh list, built from the nearer end of the deque so that its cost
follows what it returns (deque indexing and islice walk from one end).

The pop and move logic is in plain functions the blocking forms (BLPOP, BRPOP, BLMOVE,
BRPOPLPUSH, BLMPOP) can call once a key they wait on holds items:

    pop_items(e, key, left, count)   -> Write([items], ListPop) or None if the key is absent
    pop_first(e, keys, left, count)  -> Write([key, [items]], ListPop) or None if all absent
    move_item(e, src, dst, from_left, to_left) -> Write(item, Batch) or None if src is absent
    parse_side(raw), parse_mpop(args, numkeys_at) -> the argument parsing they share
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, NamedTuple

from tandemkv.commands.args import INT64_MIN, parse_int
from tandemkv.commands.errors import CommandError, NoSuchKey, NotInteger, SyntaxErr, wrong_arity
from tandemkv.commands.table import Write, command
from tandemkv.commands.typed import read_list
from tandemkv.protocol.types import OK, NullArray
from tandemkv.storage.mutation import (
    Batch,
    Delete,
    ListInsert,
    ListPop,
    ListPush,
    ListRemove,
    ListSet,
    ListTrim,
)

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session


# ------------------------------------------------------------------ index arithmetic


def position(index: int, size: int) -> int | None:
    """A Redis list index (negative counts from the tail) as a 0-based position, or None
    when it falls outside the list."""
    if index < 0:
        index += size
    return index if 0 <= index < size else None


def span(start: int, stop: int, size: int) -> tuple[int, int] | None:
    """LRANGE/LTRIM's inclusive range as 0-based positions clamped to the list, or None
    when it selects nothing."""
    if start < 0:
        start = max(start + size, 0)
    if stop < 0:
        stop += size
    if start > stop or start >= size:
        return None
    return start, min(stop, size - 1)


def items_between(items: deque[bytes], start: int, stop: int) -> list[bytes]:
    """Items `start` to `stop` (inclusive, in range), walking from the nearer end."""
    size = len(items)
    if start <= size - 1 - stop:
        return list(islice(items, start, stop + 1))
    tail = list(islice(reversed(items), size - 1 - stop, size - start))
    tail.reverse()
    return tail


def from_end(items: deque[bytes], count: int, left: bool) -> list[bytes]:
    """The first `count` items from the head (`left`) or the tail, in popping order."""
    return list(islice(items if left else reversed(items), count))


# ------------------------------------------------------------------ argument parsing


def parse_side(raw: bytes) -> bool:
    """LEFT (True) or RIGHT (False), any case; anything else is a syntax error."""
    word = raw.upper()
    if word == b"LEFT":
        return True
    if word == b"RIGHT":
        return False
    raise SyntaxErr()


def _bounded(raw: bytes, low: int, error: str) -> int:
    """An integer of at least `low`; otherwise (or not an integer) the error `error`."""
    try:
        value = parse_int(raw)
    except NotInteger:
        raise CommandError(error) from None
    if value < low:
        raise CommandError(error)
    return value


class MpopArgs(NamedTuple):
    keys: list[bytes]
    left: bool
    amount: int


def parse_mpop(args: list[bytes], numkeys_at: int) -> MpopArgs:
    """LMPOP's `numkeys key... LEFT|RIGHT [COUNT count]` starting at `numkeys_at` (2 for
    BLMPOP, whose timeout comes first)."""
    numkeys = _bounded(args[numkeys_at], 1, "numkeys should be greater than 0")
    side_at = numkeys_at + numkeys + 1
    if side_at >= len(args):
        raise SyntaxErr()
    left = parse_side(args[side_at])
    count: int | None = None
    i = side_at + 1
    while i < len(args):
        if count is None and args[i].upper() == b"COUNT" and i + 1 < len(args):
            count = _bounded(args[i + 1], 1, "count should be greater than 0")
            i += 2
        else:
            raise SyntaxErr()
    keys = args[numkeys_at + 1 : side_at]
    return MpopArgs(keys, left, 1 if count is None else count)


# ------------------------------------------------------------------ pops and moves


def pop_items(e: Engine, key: bytes, left: bool, count: int) -> Write | None:
    """Pop up to `count` (>= 1) items from the head (`left`) or tail of the list at `key`:
    Write(items in popping order, ListPop), or None if the key is absent."""
    items = read_list(e, key)
    if items is None:
        return None
    popped = from_end(items, count, left)
    return Write(popped, ListPop(key, len(popped), left))


def pop_first(e: Engine, keys: list[bytes], left: bool, count: int) -> Write | None:
    """LMPOP's pop: from the first of `keys` that holds a list, Write([key, items],
    ListPop); None if none does. A key of another type before it is WRONGTYPE."""
    for key in keys:
        popped = pop_items(e, key, left, count)
        if popped is not None:
            return Write([key, popped.reply], popped.mutation)
    return None


def move_item(e: Engine, src: bytes, dst: bytes, from_left: bool, to_left: bool) -> Write | None:
    """Move one item from an end of `src` to an end of `dst`: Write(item, Batch), or None
    if `src` is absent. `dst` holding another type is WRONGTYPE."""
    items = read_list(e, src)
    if items is None:
        return None
    read_list(e, dst)
    item = items[0] if from_left else items[-1]
    pop, push = ListPop(src, 1, from_left), ListPush(dst, (item,), to_left)
    if src == dst:
        # Pushing first keeps the list non-empty throughout: popping its only item first
        # would drop the key, and its expiry with it, which Redis keeps.
        return Write(item, Batch((push, pop)))
    return Write(item, Batch((pop, push)))


# ------------------------------------------------------------------ pushes


def _push(e: Engine, args: list[bytes], left: bool, only_existing: bool) -> object:
    key = args[1]
    items = read_list(e, key)
    if items is None and only_existing:
        return 0
    size = len(items) if items is not None else 0
    return Write(size + len(args) - 2, ListPush(key, tuple(args[2:]), left))


@command(
    "lpush",
    -3,
    "write denyoom fast",
    group="list",
    keys=(1, 1, 1),
    summary="Prepend one or more elements to a list",
    syntax="key element [element ...]",
)
def lpush(e: Engine, s: Session, args: list[bytes]) -> object:
    return _push(e, args, left=True, only_existing=False)


@command(
    "rpush",
    -3,
    "write denyoom fast",
    group="list",
    keys=(1, 1, 1),
    summary="Append one or more elements to a list",
    syntax="key element [element ...]",
)
def rpush(e: Engine, s: Session, args: list[bytes]) -> object:
    return _push(e, args, left=False, only_existing=False)


@command(
    "lpushx",
    -3,
    "write denyoom fast",
    group="list",
    keys=(1, 1, 1),
    since="2.2.0",
    summary="Prepend one or more elements to a list only when the list exists",
    syntax="key element [element ...]",
)
def lpushx(e: Engine, s: Session, args: list[bytes]) -> object:
    return _push(e, args, left=True, only_existing=True)


@command(
    "rpushx",
    -3,
    "write denyoom fast",
    group="list",
    keys=(1, 1, 1),
    since="2.2.0",
    summary="Append one or more elements to a list only when the list exists",
    syntax="key element [element ...]",
)
def rpushx(e: Engine, s: Session, args: list[bytes]) -> object:
    return _push(e, args, left=False, only_existing=True)


# ------------------------------------------------------------------ pops


def _pop(e: Engine, args: list[bytes], left: bool) -> object:
    if len(args) > 3:
        raise wrong_arity("lpop" if left else "rpop")
    if len(args) == 2:
        popped = pop_items(e, args[1], left, 1)
        return None if popped is None else Write(popped.reply[0], popped.mutation)
    count = _bounded(args[2], 0, "value is out of range, must be positive")
    # With a count, an absent key answers the null array (*-1 in RESP2, _ in RESP3).
    if count == 0:
        return NullArray if read_list(e, args[1]) is None else []
    popped = pop_items(e, args[1], left, count)
    return NullArray if popped is None else popped


@command(
    "lpop",
    -2,
    "write fast",
    group="list",
    keys=(1, 1, 1),
    summary="Remove and return the first elements of a list",
    syntax="key [count]",
)
def lpop(e: Engine, s: Session, args: list[bytes]) -> object:
    return _pop(e, args, left=True)


@command(
    "rpop",
    -2,
    "write fast",
    group="list",
    keys=(1, 1, 1),
    summary="Remove and return the last elements of a list",
    syntax="key [count]",
)
def rpop(e: Engine, s: Session, args: list[bytes]) -> object:
    return _pop(e, args, left=False)


@command(
    "lmpop",
    -4,
    "write",
    group="list",
    since="7.0.0",
    summary="Pop elements from the first non-empty list among several keys",
    syntax="numkeys key [key ...] LEFT|RIGHT [COUNT count]",
)
def lmpop(e: Engine, s: Session, args: list[bytes]) -> object:
    parsed = parse_mpop(args, 1)
    popped = pop_first(e, parsed.keys, parsed.left, parsed.amount)
    return NullArray if popped is None else popped


@command(
    "lmove",
    5,
    "write denyoom",
    group="list",
    keys=(1, 2, 1),
    since="6.2.0",
    summary="Pop an element from one end of a list and push it to an end of another",
    syntax="source destination LEFT|RIGHT LEFT|RIGHT",
)
def lmove(e: Engine, s: Session, args: list[bytes]) -> object:
    from_left, to_left = parse_side(args[3]), parse_side(args[4])
    return move_item(e, args[1], args[2], from_left, to_left)


@command(
    "rpoplpush",
    3,
    "write denyoom",
    group="list",
    keys=(1, 2, 1),
    since="1.2.0",
    summary="Pop the last element of a list and push it to the head of another",
    syntax="source destination",
)
def rpoplpush(e: Engine, s: Session, args: list[bytes]) -> object:
    return move_item(e, args[1], args[2], from_left=False, to_left=True)


# ------------------------------------------------------------------ reads


@command(
    "llen",
    2,
    "readonly fast",
    group="list",
    keys=(1, 1, 1),
    summary="Return the length of a list",
    syntax="key",
)
def llen(e: Engine, s: Session, args: list[bytes]) -> object:
    items = read_list(e, args[1])
    return 0 if items is None else len(items)


@command(
    "lrange",
    4,
    "readonly",
    group="list",
    keys=(1, 1, 1),
    summary="Return a range of elements from a list",
    syntax="key start stop",
)
def lrange(e: Engine, s: Session, args: list[bytes]) -> object:
    start, stop = parse_int(args[2]), parse_int(args[3])
    items = read_list(e, args[1])
    if items is None:
        return []
    chosen = span(start, stop, len(items))
    return [] if chosen is None else items_between(items, *chosen)


@command(
    "lindex",
    3,
    "readonly",
    group="list",
    keys=(1, 1, 1),
    summary="Return an element from a list by its index",
    syntax="key index",
)
def lindex(e: Engine, s: Session, args: list[bytes]) -> object:
    # Redis looks the key up before it reads the index: an absent key answers null even
    # for an index that is not a number.
    items = read_list(e, args[1])
    if items is None:
        return None
    at = position(parse_int(args[2]), len(items))
    return None if at is None else items[at]


@command(
    "lpos",
    -3,
    "readonly",
    group="list",
    keys=(1, 1, 1),
    since="6.0.6",
    summary="Return the index of matching elements in a list",
    syntax="key element [RANK rank] [COUNT num-matches] [MAXLEN len]",
)
def lpos(e: Engine, s: Session, args: list[bytes]) -> object:
    rank, count, maxlen = _lpos_options(args)
    items = read_list(e, args[1])
    limit = 1 if count is None else count
    found = [] if items is None else _matches(items, args[2], rank, limit, maxlen)
    if count is not None:
        return found
    return found[0] if found else None


_RANK_ZERO = (
    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)


def _lpos_options(args: list[bytes]) -> tuple[int, int | None, int]:
    """LPOS's RANK (default 1), COUNT (None when absent) and MAXLEN (0: no limit), read
    left to right so the first bad one is the error; a repeated option's last value wins."""
    rank, count, maxlen = 1, None, 0
    for i in range(3, len(args), 2):
        word = args[i].upper()
        if i + 1 >= len(args):
            raise SyntaxErr()
        if word == b"RANK":
            rank = parse_int(args[i + 1])
            if rank == 0:
                raise CommandError(_RANK_ZERO)
        elif word == b"COUNT":
            count = _bounded(args[i + 1], 0, "COUNT can't be negative")
        elif word == b"MAXLEN":
            maxlen = _bounded(args[i + 1], 0, "MAXLEN can't be negative")
        else:
            raise SyntaxErr()
    return rank, count, maxlen


def _matches(items: deque[bytes], value: bytes, rank: int, limit: int, maxlen: int) -> list[int]:
    """Positions of items equal to `value`: skipping the first |rank| - 1 matches, from the
    tail when rank < 0, at most `limit` of them (0: all), among the first `maxlen` items
    scanned (0: all)."""
    from_tail = rank < 0
    # Redis 7.0 negates RANK in a C long: -2**63 stays negative and skips no match.
    skip = 0 if rank == INT64_MIN else abs(rank) - 1
    scan = reversed(items) if from_tail else iter(items)
    if maxlen:
        scan = islice(scan, maxlen)
    last = len(items) - 1
    found: list[int] = []
    for offset, item in enumerate(scan):
        if item != value:
            continue
        if skip:
            skip -= 1
            continue
        found.append(last - offset if from_tail else offset)
        if len(found) == limit:
            break
    return found


# ------------------------------------------------------------------ in-place writes


@command(
    "lset",
    4,
    "write denyoom",
    group="list",
    keys=(1, 1, 1),
    summary="Set the value of an element in a list by its index",
    syntax="key index element",
)
def lset(e: Engine, s: Session, args: list[bytes]) -> object:
    items = read_list(e, args[1])
    if items is None:
        raise NoSuchKey()
    at = position(parse_int(args[2]), len(items))
    if at is None:
        raise CommandError("index out of range")
    return Write(OK, ListSet(args[1], at, args[3]))


@command(
    "linsert",
    5,
    "write denyoom",
    group="list",
    keys=(1, 1, 1),
    since="2.2.0",
    summary="Insert an element before or after another element in a list",
    syntax="key BEFORE|AFTER pivot element",
)
def linsert(e: Engine, s: Session, args: list[bytes]) -> object:
    where = args[2].upper()
    if where not in (b"BEFORE", b"AFTER"):
        raise SyntaxErr()
    key = args[1]
    items = read_list(e, key)
    if items is None:
        return 0
    try:
        at = items.index(args[3])
    except ValueError:
        return -1
    if where == b"AFTER":
        at += 1
    return Write(len(items) + 1, ListInsert(key, at, args[4]))


@command(
    "lrem",
    4,
    "write",
    group="list",
    keys=(1, 1, 1),
    summary="Remove elements from a list",
    syntax="key count element",
)
def lrem(e: Engine, s: Session, args: list[bytes]) -> object:
    count = parse_int(args[2])
    key, value = args[1], args[3]
    items = read_list(e, key)
    if items is None:
        return 0
    present = items.count(value)
    removed = present if count == 0 else min(present, abs(count))
    if removed == 0:
        return 0
    # The mutation names how many went, not the requested count: the same effect, and
    # always a small number (a count of -2**63 has no 64-bit absolute value).
    return Write(removed, ListRemove(key, -removed if count < 0 else removed, value))


@command(
    "ltrim",
    4,
    "write",
    group="list",
    keys=(1, 1, 1),
    summary="Trim a list to the specified range",
    syntax="key start stop",
)
def ltrim(e: Engine, s: Session, args: list[bytes]) -> object:
    start, stop = parse_int(args[2]), parse_int(args[3])
    key = args[1]
    items = read_list(e, key)
    if items is None:
        return OK
    size = len(items)
    kept = span(start, stop, size)
    if kept is None:
        return Write(OK, Delete((key,)))
    # Keeping every item still logs the trim: Redis counts it as a change of the key
    # (an EXEC watching it aborts), and a capped list's LPUSH + LTRIM logs one more
    # small mutation in the same entry.
    return Write(OK, ListTrim(key, *kept))
