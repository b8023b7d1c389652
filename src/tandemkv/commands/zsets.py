"""Sorted-set commands: ZADD and friends, ranges by rank, score and lex, pops, set algebra.

Handlers read the SortedSet through typed.read_zset and return mutations: ZSetAdd with the
final score of every member they change, ZSetRemove with the members they remove (a pop
lists exactly what it took), and for the STORE forms a Batch that deletes the destination
and fills it again (or a Delete when the result is empty).

Scores are parsed the way Redis 7.0 parses them with strtod (hex, "inf", leading zeros...),
and rejected the way it rejects them: NaN always, and for a score (not a range bound) an
overflow or an underflow to zero. A stored -0 reads back as 0, as it does from the compact
encoding Redis keeps small sorted sets in.

Reply shapes follow Redis 7.0: WITHSCORES is a flat member, score list in RESP2 and a list
of [member, score] pairs in RESP3; scores are Python floats, which the encoder writes as
%.17g bulk strings in RESP2 and doubles in RESP3. ZSCAN answers scores as bulk strings in
both protocols, as Redis does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from tandemkv.commands.args import INT64_MAX, check_random_reply, parse_int
from tandemkv.commands.collection_scan import parse_scan_args, scan_elements
from tandemkv.commands.errors import CommandError, NotFloat, SyntaxErr, WrongType
from tandemkv.commands.random_picks import PICK_SLICE, picks_in_slices
from tandemkv.commands.table import Write, command
from tandemkv.commands.typed import read_zset
from tandemkv.protocol.types import NullArray
from tandemkv.storage.mutation import Batch, Delete, ZSetAdd, ZSetRemove
from tandemkv.storage.zset import LexBound, ScoreBound, SortedSet

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session

Pair = tuple[float, bytes]  # (score, member), the order SortedSet keeps

NOT_A_RANGE = "min or max is not a float"
NOT_A_LEX_RANGE = "min or max not valid string range item"
NAN_SCORE = "resulting score is not a number (NaN)"

# ------------------------------------------------------------------ score parsing

_DECIMAL = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_HEX = re.compile(rb"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?\d+)?")
_INFINITE = re.compile(rb"[+-]?(inf|infinity)", re.IGNORECASE)
_NAN = re.compile(rb"[+-]?nan(\([0-9A-Za-z_]*\))?", re.IGNORECASE)
_C_SPACE = b" \t\n\v\f\r"


def _strtod(text: bytes) -> tuple[float, bool] | None:
    """What C's strtod makes of the whole of `text`: (value, out of range), or None if
    it does not consume all of it. Out of range is ERANGE for an overflow to infinity or
    an underflow to zero (the cases Redis refuses for a score)."""
    body = text.lstrip(_C_SPACE)
    if not body:
        return (0.0, False) if not text else None  # "" converts nothing and ends at once
    if _INFINITE.fullmatch(body):
        return (-math.inf if body[:1] == b"-" else math.inf), False
    if _NAN.fullmatch(body):
        return math.nan, False
    if _DECIMAL.fullmatch(body):
        value = float(body)
        mantissa = body.lstrip(b"+-").split(b"e")[0].split(b"E")[0]
    elif match := _HEX.fullmatch(body):
        mantissa = match.group(1)
        try:
            value = float.fromhex(body.decode())
        except OverflowError:
            return (-math.inf if body[:1] == b"-" else math.inf), True
    else:
        return None
    overflow = math.isinf(value)
    underflow = value == 0 and mantissa.strip(b"0.") != b""
    return value, overflow or underflow


def parse_score(raw: bytes, error: str | None = None) -> float:
    """A score, increment or weight as Redis's getDoubleFromObject reads it."""
    digits = raw[1:] if raw[:1] == b"-" else raw
    if 0 < len(digits) < 300 and digits.replace(b".", b"", 1).isdigit():
        # The common score, plain decimal digits: nothing for strtod to refuse (too few
        # digits to overflow or underflow), and float() reads it the same.
        return float(raw)
    parsed = _strtod(raw) if raw and raw[:1] not in _C_SPACE else None
    if parsed is None or parsed[1] or math.isnan(parsed[0]):
        raise CommandError(error) if error else NotFloat()
    return parsed[0]


def _score_bound(raw: bytes) -> ScoreBound:
    """One end of a score range: "1.5", "(1.5" (exclusive), "-inf", "+inf"..."""
    exclusive = raw[:1] == b"("
    parsed = _strtod(raw[1:] if exclusive else raw)
    if parsed is None or math.isnan(parsed[0]):
        raise CommandError(NOT_A_RANGE)
    return parsed[0], exclusive


def parse_score_range(low: bytes, high: bytes) -> tuple[ScoreBound, ScoreBound]:
    return _score_bound(low), _score_bound(high)


