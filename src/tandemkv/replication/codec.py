"""Binary wire format for replication messages, so a shell can ship them between processes.

Every encoding is ``u8 CODEC_VERSION, u8 tag, fields``; integers are little-endian:

- ids, terms, indexes, ticks and offsets are u64; a bool is a u8 that must be 0 or 1;
- bytes are a u32 length and the bytes; a string is the same holding UTF-8;
- a tuple of ids is a u32 count and that many u64;
- ConfState is voters, learners, witnesses (id tuples), then a u32 count of (u64 id, string);
- SnapshotMeta is u64 index, u64 term, then its ConfState;
- an AppendRequest entry is its log record, framed as in storage/record.py: u32 body
  length, u32 CRC32C, u64 term, u64 index, u8 kind, then the data. One node's log is the
  replication stream: a primary encodes each entry once, for its own log and for every
  backup (the record is kept on the Entry), and a backup checks the CRC and writes the
  record it received as it is.

Fixed width rather than varints: one struct call then packs or unpacks a whole message head
or entry head in C, where varints would cost a Python loop per integer. AppendRequest carries
every write, so its entries are the path this layout is shaped for.

The format is canonical: a byte string decodes to at most one message, and that message
encodes back to the same bytes (exact lengths, bools 0/1, known kinds, strict UTF-8). A length
or count is checked against the bytes that remain before anything is sliced or looped over.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final, get_type_hints

from tandemkv.replication.errors import MessageDecodeError as MessageDecodeError
from tandemkv.replication.messages import (
    AppendRequest,
    AppendResponse,
    ConfState,
    Entry,
    EntryKind,
    Heartbeat,
    HeartbeatResponse,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    SnapshotAck,
    SnapshotChunk,
    SnapshotMeta,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)
from tandemkv.storage.record import (
    RECORD_HEADER,
    RECORD_OVERHEAD,
    RECORD_PREFIX,
    encode_record_fields,
    record_crc,
    unpack_record_head,
)

# 2: entries travel as log records.
CODEC_VERSION: Final = 2

Buffer = bytes | memoryview


# Tags are part of the wire format: never renumber one, only add.
_TAGS: Final[dict[type[Any], int]] = {
    VoteRequest: 1,
    VoteResponse: 2,
    AppendRequest: 3,
    AppendResponse: 4,
    Heartbeat: 5,
    HeartbeatResponse: 6,
    SnapshotChunk: 7,
    SnapshotAck: 8,
    TimeoutNow: 9,
    ReadIndexRequest: 10,
    ReadIndexResponse: 11,
}

_LENGTH: Final = struct.Struct("<I")  # byte-string lengths and item counts
_ID: Final = struct.Struct("<Q")
_ADDRESS_MIN_SIZE: Final = _ID.size + _LENGTH.size
# After version and tag: frm to term prev_index prev_term commit sent_tick, entry count.
_APPEND_HEAD: Final = struct.Struct("<BBQQQQQQQI")
_CHUNK_HEAD: Final = struct.Struct("<BBQQQQBQQ")  # + frm to term offset done meta.index meta.term
_READ_REQUEST_HEAD: Final = struct.Struct("<BBQQQ")  # + frm to term; then ctx
_READ_RESPONSE_HEAD: Final = struct.Struct("<BBQQQQ")  # + frm to term index; then ctx
_KINDS: Final[dict[int, EntryKind]] = {kind.value: kind for kind in EntryKind}


def encode_message(msg: Message) -> bytes:
    """The wire bytes of ``msg``; ValueError if a field does not fit its width."""
    encoder = _ENCODERS.get(type(msg))
    if encoder is None:
        raise TypeError(f"not a replication message: {type(msg).__name__}")
    try:
        return encoder(msg)
    except struct.error as exc:
        raise ValueError(
            f"cannot encode {type(msg).__name__}: a field is out of range (ints are u64, "
            f"bytes and strings shorter than 4 GiB): {exc}"
        ) from exc


def decode_message(data: Buffer) -> Message:
    """The message encoded in exactly ``data``; MessageDecodeError if it is not one."""
    buf = data.cast("B") if isinstance(data, memoryview) else data
    if len(buf) < 2:
        raise MessageDecodeError(f"truncated: {len(buf)} bytes, a message has at least 2")
    version, tag = buf[0], buf[1]
    if version != CODEC_VERSION:
        raise MessageDecodeError(
            f"unsupported codec version {version} (this codec speaks version {CODEC_VERSION})"
        )
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise MessageDecodeError(f"unknown message tag {tag}")
    return decoder(buf)


def _flag(value: int, where: str) -> bool:
    if value > 1:
        raise MessageDecodeError(f"{where} must be 0 or 1, got {value}")
    return value == 1


class _FixedLayout:
    """A message made only of ints and bools: one struct call each way.

    ``names`` fixes the wire order and must also be the dataclass's field order, because
    decoding constructs the message positionally.
    """

    def __init__(self, cls: type[Any], names: str) -> None:
        hints = get_type_hints(cls)
        self.cls = cls
        self.tag = _TAGS[cls]
        self.names = tuple(names.split())
        self._build: Callable[..., Message] = cls
        codes = "".join("B" if hints[name] is bool else "Q" for name in self.names)
        self._struct = struct.Struct("<BB" + codes)
        self._bool_slots = [i for i, name in enumerate(self.names) if hints[name] is bool]
        self._fields = attrgetter(*self.names)

    def encode(self, msg: Message) -> bytes:
        return self._struct.pack(CODEC_VERSION, self.tag, *self._fields(msg))

    def decode(self, buf: Buffer) -> Message:
        size, name = self._struct.size, self.cls.__name__
        if len(buf) != size:
            problem = "truncated" if len(buf) < size else "trailing bytes"
            raise MessageDecodeError(f"{name}: {problem}: {len(buf)} bytes, not {size}")
        values = list(self._struct.unpack(buf))[2:]
        for slot in self._bool_slots:
            values[slot] = _flag(values[slot], f"{name}.{self.names[slot]}")
        return self._build(*values)


_FIXED_LAYOUTS: Final = (
    _FixedLayout(VoteRequest, "frm to term last_index last_term pre_vote transfer"),
    _FixedLayout(VoteResponse, "frm to term granted pre_vote"),
    _FixedLayout(AppendResponse, "frm to term index reject hint_index hint_term sent_tick"),
    _FixedLayout(Heartbeat, "frm to term commit read_seq sent_tick"),
    _FixedLayout(HeartbeatResponse, "frm to term read_seq sent_tick"),
    _FixedLayout(SnapshotAck, "frm to term snapshot_index next_offset"),
    _FixedLayout(TimeoutNow, "frm to term"),
)


# --- encoding the messages with variable-length parts ------------------------------------


def entry_record(entry: Entry) -> bytes:
    """The entry's log record; encoded on first use and kept on the entry."""
    record = entry.record
    if record is None:
        record = entry.record = encode_record_fields(
            entry.term, entry.index, entry.kind, entry.data
        )
    return record


