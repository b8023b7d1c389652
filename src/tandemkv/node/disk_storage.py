"""The replication core's LogStorage over a node's Store: the storage log *is* the
replication log, the hard-state file holds term and vote, and the snapshot file (with
the membership in its header) is the core's snapshot.

Reads serve the core; writes are made by the node's Ready loop, in the order the Ready
contract gives (install snapshot, append entries, save the hard state, then sync).
"""

from __future__ import annotations

from typing import Final

from tandemkv.replication import (
    NONE,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    LogCompacted,
    LogUnavailable,
    Snapshot,
    SnapshotMeta,
    decode_conf,
)
from tandemkv.replication.codec import entry_record
from tandemkv.replication.storage import limit_size
from tandemkv.storage.errors import LogCompactedError, LogIndexError
from tandemkv.storage.hardstate import HardState as StoredHardState
from tandemkv.storage.hardstate import load_hard_state, save_hard_state
from tandemkv.storage.snapshot import SNAPSHOT_FILE, SnapshotReceiver
from tandemkv.storage.snapshot import Snapshot as StoredSnapshot
from tandemkv.storage.store import Store

_KINDS: Final = {int(kind): kind for kind in EntryKind}
# Recent entries kept decoded in memory: the core reads each entry back right after
# persisting it (to apply it, to send it to a backup), so most reads hit this tail.
CACHE_ENTRIES: Final = 8192
# ...and at most this many bytes of them: one entry is one loop turn's writes, so a few
# clients pipelining big values made 8,192 entries hold gigabytes (seen under maxmemory:
# RSS 476 MB with 50 MB of data).
CACHE_BYTES: Final = 32 * 1024 * 1024
# Applied entries a log kept in memory holds on to before dropping them (in one go).
VOLATILE_KEEP: Final = 1024


