"""Stream commands: XADD XRANGE XREVRANGE XLEN XDEL XTRIM XREAD XSETID.

A stream is a storage/stream.py Stream. Handlers read it through typed.py and return
StreamAdd / StreamDelete / StreamTrim / StreamSetId mutations: XADD with `*` logs the id it
made from `e.now_ms`, trimming logs the last id it removed. A stream left empty stays.

Ids are parsed as Redis 7.0 parses them, C string functions included: an argument is read
up to its first NUL byte, and a number that fails the strict integer parser gets a second
chance through strtoull, which allows leading spaces, a sign and leading zeros.

Approximate trimming (`~`) is exact here, capped by LIMIT (10000 when not given, Redis's
default for 100-entry nodes): Redis removes only whole radix-tree nodes, whose boundaries
depend on its memory layout, so it keeps "at least" the threshold; we keep exactly it.

XREAD BLOCK with nothing to read waits (commands/waiters.py); `serve_xread` answers it
once an XADD feeds one of its streams.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from tandemkv.commands.args import parse_int
from tandemkv.commands.blocking import wait_or_answer
from tandemkv.commands.errors import CommandError, NotInteger, SyntaxErr, wrong_arity
from tandemkv.commands.table import Write, command
from tandemkv.commands.typed import read_stream
from tandemkv.protocol.types import OK, NullArray
from tandemkv.storage.mutation import (
    Batch,
    StreamAdd,
    StreamDelete,
    StreamSetId,
    StreamTrim,
)
from tandemkv.storage.stream import (
    MAX_ID,
    MIN_ID,
    U64_MAX,
    Fields,
    Stream,
    StreamId,
    format_id,
    next_id,
    previous_id,
)

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session

INVALID_ID = "Invalid stream ID specified as stream command argument"
_LLONG_MAX = 2**63 - 1
_APPROX_LIMIT = 100 * 100  # Redis: 100 * stream-node-max-entries (100 by default)
_STRICT_INT = re.compile(rb"-?[1-9][0-9]*|0")
_STRTOULL = re.compile(rb"[ \t\n\v\f\r]*([+-]?)([0-9]+)")


# ---------------------------------------------------------------------- ids


def _cstr(raw: bytes) -> bytes:
    """What C string functions see of an argument: up to its first NUL."""
    nul = raw.find(b"\0")
    return raw if nul < 0 else raw[:nul]


def _parse_u64(text: bytes) -> int | None:
    """An unsigned 64-bit number as Redis's string2ull reads it, or None."""
    if _STRICT_INT.fullmatch(text):
        value = int(text)
        if -_LLONG_MAX - 1 <= value <= _LLONG_MAX:
            return value if value >= 0 else None
    loose = _STRTOULL.fullmatch(text)
    if loose is None:
        return None
    value = int(loose.group(2))
    if value > U64_MAX:
        return None
    return (-value) % (U64_MAX + 1) if loose.group(1) == b"-" else value


class ParsedId(NamedTuple):
    sid: StreamId
    seq_given: bool  # False for XADD's <ms>-*


def parse_id(
    raw: bytes, missing_seq: int = 0, strict: bool = True, seq_star: bool = False
) -> ParsedId:
    """A stream id: `ms-seq`, or `ms` (with `missing_seq`), or (not `strict`) `-` or `+`;
    `seq_star` allows XADD's `ms-*`."""
    if len(raw) > 127:
        raise CommandError(INVALID_ID)
    text = _cstr(raw)
    if text in (b"-", b"+"):
        if strict:
            raise CommandError(INVALID_ID)
        return ParsedId(MIN_ID if text == b"-" else MAX_ID, True)
    ms_text, dash, seq_text = text.partition(b"-")
    ms = _parse_u64(ms_text)
    if ms is None:
        raise CommandError(INVALID_ID)
    if not dash:
        return ParsedId((ms, missing_seq), True)
    if seq_star and seq_text == b"*":
        return ParsedId((ms, 0), False)
    seq = _parse_u64(seq_text)
    if seq is None:
        raise CommandError(INVALID_ID)
    return ParsedId((ms, seq), True)


