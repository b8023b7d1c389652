"""Set commands: SADD, SREM, membership, random draws (SPOP, SRANDMEMBER), SMOVE, the
algebra (SINTER, SUNION, SDIFF, their STORE forms, SINTERCARD) and SSCAN.

Handlers read sets through typed.read_set and return the mutation; a random draw uses the
engine's seeded generator and its mutation lists exactly the members it removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tandemkv.commands.args import INT64_MAX, check_random_reply, parse_int
from tandemkv.commands.collection_scan import parse_scan_args, scan_elements
from tandemkv.commands.errors import CommandError, NotInteger, SyntaxErr
from tandemkv.commands.glob import compile_glob
from tandemkv.commands.random_picks import PICK_SLICE, picks_in_slices
from tandemkv.commands.table import Write, command
from tandemkv.commands.typed import read_set
from tandemkv.protocol.types import SetReply
from tandemkv.storage.mutation import Batch, Delete, Mutation, SetAdd, SetRemove

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine, RandomSource
    from tandemkv.commands.session import Session

_POSITIVE = "value is out of range, must be positive"
_RANDMEMBER_RANGE = f"value is out of range, value must between {-INT64_MAX} and {INT64_MAX}"


# ------------------------------------------------------------------ single-set commands


@command(
    "sadd",
    -3,
    "write denyoom fast",
    group="set",
    keys=(1, 1, 1),
    summary="Add members to a set, creating it if needed",
    syntax="key member [member ...]",
)
def sadd(e: Engine, s: Session, args: list[bytes]) -> object:
    members = read_set(e, args[1])
    if members is None:
        added = tuple(dict.fromkeys(args[2:]))
    else:
        added = tuple(dict.fromkeys(m for m in args[2:] if m not in members))
    return Write(len(added), SetAdd(args[1], added)) if added else 0


@command(
    "srem",
    -3,
    "write fast",
    group="set",
    keys=(1, 1, 1),
    summary="Remove members from a set; the key is deleted once empty",
    syntax="key member [member ...]",
)
def srem(e: Engine, s: Session, args: list[bytes]) -> object:
    members = read_set(e, args[1])
    if members is None:
        return 0
    removed = tuple(dict.fromkeys(m for m in args[2:] if m in members))
    return Write(len(removed), SetRemove(args[1], removed)) if removed else 0


@command(
    "smembers",
    2,
    "readonly",
    group="set",
    keys=(1, 1, 1),
    summary="All the members of a set",
    syntax="key",
)
def smembers(e: Engine, s: Session, args: list[bytes]) -> object:
    members = read_set(e, args[1])
    return SetReply(tuple(members) if members is not None else ())


@command(
    "sismember",
    3,
    "readonly fast",
    group="set",
    keys=(1, 1, 1),
    summary="Whether a member belongs to a set (1 or 0)",
    syntax="key member",
)
def sismember(e: Engine, s: Session, args: list[bytes]) -> object:
    members = read_set(e, args[1])
    return int(members is not None and args[2] in members)


@command(
    "smismember",
    -3,
    "readonly fast",
    group="set",
    since="6.2.0",
    keys=(1, 1, 1),
    summary="Whether each of several members belongs to a set",
    syntax="key member [member ...]",
)
def smismember(e: Engine, s: Session, args: list[bytes]) -> object:
    members = read_set(e, args[1])
    if members is None:
        return [0] * (len(args) - 2)
    return [int(m in members) for m in args[2:]]


@command(
    "scard",
    2,
    "readonly fast",
    group="set",
    keys=(1, 1, 1),
    summary="The number of members of a set",
    syntax="key",
)
def scard(e: Engine, s: Session, args: list[bytes]) -> object:
    members = read_set(e, args[1])
    return len(members) if members is not None else 0


@command(
    "smove",
    4,
    "write fast",
    group="set",
    keys=(1, 2, 1),
    summary="Move a member from one set to another",
    syntax="source destination member",
)
def smove(e: Engine, s: Session, args: list[bytes]) -> object:
    src, dst, member = args[1], args[2], args[3]
    source = read_set(e, src)
    if source is None:
        return 0  # as Redis: a missing source answers 0 before the destination's type
    read_set(e, dst)  # WRONGTYPE if the destination holds another type
    if member not in source:
        return 0
    if src == dst:
        return 1
    return Write(1, Batch((SetRemove(src, (member,)), SetAdd(dst, (member,)))))


@command(
    "sscan",
    -3,
    "readonly",
    group="set",
    since="2.8.0",
    keys=(1, 1, 1),
    summary="Walk the members of a set with a cursor",
    syntax="key cursor [MATCH pattern] [COUNT count]",
)
def sscan(e: Engine, s: Session, args: list[bytes]) -> object:
    parse_scan_args(args[:3])  # Redis checks the cursor, then the key, then the options
    members = read_set(e, args[1])
    if members is None:
        return [b"0", []]
    scan = parse_scan_args(args)
    small_ints = _as_intset(members)
    if small_ints is not None:
        matches = compile_glob(scan.pattern)
        return [b"0", [m for m in small_ints if matches(m)]]
    cursor, page = scan_elements(e, scan, len(members), members, members.__contains__)
    return [cursor, page]


# Redis 7.0 keeps a set of up to 512 integers as an "intset" and answers SSCAN on it whole
# (cursor 0, in numeric order) whatever the cursor: collection_scan's small-collection rule
# covers 128 elements, so the sets between are answered here the same way.
INTSET_ENTRIES = 512


def _as_intset(members: set[bytes]) -> list[bytes] | None:
    """The members in numeric order if Redis would keep them as an intset, else None."""
    if len(members) > INTSET_ENTRIES:
        return None
    try:
        numbers = sorted((parse_int(m), m) for m in members)
    except NotInteger:
        return None
    return [m for _, m in numbers]


# ------------------------------------------------------------------ random draws


@command(
    "spop",
    -2,
    "write fast",
    group="set",
    keys=(1, 1, 1),
    summary="Remove and return random members of a set",
    syntax="key [count]",
)
def spop(e: Engine, s: Session, args: list[bytes]) -> object:
    key = args[1]
    if len(args) > 3:
        raise SyntaxErr()
    if len(args) == 2:
        members = read_set(e, key)
        if members is None:
            return None
        member = draw_one(e.random, members)
        return Write(member, SetRemove(key, (member,)))
    count = _spop_count(args[2])
    members = read_set(e, key)
    if members is None or count == 0:
        return SetReply(())
    if count >= len(members):
        return Write(SetReply(tuple(members)), Delete((key,)))
    popped = tuple(draw_distinct(e.random, members, count))
    return Write(SetReply(popped), SetRemove(key, popped))


@command(
    "srandmember",
    -2,
    "readonly",
    group="set",
    keys=(1, 1, 1),
    summary="Random members of a set (a negative count may repeat them)",
    syntax="key [count]",
)
def srandmember(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) > 3:
        raise SyntaxErr()
    if len(args) == 2:
        members = read_set(e, args[1])
        return draw_one(e.random, members) if members else None
    count = _randmember_count(args[2])
    members = read_set(e, args[1])
    if not members or count == 0:
        return []
    if count < -PICK_SLICE:
        items, below = list(members), e.random.randrange
        size = len(items)
        return picks_in_slices(e, s, lambda n: [items[below(size)] for _ in range(n)], -count)
    if count < 0:
        return draw_repeating(e.random, members, -count)
    if count >= len(members):
        return list(members)
    return draw_distinct(e.random, members, count)


def _spop_count(raw: bytes) -> int:
    """SPOP's count: Redis answers one message for any count that is not a non-negative
    integer, text included."""
    try:
        value = parse_int(raw)
    except NotInteger:
        value = -1
    if value < 0:
        raise CommandError(_POSITIVE)
    return value


def _randmember_count(raw: bytes) -> int:
    """SRANDMEMBER's count: any 64-bit integer but the lowest, whose negation would not fit."""
    value = parse_int(raw)
    if value < -INT64_MAX:
        raise CommandError(_RANDMEMBER_RANGE)
    check_random_reply(value)
    return value