def _lex_bound(raw: bytes) -> LexBound:
    """One end of a lex range: "-" and "+" (the ends), "[member" or "(member" (exclusive)."""
    if raw == b"-":
        return None, False, -1
    if raw == b"+":
        return None, False, 1
    if raw[:1] == b"[":
        return raw[1:], False, 0
    if raw[:1] == b"(":
        return raw[1:], True, 0
    raise CommandError(NOT_A_LEX_RANGE)


def parse_lex_range(low: bytes, high: bytes) -> tuple[LexBound, LexBound]:
    return _lex_bound(low), _lex_bound(high)


def _stored(score: float) -> float:
    """The score as kept: -0 becomes 0, as in Redis's compact encoding."""
    return score + 0.0


# ------------------------------------------------------------------------ replies


def scored_reply(pairs: Iterable[Pair], withscores: bool, resp: int) -> list[object]:
    """Members, or (WITHSCORES) member, score flat in RESP2 and as pairs in RESP3."""
    if not withscores:
        return [member for _, member in pairs]
    if resp >= 3:
        return [[member, score] for score, member in pairs]
    flat: list[object] = []
    for score, member in pairs:
        flat.append(member)
        flat.append(score)
    return flat


def _store(e: Engine, dst: bytes, pairs: Sequence[Pair]) -> object:
    """Replace `dst` with a sorted set of `pairs` (deleting it if there are none)."""
    if not pairs:
        if e.keyspace.contains(dst, e.now_ms):
            return Write(0, Delete((dst,)))
        return 0
    scores = tuple(_stored(score) for score, _ in pairs)
    members = tuple(member for _, member in pairs)
    return Write(len(pairs), Batch((Delete((dst,)), ZSetAdd(dst, scores, members))))


# ----------------------------------------------------------------------- ZADD


@dataclass(slots=True)
class AddFlags:
    nx: bool = False
    xx: bool = False
    gt: bool = False
    lt: bool = False
    ch: bool = False
    incr: bool = False