def parse_interval_id(raw: bytes, missing_seq: int) -> tuple[StreamId, bool]:
    """An XRANGE bound: an id, `-`, `+`, or `(id` (exclusive: True)."""
    if len(raw) > 1 and raw[:1] == b"(":
        return parse_id(raw[1:], missing_seq).sid, True
    return parse_id(raw, missing_seq, strict=False).sid, False


def entry_reply(sid: StreamId, fields: Fields) -> list[object]:
    return [format_id(sid), list(fields)]


def entries_reply(entries: list[tuple[StreamId, Fields]]) -> list[object]:
    return [entry_reply(sid, fields) for sid, fields in entries]


def _count(raw: bytes) -> int:
    """A COUNT argument; a negative one counts as 0, as in Redis."""
    return max(0, parse_int(raw))


def _option(raw: bytes) -> bytes:
    return _cstr(raw).upper()


# ----------------------------------------------------------------- trimming


class Trim(NamedTuple):
    maxlen: int | None  # MAXLEN threshold, or None for MINID
    minid: StreamId
    limit: int  # 0: no limit


class AddArgs(NamedTuple):
    trim: Trim | None
    nomkstream: bool
    id_at: int  # the index of the id argument (or len(args) if none)


def parse_trim_args(args: list[bytes], start: int, xadd: bool) -> AddArgs:
    """XADD's and XTRIM's options from args[start:], with Redis's checks and messages. For
    XADD, parsing stops at the first argument that is not an option: `*` or the id."""
    trim: Trim | None = None
    approx = limit_given = nomkstream = False
    limit = 0
    i = start
    while i < len(args):
        more = len(args) - 1 - i
        opt = _option(args[i])
        if xadd and opt == b"*":
            break
        if opt in (b"MAXLEN", b"MINID") and more:
            if trim is not None:
                raise CommandError(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible"
                )
            approx = False
            if more >= 2 and _cstr(args[i + 1]) in (b"~", b"="):
                approx = _cstr(args[i + 1]) == b"~"
                i += 1
            trim = _threshold(opt, args[i + 1])
            i += 2
        elif opt == b"LIMIT" and more:
            limit = parse_int(args[i + 1])
            if limit < 0:
                raise CommandError("The LIMIT argument must be >= 0.")
            limit_given = True
            i += 2
        elif xadd and opt == b"NOMKSTREAM":
            nomkstream = True
            i += 1
        elif xadd:
            break  # the id (checked by the caller)
        else:
            raise SyntaxErr()
    if limit and trim is None:
        raise CommandError(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy"
        )
    if not xadd and trim is None:
        raise CommandError("syntax error, XTRIM must be called with a trimming strategy")
    if not approx and limit_given:
        raise CommandError("syntax error, LIMIT cannot be used without the special ~ option")
    if trim is not None:
        trim = trim._replace(limit=(limit if limit_given else _APPROX_LIMIT) if approx else 0)
    return AddArgs(trim, nomkstream, i)


def _threshold(opt: bytes, raw: bytes) -> Trim:
    if opt == b"MINID":
        return Trim(None, parse_id(raw).sid, 0)
    maxlen = parse_int(raw)
    if maxlen < 0:
        raise CommandError("The MAXLEN argument must be >= 0.")
    return Trim(maxlen, MIN_ID, 0)


def trim_through(stream: Stream | None, trim: Trim, added: StreamId | None) -> StreamId | None:
    """The last id `trim` removes from `stream` plus the entry `added` (being appended, so
    greater than all of it), or None if it removes nothing."""
    size = len(stream) if stream is not None else 0
    total = size + (added is not None)
    if trim.maxlen is not None:
        amount = total - trim.maxlen
    else:
        below = stream.count_below(trim.minid) if stream is not None else 0
        amount = below + (added is not None and added < trim.minid)
    if trim.limit:
        amount = min(amount, trim.limit)
    if amount <= 0:
        return None
    if amount > size:
        return added
    assert stream is not None
    sid: StreamId = stream.entries.keys()[amount - 1]
    return sid


