"""The keyspace: keys to values, with an expiry index. Pure: the time comes in as `now_ms`.

Values are `bytes` for strings; other Redis types (hash, list, set) will be other Python
containers, told apart by their type, so adding one needs no change to the expiry logic.

Expiry is lazy (a read of a key past its deadline treats it as absent) plus an active cycle
that pops due deadlines from a heap with a bounded amount of work per call, so a million keys
expiring at once never stall the event loop. The heap may hold stale deadlines (a key whose
expiry changed or which was deleted); they are skipped when popped and the heap is rebuilt
when stale entries outnumber live ones.

Only a node that owns expiry (a primary, or a single node) deletes expired keys; the keys it
deletes are queued in `expired` so the shell can log the deletes for backups and recovery.
A backup (`owns_expiry=False`) hides such keys on read but keeps them until told.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from tandemkv.storage.mutation import (
    Append,
    Batch,
    Delete,
    FlushAll,
    Mutation,
    Rename,
    SetExpiry,
    SetRange,
    SetValue,
)

Value = bytes


class WatchFlag(Protocol):
    """Something WATCH-like that learns when a key it follows is modified.

    Removing a key that was already past its deadline when it was watched changes nothing
    anyone could have seen, so such removals (listed in `watched_expired`) leave it clean.
    """

    dirty: bool
    watched_expired: set[bytes]


class Keyspace:
    __slots__ = ("_data", "_expires", "_heap", "_watchers", "expired", "owns_expiry")

    def __init__(self, owns_expiry: bool = True) -> None:
        self._data: dict[bytes, Value] = {}
        self._expires: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []
        self._watchers: dict[bytes, list[WatchFlag]] = {}
        self.expired: list[bytes] = []
        self.owns_expiry = owns_expiry

    # ----------------------------------------------------------------- reads

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: bytes, now_ms: int) -> Value | None:
        """The live value of `key`, or None if absent or past its deadline."""
        value = self._data.get(key)
        if value is None or not self._expires:
            return value
        deadline = self._expires.get(key)
        if deadline is not None and deadline <= now_ms:
            self._expire(key)
            return None
        return value

    def contains(self, key: bytes, now_ms: int) -> bool:
        return self.get(key, now_ms) is not None

    def is_past_deadline(self, key: bytes, now_ms: int) -> bool:
        """Stored but logically expired (not yet removed). Removes nothing."""
        deadline = self._expires.get(key)
        return deadline is not None and deadline <= now_ms and key in self._data

    def expire_at(self, key: bytes) -> int | None:
        """The absolute deadline (Unix ms) of `key`, or None. Call after a live `get`."""
        return self._expires.get(key)

    def live_keys(self, now_ms: int) -> list[bytes]:
        """Every key not past its deadline (a copy, safe to iterate while mutating)."""
        expires = self._expires
        if not expires:
            return list(self._data)
        return [k for k in self._data if (d := expires.get(k)) is None or d > now_ms]

    def snapshot_keys(self) -> tuple[list[bytes], dict[bytes, int]]:
        """Every stored key and a copy of the deadlines, taken at C speed, so that a long
        scan can filter them later (`live_keys` at its time) while the keyspace changes."""
        return list(self._data), dict(self._expires)

    def keys_view(self) -> Iterable[bytes]:
        """All stored keys, including ones past their deadline not yet removed."""
        return self._data.keys()

    def expiring_count(self) -> int:
        return len(self._expires)

    def items(self) -> Iterator[tuple[bytes, Value, int | None]]:
        """(key, value, deadline) for every stored key, for snapshots."""
        expires = self._expires
        for key, value in self._data.items():
            yield key, value, expires.get(key)

    # ---------------------------------------------------------------- writes

    def apply(self, mutation: Mutation) -> None:
        """Apply one deterministic mutation (from a handler, the log or a primary)."""
        handler = _APPLY[type(mutation)]
        handler(self, mutation)

    def load(self, key: bytes, value: Value, expire_at_ms: int | None) -> None:
        """Insert a key while restoring a snapshot."""
        self._data[key] = value
        if expire_at_ms is not None:
            self._set_deadline(key, expire_at_ms)

    def expire_cycle(self, now_ms: int, budget: int = 200) -> int:
        """Remove at most `budget` keys whose deadline has passed; return how many."""
        if not self.owns_expiry:
            return 0
        heap, expires = self._heap, self._expires
        removed = 0
        steps = 0
        while heap and heap[0][0] <= now_ms and steps < budget * 4 and removed < budget:
            deadline, key = heapq.heappop(heap)
            steps += 1
            if expires.get(key) == deadline:
                self._expire(key)
                removed += 1
        return removed

    def next_deadline(self) -> int | None:
        """The earliest deadline in the index (possibly stale), to schedule the next cycle."""
        return self._heap[0][0] if self._heap else None

    # --------------------------------------------------------------- watches

    def watch(self, key: bytes, flag: WatchFlag) -> None:
        self._watchers.setdefault(key, []).append(flag)

    def unwatch(self, key: bytes, flag: WatchFlag) -> None:
        flags = self._watchers.get(key)
        if flags is None:
            return
        flags[:] = [f for f in flags if f is not flag]
        if not flags:
            del self._watchers[key]

    # -------------------------------------------------------------- internals

    def _touch(self, key: bytes, expiring: bool = False) -> None:
        flags = self._watchers.get(key)
        if flags:
            for flag in flags:
                if not (expiring and key in flag.watched_expired):
                    flag.dirty = True

    def _expire(self, key: bytes) -> None:
        if not self.owns_expiry:
            return
        self._remove(key, expiring=True)
        self.expired.append(key)

    def _remove(self, key: bytes, expiring: bool = False) -> bool:
        if self._data.pop(key, None) is None:
            return False
        self._expires.pop(key, None)
        if self._watchers:
            self._touch(key, expiring)
        return True

    def _set_deadline(self, key: bytes, deadline: int | None) -> None:
        if deadline is None:
            self._expires.pop(key, None)
            return
        self._expires[key] = deadline
        heapq.heappush(self._heap, (deadline, key))
        if len(self._heap) > 2 * len(self._expires) + 1024:
            self._heap = [(d, k) for k, d in self._expires.items()]
            heapq.heapify(self._heap)

    def _apply_set(self, m: SetValue) -> None:
        key = m.key
        self._data[key] = m.value
        if not m.keep_ttl and (m.expire_at_ms is not None or key in self._expires):
            self._set_deadline(key, m.expire_at_ms)
        if self._watchers:
            self._touch(key)

    def _apply_append(self, m: Append) -> None:
        old = self._data.get(m.key, b"")
        self._data[m.key] = old + m.suffix
        if self._watchers:
            self._touch(m.key)

    def _apply_setrange(self, m: SetRange) -> None:
        old = self._data.get(m.key, b"")
        end = m.offset + len(m.data)
        if len(old) < m.offset:
            old += b"\x00" * (m.offset - len(old))
        self._data[m.key] = old[: m.offset] + m.data + old[end:]
        if self._watchers:
            self._touch(m.key)

    def _apply_delete(self, m: Delete) -> None:
        for key in m.keys:
            self._remove(key)

    def _apply_expiry(self, m: SetExpiry) -> None:
        if m.key in self._data:
            self._set_deadline(m.key, m.expire_at_ms)
            if self._watchers:
                self._touch(m.key)

    def _apply_rename(self, m: Rename) -> None:
        value = self._data.get(m.src)
        if value is None:
            return
        deadline = self._expires.get(m.src)
        self._remove(m.src)
        self._data[m.dst] = value
        self._set_deadline(m.dst, deadline)
        if self._watchers:
            self._touch(m.dst)

    def _apply_flush(self, m: FlushAll) -> None:
        for key in list(self._watchers):
            if key in self._data:
                self._touch(key)
        self._data.clear()
        self._expires.clear()
        self._heap.clear()

    def _apply_batch(self, m: Batch) -> None:
        handlers = _APPLY
        for item in m.items:
            handlers[type(item)](self, item)


_APPLY: dict[type, Callable[[Keyspace, object], None]] = {
    SetValue: Keyspace._apply_set,  # type: ignore[dict-item]
    Append: Keyspace._apply_append,  # type: ignore[dict-item]
    SetRange: Keyspace._apply_setrange,  # type: ignore[dict-item]
    Delete: Keyspace._apply_delete,  # type: ignore[dict-item]
    SetExpiry: Keyspace._apply_expiry,  # type: ignore[dict-item]
    Rename: Keyspace._apply_rename,  # type: ignore[dict-item]
    FlushAll: Keyspace._apply_flush,  # type: ignore[dict-item]
    Batch: Keyspace._apply_batch,  # type: ignore[dict-item]
}