# Sets up to this size are drawn from a fresh list of their members, which costs less than
# keeping one; larger ones draw from _Kept so that a draw costs O(1), not a copy of the set.
DIRECT_DRAW = 1024


class _Kept:
    """The members of the large set drawn from last, as a list to index at random.

    A Python set cannot hand out a random member without walking it, and walking a
    million members per SPOP makes a loop of pops quadratic, where Redis's is linear. The
    list is kept with the set it was made from, and every draw is checked against that
    set: a member removed since is met, dropped (swapped with the last entry, O(1)) and
    never returned. A member added since is not in the list, so the list is remade as soon
    as the set is larger than the list; until a stale entry is dropped, a set that lost
    and gained members alike draws a little unevenly, never wrongly.
    """

    __slots__ = ("items", "source")

    def __init__(self) -> None:
        self.source: set[bytes] | None = None
        self.items: list[bytes] = []

    def pick(self, rng: RandomSource, members: set[bytes]) -> bytes:
        if self.source is not members:
            self.source, self.items = members, list(members)
        items = self.items
        while True:
            if len(items) < len(members):
                items[:] = members
            i = rng.randrange(len(items))
            member = items[i]
            if member in members:
                return member
            items[i] = items[-1]
            items.pop()


# One per process: handlers share nothing else, but a draw is checked against the set, so a
# list left from another engine's set is just remade.
_KEPT = _Kept()