def _trim_count(stream: Stream, through: StreamId | None) -> int:
    return 0 if through is None else int(stream.entries.bisect_right(through))


# ---------------------------------------------------------------- commands


@command(
    "xadd",
    -5,
    "write denyoom fast",
    group="stream",
    keys=(1, 1, 1),
    since="5.0.0",
    summary="Append an entry to a stream, creating it if needed, and trim it if asked",
    syntax="key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] "
    "<* | id> field value [field value ...]",
)
def xadd(e: Engine, s: Session, args: list[bytes]) -> object:
    parsed = parse_trim_args(args, 2, xadd=True)
    given: ParsedId | None = None
    if parsed.id_at < len(args) and _cstr(args[parsed.id_at]) != b"*":
        given = parse_id(args[parsed.id_at], seq_star=True)
    fields = tuple(args[parsed.id_at + 1 :])
    if not fields or len(fields) % 2:
        raise wrong_arity("xadd")
    if given is not None and given.seq_given and given.sid == MIN_ID:
        raise CommandError("The ID specified in XADD must be greater than 0-0")
    key = args[1]
    stream = read_stream(e, key)
    if stream is None and parsed.nomkstream:
        return None
    last = stream.last_id if stream is not None else MIN_ID
    if last == MAX_ID:
        raise CommandError(
            "The stream has exhausted the last possible ID, unable to add more items"
        )
    sid = _new_id(e, last, given)
    add = StreamAdd(key, sid[0], sid[1], fields)
    through = trim_through(stream, parsed.trim, sid) if parsed.trim is not None else None
    if through is None:
        return Write(format_id(sid), add)
    return Write(format_id(sid), Batch((add, StreamTrim(key, *through))))


def _new_id(e: Engine, last: StreamId, given: ParsedId | None) -> StreamId:
    if given is None:
        if e.now_ms > last[0]:
            return e.now_ms, 0
        auto = next_id(last)
        assert auto is not None  # the stream is not exhausted
        return auto
    sid = given.sid
    if not given.seq_given and sid[0] == last[0]:
        if last[1] == U64_MAX:
            # No sequence left in this millisecond. Redis 7.0 reports it with the
            # message of its other append failure.
            raise CommandError("Elements are too large to be stored")
        sid = (last[0], last[1] + 1)
    if sid <= last:
        raise CommandError(
            "The ID specified in XADD is equal or smaller than the target stream top item"
        )
    return sid


def _range(e: Engine, args: list[bytes], reverse: bool) -> object:
    low, high = (args[3], args[2]) if reverse else (args[2], args[3])
    start, start_ex = parse_interval_id(low, 0)
    if start_ex:
        bumped = next_id(start)
        if bumped is None:
            raise CommandError("invalid start ID for the interval")
        start = bumped
    end, end_ex = parse_interval_id(high, U64_MAX)
    if end_ex:
        lowered = previous_id(end)
        if lowered is None:
            raise CommandError("invalid end ID for the interval")
        end = lowered
    count = -1
    i = 4
    while i < len(args):
        if _option(args[i]) == b"COUNT" and i + 1 < len(args):
            count = _count(args[i + 1])
            i += 2
        else:
            raise SyntaxErr()
    stream = read_stream(e, args[1])
    if stream is None:
        return []
    if count == 0:
        return NullArray
    return entries_reply(stream.range(start, end, max(count, 0), reverse))


@command(
    "xrange",
    -4,
    "readonly",
    group="stream",
    keys=(1, 1, 1),
    since="5.0.0",
    summary="The entries of a stream with ids in a range, from the lowest",
    syntax="key start end [COUNT count]",
)
def xrange(e: Engine, s: Session, args: list[bytes]) -> object:
    return _range(e, args, reverse=False)


