"""A node's durable state: the data directory, its log, its snapshot, and the keyspace
rebuilt from them. Synchronous and single-threaded; the server's asyncio shell and the
embedded API each wrap it with their own fsync policy and locking.

Opening a store = lock the directory, recover (newest valid snapshot, then the log after
it, with a torn tail repaired), load the snapshot into a fresh keyspace and replay the log.
Every batch of mutations becomes one log entry per mutation, written with one append.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from tandemkv.storage.codec import decode_mutation, encode_mutation
from tandemkv.storage.datadir import DataDir
from tandemkv.storage.fs import FileSystem
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.log import SegmentedLog
from tandemkv.storage.memlog import MemoryLog
from tandemkv.storage.mutation import Mutation, SetUser
from tandemkv.storage.record import EntryKind, LogEntry
from tandemkv.storage.recovery import ProgressCallback, TailRepair, recover, replay_entries
from tandemkv.storage.snapshot import (
    SNAPSHOT_FILE,
    SnapshotItem,
    SnapshotMeta,
    SnapshotWriter,
)
from tandemkv.storage.values import ValueType, encode_chunks, value_type
from tandemkv.storage.wire import Reader, put_bytes, put_uvarint

log: Final = logging.getLogger("tandemkv.storage")

# Take a snapshot once the log holds this much more than the last snapshot covered.
DEFAULT_SNAPSHOT_LOG_BYTES: Final = 64 * 1024 * 1024
SNAPSHOT_BATCH: Final = 10_000


@dataclass(frozen=True, slots=True)
class SnapshotPoint:
    """Where a snapshot cuts the log: everything through `index` is in it."""

    index: int
    term: int
    item_count: int
    config: bytes = b""  # the replication membership at `index` (cluster mode)


class Store:
    def __init__(
        self,
        datadir: DataDir,
        wal: SegmentedLog | MemoryLog,
        keyspace: Keyspace,
        repairs: list[TailRepair],
        snapshot_index: int,
    ) -> None:
        self.datadir = datadir
        self.wal = wal
        self.keyspace = keyspace
        self.repairs = repairs
        self.snapshot_index = snapshot_index
        # The snapshot file's header (index, term, membership), None if there is none.
        self.snapshot_meta: SnapshotMeta | None = None
        # Cluster mode: where a snapshot may cut the log now (the applied index, with its
        # membership), or None while the keyspace holds writes not yet committed.
        self.point_source: Callable[[], SnapshotPoint | None] | None = None
        self.snapshot_log_bytes = DEFAULT_SNAPSHOT_LOG_BYTES
        self.log_bytes_since_snapshot = 0
        self.term = max(1, wal.last_term)
        self.written_index = wal.last_index
        self.last_save_time = _snapshot_mtime(datadir)
        self.progress: ProgressCallback | None = None  # reports long replays

    @classmethod
    def open(
        cls,
        path: str,
        *,
        truncate_corrupt: bool = False,
        progress: ProgressCallback | None = None,
        keyspace: Keyspace | None = None,
        replay: bool = True,
        datadir: DataDir | None = None,
    ) -> Store:
        """Lock `path`, recover it and rebuild the keyspace. Raises StorageError subclasses.

        With replay=False only the snapshot is loaded: a node decides which logged entries
        it may apply (see replay_log) once it knows its membership. `datadir`: the
        directory already opened (a runtime's, such as the simulated disk's); else `path`
        is opened and locked here.
        """
        if datadir is None:
            datadir = DataDir.open(path)
        try:
            recovered = recover(datadir.fs, truncate_corrupt=truncate_corrupt, progress=progress)
            keyspace = keyspace if keyspace is not None else Keyspace()
            snapshot_index = 0
            if recovered.snapshot is not None:
                snapshot_index = recovered.snapshot.meta.last_index
                load_items(keyspace, recovered.snapshot.items())
            store = cls(datadir, recovered.log, keyspace, recovered.repairs, snapshot_index)
            store.progress = progress
            if recovered.snapshot is not None:
                store.snapshot_meta = recovered.snapshot.meta
            if replay:
                store.replay_log()
        except BaseException:
            datadir.close()
            raise
        return store

    def replay_log(self, upto: int | None = None) -> None:
        """Apply the logged writes after the snapshot, through `upto` (default: all), to a
        keyspace that holds just the snapshot: start-up, and a deposed primary's rebuild."""
        keyspace, replayed = self.keyspace, 0
        wal = self.wal
        for entry in replay_entries(wal, wal.first_index, upto, self.progress):
            if entry.kind == EntryKind.NORMAL:
                keyspace.apply(decode_mutation(entry.data))
                replayed += len(entry.data)
        keyspace.expired.clear()
        self.log_bytes_since_snapshot = max(self.log_bytes_since_snapshot, replayed)

    def drop_log(self, config: bytes) -> None:
        """--appendonly no: fold what the log holds into a snapshot (so turning the log
        off loses nothing already written), then keep the log in memory only. `config`
        is the membership the snapshot records."""
        wal = self.wal
        if wal.last_index > self.snapshot_index:
            index = wal.last_index
            point = SnapshotPoint(index, wal.term_at(index), self.keyspace.record_count(), config)
            self.write_snapshot(point, keyspace_items(self.keyspace))
            self.snapshot_written(point)
        self.wal = MemoryLog(wal.last_index, wal.last_term)
        wal.close()
        self.written_index = self.wal.last_index
        self.log_bytes_since_snapshot = 0

    @property
    def path(self) -> str:
        return self.datadir.path

    @property
    def last_index(self) -> int:
        return self.wal.last_index

    def append(self, mutations: list[Mutation]) -> int:
        """Write one entry per mutation (not yet fsynced); return the last index."""
        index = self.wal.last_index
        term = self.term
        entries = []
        for mutation in mutations:
            index += 1
            data = encode_mutation(mutation)
            self.log_bytes_since_snapshot += len(data)
            entries.append(LogEntry(term, index, EntryKind.NORMAL, data))
        self.wal.append(entries)
        # Published only once the bytes are written: a background fsync that reads it
        # knows everything up to here is in the file.
        self.written_index = index
        return index

    def sync(self) -> None:
        self.wal.sync()

    def segment_path(self) -> str:
        """The file appends currently go to, for a background fsync."""
        return os.path.join(self.datadir.path, self.wal.segment_names[-1])

    def snapshot_due(self) -> bool:
        return self.log_bytes_since_snapshot >= self.snapshot_log_bytes

    def snapshot_point(self) -> SnapshotPoint | None:
        """Where a snapshot taken now would cut the log; None when none may be taken now."""
        if self.point_source is not None:
            return self.point_source()
        index = self.wal.last_index
        term = self.wal.term_at(index) if index else 0
        return SnapshotPoint(index, term, self.keyspace.record_count())

    def write_snapshot(
        self, point: SnapshotPoint, items: Iterator[SnapshotItem], fs: FileSystem | None = None
    ) -> None:
        """Write a snapshot of `items` (the keyspace as of `point`) durably.

        A forked child passes a fresh `fs` so it shares no cached descriptors with its parent.
        """
        meta = SnapshotMeta(point.index, point.term, point.item_count, point.config)
        writer = SnapshotWriter(fs if fs is not None else self.datadir.fs, meta)
        try:
            batch: list[SnapshotItem] = []
            for item in items:
                batch.append(item)
                if len(batch) >= SNAPSHOT_BATCH:
                    writer.add(batch)
                    batch = []
            writer.add(batch)
            writer.finish()
        except BaseException:
            writer.abort()
            raise

    def snapshot_written(self, point: SnapshotPoint) -> None:
        """A snapshot through `point` is durable: drop the log it covers."""
        self.wal.compact_through(point.index, point.term)
        # The snapshot file was replaced by rename: forget descriptors of the old one.
        self.datadir.fs.close()
        self.snapshot_index = point.index
        self.snapshot_meta = SnapshotMeta(point.index, point.term, point.item_count, point.config)
        self.log_bytes_since_snapshot = 0
        self.last_save_time = _snapshot_mtime(self.datadir)

    def save(self) -> SnapshotPoint | None:
        """Snapshot in this thread, blocking (SAVE, the embedded API, shutdown); None if
        no snapshot may be taken now (cluster mode, writes in flight)."""
        self.wal.sync()
        point = self.snapshot_point()
        if point is None:
            return None
        self.write_snapshot(point, keyspace_items(self.keyspace))
        self.snapshot_written(point)
        return point

    def close(self) -> None:
        try:
            if not self.wal.failed:
                self.wal.sync()
            self.wal.close()
        finally:
            self.datadir.close()


