"""Checksummed snapshots of the keyspace at a log index, written atomically and in chunks.

Public API:

    SnapshotItem(key: bytes, value: bytes, expire_at_ms: int | None = None,
                 value_type: ValueType = ValueType.STRING, continued: bool = False)
    SnapshotMeta(last_index: int, last_term: int, item_count: int, config: bytes = b"")
    SnapshotWriter(fs, meta)            streams a snapshot into a temporary file:
        .add(items: Iterable[SnapshotItem]) -> None   call once per batch, as often as needed
        .finish() -> None               trailer, fsync, rename over SNAPSHOT_FILE, fsync dir;
                                        raises ValueError if the item count differs from meta
        .abort() -> None                drop the temporary file
    write_snapshot(fs, meta, items) -> None           writer + add + finish in one call
    load_snapshot(fs) -> Snapshot | None              None when no snapshot was ever written
    Snapshot.meta, Snapshot.items() -> Iterator[SnapshotItem]
    Snapshot.size, Snapshot.read_raw(offset, size) -> bytes   the file's bytes, for sending
    SnapshotReceiver(fs)                a snapshot arriving as raw bytes from the leader:
        .write(chunk: bytes) -> None
        .finish() -> Snapshot           verifies the whole file, then publishes it atomically
                                        (CorruptSnapshotError, and nothing published, if bad)
        .abort() -> None
    remove_stale_temp(fs) -> None       delete temporary files left by a crash mid-write

`config` is an opaque blob for the replication layer (the cluster membership at last_index).
A writer holds at most one batch in memory, so the shell can feed it across event-loop
turns or from a child process. load_snapshot verifies the whole file's checksum before it
returns; items() then streams the items in chunks (and re-checks the checksum as it goes).

File layout (integers little-endian):

    b"TKVSNAP1" | u16 version | u64 last_index | u64 last_term | u64 item_count
    | u32 config_len | config
    item*:  u32 item_len | u8 value_type | u8 flags(bit0 has-expiry, bit1 continued) | key
            | value | [expire_at_ms]  (key/value varint-length-prefixed, expiry a zigzag varint)

A string's value is its bytes; a collection's is a chunk of its elements (storage/values.py):
its first item, then items flagged `continued` with the same key and type carrying the next
chunks. `item_count` counts keys, that is items not flagged `continued`. Snapshots written
before collections existed hold only strings, so they read the same. ACL users are items
of type ACL_USER (storage/store.py encodes their rules), counted in `item_count` too.
    b"TKVSEND1" | u32 crc32c of every byte before it (computed incrementally)
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import google_crc32c

from tandemkv.storage.errors import CorruptSnapshotError, DecodeError
from tandemkv.storage.fs import FileSystem, publish_file
from tandemkv.storage.values import ValueType
from tandemkv.storage.wire import Reader, put_bytes, put_svarint

SNAPSHOT_FILE = "snapshot"
SNAPSHOT_TEMP_FILE = "snapshot.tmp"
SNAPSHOT_RECEIVE_FILE = "snapshot.recv"
_MAGIC = b"TKVSNAP1"
_END_MAGIC = b"TKVSEND1"
_VERSION = 1
_HEADER = struct.Struct("<8sHQQQI")
_ITEM_LEN = struct.Struct("<I")
_TRAILER_SIZE = len(_END_MAGIC) + 4
_HAS_EXPIRY = 0x01
_CONTINUED = 0x02
_FLUSH_BYTES = 1024 * 1024
_READ_CHUNK = 4 * 1024 * 1024


_KNOWN_TYPES = frozenset(int(t) for t in ValueType)
_STRING = int(ValueType.STRING)
# item_len, STRING, no flags, then key and value each after a one-byte varint length.
_PLAIN_ITEM = b"%b" + bytes((_STRING, 0)) + b"%c%b%c%b"


# Not frozen: a restart builds one per key, and a frozen dataclass costs about three times
# as much to build. Treat it as immutable.
@dataclass(slots=True, unsafe_hash=True)
class SnapshotItem:
    key: bytes
    value: bytes
    expire_at_ms: int | None = None
    value_type: int = ValueType.STRING
    continued: bool = False  # more elements of the collection in the item before


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    last_index: int
    last_term: int
    item_count: int
    config: bytes = b""


def encode_item(item: SnapshotItem) -> bytes:
    key, value = item.key, item.value
    if (
        item.expire_at_ms is None
        and item.value_type == _STRING
        and not item.continued
        and len(key) < 0x80
        and len(value) < 0x80
    ):
        # The commonest item (the mirror of the inline case in _decode_items), in one
        # format call: a snapshot encodes one item per key.
        size = _ITEM_LEN.pack(4 + len(key) + len(value))
        return _PLAIN_ITEM % (size, len(key), key, len(value), value)
    return _encode_item_general(item)


def _encode_item_general(item: SnapshotItem) -> bytes:
    if item.value_type not in _KNOWN_TYPES:
        raise ValueError(f"unknown value type {item.value_type}")
    if item.continued and item.value_type == _STRING:
        raise ValueError("a string cannot continue over several items")
    flags = (_HAS_EXPIRY if item.expire_at_ms is not None else 0) | (
        _CONTINUED if item.continued else 0
    )
    body = bytearray((item.value_type, flags))
    put_bytes(body, item.key)
    put_bytes(body, item.value)
    if item.expire_at_ms is not None:
        put_svarint(body, item.expire_at_ms)
    return _ITEM_LEN.pack(len(body)) + body


def decode_item_body(body: bytes) -> SnapshotItem:
    reader = Reader(body)
    value_type = reader.u8()
    if value_type not in _KNOWN_TYPES:
        raise reader.fail(f"unknown value type {value_type}")
    flags = reader.u8()
    if flags & ~(_HAS_EXPIRY | _CONTINUED):
        raise reader.fail(f"unknown item flags {flags:#04x}")
    if flags & _CONTINUED and value_type == _STRING:
        raise reader.fail("a string item flagged as continued")
    key, value = reader.bytes_field(), reader.bytes_field()
    expire = reader.svarint() if flags & _HAS_EXPIRY else None
    if not reader.at_end():
        raise reader.fail("trailing bytes in item")
    return SnapshotItem(key, value, expire, value_type, bool(flags & _CONTINUED))


class SnapshotWriter:
    """Writes one snapshot into SNAPSHOT_TEMP_FILE; finish() publishes it atomically."""

    def __init__(self, fs: FileSystem, meta: SnapshotMeta) -> None:
        self._fs = fs
        self._meta = meta
        self._crc = 0
        self._written = 0
        self._buffer = bytearray()
        self._done = False
        fs.create(SNAPSHOT_TEMP_FILE)
        header = _HEADER.pack(
            _MAGIC, _VERSION, meta.last_index, meta.last_term, meta.item_count, len(meta.config)
        )
        self._buffer += header + meta.config

    def add(self, items: Iterable[SnapshotItem]) -> None:
        if self._done:
            raise ValueError("snapshot writer already finished")
        for item in items:
            self._buffer += encode_item(item)
            if not item.continued:
                self._written += 1
            if len(self._buffer) >= _FLUSH_BYTES:
                self._flush()
        self._flush()

    def finish(self) -> None:
        if self._written != self._meta.item_count:
            self.abort()
            raise ValueError(
                f"snapshot declared {self._meta.item_count} items but {self._written} were added"
            )
        self._buffer += _END_MAGIC
        self._flush()
        self._fs.append(SNAPSHOT_TEMP_FILE, self._crc.to_bytes(4, "little"))
        publish_file(self._fs, SNAPSHOT_TEMP_FILE, SNAPSHOT_FILE)
        self._done = True

    def abort(self) -> None:
        self._done = True
        if self._fs.exists(SNAPSHOT_TEMP_FILE):
            self._fs.remove(SNAPSHOT_TEMP_FILE)

    def _flush(self) -> None:
        if self._buffer:
            chunk = bytes(self._buffer)
            self._crc = google_crc32c.extend(self._crc, chunk)
            self._fs.append(SNAPSHOT_TEMP_FILE, chunk)
            self._buffer.clear()


def write_snapshot(fs: FileSystem, meta: SnapshotMeta, items: Iterable[SnapshotItem]) -> None:
    writer = SnapshotWriter(fs, meta)
    try:
        writer.add(items)
        writer.finish()
    except BaseException:
        writer.abort()
        raise


def remove_stale_temp(fs: FileSystem) -> None:
    for name in (SNAPSHOT_TEMP_FILE, SNAPSHOT_RECEIVE_FILE):
        if fs.exists(name):
            fs.remove(name)


class SnapshotReceiver:
    """Collects a snapshot file sent by another node; publishes it only once verified."""

    def __init__(self, fs: FileSystem) -> None:
        self._fs = fs
        fs.create(SNAPSHOT_RECEIVE_FILE)

    def write(self, chunk: bytes) -> None:
        self._fs.append(SNAPSHOT_RECEIVE_FILE, chunk)

    def finish(self) -> Snapshot:
        try:
            received = _verify(self._fs, SNAPSHOT_RECEIVE_FILE)
        except DecodeError as exc:
            self.abort()
            raise CorruptSnapshotError(
                self._fs.describe(SNAPSHOT_RECEIVE_FILE),
                str(exc),
                "It was received from another node and has been discarded, not installed; "
                "the current snapshot is unchanged.",
            ) from exc
        publish_file(self._fs, SNAPSHOT_RECEIVE_FILE, SNAPSHOT_FILE)
        return Snapshot(self._fs, SNAPSHOT_FILE, received.meta, received.items_start, received.size)

    def abort(self) -> None:
        if self._fs.exists(SNAPSHOT_RECEIVE_FILE):
            self._fs.remove(SNAPSHOT_RECEIVE_FILE)


class Snapshot:
    """A verified snapshot file: `meta` now, `items()` streamed on demand."""

    def __init__(
        self, fs: FileSystem, name: str, meta: SnapshotMeta, items_start: int, size: int
    ) -> None:
        self._fs = fs
        self._name = name
        self.meta = meta
        self.items_start = items_start
        self.size = size

    def read_raw(self, offset: int, size: int) -> bytes:
        return self._fs.read(self._name, offset, min(size, self.size - offset))

    def items(self) -> Iterator[SnapshotItem]:
        """The items, read a chunk at a time; the checksum is checked again on the way,
        since the file may have changed after load_snapshot verified it."""
        items_end = self.size - _TRAILER_SIZE
        crc = google_crc32c.value(self._fs.read(self._name, 0, self.items_start))
        file_pos, left, pending = self.items_start, self.meta.item_count, b""
        previous = SnapshotItem(b"", b"")
        try:
            while file_pos < items_end:
                size = _READ_CHUNK
                if len(pending) >= _ITEM_LEN.size:  # an item larger than a chunk: all of it
                    size = max(size, _ITEM_LEN.size + _ITEM_LEN.unpack_from(pending)[0])
                chunk = self._fs.read(self._name, file_pos, min(size, items_end - file_pos))
                if not chunk:
                    raise DecodeError("file shorter than expected")
                crc = google_crc32c.extend(crc, chunk)
                file_pos += len(chunk)
                buf = pending + chunk if pending else chunk
                items, used = _decode_items(buf, left, left == self.meta.item_count)
                for each in items:
                    if not each.continued:
                        left -= 1
                        previous = each
                    elif each.key != previous.key or each.value_type != previous.value_type:
                        raise DecodeError("an item continues a different key or type")
                yield from items
                pending = buf[used:]
            if left:
                what = "the file ends inside an item" if pending else "the file ends early"
                raise DecodeError(f"{what}: {left} of {self.meta.item_count} items missing")
            if pending:
                raise DecodeError("bytes left over after the last item")
        except DecodeError as exc:
            raise CorruptSnapshotError(self._fs.describe(self._name), str(exc)) from exc
        trailer = self._fs.read(self._name, items_end, _TRAILER_SIZE)
        crc = google_crc32c.extend(crc, trailer[: len(_END_MAGIC)])
        if crc != int.from_bytes(trailer[-4:], "little"):
            raise CorruptSnapshotError(
                self._fs.describe(self._name), "file changed while it was being read"
            )


def _decode_items(buf: bytes, limit: int, first: bool) -> tuple[list[SnapshotItem], int]:
    """The whole items at the start of `buf` (at most `limit` keys, with the continued
    items after the last of them) and the offset after them. `first`: nothing came before.

    Restarting from a snapshot decodes one item per key, so the commonest item, a string
    with no expiry and a key and value under 128 bytes each, is decoded inline; anything
    else goes through decode_item_body, which also reports what is wrong with bad bytes.
    """
    out: list[SnapshotItem] = []
    append, unpack, item = out.append, _ITEM_LEN.unpack_from, SnapshotItem
    end, pos = len(buf), 0
    while True:
        body = pos + 4
        if body > end:
            break
        stop = body + unpack(buf, pos)[0]
        if stop > end:
            break
        if stop - body >= 4 and buf[body] == _STRING and buf[body + 1] == 0:
            key_len = buf[body + 2]
            value_len_at = body + 3 + key_len
            if (
                key_len < 0x80  # one-byte varint lengths only
                and value_len_at < stop
                and buf[value_len_at] < 0x80
                and value_len_at + 1 + buf[value_len_at] == stop
            ):
                if limit == 0:
                    break
                append(item(buf[body + 3 : value_len_at], buf[value_len_at + 1 : stop]))
                limit -= 1
                pos = stop
                continue
        decoded = decode_item_body(buf[body:stop])
        if not decoded.continued:
            if limit == 0:
                break
            limit -= 1
        elif not out and first:
            raise DecodeError("the first item continues a collection that is not there")
        append(decoded)
        pos = stop
    return out, pos


def load_snapshot(fs: FileSystem) -> Snapshot | None:
    if not fs.exists(SNAPSHOT_FILE):
        return None
    try:
        return _verify(fs, SNAPSHOT_FILE)
    except DecodeError as exc:
        raise CorruptSnapshotError(fs.describe(SNAPSHOT_FILE), str(exc)) from exc


def _verify(fs: FileSystem, name: str) -> Snapshot:
    size = fs.size(name)
    if size < _HEADER.size + _TRAILER_SIZE:
        raise DecodeError(f"only {size} bytes long, too short to be a snapshot")
    crc = 0
    pos = 0
    while pos < size - 4:
        chunk = fs.read(name, pos, min(_READ_CHUNK, size - 4 - pos))
        if not chunk:
            raise DecodeError("file shorter than its size")
        crc = google_crc32c.extend(crc, chunk)
        pos += len(chunk)
    trailer = fs.read(name, size - _TRAILER_SIZE, _TRAILER_SIZE)
    if crc != int.from_bytes(trailer[-4:], "little"):
        raise DecodeError("checksum mismatch (the file is damaged or was not completely written)")
    if trailer[: len(_END_MAGIC)] != _END_MAGIC:
        raise DecodeError("missing end marker")
    head = fs.read(name, 0, _HEADER.size)
    magic, version, last_index, last_term, count, config_len = _HEADER.unpack(head)
    if magic != _MAGIC:
        raise DecodeError("not a tandemkv snapshot (bad magic)")
    if version != _VERSION:
        raise DecodeError(f"snapshot format version {version} is not supported")
    items_start = _HEADER.size + config_len
    if items_start > size - _TRAILER_SIZE:
        raise DecodeError(f"configuration length {config_len} runs past the end of the file")
    config = fs.read(name, _HEADER.size, config_len)
    meta = SnapshotMeta(last_index, last_term, count, config)
    return Snapshot(fs, name, meta, items_start, size)