_ADD_FLAGS = {b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"}


def _parse_add(args: list[bytes]) -> tuple[AddFlags, list[tuple[float, bytes]]]:
    """ZADD's flags and (score, member) pairs, checked in Redis's order."""
    flags = AddFlags()
    i = 2
    while i < len(args) and (word := args[i].upper()) in _ADD_FLAGS:
        flags.nx |= word == b"NX"
        flags.xx |= word == b"XX"
        flags.gt |= word == b"GT"
        flags.lt |= word == b"LT"
        flags.ch |= word == b"CH"
        flags.incr |= word == b"INCR"
        i += 1
    rest = args[i:]
    if not rest or len(rest) % 2:
        raise SyntaxErr()
    if flags.nx and flags.xx:
        raise CommandError("XX and NX options at the same time are not compatible")
    if ((flags.gt or flags.lt) and flags.nx) or (flags.gt and flags.lt):
        raise CommandError("GT, LT, and/or NX options at the same time are not compatible")
    if flags.incr and len(rest) > 2:
        raise CommandError("INCR option supports a single increment-element pair")
    scores = [parse_score(raw) for raw in rest[0::2]]
    return flags, list(zip(scores, rest[1::2], strict=True))


def _add(e: Engine, key: bytes, flags: AddFlags, pairs: list[tuple[float, bytes]]) -> object:
    """Apply ZADD's rules pair by pair (a member may appear twice) to a staged copy of
    the scores it touches; the mutation carries the final score of each changed member."""
    zset = read_zset(e, key)
    current = zset.scores if zset is not None else {}
    staged: dict[bytes, float] = {}
    added = updated = 0
    result: float | None = None
    for score, member in pairs:
        old = staged[member] if member in staged else current.get(member)
        if old is None:
            if flags.xx:
                continue
            staged[member] = _stored(score)
            added += 1
            result = score
            continue
        if flags.nx:
            continue
        new = old + score if flags.incr else score
        if math.isnan(new):
            raise CommandError(NAN_SCORE)
        if (flags.gt and new <= old) or (flags.lt and new >= old):
            continue
        result = new
        if new != old:
            staged[member] = _stored(new)
            updated += 1
    reply: object = result if flags.incr else added + (updated if flags.ch else 0)
    if not staged:
        return reply
    return Write(reply, ZSetAdd(key, tuple(staged.values()), tuple(staged)))


@command(
    "zadd",
    -4,
    "write denyoom fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="1.2.0",
    summary="Add one or more members to a sorted set, or update its score if it already exists",
    syntax="key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]",
)
def zadd(e: Engine, s: Session, args: list[bytes]) -> object:
    flags, pairs = _parse_add(args)
    return _add(e, args[1], flags, pairs)


@command(
    "zincrby",
    4,
    "write denyoom fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="1.2.0",
    summary="Increment the score of a member in a sorted set",
    syntax="key increment member",
)
def zincrby(e: Engine, s: Session, args: list[bytes]) -> object:
    return _add(e, args[1], AddFlags(incr=True), [(parse_score(args[2]), args[3])])


@command(
    "zrem",
    -3,
    "write fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="1.2.0",
    summary="Remove one or more members from a sorted set",
    syntax="key member [member ...]",
)
def zrem(e: Engine, s: Session, args: list[bytes]) -> object:
    zset = read_zset(e, args[1])
    if zset is None:
        return 0
    scores = zset.scores
    gone = tuple(dict.fromkeys(m for m in args[2:] if m in scores))
    return Write(len(gone), _removal(args[1], zset, gone)) if gone else 0


# ---------------------------------------------------------------- point reads


@command(
    "zcard",
    2,
    "readonly fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="1.2.0",
    summary="Get the number of members in a sorted set",
    syntax="key",
)
def zcard(e: Engine, s: Session, args: list[bytes]) -> object:
    zset = read_zset(e, args[1])
    return len(zset) if zset is not None else 0


@command(
    "zscore",
    3,
    "readonly fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="1.2.0",
    summary="Get the score associated with the given member in a sorted set",
    syntax="key member",
)
def zscore(e: Engine, s: Session, args: list[bytes]) -> object:
    zset = read_zset(e, args[1])
    return zset.scores.get(args[2]) if zset is not None else None


@command(
    "zmscore",
    -3,
    "readonly fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="6.2.0",
    summary="Get the score associated with the given members in a sorted set",
    syntax="key member [member ...]",
)
def zmscore(e: Engine, s: Session, args: list[bytes]) -> object:
    zset = read_zset(e, args[1])
    scores = zset.scores if zset is not None else {}
    return [scores.get(member) for member in args[2:]]


def _rank(e: Engine, args: list[bytes], reverse: bool) -> object:
    zset = read_zset(e, args[1])
    if zset is None:
        return None
    rank = zset.rank(args[2])
    if rank is None:
        return None
    return len(zset) - 1 - rank if reverse else rank


@command(
    "zrank",
    3,
    "readonly fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Determine the index of a member in a sorted set",
    syntax="key member",
)
def zrank(e: Engine, s: Session, args: list[bytes]) -> object:
    return _rank(e, args, reverse=False)


@command(
    "zrevrank",
    3,
    "readonly fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Determine the index of a member in a sorted set, with scores ordered from high to low",
    syntax="key member",
)
def zrevrank(e: Engine, s: Session, args: list[bytes]) -> object:
    return _rank(e, args, reverse=True)


@command(
    "zcount",
    4,
    "readonly fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Count the members in a sorted set with scores within the given values",
    syntax="key min max",
)
def zcount(e: Engine, s: Session, args: list[bytes]) -> object:
    low, high = parse_score_range(args[2], args[3])
    zset = read_zset(e, args[1])
    if zset is None:
        return 0
    first, end = zset.score_bounds(low, high)
    return end - first


@command(
    "zlexcount",
    4,
    "readonly fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.8.9",
    summary="Count the number of members in a sorted set between a given lexicographical range",
    syntax="key min max",
)
def zlexcount(e: Engine, s: Session, args: list[bytes]) -> object:
    low, high = parse_lex_range(args[2], args[3])
    zset = read_zset(e, args[1])
    if zset is None:
        return 0
    first, end = zset.lex_bounds(low, high)
    return end - first


# --------------------------------------------------------------------- ranges


@dataclass(slots=True)
class RangeSpec:
    """A parsed ZRANGE-family request: what to select and how to answer."""

    by: str  # "rank", "score" or "lex"
    reverse: bool
    withscores: bool
    offset: int = 0
    limit: int = -1  # negative: no limit
    start: int = 0  # by rank
    stop: int = 0
    scores: tuple[ScoreBound, ScoreBound] | None = None  # by score: (low, high)
    lex: tuple[LexBound, LexBound] | None = None  # by lex: (low, high)


def parse_range(
    args: list[bytes], at: int, store: bool, by: str | None, reverse: bool | None
) -> RangeSpec:
    """`<min> <max> [BYSCORE|BYLEX] [REV] [WITHSCORES] [LIMIT offset count]` from args[at]
    (the key's position plus one). `by` and `reverse` are fixed by the older commands
    (ZRANGEBYSCORE...), None where the options may choose them (ZRANGE, ZRANGESTORE);
    an option the command has fixed already is a syntax error, as in Redis."""
    withscores, offset, limit = False, 0, -1
    i = at + 2
    while i < len(args):
        word = args[i].upper()
        if word == b"WITHSCORES" and not store:
            withscores = True
        elif word == b"LIMIT" and len(args) - i - 1 >= 2:
            offset, limit = parse_int(args[i + 1]), parse_int(args[i + 2])
            i += 2
        elif word == b"REV" and reverse is None:
            reverse = True
        elif word in (b"BYSCORE", b"BYLEX") and by is None:
            by = "score" if word == b"BYSCORE" else "lex"
        else:
            raise SyntaxErr()
        i += 1
    by = by or "rank"
    reverse = bool(reverse)
    if limit != -1 and by == "rank":
        raise CommandError(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    if withscores and by == "lex":
        raise CommandError("syntax error, WITHSCORES not supported in combination with BYLEX")
    spec = RangeSpec(by, reverse, withscores, offset, limit)
    low, high = args[at], args[at + 1]
    if reverse and by != "rank":
        low, high = high, low  # given as max, min
    if by == "rank":
        spec.start, spec.stop = parse_int(low), parse_int(high)
    elif by == "score":
        spec.scores = parse_score_range(low, high)
    else:
        spec.lex = parse_lex_range(low, high)
    return spec


def select_range(zset: SortedSet, spec: RangeSpec) -> list[Pair]:
    """The pairs `spec` selects, in reply order (O(log n) plus what is returned)."""
    size = len(zset)
    if spec.by == "rank":
        start, stop = _clamp_ranks(spec.start, spec.stop, size)
        if start > stop:
            return []
        if spec.reverse:
            return list(zset.pairs(size - 1 - stop, size - start, reverse=True))
        return list(zset.pairs(start, stop + 1))
    if spec.scores is not None:
        first, end = zset.score_bounds(*spec.scores)
    else:
        assert spec.lex is not None
        first, end = zset.lex_bounds(*spec.lex)
    available = end - first - spec.offset
    if spec.offset < 0 or available <= 0:
        return []
    taken = available if spec.limit < 0 else min(spec.limit, available)
    if spec.reverse:
        return list(zset.pairs(end - spec.offset - taken, end - spec.offset, reverse=True))
    return list(zset.pairs(first + spec.offset, first + spec.offset + taken))


def _clamp_ranks(start: int, stop: int, size: int) -> tuple[int, int]:
    """Redis's rank arithmetic: negatives count from the end; an empty range has
    start > stop."""
    if start < 0:
        start += size
    if stop < 0:
        stop += size
    start = max(start, 0)
    if start > stop or start >= size:
        return 1, 0
    return start, min(stop, size - 1)


def _range_command(
    e: Engine, s: Session, args: list[bytes], by: str | None, reverse: bool | None
) -> object:
    spec = parse_range(args, 2, False, by, reverse)
    zset = read_zset(e, args[1])
    if zset is None:
        return []
    return scored_reply(select_range(zset, spec), spec.withscores, s.resp)


@command(
    "zrange",
    -4,
    "readonly",
    group="sorted_set",
    keys=(1, 1, 1),
    since="1.2.0",
    summary="Return a range of members in a sorted set",
    syntax="key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]",
)
def zrange(e: Engine, s: Session, args: list[bytes]) -> object:
    return _range_command(e, s, args, None, None)


@command(
    "zrevrange",
    -4,
    "readonly",
    group="sorted_set",
    keys=(1, 1, 1),
    since="1.2.0",
    summary="Return a range of members in a sorted set, by index, with scores ordered from "
    "high to low",
    syntax="key start stop [WITHSCORES]",
)
def zrevrange(e: Engine, s: Session, args: list[bytes]) -> object:
    return _range_command(e, s, args, "rank", True)


@command(
    "zrangebyscore",
    -4,
    "readonly",
    group="sorted_set",
    keys=(1, 1, 1),
    since="1.0.5",
    summary="Return a range of members in a sorted set, by score",
    syntax="key min max [WITHSCORES] [LIMIT offset count]",
)
def zrangebyscore(e: Engine, s: Session, args: list[bytes]) -> object:
    return _range_command(e, s, args, "score", False)


@command(
    "zrevrangebyscore",
    -4,
    "readonly",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.2.0",
    summary="Return a range of members in a sorted set, by score, with scores ordered from "
    "high to low",
    syntax="key max min [WITHSCORES] [LIMIT offset count]",
)
def zrevrangebyscore(e: Engine, s: Session, args: list[bytes]) -> object:
    return _range_command(e, s, args, "score", True)


@command(
    "zrangebylex",
    -4,
    "readonly",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.8.9",
    summary="Return a range of members in a sorted set, by lexicographical range",
    syntax="key min max [LIMIT offset count]",
)
def zrangebylex(e: Engine, s: Session, args: list[bytes]) -> object:
    return _range_command(e, s, args, "lex", False)


@command(
    "zrevrangebylex",
    -4,
    "readonly",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.8.9",
    summary="Return a range of members in a sorted set, by lexicographical range, ordered "
    "from higher to lower strings.",
    syntax="key max min [LIMIT offset count]",
)
def zrevrangebylex(e: Engine, s: Session, args: list[bytes]) -> object:
    return _range_command(e, s, args, "lex", True)


@command(
    "zrangestore",
    -5,
    "write denyoom",
    group="sorted_set",
    keys=(1, 2, 1),
    since="6.2.0",
    summary="Store a range of members from sorted set into another key",
    syntax="dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]",
)
def zrangestore(e: Engine, s: Session, args: list[bytes]) -> object:
    spec = parse_range(args, 3, True, None, None)
    zset = read_zset(e, args[2])
    pairs = select_range(zset, spec) if zset is not None else []
    return _store(e, args[1], pairs)


# ------------------------------------------------------------- range removals


def _remove_ranks(e: Engine, key: bytes, first: int, end: int) -> object:
    """Remove the members of ranks [first, end) of the set at `key`."""
    zset = read_zset(e, key)
    if zset is None or first >= end:
        return 0
    gone = tuple(member for _, member in zset.pairs(first, end))
    return Write(len(gone), _removal(key, zset, gone))


@command(
    "zremrangebyrank",
    4,
    "write",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Remove all members in a sorted set within the given indexes",
    syntax="key start stop",
)
def zremrangebyrank(e: Engine, s: Session, args: list[bytes]) -> object:
    start, stop = parse_int(args[2]), parse_int(args[3])
    zset = read_zset(e, args[1])
    if zset is None:
        return 0
    start, stop = _clamp_ranks(start, stop, len(zset))
    return _remove_ranks(e, args[1], start, stop + 1)


@command(
    "zremrangebyscore",
    4,
    "write",
    group="sorted_set",
    keys=(1, 1, 1),
    since="1.2.0",
    summary="Remove all members in a sorted set within the given scores",
    syntax="key min max",
)
def zremrangebyscore(e: Engine, s: Session, args: list[bytes]) -> object:
    low, high = parse_score_range(args[2], args[3])
    zset = read_zset(e, args[1])
    if zset is None:
        return 0
    return _remove_ranks(e, args[1], *zset.score_bounds(low, high))


@command(
    "zremrangebylex",
    4,
    "write",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.8.9",
    summary="Remove all members in a sorted set between the given lexicographical range",
    syntax="key min max",
)
def zremrangebylex(e: Engine, s: Session, args: list[bytes]) -> object:
    low, high = parse_lex_range(args[2], args[3])
    zset = read_zset(e, args[1])
    if zset is None:
        return 0
    return _remove_ranks(e, args[1], *zset.lex_bounds(low, high))


# ----------------------------------------------------------------------- pops


class Popped(NamedTuple):
    """What a pop took, in reply order as (score, member), and the mutation removing it."""

    pairs: list[Pair]
    mutation: ZSetRemove | Delete


def pop_extremes(key: bytes, zset: SortedSet, count: int, highest: bool) -> Popped:
    """Take up to `count` members from the low end (or the high end) of a non-empty set:
    the pop shared by ZPOPMIN, ZPOPMAX, ZMPOP and their blocking forms."""
    size = len(zset)
    taken = min(count, size)
    if highest:
        pairs = list(zset.pairs(size - taken, size, reverse=True))
    else:
        pairs = list(zset.pairs(0, taken))
    return Popped(pairs, _removal(key, zset, tuple(member for _, member in pairs)))


def _removal(key: bytes, zset: SortedSet, gone: tuple[bytes, ...]) -> ZSetRemove | Delete:
    """The mutation removing `gone` (distinct members of `zset`): the whole key when that is
    all of them, which the keyspace drops at once where it would take the members out one
    at a time (100k members: about 0.3 s of the pure build, found by the fuzzer)."""
    return Delete((key,)) if len(gone) == len(zset) else ZSetRemove(key, gone)


def nested_pairs(pairs: Iterable[Pair]) -> list[object]:
    """[[member, score], ...]: ZMPOP's shape in both protocols."""
    return [[member, score] for score, member in pairs]


def _pop_command(e: Engine, s: Session, args: list[bytes], highest: bool) -> object:
    if len(args) > 3:
        raise SyntaxErr()
    count = (
        _non_negative(args[2], "value is out of range, must be positive")
        if len(args) == 3
        else None
    )
    zset = read_zset(e, args[1])
    if zset is None or count == 0:
        return []
    popped = pop_extremes(args[1], zset, count or 1, highest)
    # A count asks for pairs: nested in RESP3. Without one the reply is one flat pair.
    reply = scored_reply(popped.pairs, True, s.resp if count is not None else 2)
    return Write(reply, popped.mutation)


def _non_negative(raw: bytes, error: str) -> int:
    """A count of 0 or more; anything else (even a non-number) answers `error`."""
    try:
        value = parse_int(raw)
    except CommandError:
        value = -1
    if value < 0:
        raise CommandError(error)
    return value


def _positive(raw: bytes, error: str) -> int:
    value = _non_negative(raw, error)
    if value == 0:
        raise CommandError(error)
    return value


@command(
    "zpopmin",
    -2,
    "write fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="5.0.0",
    summary="Remove and return members with the lowest scores in a sorted set",
    syntax="key [count]",
)
def zpopmin(e: Engine, s: Session, args: list[bytes]) -> object:
    return _pop_command(e, s, args, highest=False)


@command(
    "zpopmax",
    -2,
    "write fast",
    group="sorted_set",
    keys=(1, 1, 1),
    since="5.0.0",
    summary="Remove and return members with the highest scores in a sorted set",
    syntax="key [count]",
)
def zpopmax(e: Engine, s: Session, args: list[bytes]) -> object:
    return _pop_command(e, s, args, highest=True)


class MultiPop(NamedTuple):
    keys: list[bytes]
    highest: bool
    amount: int


def parse_mpop(args: list[bytes], at: int) -> MultiPop:
    """`numkeys key [key ...] MIN|MAX [COUNT count]` from args[at] (ZMPOP: 1, BZMPOP: 2)."""
    numkeys = _positive(args[at], "numkeys should be greater than 0")
    where = at + numkeys + 1
    if where >= len(args):
        raise SyntaxErr()
    side = args[where].upper()
    if side not in (b"MIN", b"MAX"):
        raise SyntaxErr()
    count: int | None = None
    i = where + 1
    while i < len(args):
        if count is None and args[i].upper() == b"COUNT" and i + 1 < len(args):
            count = _positive(args[i + 1], "count should be greater than 0")
            i += 2
        else:
            raise SyntaxErr()
    return MultiPop(args[at + 1 : where], side == b"MAX", count or 1)


def first_nonempty(e: Engine, keys: Iterable[bytes]) -> tuple[bytes, SortedSet] | None:
    """The first of `keys` that exists (WRONGTYPE if that one is not a sorted set)."""
    for key in keys:
        zset = read_zset(e, key)
        if zset is not None:
            return key, zset
    return None


@command(
    "zmpop",
    -4,
    "write",
    group="sorted_set",
    keys=(0, 0, 0),
    since="7.0.0",
    summary="Remove and return members with scores in a sorted set",
    syntax="numkeys key [key ...] MIN|MAX [COUNT count]",
)
def zmpop(e: Engine, s: Session, args: list[bytes]) -> object:
    request = parse_mpop(args, 1)
    found = first_nonempty(e, request.keys)
    if found is None:
        return NullArray
    key, zset = found
    popped = pop_extremes(key, zset, request.amount, request.highest)
    return Write([key, nested_pairs(popped.pairs)], popped.mutation)


# ---------------------------------------------------------------- set algebra

Source = SortedSet | set[bytes] | None  # a plain set counts each member with score 1


@dataclass(slots=True)
class SetOp:
    """ZUNION/ZINTER/ZDIFF's inputs (with their weights) and options."""

    sources: list[Source]
    weights: list[float]
    aggregate: bytes = b"SUM"
    withscores: bool = False
    limit: int = 0  # ZINTERCARD: stop counting there; 0 counts all


def parse_set_op(
    e: Engine, args: list[bytes], at: int, op: str, store: bool, card: bool = False
) -> SetOp:
    """`numkeys key [key ...]` from args[at], then the options `op` allows. The keys are
    read (and type-checked) before the options are parsed, as Redis does."""
    numkeys = parse_int(args[at])
    if numkeys < 1:
        name = args[0].decode(errors="replace").lower()
        raise CommandError(f"at least 1 input key is needed for '{name}' command")
    if numkeys > len(args) - at - 1:
        raise SyntaxErr()
    sources = [_read_source(e, key) for key in args[at + 1 : at + 1 + numkeys]]
    spec = SetOp(sources, [1.0] * numkeys)
    algebra = op != "diff" and not card
    i = at + 1 + numkeys
    while i < len(args):
        word, remaining = args[i].upper(), len(args) - i
        if algebra and word == b"WEIGHTS" and remaining > numkeys:
            weights = args[i + 1 : i + 1 + numkeys]
            spec.weights = [parse_score(w, "weight value is not a float") for w in weights]
            i += 1 + numkeys
        elif algebra and word == b"AGGREGATE" and remaining >= 2:
            spec.aggregate = args[i + 1].upper()
            if spec.aggregate not in (b"SUM", b"MIN", b"MAX"):
                raise SyntaxErr()
            i += 2
        elif word == b"WITHSCORES" and not store and not card:
            spec.withscores = True
            i += 1
        elif card and word == b"LIMIT" and remaining >= 2:
            spec.limit = _non_negative(args[i + 1], "LIMIT can't be negative")
            i += 2
        else:
            raise SyntaxErr()
    return spec


def _read_source(e: Engine, key: bytes) -> Source:
    value = e.keyspace.get(key, e.now_ms)
    if value is None or type(value) is SortedSet or type(value) is set:
        return value
    raise WrongType()


def _scored(source: Source) -> Iterable[tuple[bytes, float]]:
    if source is None:
        return ()
    if isinstance(source, SortedSet):
        return source.scores.items()
    return ((member, 1.0) for member in source)


def _score_in(source: Source, member: bytes) -> float | None:
    if isinstance(source, SortedSet):
        return source.scores.get(member)
    return 1.0 if source is not None and member in source else None


def _combine(how: bytes, target: float, value: float) -> float:
    if how == b"SUM":
        total = target + value
        return 0.0 if math.isnan(total) else total  # inf + -inf counts as 0, as in Redis
    if how == b"MIN":
        return value if value < target else target
    return value if value > target else target


def _weighted(weight: float, score: float) -> float:
    value = weight * score
    return 0.0 if math.isnan(value) else value  # 0 * inf


def _by_size(spec: SetOp) -> list[tuple[Source, float]]:
    """Inputs smallest first (stable), the order Redis combines them in: it decides which
    set an intersection walks and the order of the floating-point sums."""
    pairs = list(zip(spec.sources, spec.weights, strict=True))
    return sorted(pairs, key=lambda pair: len(pair[0]) if pair[0] is not None else 0)


def union(spec: SetOp) -> dict[bytes, float]:
    totals: dict[bytes, float] = {}
    for source, weight in _by_size(spec):
        for member, score in _scored(source):
            value = _weighted(weight, score)
            old = totals.get(member)
            totals[member] = value if old is None else _combine(spec.aggregate, old, value)
    return totals


def intersection(spec: SetOp, limit: int = 0) -> dict[bytes, float]:
    """Members in every input with their combined scores (the first `limit` found)."""
    ordered = _by_size(spec)
    (smallest, first_weight), others = ordered[0], ordered[1:]
    found: dict[bytes, float] = {}
    for member, score in _scored(smallest):
        total = _weighted(first_weight, score)
        for source, weight in others:
            other = _score_in(source, member)
            if other is None:
                break
            total = _combine(spec.aggregate, total, other * weight)
        else:
            found[member] = total
            if limit and len(found) >= limit:
                break
    return found


def difference(spec: SetOp) -> dict[bytes, float]:
    first, others = spec.sources[0], spec.sources[1:]
    if any(other is first for other in others):
        return {}  # the first set named again: nothing survives
    return {
        member: score
        for member, score in _scored(first)
        if all(_score_in(other, member) is None for other in others)
    }


_OPERATIONS = {"union": union, "inter": intersection, "diff": difference}


def _combined(spec: SetOp, op: str) -> list[Pair]:
    found = _OPERATIONS[op](spec)
    return sorted((score, member) for member, score in found.items())


def _set_op_command(e: Engine, s: Session, args: list[bytes], op: str) -> object:
    spec = parse_set_op(e, args, 1, op, store=False)
    return scored_reply(_combined(spec, op), spec.withscores, s.resp)


def _set_op_store(e: Engine, args: list[bytes], op: str) -> object:
    spec = parse_set_op(e, args, 2, op, store=True)
    return _store(e, args[1], _combined(spec, op))


_ALGEBRA_SYNTAX = "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]"


@command(
    "zunion",
    -3,
    "readonly",
    group="sorted_set",
    since="6.2.0",
    summary="Add multiple sorted sets",
    syntax=_ALGEBRA_SYNTAX + " [WITHSCORES]",
)
def zunion(e: Engine, s: Session, args: list[bytes]) -> object:
    return _set_op_command(e, s, args, "union")


@command(
    "zinter",
    -3,
    "readonly",
    group="sorted_set",
    since="6.2.0",
    summary="Intersect multiple sorted sets",
    syntax=_ALGEBRA_SYNTAX + " [WITHSCORES]",
)
def zinter(e: Engine, s: Session, args: list[bytes]) -> object:
    return _set_op_command(e, s, args, "inter")


@command(
    "zdiff",
    -3,
    "readonly",
    group="sorted_set",
    since="6.2.0",
    summary="Subtract multiple sorted sets",
    syntax="numkeys key [key ...] [WITHSCORES]",
)
def zdiff(e: Engine, s: Session, args: list[bytes]) -> object:
    return _set_op_command(e, s, args, "diff")


@command(
    "zunionstore",
    -4,
    "write denyoom",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Add multiple sorted sets and store the resulting sorted set in a new key",
    syntax="destination " + _ALGEBRA_SYNTAX,
)
def zunionstore(e: Engine, s: Session, args: list[bytes]) -> object:
    return _set_op_store(e, args, "union")


@command(
    "zinterstore",
    -4,
    "write denyoom",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.0.0",
    summary="Intersect multiple sorted sets and store the resulting sorted set in a new key",
    syntax="destination " + _ALGEBRA_SYNTAX,
)
def zinterstore(e: Engine, s: Session, args: list[bytes]) -> object:
    return _set_op_store(e, args, "inter")


@command(
    "zdiffstore",
    -4,
    "write denyoom",
    group="sorted_set",
    keys=(1, 1, 1),
    since="6.2.0",
    summary="Subtract multiple sorted sets and store the resulting sorted set in a new key",
    syntax="destination numkeys key [key ...]",
)
def zdiffstore(e: Engine, s: Session, args: list[bytes]) -> object:
    return _set_op_store(e, args, "diff")


@command(
    "zintercard",
    -3,
    "readonly",
    group="sorted_set",
    since="7.0.0",
    summary="Intersect multiple sorted sets and return the cardinality of the result",
    syntax="numkeys key [key ...] [LIMIT limit]",
)
def zintercard(e: Engine, s: Session, args: list[bytes]) -> object:
    spec = parse_set_op(e, args, 1, "inter", store=False, card=True)
    return len(intersection(spec, spec.limit))


# ----------------------------------------------------------- scan and random


@command(
    "zscan",
    -3,
    "readonly",
    group="sorted_set",
    keys=(1, 1, 1),
    since="2.8.0",
    summary="Incrementally iterate sorted sets elements and associated scores",
    syntax="key cursor [MATCH pattern] [COUNT count]",
)
def zscan(e: Engine, s: Session, args: list[bytes]) -> object:
    parse_scan_args(args[:3])  # a bad cursor is reported before the key is looked at
    zset = read_zset(e, args[1])
    if zset is None:
        return [b"0", []]
    scan = parse_scan_args(args)
    scores = zset.scores
    # Lowest score first, the order Redis walks a small sorted set in.
    members = (member for _, member in zset.order)
    cursor, names = scan_elements(e, scan, len(zset), members, scores.__contains__)
    flat: list[object] = []
    for name in names:
        flat.append(name)
        flat.append(b"%.17g" % scores[name])
    return [cursor, flat]


_COUNT_RANGE = f"value is out of range, value must between {-INT64_MAX} and {INT64_MAX}"
# How much bigger than the count a set must be for random picks (rather than a shuffle of
# the whole set) to find distinct members quickly: Redis's own threshold.
_SPARSE_FACTOR = 3


@command(
    "zrandmember",
    -2,
    "readonly",
    group="sorted_set",
    keys=(1, 1, 1),
    since="6.2.0",
    summary="Get one or multiple random elements from a sorted set",
    syntax="key [count [WITHSCORES]]",
)
def zrandmember(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) == 2:
        zset = read_zset(e, args[1])
        if zset is None:
            return None
        return zset.at(e.random.randrange(len(zset)))[1]
    count = parse_int(args[2])
    if count < -INT64_MAX:
        raise CommandError(_COUNT_RANGE)
    if len(args) > 4 or (len(args) == 4 and args[3].upper() != b"WITHSCORES"):
        raise SyntaxErr()
    withscores = len(args) == 4
    if withscores and count < -(INT64_MAX // 2):
        raise CommandError("value is out of range")  # the reply would be too long to count
    check_random_reply(count)
    zset = read_zset(e, args[1])
    if zset is None or count == 0:
        return []
    if count < -PICK_SLICE:
        pairs, below = list(zset.order), e.random.randrange
        size = len(pairs)

        def draw(n: int) -> list[object]:
            return scored_reply([pairs[below(size)] for _ in range(n)], withscores, s.resp)

        return picks_in_slices(e, s, draw, -count)
    return scored_reply(random_pairs(e, zset, count), withscores, s.resp)


def random_pairs(e: Engine, zset: SortedSet, count: int) -> list[Pair]:
    """ZRANDMEMBER's picks: `count` > 0 distinct members, < 0 that many with repeats."""
    size = len(zset)
    if count < 0:
        return [zset.at(e.random.randrange(size)) for _ in range(-count)]
    if count >= size:
        return list(zset.pairs(0, size, reverse=True))  # the whole set, highest first
    if count * _SPARSE_FACTOR > size:
        # Most of the set: shuffle the first `count` places of a list of all ranks.
        ranks = list(range(size))
        for i in range(count):
            j = e.random.randrange(i, size)
            ranks[i], ranks[j] = ranks[j], ranks[i]
        return [zset.at(rank) for rank in ranks[:count]]
    picked: dict[int, None] = {}
    while len(picked) < count:
        picked[e.random.randrange(size)] = None
    return [zset.at(rank) for rank in picked]