class DiskStorage:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.wal = store.wal
        self.fs = store.datadir.fs
        stored = load_hard_state(self.fs)
        vote = stored.voted_for if isinstance(stored.voted_for, int) else NONE
        self._hard = HardState(stored.term, vote, stored.commit)
        self._cache: list[Entry] = []  # _cache[k].index == _cache_first + k
        self._cache_first = 0
        self._cache_bytes = 0  # the entries' data, summed

    # --- LogStorage ---------------------------------------------------------------------

    def hard_state(self) -> HardState:
        return self._hard

    def first_index(self) -> int:
        return self.wal.first_index

    def last_index(self) -> int:
        return self.wal.last_index

    def term(self, index: int) -> int:
        offset = index - self._cache_first
        if self._cache and 0 <= offset < len(self._cache):
            return self._cache[offset].term
        try:
            return self.wal.term_at(index)
        except LogCompactedError:
            raise LogCompacted(index) from None
        except LogIndexError:
            raise LogUnavailable(index) from None

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[Entry]:
        cache, first = self._cache, self._cache_first
        if cache and lo >= first and hi <= first + len(cache):
            return limit_size(cache[lo - first : hi - first], max_bytes)
        try:
            stored = self.wal.entries(lo, hi, max_bytes)
        except LogCompactedError:
            raise LogCompacted(lo) from None
        except LogIndexError:
            raise LogUnavailable(hi) from None
        return [Entry(e.term, e.index, e.data, _KINDS[e.kind]) for e in stored]

    def config_entries(self, lo: int, hi: int) -> list[Entry]:
        found: list[Entry] = []
        for index in self.wal.config_indexes(lo, hi):
            found += self.entries(index, index + 1, 0)
        return found

    def snapshot_meta(self) -> SnapshotMeta:
        meta = self.store.snapshot_meta
        if meta is None:
            # No snapshot file: the log's own boundary (0, or where a standalone store
            # was compacted before it joined a group).
            index = self.wal.first_index - 1
            return SnapshotMeta(index, self.wal.term_at(index) if index else 0, ConfState())
        conf = decode_conf(meta.config) if meta.config else ConfState()
        return SnapshotMeta(meta.last_index, meta.last_term, conf)

    def snapshot(self) -> Snapshot:
        """The whole snapshot file, for sending to a follower that is too far behind."""
        meta = self.snapshot_meta()
        if self.store.snapshot_meta is None:
            return Snapshot(meta, b"")
        return Snapshot(meta, self.fs.read(SNAPSHOT_FILE))

    # --- writes, made by the Ready loop ---------------------------------------------------

    def append(self, entries: list[Entry]) -> None:
        # The records a primary encoded once (and sends to every backup), or the ones a
        # backup received: written as they are.
        self.wal.append(entries, [entry_record(e) for e in entries])
        store = self.store
        store.written_index = self.wal.last_index
        store.log_bytes_since_snapshot += sum(len(e.data) for e in entries)
        self._remember(entries)

    def _remember(self, entries: list[Entry]) -> None:
        if not entries:
            return
        cache, start = self._cache, entries[0].index
        added = sum([len(entry.data) for entry in entries])
        if cache and self._cache_first <= start <= self._cache_first + len(cache):
            replaced = cache[start - self._cache_first :]  # a conflicting suffix
            if replaced:
                self._cache_bytes -= sum([len(entry.data) for entry in replaced])
                del cache[start - self._cache_first :]
            cache.extend(entries)
            self._cache_bytes += added
        else:
            self._cache = cache = list(entries)
            self._cache_first = start
            self._cache_bytes = added
        if len(cache) > CACHE_ENTRIES or self._cache_bytes > CACHE_BYTES:
            self._shrink_cache()

    def _shrink_cache(self) -> None:
        """Keep the newer half, by count and by bytes (the newest entry always stays)."""
        cache = self._cache
        drop = max(0, len(cache) - CACHE_ENTRIES // 2)
        dropped = sum([len(entry.data) for entry in cache[:drop]])
        while drop < len(cache) - 1 and self._cache_bytes - dropped > CACHE_BYTES // 2:
            dropped += len(cache[drop].data)
            drop += 1
        del cache[:drop]
        self._cache_first += drop
        self._cache_bytes -= dropped

    def clear_cache(self) -> None:
        """The store's log was replaced (appendonly switched): cached entries are stale."""
        self._cache.clear()
        self._cache_first = 0
        self._cache_bytes = 0

    def save_hard_state(self, hard: HardState) -> None:
        """Durable when it returns (its own fsyncs)."""
        commit = hard.commit
        if self.wal.volatile:
            # Only the snapshot outlives a restart: a commit index past it would name
            # entries recovery cannot find.
            commit = min(commit, self.store.snapshot_index)
        save_hard_state(self.fs, StoredHardState(hard.term, hard.vote or None, commit))
        self._hard = hard

    def remember_hard_state(self, hard: HardState) -> None:
        """A newer commit index only: kept in memory, written with the next save."""
        self._hard = hard

    def sync(self) -> None:
        self.wal.sync()

    def forget_applied(self, applied: int) -> None:
        """A log kept in memory only (--appendonly no) drops what the keyspace holds: a
        sole voter has no follower to send it to, and snapshots come from the keyspace."""
        wal = self.wal
        if wal.volatile and applied - wal.first_index >= VOLATILE_KEEP:
            wal.compact_through(applied, wal.term_at(applied))

    def install_snapshot(self, snapshot: Snapshot) -> StoredSnapshot:
        """Verify and publish a snapshot received from the leader; cut the log to it."""
        receiver = SnapshotReceiver(self.fs)
        try:
            receiver.write(snapshot.data)
            stored = receiver.finish()
        except BaseException:
            receiver.abort()
            raise
        meta = snapshot.meta
        self.wal.compact_through(meta.index, meta.term)
        self._cache.clear()
        self._cache_bytes = 0
        self.fs.close()  # the snapshot file was replaced: forget cached descriptors
        self.store.snapshot_index = meta.index
        self.store.snapshot_meta = stored.meta
        self.store.written_index = self.wal.last_index
        self.store.log_bytes_since_snapshot = 0
        return stored