def draw_one(rng: RandomSource, members: set[bytes]) -> bytes:
    """A random member of a non-empty set."""
    if len(members) <= DIRECT_DRAW:
        return rng.choice(list(members))
    return _KEPT.pick(rng, members)


def draw_distinct(rng: RandomSource, members: set[bytes], count: int) -> list[bytes]:
    """`count` different random members, `count` less than the set's size."""
    if len(members) <= DIRECT_DRAW or count * 4 > len(members):
        # A partial shuffle of a copy: the copy costs O(size), at most 4 * count here.
        items = list(members)
        for i in range(count):
            j = rng.randrange(i, len(items))
            items[i], items[j] = items[j], items[i]
        return items[:count]
    chosen: dict[bytes, None] = {}
    while len(chosen) < count:  # at most a quarter of the set: few draws repeat
        chosen[_KEPT.pick(rng, members)] = None
    return list(chosen)


def draw_repeating(rng: RandomSource, members: set[bytes], count: int) -> list[bytes]:
    """`count` random members, each drawn independently (SRANDMEMBER's negative count)."""
    if len(members) <= DIRECT_DRAW:
        items = list(members)
        size = len(items)
        return [items[rng.randrange(size)] for _ in range(count)]
    return [_KEPT.pick(rng, members) for _ in range(count)]


# ------------------------------------------------------------------ set algebra


def _read_all(e: Engine, keys: Sequence[bytes]) -> list[set[bytes] | None]:
    """The sets at `keys`; WRONGTYPE if any holds another type, even after a missing one."""
    return [read_set(e, key) for key in keys]


def _inter(sets: list[set[bytes] | None]) -> set[bytes]:
    if any(not members for members in sets):
        return set()
    present = sorted((m for m in sets if m is not None), key=len)
    return present[0].intersection(*present[1:])


def _union(sets: list[set[bytes] | None]) -> set[bytes]:
    return set().union(*(members for members in sets if members))


def _diff(sets: list[set[bytes] | None]) -> set[bytes]:
    first = sets[0]
    if not first:
        return set()
    return first.difference(*(members for members in sets[1:] if members))


_Algebra = Callable[[list[set[bytes] | None]], set[bytes]]


def _combine(e: Engine, keys: Sequence[bytes], op: _Algebra) -> object:
    return SetReply(tuple(op(_read_all(e, keys))))