def keyspace_items(keyspace: Keyspace) -> Iterator[SnapshotItem]:
    """The snapshot items of the keyspace: one per string, a chunked run per collection."""
    for key, value, deadline in keyspace.items():
        if type(value) is bytes:
            yield SnapshotItem(key, value, deadline)
            continue
        kind = value_type(value)
        continued = False
        for chunk in encode_chunks(value):
            yield SnapshotItem(key, chunk, deadline, kind, continued)
            continued = True
    for name, rules in list(keyspace.users.items()):
        yield SnapshotItem(name, encode_user_rules(rules), None, ValueType.ACL_USER)


def encode_user_rules(rules: tuple[bytes, ...]) -> bytes:
    out = bytearray()
    put_uvarint(out, len(rules))
    for rule in rules:
        put_bytes(out, rule)
    return bytes(out)


def decode_user_rules(data: bytes) -> tuple[bytes, ...]:
    reader = Reader(data)
    rules = tuple(reader.bytes_field() for _ in range(reader.uvarint()))
    if not reader.at_end():
        raise reader.fail("trailing bytes after an ACL user's rules")
    return rules


def load_items(keyspace: Keyspace, items: Iterable[SnapshotItem]) -> None:
    """Load snapshot items into `keyspace` (strings, and collections chunk by chunk)."""
    for item in items:
        if item.value_type == ValueType.STRING:
            keyspace.load(item.key, item.value, item.expire_at_ms)
        elif item.value_type == ValueType.ACL_USER:
            keyspace.apply(SetUser(item.key, decode_user_rules(item.value)))
        else:
            keyspace.load_record(
                item.key, item.value_type, item.value, item.expire_at_ms, item.continued
            )


def _snapshot_mtime(datadir: DataDir) -> int:
    try:
        return int(os.stat(os.path.join(datadir.path, SNAPSHOT_FILE)).st_mtime)
    except OSError:
        return 0