def _encode_append(msg: AppendRequest) -> bytes:
    entries = msg.entries
    parts = [
        _APPEND_HEAD.pack(
            CODEC_VERSION,
            _TAGS[AppendRequest],
            msg.frm,
            msg.to,
            msg.term,
            msg.prev_index,
            msg.prev_term,
            msg.commit,
            msg.sent_tick,
            len(entries),
        )
    ]
    parts += [entry_record(entry) for entry in entries]
    return b"".join(parts)


def _encode_snapshot_chunk(msg: SnapshotChunk) -> bytes:
    meta = msg.meta
    parts = [
        _CHUNK_HEAD.pack(
            CODEC_VERSION,
            _TAGS[SnapshotChunk],
            msg.frm,
            msg.to,
            msg.term,
            msg.offset,
            msg.done,
            meta.index,
            meta.term,
        )
    ]
    _write_conf(parts, meta.conf)
    _write_blob(parts, msg.data)
    return b"".join(parts)


def _encode_read_index_request(msg: ReadIndexRequest) -> bytes:
    head = _READ_REQUEST_HEAD.pack(
        CODEC_VERSION, _TAGS[ReadIndexRequest], msg.frm, msg.to, msg.term
    )
    return b"".join((head, _LENGTH.pack(len(msg.ctx)), msg.ctx))