def _store(e: Engine, dst: bytes, keys: Sequence[bytes], op: _Algebra) -> object:
    """SINTERSTORE and friends: the result replaces `dst` (computed before, as `dst` may be
    a source); an empty result deletes it."""
    result = op(_read_all(e, keys))
    replaced = e.keyspace.contains(dst, e.now_ms)
    if not result:
        return Write(0, Delete((dst,))) if replaced else 0
    add = SetAdd(dst, tuple(result))
    mutation: Mutation = Batch((Delete((dst,)), add)) if replaced else add
    return Write(len(result), mutation)


@command(
    "sinter",
    -2,
    "readonly",
    group="set",
    keys=(1, -1, 1),
    summary="The members present in every given set",
    syntax="key [key ...]",
)
def sinter(e: Engine, s: Session, args: list[bytes]) -> object:
    return _combine(e, args[1:], _inter)


@command(
    "sunion",
    -2,
    "readonly",
    group="set",
    keys=(1, -1, 1),
    summary="The members present in any of the given sets",
    syntax="key [key ...]",
)
def sunion(e: Engine, s: Session, args: list[bytes]) -> object:
    return _combine(e, args[1:], _union)


@command(
    "sdiff",
    -2,
    "readonly",
    group="set",
    keys=(1, -1, 1),
    summary="The members of the first set that no other given set has",
    syntax="key [key ...]",
)
def sdiff(e: Engine, s: Session, args: list[bytes]) -> object:
    return _combine(e, args[1:], _diff)


@command(
    "sinterstore",
    -3,
    "write denyoom",
    group="set",
    keys=(1, -1, 1),
    summary="Store the intersection of sets in a key",
    syntax="destination key [key ...]",
)
def sinterstore(e: Engine, s: Session, args: list[bytes]) -> object:
    return _store(e, args[1], args[2:], _inter)


@command(
    "sunionstore",
    -3,
    "write denyoom",
    group="set",
    keys=(1, -1, 1),
    summary="Store the union of sets in a key",
    syntax="destination key [key ...]",
)
def sunionstore(e: Engine, s: Session, args: list[bytes]) -> object:
    return _store(e, args[1], args[2:], _union)


@command(
    "sdiffstore",
    -3,
    "write denyoom",
    group="set",
    keys=(1, -1, 1),
    summary="Store the difference of sets in a key",
    syntax="destination key [key ...]",
)
def sdiffstore(e: Engine, s: Session, args: list[bytes]) -> object:
    return _store(e, args[1], args[2:], _diff)


@command(
    "sintercard",
    -3,
    "readonly",
    group="set",
    since="7.0.0",
    keys=(0, 0, 0),  # the keys follow numkeys, as Redis reports (movablekeys)
    summary="The size of the intersection of sets, counting up to an optional limit",
    syntax="numkeys key [key ...] [LIMIT limit]",
)
def sintercard(e: Engine, s: Session, args: list[bytes]) -> object:
    numkeys, limit = _parse_sintercard(args)
    sets = _read_all(e, args[2 : 2 + numkeys])
    if any(not members for members in sets):
        return 0
    present = sorted((m for m in sets if m is not None), key=len)
    if not limit:
        return len(present[0].intersection(*present[1:]))
    smallest, others = present[0], present[1:]
    found = 0
    for member in smallest:
        if all(member in other for other in others):
            found += 1
            if found == limit:
                break
    return found


def _parse_sintercard(args: list[bytes]) -> tuple[int, int]:
    """numkeys and LIMIT (0: none), with Redis's messages, all before any key is read."""
    numkeys = _parse_or(args[1], "numkeys should be greater than 0")
    if numkeys < 1:
        raise CommandError("numkeys should be greater than 0")
    if numkeys > len(args) - 2:
        raise CommandError("Number of keys can't be greater than number of args")
    limit = 0
    i = 2 + numkeys
    while i < len(args):
        if args[i].upper() != b"LIMIT" or i + 1 >= len(args):
            raise SyntaxErr()
        limit = _parse_or(args[i + 1], "LIMIT can't be negative")
        if limit < 0:
            raise CommandError("LIMIT can't be negative")
        i += 2
    return numkeys, limit


def _parse_or(raw: bytes, message: str) -> int:
    try:
        return parse_int(raw)
    except NotInteger:
        raise CommandError(message) from None
