"""The blocking pops: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP.

Each first tries what its non-blocking form would do, on its keys in order (a key of the
wrong type is WRONGTYPE there, as in Redis). If nothing can be taken, it waits
(commands/waiters.py) unless it may not: inside MULTI/EXEC, or on a host with no event
loop (the embedded store), it answers at once as if the timeout had passed. A waiter is
served by a `serve` function that takes from one key that became ready; a key of the
wrong type by then leaves it waiting, as Redis does.

In a group these are writes: they run on the primary only, and their pops replicate as the
ListPop/ZSetRemove they log.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING

from tandemkv.commands.args import parse_long_double, scale_long_double
from tandemkv.commands.errors import CommandError, NotFloat, ReadOnly
from tandemkv.commands.lists import move_item, parse_mpop, parse_side, pop_items
from tandemkv.commands.table import Write, command
from tandemkv.commands.typed import read_list, read_zset
from tandemkv.commands.waiters import Serve, Waiter
from tandemkv.commands.zsets import nested_pairs, pop_extremes
from tandemkv.commands.zsets import parse_mpop as parse_zmpop
from tandemkv.protocol.types import NullArray
from tandemkv.storage.zset import SortedSet

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session

_LLONG_MAX = 2**63 - 1


def parse_timeout_ms(raw: bytes, now_ms: int) -> int:
    """A blocking command's timeout in seconds (a float) as whole milliseconds, 0 for
    forever, read and refused as Redis 7.0 reads it: the milliseconds, a long double, are
    rounded up (since 7.0.8, so a positive timeout under a millisecond waits 1 ms rather
    than for ever), and what overflows a 64-bit count of milliseconds is "negative"."""
    try:
        value = parse_long_double(raw)
    except NotFloat:
        raise CommandError("timeout is not a float or out of range") from None
    scaled = None if isinstance(value, float) else scale_long_double(value, 1000)
    if scaled is None:  # +-inf, or past the largest long double
        raise CommandError("timeout is negative")
    mantissa, exp = scaled
    ms = math.ceil(Fraction(mantissa) * (Fraction(2) ** exp))
    if ms < 0 or ms > _LLONG_MAX:
        raise CommandError("timeout is negative")
    if ms > _LLONG_MAX - now_ms:
        raise CommandError("timeout is out of range")
    return ms


def wait_or_answer(
    e: Engine,
    s: Session,
    keys: list[bytes],
    timeout_ms: int,
    serve: Serve,
    at_once: object = NullArray,
) -> object:
    """Nothing could be taken now: wait on `keys` for `timeout_ms` (0: forever), or answer
    `at_once` where no client may wait (inside EXEC, or with no event loop)."""
    if e.atomic is not None or not e.host.can_block:
        return at_once
    if not e.keyspace.owns_expiry:
        # A backup (READONLY reads): what would feed the wait arrives through the log, not
        # through commands here, so it could only time out.
        raise ReadOnly("a blocking read waits on the primary; this node is a backup")
    return e.waiters.block(Waiter(s, tuple(keys), serve, NullArray), timeout_ms)


def take_or_wait(
    e: Engine,
    s: Session,
    keys: list[bytes],
    timeout_ms: int,
    serve: Serve,
    read: Callable[[Engine, bytes], object],
) -> object:
    """Serve at once from the first of `keys` that can (`read` raises WRONGTYPE for a key
    of another type, as the non-blocking form would), else wait on all of them."""
    for key in keys:
        if read(e, key):
            served = serve(e, key)
            if served is not None:
                return served
    return wait_or_answer(e, s, keys, timeout_ms, serve)


# ------------------------------------------------------------------------ lists


def _list_ready(e: Engine, key: bytes) -> deque[bytes] | None:
    items = e.keyspace.get(key, e.now_ms)
    return items if type(items) is deque and items else None


def _serve_pop(left: bool) -> Serve:
    def serve(e: Engine, key: bytes) -> Write | None:
        if _list_ready(e, key) is None:
            return None
        popped = pop_items(e, key, left, 1)
        assert popped is not None
        return Write([key, popped.reply[0]], popped.mutation)

    return serve


def _blocking_pop(e: Engine, s: Session, args: list[bytes], left: bool) -> object:
    timeout = parse_timeout_ms(args[-1], e.now_ms)
    return take_or_wait(e, s, args[1:-1], timeout, _serve_pop(left), read_list)


@command(
    "blpop",
    -3,
    "write blocking",
    group="list",
    keys=(1, -2, 1),
    since="2.0.0",
    summary="Remove and get the first element of the first non-empty list, or wait",
    syntax="key [key ...] timeout",
)
def blpop(e: Engine, s: Session, args: list[bytes]) -> object:
    return _blocking_pop(e, s, args, left=True)


@command(
    "brpop",
    -3,
    "write blocking",
    group="list",
    keys=(1, -2, 1),
    since="2.0.0",
    summary="Remove and get the last element of the first non-empty list, or wait",
    syntax="key [key ...] timeout",
)
def brpop(e: Engine, s: Session, args: list[bytes]) -> object:
    return _blocking_pop(e, s, args, left=False)


def _serve_move(dst: bytes, from_left: bool, to_left: bool) -> Serve:
    def serve(e: Engine, key: bytes) -> Write | None:
        if _list_ready(e, key) is None:
            return None
        target = e.keyspace.get(dst, e.now_ms)
        if target is not None and type(target) is not deque:
            return None  # the destination holds another type: stay blocked, as Redis does
        return move_item(e, key, dst, from_left, to_left)

    return serve


def _blocking_move(
    e: Engine, s: Session, src: bytes, dst: bytes, sides: tuple[bool, bool], raw: bytes
) -> object:
    timeout = parse_timeout_ms(raw, e.now_ms)
    if read_list(e, src):
        moved = move_item(e, src, dst, *sides)
        if moved is not None:
            return moved
    return wait_or_answer(e, s, [src], timeout, _serve_move(dst, *sides), at_once=None)


@command(
    "blmove",
    6,
    "write denyoom blocking",
    group="list",
    keys=(1, 2, 1),
    since="6.2.0",
    summary="Pop an element from a list, push it to another list and return it; or wait",
    syntax="source destination LEFT|RIGHT LEFT|RIGHT timeout",
)
def blmove(e: Engine, s: Session, args: list[bytes]) -> object:
    sides = (parse_side(args[3]), parse_side(args[4]))
    return _blocking_move(e, s, args[1], args[2], sides, args[5])


@command(
    "brpoplpush",
    4,
    "write denyoom blocking",
    group="list",
    keys=(1, 2, 1),
    since="2.2.0",
    summary="Pop an element from a list, push it to another list and return it; or wait",
    syntax="source destination timeout",
)
def brpoplpush(e: Engine, s: Session, args: list[bytes]) -> object:
    return _blocking_move(e, s, args[1], args[2], (False, True), args[3])


def _serve_mpop(left: bool, amount: int) -> Serve:
    def serve(e: Engine, key: bytes) -> Write | None:
        if _list_ready(e, key) is None:
            return None
        popped = pop_items(e, key, left, amount)
        assert popped is not None
        return Write([key, popped.reply], popped.mutation)

    return serve


@command(
    "blmpop",
    -5,
    "write blocking",
    group="list",
    since="7.0.0",
    summary="Pop elements from the first non-empty list, or wait",
    syntax="timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]",
)
def blmpop(e: Engine, s: Session, args: list[bytes]) -> object:
    timeout = parse_timeout_ms(args[1], e.now_ms)
    request = parse_mpop(args, 2)
    serve = _serve_mpop(request.left, request.amount)
    return take_or_wait(e, s, request.keys, timeout, serve, read_list)


# ------------------------------------------------------------------ sorted sets


def _zset_ready(e: Engine, key: bytes) -> SortedSet | None:
    zset = e.keyspace.get(key, e.now_ms)
    return zset if type(zset) is SortedSet and zset else None


def _serve_zpop(highest: bool) -> Serve:
    def serve(e: Engine, key: bytes) -> Write | None:
        zset = _zset_ready(e, key)
        if zset is None:
            return None
        popped = pop_extremes(key, zset, 1, highest)
        score, member = popped.pairs[0]
        return Write([key, member, score], popped.mutation)

    return serve


def _blocking_zpop(e: Engine, s: Session, args: list[bytes], highest: bool) -> object:
    timeout = parse_timeout_ms(args[-1], e.now_ms)
    return take_or_wait(e, s, args[1:-1], timeout, _serve_zpop(highest), read_zset)


@command(
    "bzpopmin",
    -3,
    "write fast blocking",
    group="sorted_set",
    keys=(1, -2, 1),
    since="5.0.0",
    summary="Remove and return the member with the lowest score of the first non-empty "
    "sorted set, or wait",
    syntax="key [key ...] timeout",
)
def bzpopmin(e: Engine, s: Session, args: list[bytes]) -> object:
    return _blocking_zpop(e, s, args, highest=False)


@command(
    "bzpopmax",
    -3,
    "write fast blocking",
    group="sorted_set",
    keys=(1, -2, 1),
    since="5.0.0",
    summary="Remove and return the member with the highest score of the first non-empty "
    "sorted set, or wait",
    syntax="key [key ...] timeout",
)
def bzpopmax(e: Engine, s: Session, args: list[bytes]) -> object:
    return _blocking_zpop(e, s, args, highest=True)


def _serve_zmpop(highest: bool, amount: int) -> Serve:
    def serve(e: Engine, key: bytes) -> Write | None:
        zset = _zset_ready(e, key)
        if zset is None:
            return None
        popped = pop_extremes(key, zset, amount, highest)
        return Write([key, nested_pairs(popped.pairs)], popped.mutation)

    return serve


@command(
    "bzmpop",
    -5,
    "write blocking",
    group="sorted_set",
    since="7.0.0",
    summary="Remove and return members with scores from the first non-empty sorted set, or wait",
    syntax="timeout numkeys key [key ...] MIN|MAX [COUNT count]",
)
def bzmpop(e: Engine, s: Session, args: list[bytes]) -> object:
    timeout = parse_timeout_ms(args[1], e.now_ms)
    request = parse_zmpop(args, 2)
    serve = _serve_zmpop(request.highest, request.amount)
    return take_or_wait(e, s, request.keys, timeout, serve, read_zset)