@command(
    "xrevrange",
    -4,
    "readonly",
    group="stream",
    keys=(1, 1, 1),
    since="5.0.0",
    summary="The entries of a stream with ids in a range, from the highest",
    syntax="key end start [COUNT count]",
)
def xrevrange(e: Engine, s: Session, args: list[bytes]) -> object:
    return _range(e, args, reverse=True)


@command(
    "xlen",
    2,
    "readonly fast",
    group="stream",
    keys=(1, 1, 1),
    since="5.0.0",
    summary="The number of entries in a stream",
    syntax="key",
)
def xlen(e: Engine, s: Session, args: list[bytes]) -> object:
    stream = read_stream(e, args[1])
    return 0 if stream is None else len(stream)


@command(
    "xdel",
    -3,
    "write fast",
    group="stream",
    keys=(1, 1, 1),
    since="5.0.0",
    summary="Remove entries from a stream by id",
    syntax="key id [id ...]",
)
def xdel(e: Engine, s: Session, args: list[bytes]) -> object:
    stream = read_stream(e, args[1])
    if stream is None:
        return 0
    ids = [parse_id(raw).sid for raw in args[2:]]  # all checked before anything goes
    present = tuple(sid for sid in dict.fromkeys(ids) if sid in stream.entries)
    if not present:
        return 0
    return Write(len(present), StreamDelete(args[1], present))


@command(
    "xtrim",
    -4,
    "write",
    group="stream",
    keys=(1, 1, 1),
    since="5.0.0",
    summary="Remove entries from the head of a stream, by length or by id",
    syntax="key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]",
)
def xtrim(e: Engine, s: Session, args: list[bytes]) -> object:
    parsed = parse_trim_args(args, 2, xadd=False)
    assert parsed.trim is not None
    stream = read_stream(e, args[1])
    if stream is None:
        return 0
    through = trim_through(stream, parsed.trim, None)
    if through is None:
        return 0
    return Write(_trim_count(stream, through), StreamTrim(args[1], *through))


@command(
    "xsetid",
    -3,
    "write denyoom fast",
    group="stream",
    keys=(1, 1, 1),
    since="5.0.0",
    summary="Set a stream's last id (and its added-entries count and max deleted id)",
    syntax="key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]",
)
def xsetid(e: Engine, s: Session, args: list[bytes]) -> object:
    last = parse_id(args[2]).sid
    added: int | None = None
    max_deleted: StreamId | None = None
    i = 3
    while i < len(args):
        opt = _option(args[i])
        if opt == b"ENTRIESADDED" and i + 1 < len(args):
            added = parse_int(args[i + 1])
            if added < 0:
                raise CommandError("entries_added must be positive")
        elif opt == b"MAXDELETEDID" and i + 1 < len(args):
            max_deleted = parse_id(args[i + 1]).sid
            if last < max_deleted:
                raise CommandError(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
                )
        else:
            raise SyntaxErr()
        i += 2
    stream = read_stream(e, args[1])
    if stream is None:
        raise CommandError("no such key")
    return _set_id(args[1], stream, last, added, max_deleted)


def _set_id(
    key: bytes, stream: Stream, last: StreamId, added: int | None, max_deleted: StreamId | None
) -> object:
    if added is not None and len(stream) > added:
        raise CommandError(
            "The entries_added specified in XSETID is smaller than the target stream length"
        )
    top = stream.last_entry_id()
    if top is not None and last < top:
        raise CommandError("The ID specified in XSETID is smaller than the target stream top item")
    new_added = stream.entries_added if added is None else added
    new_max = stream.max_deleted_id if max_deleted is None else max_deleted
    return Write(OK, StreamSetId(key, last, new_added, new_max))


# -------------------------------------------------------------------- XREAD


class ReadArgs(NamedTuple):
    most: int  # COUNT, 0: all
    block_ms: int | None
    keys: list[bytes]
    id_args: list[bytes]


