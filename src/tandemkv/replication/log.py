"""The core's view of the log: persisted entries (storage) plus not-yet-persisted ones.

Entries appended by the core are "unstable" until the shell reports them persisted
through advance(). Commit and apply indexes live here too; the membership in force
is tracked alongside because it is a property of the log's contents.
"""

from __future__ import annotations

from tandemkv.replication.conf import decode_conf
from tandemkv.replication.errors import LogInvariantError as LogInvariantError
from tandemkv.replication.messages import ConfState, Entry, EntryKind, Snapshot
from tandemkv.replication.storage import (
    LogCompacted,
    LogStorage,
    LogUnavailable,
    limit_size,
)

NO_LIMIT = 1 << 62


class RaftLog:
    def __init__(self, storage: LogStorage, applied: int = 0) -> None:
        """`applied`: what the state machine already holds. It may run past the stored
        commit index only where nothing can roll those entries back: a sole voter's log,
        all of which it commits once elected (the commit index is saved lazily)."""
        self.storage = storage
        self.committed = storage.hard_state().commit
        self.applied = max(storage.first_index() - 1, min(applied, storage.last_index()))
        self.applying = self.applied  # highest index handed to the shell for applying
        self.offset = storage.last_index() + 1  # index of unstable[0]
        self.unstable: list[Entry] = []
        self.unstable_snapshot: Snapshot | None = None
        self.handed_index = self.offset - 1  # unstable entries up to here are being persisted
        self.snapshot_handed = False
        self.confs: list[tuple[int, ConfState]] = []
        self._load_confs()
        if self.committed > self.last_index():
            raise LogInvariantError(f"commit {self.committed} beyond last {self.last_index()}")

    def _load_confs(self) -> None:
        lo, hi = self.storage.first_index(), self.storage.last_index() + 1
        if lo < hi:
            for entry in self.storage.config_entries(lo, hi):
                self.confs.append((entry.index, decode_conf(entry.data)))

    # --- reading ------------------------------------------------------------------------

    def snapshot_index(self) -> int:
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.meta.index
        return self.storage.first_index() - 1

    def first_index(self) -> int:
        return self.snapshot_index() + 1

    def last_index(self) -> int:
        return self.offset + len(self.unstable) - 1

    def stable_index(self) -> int:
        """Last index the shell has reported persisted."""
        return self.offset - 1 if self.unstable_snapshot is None else self.snapshot_index()

    def term(self, index: int) -> int | None:
        """The term at ``index``, or None when it is compacted away or not yet known."""
        if index >= self.offset:
            pos = index - self.offset
            return self.unstable[pos].term if pos < len(self.unstable) else None
        snap = self.unstable_snapshot
        if snap is not None:
            return snap.meta.term if index == snap.meta.index else None
        try:
            return self.storage.term(index)
        except (LogCompacted, LogUnavailable):
            return None

    def last_term(self) -> int:
        term = self.term(self.last_index())
        assert term is not None
        return term

    def match_term(self, index: int, term: int) -> bool:
        return self.term(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Whether a candidate's log is at least as up to date as ours (Raft §5.4.1)."""
        ours = self.last_term()
        return last_term > ours or (last_term == ours and last_index >= self.last_index())

    def slice(self, lo: int, hi: int, max_bytes: int) -> list[Entry]:
        """Entries in [lo, hi) within max_bytes (at least one). Raises LogCompacted."""
        if lo >= hi:
            return []
        if lo < self.first_index():
            raise LogCompacted(lo)
        out: list[Entry] = []
        if lo < self.offset:
            out = self.storage.entries(lo, min(hi, self.offset), max_bytes)
            if out[-1].index < min(hi, self.offset) - 1:
                return out  # size limit reached inside storage
        if hi > self.offset:
            start = max(lo, self.offset) - self.offset
            out = out + self.unstable[start : hi - self.offset]
        return limit_size(out, max_bytes)

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest (i, term(i)) with i <= index and term(i) <= term.

        Used on both sides of a rejected append to skip a whole term of entries at once.
        """
        index = min(index, self.last_index())
        while index > 0:
            found = self.term(index)
            if found is None:
                return index, 0
            if found <= term:
                return index, found
            index -= 1
        return 0, 0

    def _base_conf(self) -> ConfState:
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.meta.conf
        return self.storage.snapshot_meta().conf

    def conf_state(self) -> ConfState:
        """The membership in force: the newest CONFIG entry held, else the snapshot's."""
        return self.confs[-1][1] if self.confs else self._base_conf()

    def uncommitted_previous_conf(self) -> ConfState | None:
        """The membership before the newest one, while the newest is not committed."""
        if not self.confs or self.confs[-1][0] <= self.committed:
            return None
        return self.confs[-2][1] if len(self.confs) > 1 else self._base_conf()

    # --- writing ------------------------------------------------------------------------

    def append(self, entries: list[Entry]) -> None:
        """Append entries, discarding whatever we held from entries[0].index on."""
        if not entries:
            return
        after = entries[0].index
        if after <= self.committed:
            raise LogInvariantError(f"truncating committed index {after} <= {self.committed}")
        if after > self.last_index() + 1:
            raise LogInvariantError(f"gap: append {after} after {self.last_index()}")
        if after < self.offset:
            self.offset = after
            self.unstable = list(entries)
        else:
            del self.unstable[after - self.offset :]
            self.unstable.extend(entries)
        self.handed_index = min(self.handed_index, after - 1)
        while self.confs and self.confs[-1][0] >= after:
            self.confs.pop()
        for entry in entries:
            if entry.kind is EntryKind.CONFIG:
                self.confs.append((entry.index, decode_conf(entry.data)))

    def maybe_append(
        self, prev_index: int, prev_term: int, commit: int, entries: tuple[Entry, ...]
    ) -> int | None:
        """Follower side of AppendEntries: None if the consistency check fails, else the
        index up to which our log now matches the leader's."""
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(entries)
        for pos, entry in enumerate(entries):
            if not self.match_term(entry.index, entry.term):
                if entry.index <= self.committed:
                    raise LogInvariantError(f"conflict at committed index {entry.index}")
                self.append(list(entries[pos:]))
                break
        self.commit_to(min(commit, last_new))
        return last_new

    def commit_to(self, index: int) -> None:
        if index > self.committed:
            if index > self.last_index():
                raise LogInvariantError(f"commit {index} beyond last {self.last_index()}")
            self.committed = index

    def maybe_commit(self, index: int, term: int) -> bool:
        """Commit up to index only if it holds an entry of ``term`` (the current term)."""
        if index > self.committed and self.term(index) == term:
            self.committed = index
            return True
        return False

    def restore(self, snapshot: Snapshot) -> None:
        meta = snapshot.meta
        self.committed = meta.index
        self.applied = self.applying = meta.index
        self.offset = meta.index + 1
        self.unstable = []
        self.unstable_snapshot = snapshot
        self.snapshot_handed = False
        self.handed_index = meta.index
        self.confs = []

    # --- the Ready cycle ----------------------------------------------------------------

    def entries_to_persist(self) -> list[Entry]:
        start = max(self.handed_index + 1, self.offset)
        return self.unstable[start - self.offset :]

    def snapshot_to_persist(self) -> Snapshot | None:
        return None if self.snapshot_handed else self.unstable_snapshot

    def entries_to_apply(self, max_bytes: int) -> list[Entry]:
        hi = min(self.committed, self.stable_index())
        lo = max(self.applying, self.snapshot_index()) + 1
        return self.slice(lo, hi + 1, max_bytes) if lo <= hi else []

    def stable_to(self, index: int, term: int) -> None:
        """The shell persisted entries up to (index, term); ignore if since overwritten."""
        if index >= self.offset and self.term(index) == term:
            del self.unstable[: index + 1 - self.offset]
            self.offset = index + 1

    def stable_snapshot_to(self, index: int) -> None:
        if self.unstable_snapshot is not None and self.unstable_snapshot.meta.index == index:
            self.unstable_snapshot = None
            self.snapshot_handed = False

    def applied_to(self, index: int) -> None:
        if index > self.applied:
            self.applied = index
