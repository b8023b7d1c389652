"""Mutation <-> bytes: the compact, versioned encoding stored in log entries of kind NORMAL.

Public API (pure, no I/O):

    encode_mutation(mutation: Mutation) -> bytes
    decode_mutation(data: bytes | memoryview) -> Mutation      raises MutationDecodeError

Layout (version 1): one version byte, then one encoded mutation. A mutation is a tag byte
followed by its fields; byte strings are varint-length-prefixed, counts and offsets are
unsigned varints, expiry times are zigzag varints (see storage/wire.py).

    tag 1 SetValue   flags(bit0 has-expiry, bit1 keep_ttl) key value [expire_at_ms]
    tag 2 Append     key suffix
    tag 3 SetRange   key offset data
    tag 4 Delete     count key*
    tag 5 SetExpiry  flags(bit0 has-expiry) key [expire_at_ms]
    tag 6 Rename     src dst
    tag 7 FlushAll   (nothing)
    tag 8 Batch      count mutation*        (nested mutations carry no version byte)
    tag 9 HashSet    key count (field value)*        (count = pairs)
    tag 10 HashDelete key count field*
    tag 11 ListPush  flags(bit0 left) key count item*
    tag 12 ListPop   flags(bit0 left) key count
    tag 13 ListSet   key index value
    tag 14 ListInsert key index value
    tag 15 ListRemove key count(zigzag) value
    tag 16 ListTrim  key start stop
    tag 17 SetAdd    key count member*
    tag 18 SetRemove key count member*
    tag 19 ZSetAdd   key count (score member)*      (score an 8-byte little-endian double)
    tag 20 ZSetRemove key count member*
    tag 21 Copy      src dst
    tag 22 StreamAdd key ms seq count (field value)*     (count = pairs, at least 1)
    tag 23 StreamDelete key count (ms seq)*
    tag 24 StreamTrim key ms seq
    tag 25 StreamSetId key last-ms last-seq entries-added max-deleted-ms max-deleted-seq
    tag 40 Publish   channel message
    tag 41 SetUser   name count rule*           (an ACL user, rebuilt from its rules)
    tag 42 DeleteUsers flags(bit0 all users first) count name*

Tags 9 and up were added without a new version byte: data written before them holds none,
so it still decodes; an older build refuses newer data at the unknown tag.

Decoding is strict: unknown versions, tags or flag bits, non-canonical varints, nesting
deeper than MAX_BATCH_DEPTH and trailing bytes are all errors, so each mutation has exactly
one encoding. New mutation types get new tags; a changed layout gets a new version byte.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

from tandemkv.storage.errors import MutationDecodeError
from tandemkv.storage.mutation import (
    Append,
    Batch,
    Copy,
    Delete,
    DeleteUsers,
    FlushAll,
    HashDelete,
    HashSet,
    ListInsert,
    ListPop,
    ListPush,
    ListRemove,
    ListSet,
    ListTrim,
    Mutation,
    Publish,
    Rename,
    SetAdd,
    SetExpiry,
    SetRange,
    SetRemove,
    SetUser,
    SetValue,
    StreamAdd,
    StreamDelete,
    StreamSetId,
    StreamTrim,
    ZSetAdd,
    ZSetRemove,
    plain_set,
)
from tandemkv.storage.wire import Reader, put_bytes, put_svarint, put_uvarint

CODEC_VERSION: Final = 1
MAX_BATCH_DEPTH: Final = 16

TAG_SET_VALUE: Final = 1
TAG_APPEND: Final = 2
TAG_SET_RANGE: Final = 3
TAG_DELETE: Final = 4
TAG_SET_EXPIRY: Final = 5
TAG_RENAME: Final = 6
TAG_FLUSH_ALL: Final = 7
TAG_BATCH: Final = 8
TAG_HASH_SET: Final = 9
TAG_HASH_DELETE: Final = 10
TAG_LIST_PUSH: Final = 11
TAG_LIST_POP: Final = 12
TAG_LIST_SET: Final = 13
TAG_LIST_INSERT: Final = 14
TAG_LIST_REMOVE: Final = 15
TAG_LIST_TRIM: Final = 16
TAG_SET_ADD: Final = 17
TAG_SET_REMOVE: Final = 18
TAG_ZSET_ADD: Final = 19
TAG_ZSET_REMOVE: Final = 20
TAG_COPY: Final = 21
TAG_STREAM_ADD: Final = 22
TAG_STREAM_DELETE: Final = 23
TAG_STREAM_TRIM: Final = 24
TAG_STREAM_SET_ID: Final = 25
TAG_PUBLISH: Final = 40
# ACL users (commands/acl.py): older logs never hold these, so they read the same.
TAG_SET_USER: Final = 41
TAG_DELETE_USERS: Final = 42

# Mutations that are a key and a list of byte strings, by type and by tag.
_KEY_AND_LIST: Final[dict[type, int]] = {
    HashDelete: TAG_HASH_DELETE,
    SetAdd: TAG_SET_ADD,
    SetRemove: TAG_SET_REMOVE,
    ZSetRemove: TAG_ZSET_REMOVE,
}
_KEY_AND_LIST_BY_TAG: Final[dict[int, type]] = {tag: kind for kind, tag in _KEY_AND_LIST.items()}
_LEFT: Final = 0x01
_SCORE: Final = struct.Struct("<d")

_HAS_EXPIRY: Final = 0x01
_KEEP_TTL: Final = 0x02
_ALL_USERS: Final = 0x01
# version, tag, no flags, then key and value each after a one-byte varint length.
_PLAIN_SET: Final = bytes((CODEC_VERSION, TAG_SET_VALUE, 0)) + b"%c%b%c%b"
_PLAIN_SET_ITEM: Final = _PLAIN_SET[1:]  # inside a batch: no version byte


def encode_mutation(mutation: Mutation) -> bytes:
    """Encode one mutation, version byte first."""
    if type(mutation) is SetValue:
        key, value, expire_at_ms, keep_ttl = mutation
        if len(key) < 0x80 and len(value) < 0x80 and expire_at_ms is None and not keep_ttl:
            # The commonest write (the mirror of _plain_set): every SET on a primary.
            return _PLAIN_SET % (len(key), key, len(value), value)
    out = bytearray([CODEC_VERSION])
    _encode_into(out, mutation, depth=0)
    return bytes(out)


def encode_batch(mutations: Sequence[Mutation]) -> bytes:
    """Encode `Batch(tuple(mutations))` exactly as encode_mutation would, with its plain
    SETs in one format call each: a node logs the writes of a loop turn as one batch."""
    out = bytearray((CODEC_VERSION, TAG_BATCH))
    put_uvarint(out, len(mutations))
    for m in mutations:
        if type(m) is SetValue:
            key, value, expire_at_ms, keep_ttl = m
            if len(key) < 0x80 and len(value) < 0x80 and expire_at_ms is None and not keep_ttl:
                out += _PLAIN_SET_ITEM % (len(key), key, len(value), value)
                continue
        _encode_into(out, m, depth=1)
    return bytes(out)


def decode_mutation(data: bytes | memoryview) -> Mutation:
    """Decode bytes produced by `encode_mutation`; raises MutationDecodeError if malformed."""
    if type(data) is bytes:
        quick = _plain_set(data)
        if quick is not None:
            return quick
    reader = Reader(data)
    version = reader.u8()
    if version != CODEC_VERSION:
        raise MutationDecodeError(
            f"unknown mutation encoding version {version} (this build reads {CODEC_VERSION}); "
            "the data was written by a newer tandemkv",
            0,
        )
    mutation = _decode_from(reader, depth=0)
    if not reader.at_end():
        raise reader.fail(f"{reader.end - reader.pos} trailing bytes after the mutation")
    return mutation


def _plain_set(data: bytes) -> SetValue | None:
    """The commonest mutation, a SET with no expiry and a key and value under 128 bytes,
    decoded without a Reader: log replay and backups decode one per write. Anything else
    (or anything malformed) returns None and takes the general, strict path."""
    size = len(data)
    if size < 5 or data[0] != CODEC_VERSION or data[1] != TAG_SET_VALUE or data[2] != 0:
        return None
    key_len = data[3]
    value_at = 5 + key_len
    if key_len >= 0x80 or value_at > size:
        return None
    value_len = data[value_at - 1]
    if value_len >= 0x80 or value_at + value_len != size:
        return None
    return plain_set(data[4 : value_at - 1], data[value_at:])


def _encode_into(out: bytearray, m: Mutation, depth: int) -> None:
    if isinstance(m, SetValue):
        flags = (_HAS_EXPIRY if m.expire_at_ms is not None else 0) | (
            _KEEP_TTL if m.keep_ttl else 0
        )
        out += bytes((TAG_SET_VALUE, flags))
        put_bytes(out, m.key)
        put_bytes(out, m.value)
        if m.expire_at_ms is not None:
            put_svarint(out, m.expire_at_ms)
    elif isinstance(m, Append):
        out.append(TAG_APPEND)
        put_bytes(out, m.key)
        put_bytes(out, m.suffix)
    elif isinstance(m, SetRange):
        out.append(TAG_SET_RANGE)
        put_bytes(out, m.key)
        put_uvarint(out, m.offset)
        put_bytes(out, m.data)
    elif isinstance(m, Delete):
        out.append(TAG_DELETE)
        put_uvarint(out, len(m.keys))
        for key in m.keys:
            put_bytes(out, key)
    elif isinstance(m, SetExpiry):
        out += bytes((TAG_SET_EXPIRY, _HAS_EXPIRY if m.expire_at_ms is not None else 0))
        put_bytes(out, m.key)
        if m.expire_at_ms is not None:
            put_svarint(out, m.expire_at_ms)
    elif isinstance(m, Rename):
        out.append(TAG_RENAME)
        put_bytes(out, m.src)
        put_bytes(out, m.dst)
    elif isinstance(m, FlushAll):
        out.append(TAG_FLUSH_ALL)
    elif isinstance(m, Copy):
        out.append(TAG_COPY)
        put_bytes(out, m.src)
        put_bytes(out, m.dst)
    elif type(m) in _KEY_AND_LIST:
        keyed: HashDelete | SetAdd | SetRemove | ZSetRemove = m  # type: ignore[assignment]
        out.append(_KEY_AND_LIST[type(m)])
        put_bytes(out, keyed[0])
        _put_list(out, keyed[1])
    elif isinstance(m, (HashSet, ListPush, ListPop, ListSet, ListInsert, ListRemove, ListTrim)):
        _encode_list_or_hash(out, m)
    elif isinstance(m, (StreamAdd, StreamDelete, StreamTrim, StreamSetId)):
        _encode_stream(out, m)
    elif isinstance(m, ZSetAdd):
        out.append(TAG_ZSET_ADD)
        put_bytes(out, m.key)
        put_uvarint(out, len(m.members))
        for score, member in zip(m.scores, m.members, strict=True):
            out += _SCORE.pack(score)
            put_bytes(out, member)
    elif isinstance(m, Publish):
        out.append(TAG_PUBLISH)
        put_bytes(out, m.channel)
        put_bytes(out, m.message)
    elif isinstance(m, SetUser):
        out.append(TAG_SET_USER)
        put_bytes(out, m.name)
        _put_list(out, m.rules)
    elif isinstance(m, DeleteUsers):
        out += bytes((TAG_DELETE_USERS, _ALL_USERS if m.all_users else 0))
        _put_list(out, m.names)
    elif isinstance(m, Batch):
        if depth >= MAX_BATCH_DEPTH:
            raise ValueError(f"batches nested deeper than {MAX_BATCH_DEPTH}")
        out.append(TAG_BATCH)
        put_uvarint(out, len(m.items))
        for item in m.items:
            _encode_into(out, item, depth + 1)
    else:  # pragma: no cover - exhaustive over the Mutation union
        raise TypeError(f"not a mutation: {m!r}")


def _put_list(out: bytearray, items: tuple[bytes, ...]) -> None:
    put_uvarint(out, len(items))
    for item in items:
        put_bytes(out, item)


def _encode_list_or_hash(
    out: bytearray, m: HashSet | ListPush | ListPop | ListSet | ListInsert | ListRemove | ListTrim
) -> None:
    if isinstance(m, HashSet):
        out.append(TAG_HASH_SET)
        put_bytes(out, m.key)
        if len(m.pairs) % 2:
            raise ValueError("HashSet needs field, value pairs")
        put_uvarint(out, len(m.pairs) // 2)
        for item in m.pairs:
            put_bytes(out, item)
    elif isinstance(m, ListPush):
        out += bytes((TAG_LIST_PUSH, _LEFT if m.left else 0))
        put_bytes(out, m.key)
        _put_list(out, m.items)
    elif isinstance(m, ListPop):
        out += bytes((TAG_LIST_POP, _LEFT if m.left else 0))
        put_bytes(out, m.key)
        put_uvarint(out, m.amount)
    elif isinstance(m, (ListSet, ListInsert)):
        out.append(TAG_LIST_SET if isinstance(m, ListSet) else TAG_LIST_INSERT)
        put_bytes(out, m.key)
        put_uvarint(out, m.position)
        put_bytes(out, m.value)
    elif isinstance(m, ListRemove):
        out.append(TAG_LIST_REMOVE)
        put_bytes(out, m.key)
        put_svarint(out, m.amount)
        put_bytes(out, m.value)
    else:
        out.append(TAG_LIST_TRIM)
        put_bytes(out, m.key)
        put_uvarint(out, m.start)
        put_uvarint(out, m.stop)


def _encode_stream(out: bytearray, m: StreamAdd | StreamDelete | StreamTrim | StreamSetId) -> None:
    if isinstance(m, StreamAdd):
        if not m.fields or len(m.fields) % 2:
            raise ValueError("StreamAdd needs at least one field, value pair")
        out.append(TAG_STREAM_ADD)
        put_bytes(out, m.key)
        put_uvarint(out, m.ms)
        put_uvarint(out, m.seq)
        put_uvarint(out, len(m.fields) // 2)
        for item in m.fields:
            put_bytes(out, item)
    elif isinstance(m, StreamDelete):
        out.append(TAG_STREAM_DELETE)
        put_bytes(out, m.key)
        put_uvarint(out, len(m.ids))
        for ms, seq in m.ids:
            put_uvarint(out, ms)
            put_uvarint(out, seq)
    elif isinstance(m, StreamTrim):
        out.append(TAG_STREAM_TRIM)
        put_bytes(out, m.key)
        put_uvarint(out, m.ms)
        put_uvarint(out, m.seq)
    else:
        out.append(TAG_STREAM_SET_ID)
        put_bytes(out, m.key)
        for number in (*m.last, m.entries_added, *m.max_deleted):
            put_uvarint(out, number)


def _decode_stream(reader: Reader, tag: int) -> Mutation:
    key = reader.bytes_field()
    if tag == TAG_STREAM_ADD:
        ms, seq, pairs = reader.uvarint(), reader.uvarint(), reader.uvarint()
        if pairs == 0:
            raise reader.fail("a stream entry with no fields")
        return StreamAdd(key, ms, seq, tuple(reader.bytes_field() for _ in range(2 * pairs)))
    if tag == TAG_STREAM_DELETE:
        count = reader.uvarint()
        return StreamDelete(key, tuple((reader.uvarint(), reader.uvarint()) for _ in range(count)))
    if tag == TAG_STREAM_TRIM:
        return StreamTrim(key, reader.uvarint(), reader.uvarint())
    last = (reader.uvarint(), reader.uvarint())
    added = reader.uvarint()
    return StreamSetId(key, last, added, (reader.uvarint(), reader.uvarint()))


def _read_list(reader: Reader) -> tuple[bytes, ...]:
    return tuple(reader.bytes_field() for _ in range(reader.uvarint()))


def _decode_collection(reader: Reader, tag: int) -> Mutation:
    """Tags 9 and up: the collection mutations."""
    kind = _KEY_AND_LIST_BY_TAG.get(tag)
    if kind is not None:
        key = reader.bytes_field()
        return kind(key, _read_list(reader))  # type: ignore[no-any-return]
    if tag == TAG_HASH_SET:
        key = reader.bytes_field()
        pairs = tuple(reader.bytes_field() for _ in range(2 * reader.uvarint()))
        return HashSet(key, pairs)
    if tag in (TAG_LIST_PUSH, TAG_LIST_POP):
        left = bool(_flags(reader, _LEFT))
        key = reader.bytes_field()
        if tag == TAG_LIST_PUSH:
            return ListPush(key, _read_list(reader), left)
        return ListPop(key, reader.uvarint(), left)
    if tag in (TAG_LIST_SET, TAG_LIST_INSERT):
        key, index, value = reader.bytes_field(), reader.uvarint(), reader.bytes_field()
        return ListSet(key, index, value) if tag == TAG_LIST_SET else ListInsert(key, index, value)
    if tag == TAG_LIST_REMOVE:
        return ListRemove(reader.bytes_field(), reader.svarint(), reader.bytes_field())
    if tag == TAG_LIST_TRIM:
        return ListTrim(reader.bytes_field(), reader.uvarint(), reader.uvarint())
    if tag == TAG_ZSET_ADD:
        key = reader.bytes_field()
        scores: list[float] = []
        members: list[bytes] = []
        for _ in range(reader.uvarint()):
            (score,) = _SCORE.unpack(reader.take(8))
            if score != score:
                raise reader.fail("a sorted-set score is NaN")
            scores.append(score)
            members.append(reader.bytes_field())
        return ZSetAdd(key, tuple(scores), tuple(members))
    if tag == TAG_COPY:
        return Copy(reader.bytes_field(), reader.bytes_field())
    if TAG_STREAM_ADD <= tag <= TAG_STREAM_SET_ID:
        return _decode_stream(reader, tag)
    if tag == TAG_PUBLISH:
        return Publish(reader.bytes_field(), reader.bytes_field())
    if tag == TAG_SET_USER:
        return SetUser(reader.bytes_field(), _read_list(reader))
    if tag == TAG_DELETE_USERS:
        flags = _flags(reader, _ALL_USERS)
        return DeleteUsers(_read_list(reader), bool(flags & _ALL_USERS))
    reader.pos -= 1
    raise reader.fail(f"unknown mutation tag {tag}")


def _flags(reader: Reader, allowed: int) -> int:
    flags = reader.u8()
    if flags & ~allowed:
        raise reader.fail(f"unknown flag bits {flags:#04x}")
    return flags


def _decode_batch_items(reader: Reader, count: int, depth: int) -> tuple[Mutation, ...]:
    """A batch's mutations. An MSET logs a batch of SETs, replayed one per key on restart,
    so a plain one (as in _plain_set) is decoded inline; anything else, malformed bytes
    included, takes the general path, which reports the error."""
    buf = reader.buf
    if type(buf) is not bytes:  # slices of a memoryview would not be bytes
        return tuple(_decode_from(reader, depth) for _ in range(count))
    items: list[Mutation] = []
    append, end = items.append, reader.end
    for _ in range(count):
        pos = reader.pos
        if pos + 4 <= end and buf[pos] == TAG_SET_VALUE and buf[pos + 1] == 0:
            key_len = buf[pos + 2]
            value_len_at = pos + 3 + key_len
            if key_len < 0x80 and value_len_at < end and buf[value_len_at] < 0x80:
                stop = value_len_at + 1 + buf[value_len_at]
                if stop <= end:
                    append(plain_set(buf[pos + 3 : value_len_at], buf[value_len_at + 1 : stop]))
                    reader.pos = stop
                    continue
        append(_decode_from(reader, depth))
    return tuple(items)


def _decode_from(reader: Reader, depth: int) -> Mutation:
    tag = reader.u8()
    if tag == TAG_SET_VALUE:
        flags = _flags(reader, _HAS_EXPIRY | _KEEP_TTL)
        key, value = reader.bytes_field(), reader.bytes_field()
        expire = reader.svarint() if flags & _HAS_EXPIRY else None
        return SetValue(key, value, expire, bool(flags & _KEEP_TTL))
    if tag == TAG_APPEND:
        return Append(reader.bytes_field(), reader.bytes_field())
    if tag == TAG_SET_RANGE:
        return SetRange(reader.bytes_field(), reader.uvarint(), reader.bytes_field())
    if tag == TAG_DELETE:
        count = reader.uvarint()
        return Delete(tuple(reader.bytes_field() for _ in range(count)))
    if tag == TAG_SET_EXPIRY:
        flags = _flags(reader, _HAS_EXPIRY)
        key = reader.bytes_field()
        return SetExpiry(key, reader.svarint() if flags & _HAS_EXPIRY else None)
    if tag == TAG_RENAME:
        return Rename(reader.bytes_field(), reader.bytes_field())
    if tag == TAG_FLUSH_ALL:
        return FlushAll()
    if tag == TAG_BATCH:
        if depth >= MAX_BATCH_DEPTH:
            raise reader.fail(f"batches nested deeper than {MAX_BATCH_DEPTH}")
        return Batch(_decode_batch_items(reader, reader.uvarint(), depth + 1))
    return _decode_collection(reader, tag)