def parse_xread(e: Engine, args: list[bytes]) -> ReadArgs:
    count = 0
    block_ms: int | None = None
    i = 1
    while i < len(args):
        opt = _option(args[i])
        more = len(args) - 1 - i
        if opt == b"BLOCK" and more:
            block_ms = _block_timeout(e, args[i + 1])
            i += 2
        elif opt == b"COUNT" and more:
            count = _count(args[i + 1])
            i += 2
        elif opt == b"STREAMS" and more:
            rest = args[i + 1 :]
            if len(rest) % 2:
                raise CommandError(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' "
                    "must be specified."
                )
            half = len(rest) // 2
            return ReadArgs(count, block_ms, rest[:half], rest[half:])
        else:
            raise SyntaxErr()
    raise SyntaxErr()  # STREAMS is mandatory


def _block_timeout(e: Engine, raw: bytes) -> int:
    try:
        ms = parse_int(raw)
    except NotInteger:
        raise CommandError("timeout is not an integer or out of range") from None
    if ms < 0:
        raise CommandError("timeout is negative")
    if ms > 0 and ms > _LLONG_MAX - e.now_ms:
        raise CommandError("timeout is out of range")
    return ms


def resolve_ids(e: Engine, keys: list[bytes], id_args: list[bytes]) -> list[StreamId]:
    """The id to read after on each stream (`$`: its last id now), checking each key's type
    then its id in turn, as Redis does."""
    after: list[StreamId] = []
    for key, raw in zip(keys, id_args, strict=True):
        stream = read_stream(e, key)
        text = _cstr(raw)
        if text == b"$":
            after.append(stream.last_id if stream is not None else MIN_ID)
        elif text == b">":
            raise CommandError(
                "The > ID can be specified only when calling XREADGROUP using the "
                "GROUP <group> <consumer> option."
            )
        else:
            after.append(parse_id(raw).sid)
    return after


def read_after(stream: Stream | None, after: StreamId, count: int) -> list[object]:
    """The entries of `stream` past `after` (at most `count`, 0: all)."""
    if stream is None:
        return []
    start = next_id(after)
    if start is None:
        return []
    return entries_reply(stream.range(start, MAX_ID, count))


def streams_reply(found: list[tuple[bytes, list[object]]], resp: int) -> object:
    """XREAD's reply: key -> entries, a map in RESP3, pairs in RESP2; null if none."""
    if not found:
        return NullArray
    if resp == 3:
        return dict(found)
    return [[key, entries] for key, entries in found]


@command(
    "xread",
    -4,
    "readonly blocking",
    group="stream",
    keys=(0, 0, 0),  # the keys follow STREAMS, as Redis reports (movablekeys)
    since="5.0.0",
    summary="Read entries past given ids from one or more streams, optionally waiting",
    syntax="[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]",
)
def xread(e: Engine, s: Session, args: list[bytes]) -> object:
    parsed = parse_xread(e, args)
    after = resolve_ids(e, parsed.keys, parsed.id_args)
    found: list[tuple[bytes, list[object]]] = []
    for key, last_seen in zip(parsed.keys, after, strict=True):
        entries = read_after(read_stream(e, key), last_seen, parsed.most)
        if entries:
            found.append((key, entries))
    if found or parsed.block_ms is None:
        return streams_reply(found, s.resp)
    waiting = dict(zip(parsed.keys, after, strict=True))

    def serve(e: Engine, key: bytes) -> tuple[object, None] | None:
        reply = serve_xread(e, s.resp, key, waiting[key], parsed.most)
        return None if reply is None else (reply, None)

    return wait_or_answer(e, s, parsed.keys, parsed.block_ms, serve)


def serve_xread(e: Engine, resp: int, key: bytes, after: StreamId, count: int) -> object | None:
    """A blocked XREAD's reply once `key` may have new entries: the entries past `after`
    (the id it waits after, `$` resolved when it blocked), or None to keep waiting (no new
    entry, or the key no longer holds a stream)."""
    stream = e.keyspace.get(key, e.now_ms)
    if type(stream) is not Stream or stream.last_id <= after:
        return None
    entries = read_after(stream, after, count)
    return streams_reply([(key, entries)], resp) if entries else None