def _encode_read_index_response(msg: ReadIndexResponse) -> bytes:
    head = _READ_RESPONSE_HEAD.pack(
        CODEC_VERSION, _TAGS[ReadIndexResponse], msg.frm, msg.to, msg.term, msg.index
    )
    return b"".join((head, _LENGTH.pack(len(msg.ctx)), msg.ctx))


def _write_blob(parts: list[bytes], data: bytes) -> None:
    parts.append(_LENGTH.pack(len(data)))
    parts.append(data)


def _write_ids(parts: list[bytes], ids: tuple[int, ...]) -> None:
    parts.append(_LENGTH.pack(len(ids)))
    parts.append(struct.pack(f"<{len(ids)}Q", *ids))


def _write_conf(parts: list[bytes], conf: ConfState) -> None:
    _write_ids(parts, conf.voters)
    _write_ids(parts, conf.learners)
    _write_ids(parts, conf.witnesses)
    parts.append(_LENGTH.pack(len(conf.addresses)))
    for node, address in conf.addresses:
        parts.append(_ID.pack(node))
        _write_blob(parts, address.encode("utf-8"))


# --- decoding the messages with variable-length parts ------------------------------------


class _Reader:
    """A cursor over one encoding that refuses to read past its end."""

    __slots__ = ("buf", "pos", "what")

    def __init__(self, buf: Buffer, what: str) -> None:
        self.buf = buf
        self.pos = 0
        self.what = what

    def take(self, size: int, field: str) -> int:
        """Claim the next ``size`` bytes for ``field``; return where they start."""
        start = self.pos
        left = len(self.buf) - start
        if size > left:
            raise MessageDecodeError(
                f"{self.what}: truncated: {field} needs {size} bytes at offset {start}, {left} left"
            )
        self.pos = start + size
        return start

    def fixed(self, layout: struct.Struct, field: str) -> tuple[Any, ...]:
        return layout.unpack_from(self.buf, self.take(layout.size, field))

    def blob(self, field: str) -> bytes:
        (size,) = self.fixed(_LENGTH, f"{field} length")
        start = self.take(size, field)
        return bytes(self.buf[start : self.pos])

    def text(self, field: str) -> str:
        raw = self.blob(field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MessageDecodeError(
                f"{self.what}: {field} is not UTF-8 ({exc.reason} at byte {exc.start})"
            ) from None

    def ids(self, field: str) -> tuple[int, ...]:
        (count,) = self.fixed(_LENGTH, f"{field} count")
        start = self.take(count * _ID.size, field)
        return struct.unpack_from(f"<{count}Q", self.buf, start)

    def check_count(self, count: int, min_size: int, field: str) -> None:
        """Refuse a count that the remaining bytes cannot possibly hold."""
        left = len(self.buf) - self.pos
        if count * min_size > left:
            raise MessageDecodeError(
                f"{self.what}: truncated: claims {count} {field}, only {left} bytes left"
            )

    def finish(self) -> None:
        extra = len(self.buf) - self.pos
        if extra:
            raise MessageDecodeError(f"{self.what}: {extra} trailing bytes after the message")


def _decode_append(buf: Buffer) -> AppendRequest:
    reader = _Reader(buf, "AppendRequest")
    _, _, frm, to, term, prev_index, prev_term, commit, sent_tick, count = reader.fixed(
        _APPEND_HEAD, "header"
    )
    entries = _read_entries(reader, count)
    reader.finish()
    return AppendRequest(frm, to, term, prev_index, prev_term, entries, commit, sent_tick)


def _read_entries(reader: _Reader, count: int) -> tuple[Entry, ...]:
    reader.check_count(count, RECORD_OVERHEAD, "entries")
    # The hot path: locals instead of Reader calls, one struct call per entry.
    buf, pos = reader.buf, reader.pos
    if type(buf) is not bytes:
        buf = bytes(buf)  # records are kept as bytes; only tests pass other buffers
    end = len(buf)
    unpack_head, kinds = unpack_record_head, _KINDS
    entries = []
    for number in range(count):
        if pos + RECORD_OVERHEAD > end:
            raise MessageDecodeError(f"AppendRequest: truncated in entry {number}'s header")
        body_len, crc, term, index, kind_code = unpack_head(buf, pos)
        stop = pos + RECORD_PREFIX + body_len
        if stop > end:
            raise MessageDecodeError(
                f"AppendRequest: truncated: entry {number} claims {body_len} record bytes, "
                f"{end - pos - RECORD_PREFIX} left"
            )
        if body_len < RECORD_HEADER:
            raise MessageDecodeError(
                f"AppendRequest: entry {number} claims {body_len} record bytes, "
                f"below the {RECORD_HEADER} of its header"
            )
        kind = kinds.get(kind_code)
        if kind is None:
            raise MessageDecodeError(f"AppendRequest: entry {number} has unknown kind {kind_code}")
        data = buf[pos + RECORD_OVERHEAD : stop]
        if record_crc(body_len, term, index, kind_code, data) != crc:
            raise MessageDecodeError(f"AppendRequest: entry {number} fails its checksum")
        entries.append(Entry(term, index, data, kind, buf[pos:stop]))
        pos = stop
    reader.pos = pos
    return tuple(entries)


def _decode_snapshot_chunk(buf: Buffer) -> SnapshotChunk:
    reader = _Reader(buf, "SnapshotChunk")
    _, _, frm, to, term, offset, done, index, meta_term = reader.fixed(_CHUNK_HEAD, "header")
    meta = SnapshotMeta(index, meta_term, _read_conf(reader))
    data = reader.blob("data")
    reader.finish()
    return SnapshotChunk(frm, to, term, meta, offset, data, _flag(done, "SnapshotChunk.done"))


def _read_conf(reader: _Reader) -> ConfState:
    voters = reader.ids("voters")
    learners = reader.ids("learners")
    witnesses = reader.ids("witnesses")
    (count,) = reader.fixed(_LENGTH, "address count")
    reader.check_count(count, _ADDRESS_MIN_SIZE, "addresses")
    addresses = []
    for _ in range(count):
        (node,) = reader.fixed(_ID, "address node id")
        addresses.append((node, reader.text("address")))
    return ConfState(voters, learners, witnesses, tuple(addresses))


def _decode_read_index_request(buf: Buffer) -> ReadIndexRequest:
    reader = _Reader(buf, "ReadIndexRequest")
    _, _, frm, to, term = reader.fixed(_READ_REQUEST_HEAD, "header")
    ctx = reader.blob("ctx")
    reader.finish()
    return ReadIndexRequest(frm, to, term, ctx)


def _decode_read_index_response(buf: Buffer) -> ReadIndexResponse:
    reader = _Reader(buf, "ReadIndexResponse")
    _, _, frm, to, term, index = reader.fixed(_READ_RESPONSE_HEAD, "header")
    ctx = reader.blob("ctx")
    reader.finish()
    return ReadIndexResponse(frm, to, term, ctx, index)


_ENCODERS: Final[dict[type[Any], Callable[[Any], bytes]]] = {
    AppendRequest: _encode_append,
    SnapshotChunk: _encode_snapshot_chunk,
    ReadIndexRequest: _encode_read_index_request,
    ReadIndexResponse: _encode_read_index_response,
    **{layout.cls: layout.encode for layout in _FIXED_LAYOUTS},
}

_DECODERS: Final[dict[int, Callable[[Buffer], Message]]] = {
    _TAGS[AppendRequest]: _decode_append,
    _TAGS[SnapshotChunk]: _decode_snapshot_chunk,
    _TAGS[ReadIndexRequest]: _decode_read_index_request,
    _TAGS[ReadIndexResponse]: _decode_read_index_response,
    **{layout.tag: layout.decode for layout in _FIXED_LAYOUTS},
}
