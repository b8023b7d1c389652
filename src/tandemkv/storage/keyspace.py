"""The keyspace: keys to values, with an expiry index. Pure: the time comes in as `now_ms`.

Values are `bytes` for strings and Python containers for the other Redis types (see
storage/values.py), told apart by their type, so the expiry logic knows none of them.
Collections are mutated in place, only here, by applying mutations; a collection left
empty is removed, as in Redis, except a stream, which Redis keeps (with its last id).

Expiry is lazy (a read of a key past its deadline treats it as absent) plus an active cycle
that pops due deadlines from a heap with a bounded amount of work per call, so a million keys
expiring at once never stall the event loop. The heap may hold stale deadlines (a key whose
expiry changed or which was deleted); they are skipped when popped and the heap is rebuilt
when stale entries outnumber live ones.

Only a node that owns expiry (a primary, or a single node) deletes expired keys; the keys it
deletes are queued in `expired` so the shell can log the deletes for backups and recovery.
A backup (`owns_expiry=False`) hides such keys on read but keeps them until told.

Memory: `used_memory()` is the keyspace's own estimate of what it holds (storage/memory.py
has the cost model): a running total of the keys' and values' bytes, updated by each
mutation as it applies (a collection's share kept per key in `_sizes`, so removing it
costs a lookup), plus per-entry costs times the sizes of the dicts, computed when asked.

Access clock, for the LRU and LFU eviction policies (storage/eviction.py): off until the
engine turns it on (`track_access`), then each live read and each write stamps the key in
`_access`: the time of the access (LRU), or Redis's logarithmic use counter and the minute
it was last decayed (LFU). Off, it costs one attribute test per read.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Final, Protocol

from tandemkv.storage import memory as mem
from tandemkv.storage.eviction import LFU_INIT, lfu_touched
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
)
from tandemkv.storage.stream import Stream
from tandemkv.storage.values import Value, ValueType, copy_value, empty, load_chunk
from tandemkv.storage.zset import SortedSet


class WatchFlag(Protocol):
    """Something WATCH-like that learns when a key it follows is modified.

    Removing a key that was already past its deadline when it was watched changes nothing
    anyone could have seen, so such removals (listed in `watched_expired`) leave it clean.
    """

    dirty: bool
    watched_expired: set[bytes]


# What `track_access` may keep: nothing, last access times, or LFU counters.
ACCESS_OFF: Final = 0
ACCESS_LRU: Final = 1
ACCESS_LFU: Final = 2


class Keyspace:
    __slots__ = (
        "_access",
        "_data",
        "_expires",
        "_heap",
        "_lfu_random",
        "_sizes",
        "_used",
        "_watchers",
        "access_mode",
        "clock_ms",
        "expired",
        "owns_expiry",
        "users",
        "users_changed",
    )

    def __init__(self, owns_expiry: bool = True) -> None:
        self._data: dict[bytes, Value] = {}
        self._expires: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []
        self._watchers: dict[bytes, list[WatchFlag]] = {}
        self.expired: list[bytes] = []
        self.owns_expiry = owns_expiry
        # The keys' and values' bytes (see the module doc), and each collection's share.
        self._used = 0
        self._sizes: dict[bytes, int] = {}
        # The access clock: None while off. Writes stamp keys with `clock_ms`, the time
        # the engine last gave (mutations carry no time).
        self._access: dict[bytes, int] | None = None
        self.access_mode = ACCESS_OFF
        self._lfu_random: Callable[[], float] | None = None
        self.clock_ms = 0
        # ACL users, replicated with the keys (commands/acl.py): name -> the rules that
        # rebuild it. Not keys: DBSIZE, FLUSHALL and SCAN never see them. `users_changed`
        # (the engine's) hears each name set or removed, None when all were replaced.
        self.users: dict[bytes, tuple[bytes, ...]] = {}
        self.users_changed: Callable[[bytes | None], None] | None = None

    # ----------------------------------------------------------------- reads

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: bytes, now_ms: int) -> Value | None:
        """The live value of `key`, or None if absent or past its deadline."""
        value = self._data.get(key)
        if value is None:
            return None
        if self._expires:
            deadline = self._expires.get(key)
            if deadline is not None and deadline <= now_ms:
                self._expire(key)
                return None
        if self._access is not None:
            self._accessed(key, now_ms)
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

    # ---------------------------------------------------------------- memory

    def used_memory(self) -> int:
        """The estimate of the bytes this keyspace holds (storage/memory.py)."""
        access = self._access
        return (
            self._used
            + len(self._data) * mem.KEY_SLOT
            # A heap entry per deadline: the stale ones (bounded, see _set_deadline) are
            # left out, as no eviction could free them.
            + len(self._expires) * (mem.EXPIRY_ENTRY + mem.HEAP_ENTRY)
            + (len(access) * mem.ACCESS_ENTRY if access is not None else 0)
        )

    def track_access(self, mode: int, lfu_random: Callable[[], float] | None = None) -> None:
        """Start (or stop, ACCESS_OFF) keeping the access clock; a change of mode starts
        it afresh. LFU draws its probabilistic increments from `lfu_random`."""
        if mode != self.access_mode:
            self.access_mode = mode
            self._access = None if mode == ACCESS_OFF else {}
        self._lfu_random = lfu_random

    def idle_ms(self, key: bytes, now_ms: int) -> int:
        """How long since `key` was last read or written (LRU); a key not seen since the
        clock started counts as idle since the epoch."""
        access = self._access
        stamp = access.get(key, 0) if access is not None and self.access_mode == ACCESS_LRU else 0
        return now_ms - stamp

    def lfu_counter(self, key: bytes, now_ms: int) -> int:
        """The key's LFU counter, decayed to `now_ms` (0 for a key the clock never saw)."""
        access = self._access
        if access is None or self.access_mode != ACCESS_LFU or key not in access:
            return 0
        return lfu_touched(access[key], now_ms, None) & 0xFF

    def candidates(self, volatile: bool) -> dict[bytes, object]:
        """The keys eviction may choose from: all of them, or those with a deadline. The
        live dict, for sampling: read it, never change it."""
        return self._expires if volatile else self._data  # type: ignore[return-value]

    def _accessed(self, key: bytes, now_ms: int) -> None:
        access = self._access
        assert access is not None
        if self.access_mode == ACCESS_LRU:
            access[key] = now_ms
            return
        stamp = access.get(key)
        access[key] = (
            lfu_touched(stamp, now_ms, self._lfu_random)
            if stamp is not None
            else ((now_ms // 60_000) << 8) | LFU_INIT
        )

    def record_count(self) -> int:
        """What a snapshot of this keyspace counts: its keys and its ACL users."""
        return len(self._data) + len(self.users)

    def items(self) -> Iterator[tuple[bytes, Value, int | None]]:
        """(key, value, deadline) for every stored key, for snapshots."""
        expires = self._expires
        for key, value in self._data.items():
            yield key, value, expires.get(key)

    # ---------------------------------------------------------------- writes

    def apply(self, mutation: Mutation) -> None:
        """Apply one deterministic mutation (from a handler, the log or a primary)."""
        if type(mutation) is SetValue:
            # The commonest write, called directly: compiled, a call through the table
            # below goes through Python's calling convention and argument checks.
            self._apply_set(mutation)
            return
        handler = _APPLY[type(mutation)]
        handler(self, mutation)

    def load(self, key: bytes, value: Value, expire_at_ms: int | None) -> None:
        """Insert a key while restoring a snapshot."""
        self._forget(key)
        self._data[key] = value
        if type(value) is bytes:
            self._used += mem.blob(len(key)) + mem.blob(len(value))
        else:
            cost = mem.value_cost(value)
            self._sizes[key] = cost
            self._used += mem.blob(len(key)) + cost
        if expire_at_ms is not None:
            self._set_deadline(key, expire_at_ms)

    def load_record(
        self,
        key: bytes,
        kind: int,
        payload: bytes,
        expire_at_ms: int | None,
        continued: bool = False,
    ) -> None:
        """Insert a snapshot record: a string, a collection's first chunk of elements, or
        (`continued`) the next chunk of the collection loaded last."""
        if kind == ValueType.STRING:
            self.load(key, payload, expire_at_ms)
            return
        if continued:
            container = self._data[key]
            before = len(container)
            load_chunk(container, payload)
            self._grow(key, self._chunk_cost(kind, len(container) - before, payload))
            return
        container = empty(ValueType(kind))
        self.load(key, container, expire_at_ms)
        load_chunk(container, payload)
        self._grow(key, self._chunk_cost(kind, len(container), payload))

    @staticmethod
    def _chunk_cost(kind: int, elements: int, payload: bytes) -> int:
        """A snapshot chunk's share of the estimate, from its size rather than element by
        element (loading stays one pass over the payload)."""
        return elements * mem.CHUNK_ELEMENT[kind] + len(payload)

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
        value = self._data.pop(key, None)
        if value is None:
            return False
        self._discount(key, value)
        self._expires.pop(key, None)
        if self._watchers:
            self._touch(key, expiring)
        return True

    def _discount(self, key: bytes, value: Value) -> None:
        """Take a key that just left `_data` out of the estimate and the access clock."""
        size = mem.blob(len(value)) if type(value) is bytes else self._sizes.pop(key)
        self._used -= mem.blob(len(key)) + size
        if self._access is not None:
            self._access.pop(key, None)

    def _forget(self, key: bytes) -> None:
        """Before a key is stored anew: take its old value, if any, out of the estimate."""
        old = self._data.get(key)
        if old is not None:
            self._discount(key, old)

    def _grow(self, key: bytes, delta: int) -> None:
        """A collection at `key` changed size by `delta` bytes."""
        self._sizes[key] += delta
        self._used += delta

    def _stamp(self, key: bytes) -> None:
        """A write accessed `key` (for the access clock, at the engine's last time)."""
        if self._access is not None:
            self._accessed(key, self.clock_ms)

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
        data = self._data
        old = data.get(key)
        if type(old) is bytes:  # the hot path, inlined: blob(new) - blob(old)
            self._used += len(m.value) - len(old)
        else:
            if old is not None:
                self._discount(key, old)
            self._used += len(key) + len(m.value) + 2 * mem.BLOB
        data[key] = m.value
        if self._access is not None:
            self._accessed(key, self.clock_ms)
        if not m.keep_ttl and (m.expire_at_ms is not None or key in self._expires):
            self._set_deadline(key, m.expire_at_ms)
        if self._watchers:
            self._touch(key)

    def _string(self, key: bytes) -> bytes:
        """The string at `key` (b"" if absent) for APPEND and SETRANGE, which the handlers
        only emit for a string or an absent key."""
        old = self._data.get(key, b"")
        if type(old) is not bytes:
            raise TypeError(f"a string mutation for a {type(old).__name__} value")
        return old

    def _apply_append(self, m: Append) -> None:
        old = self._string(m.key)
        self._replace_string(m.key, old, old + m.suffix)
        if self._watchers:
            self._touch(m.key)

    def _apply_setrange(self, m: SetRange) -> None:
        old = self._string(m.key)
        end = m.offset + len(m.data)
        if len(old) < m.offset:
            old += b"\x00" * (m.offset - len(old))
        self._replace_string(m.key, old, old[: m.offset] + m.data + old[end:])
        if self._watchers:
            self._touch(m.key)

    def _replace_string(self, key: bytes, old: bytes, new: bytes) -> None:
        """Store `new` at `key`, whose string was `old` (b"" also when it was absent)."""
        if key in self._data:
            self._used += mem.blob(len(new)) - mem.blob(len(old))
        else:
            self._used += mem.blob(len(key)) + mem.blob(len(new))
        self._data[key] = new
        self._stamp(key)

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
        size = self._sizes.get(m.src)
        stamp = self._access.get(m.src) if self._access is not None else None
        self._remove(m.src)
        self._forget(m.dst)
        self._data[m.dst] = value
        self._used += mem.blob(len(m.dst)) + (mem.blob(len(value)) if size is None else size)
        if size is not None:
            self._sizes[m.dst] = size
        if stamp is not None and self._access is not None:
            self._access[m.dst] = stamp  # a renamed key keeps its history, as in Redis
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
        self._sizes.clear()
        self._used = 0
        if self._access is not None:
            self._access.clear()

    def _apply_copy(self, m: Copy) -> None:
        value = self._data.get(m.src)
        if value is None:
            return
        self._remove(m.dst)
        self._data[m.dst] = copy_value(value)
        size = self._sizes.get(m.src)
        self._used += mem.blob(len(m.dst)) + (mem.blob(len(value)) if size is None else size)
        if size is not None:
            self._sizes[m.dst] = size
        self._stamp(m.dst)
        self._set_deadline(m.dst, self._expires.get(m.src))
        if self._watchers:
            self._touch(m.dst)

    # ----------------------------------------------------------- collections

    def _container(self, key: bytes, kind: ValueType) -> Value:
        """The collection at `key`, created empty if absent; touches its watchers."""
        value = self._data.get(key)
        if value is None:
            value = self._data[key] = empty(kind)
            size = self._sizes[key] = mem.EMPTY_OF[kind]
            self._used += mem.blob(len(key)) + size
        if self._watchers:
            self._touch(key)
        if self._access is not None:
            self._accessed(key, self.clock_ms)
        return value

    def _existing(self, key: bytes) -> Value | None:
        value = self._data.get(key)
        if value is not None:
            if self._watchers:
                self._touch(key)
            if self._access is not None:
                self._accessed(key, self.clock_ms)
        return value

    def _drop_if_empty(self, key: bytes, value: Value) -> None:
        if not value:
            self._data.pop(key, None)
            self._discount(key, value)
            self._expires.pop(key, None)

    def _apply_hset(self, m: HashSet) -> None:
        fields: dict[bytes, bytes] = self._container(m.key, ValueType.HASH)  # type: ignore[assignment]
        pairs = m.pairs
        blob = mem.blob
        delta = 0
        for i in range(0, len(pairs), 2):
            field, value = pairs[i], pairs[i + 1]
            old = fields.get(field)
            if old is None:
                delta += mem.HASH_FIELD + blob(len(field)) + blob(len(value))
            else:
                delta += blob(len(value)) - blob(len(old))
            fields[field] = value
        self._grow(m.key, delta)

    def _apply_hdel(self, m: HashDelete) -> None:
        fields = self._existing(m.key)
        if type(fields) is dict:
            blob = mem.blob
            delta = 0
            for field in m.fields:
                old = fields.pop(field, None)
                if old is not None:
                    delta += mem.HASH_FIELD + blob(len(field)) + blob(len(old))
            self._grow(m.key, -delta)
            self._drop_if_empty(m.key, fields)

    def _apply_lpush(self, m: ListPush) -> None:
        items: deque[bytes] = self._container(m.key, ValueType.LIST)  # type: ignore[assignment]
        if m.left:
            items.extendleft(m.items)
        else:
            items.extend(m.items)
        self._grow(m.key, self._items_cost(m.items))

    @staticmethod
    def _items_cost(items: Iterable[bytes]) -> int:
        blob = mem.blob
        return sum(mem.LIST_ITEM + blob(len(item)) for item in items)

    def _apply_lpop(self, m: ListPop) -> None:
        items = self._existing(m.key)
        if type(items) is deque:
            pop = items.popleft if m.left else items.pop
            self._grow(m.key, -self._items_cost([pop() for _ in range(min(m.amount, len(items)))]))
            self._drop_if_empty(m.key, items)

    def _apply_lset(self, m: ListSet) -> None:
        items = self._existing(m.key)
        if type(items) is deque and 0 <= m.position < len(items):
            old = items[m.position]
            items[m.position] = m.value
            self._grow(m.key, mem.blob(len(m.value)) - mem.blob(len(old)))

    def _apply_linsert(self, m: ListInsert) -> None:
        items = self._existing(m.key)
        if type(items) is deque and 0 <= m.position <= len(items):
            items.insert(m.position, m.value)
            self._grow(m.key, mem.LIST_ITEM + mem.blob(len(m.value)))

    def _apply_lrem(self, m: ListRemove) -> None:
        items = self._existing(m.key)
        if type(items) is not deque:
            return
        value, count = m.value, m.amount
        limit = abs(count) if count else len(items)
        kept: list[bytes] = []
        removed = 0
        for item in items if count >= 0 else reversed(items):
            if removed < limit and item == value:
                removed += 1
            else:
                kept.append(item)
        if count < 0:
            kept.reverse()
        items.clear()
        items.extend(kept)
        self._grow(m.key, -removed * (mem.LIST_ITEM + mem.blob(len(value))))
        self._drop_if_empty(m.key, items)

    def _apply_ltrim(self, m: ListTrim) -> None:
        items = self._existing(m.key)
        if type(items) is not deque:
            return
        size = len(items)
        start, stop = max(0, m.start), min(m.stop, size - 1)
        if start > stop:
            removed = list(items)
            items.clear()
        else:
            removed = [items.pop() for _ in range(size - 1 - stop)]
            removed += [items.popleft() for _ in range(start)]
        self._grow(m.key, -self._items_cost(removed))
        self._drop_if_empty(m.key, items)

    def _apply_sadd(self, m: SetAdd) -> None:
        members: set[bytes] = self._container(m.key, ValueType.SET)  # type: ignore[assignment]
        blob = mem.blob
        delta = 0
        for member in m.members:
            if member not in members:
                members.add(member)
                delta += mem.SET_MEMBER + blob(len(member))
        self._grow(m.key, delta)

    def _apply_srem(self, m: SetRemove) -> None:
        members = self._existing(m.key)
        if type(members) is set:
            blob = mem.blob
            delta = 0
            for member in m.members:
                if member in members:
                    members.remove(member)
                    delta += mem.SET_MEMBER + blob(len(member))
            self._grow(m.key, -delta)
            self._drop_if_empty(m.key, members)

    def _apply_zadd(self, m: ZSetAdd) -> None:
        zset: SortedSet = self._container(m.key, ValueType.ZSET)  # type: ignore[assignment]
        scores = zset.scores
        delta = 0
        members = m.members
        for member in members if len(members) < 2 else dict.fromkeys(members):
            if member not in scores:
                delta += mem.ZSET_MEMBER + mem.blob(len(member))
        zset.add_many(m.scores, m.members)
        self._grow(m.key, delta)

    def _apply_zrem(self, m: ZSetRemove) -> None:
        zset = self._existing(m.key)
        if isinstance(zset, SortedSet):
            gone = zset.discard_many(m.members)
            delta = sum([mem.ZSET_MEMBER + mem.blob(len(member)) for member in gone])
            self._grow(m.key, -delta)
            self._drop_if_empty(m.key, zset)

    def _apply_xadd(self, m: StreamAdd) -> None:
        stream: Stream = self._container(m.key, ValueType.STREAM)  # type: ignore[assignment]
        old = stream.entries.get((m.ms, m.seq))
        stream.add((m.ms, m.seq), m.fields)
        replaced = mem.fields_cost(old) if old is not None else 0
        self._grow(m.key, mem.fields_cost(m.fields) - replaced)

    def _apply_xdel(self, m: StreamDelete) -> None:
        stream = self._existing(m.key)
        if type(stream) is Stream:
            entries = stream.entries
            gone = [entries[sid] for sid in set(m.ids) if sid in entries]
            stream.delete(m.ids)
            self._grow(m.key, -sum(mem.fields_cost(fields) for fields in gone))

    def _apply_xtrim(self, m: StreamTrim) -> None:
        stream = self._existing(m.key)
        if type(stream) is Stream:
            entries = stream.entries
            stop = entries.bisect_right((m.ms, m.seq))
            gone = sum(mem.fields_cost(fields) for fields in islice(entries.values(), stop))
            stream.trim_through((m.ms, m.seq))
            self._grow(m.key, -gone)

    def _apply_xsetid(self, m: StreamSetId) -> None:
        stream = self._existing(m.key)
        if type(stream) is Stream:
            stream.set_metadata(m.last, m.entries_added, m.max_deleted)

    def _apply_publish(self, m: Publish) -> None:
        """A pub/sub message changes no key; delivering it is the engine's and the node's."""

    def _apply_set_user(self, m: SetUser) -> None:
        self.users[m.name] = m.rules
        if self.users_changed is not None:
            self.users_changed(m.name)

    def _apply_delete_users(self, m: DeleteUsers) -> None:
        if m.all_users:
            self.users.clear()
        for name in m.names:
            self.users.pop(name, None)
        if self.users_changed is not None:
            for name in m.names:
                self.users_changed(name)
            if m.all_users:
                self.users_changed(None)

    def _apply_batch(self, m: Batch) -> None:
        handlers = _APPLY
        for item in m.items:
            handlers[type(item)](self, item)


_APPLY: Final[dict[type, Callable[[Keyspace, object], None]]] = {
    SetValue: Keyspace._apply_set,  # type: ignore[dict-item]
    Append: Keyspace._apply_append,  # type: ignore[dict-item]
    SetRange: Keyspace._apply_setrange,  # type: ignore[dict-item]
    Delete: Keyspace._apply_delete,  # type: ignore[dict-item]
    SetExpiry: Keyspace._apply_expiry,  # type: ignore[dict-item]
    Rename: Keyspace._apply_rename,  # type: ignore[dict-item]
    FlushAll: Keyspace._apply_flush,  # type: ignore[dict-item]
    Copy: Keyspace._apply_copy,  # type: ignore[dict-item]
    HashSet: Keyspace._apply_hset,  # type: ignore[dict-item]
    HashDelete: Keyspace._apply_hdel,  # type: ignore[dict-item]
    ListPush: Keyspace._apply_lpush,  # type: ignore[dict-item]
    ListPop: Keyspace._apply_lpop,  # type: ignore[dict-item]
    ListSet: Keyspace._apply_lset,  # type: ignore[dict-item]
    ListInsert: Keyspace._apply_linsert,  # type: ignore[dict-item]
    ListRemove: Keyspace._apply_lrem,  # type: ignore[dict-item]
    ListTrim: Keyspace._apply_ltrim,  # type: ignore[dict-item]
    SetAdd: Keyspace._apply_sadd,  # type: ignore[dict-item]
    SetRemove: Keyspace._apply_srem,  # type: ignore[dict-item]
    ZSetAdd: Keyspace._apply_zadd,  # type: ignore[dict-item]
    ZSetRemove: Keyspace._apply_zrem,  # type: ignore[dict-item]
    StreamAdd: Keyspace._apply_xadd,  # type: ignore[dict-item]
    StreamDelete: Keyspace._apply_xdel,  # type: ignore[dict-item]
    StreamTrim: Keyspace._apply_xtrim,  # type: ignore[dict-item]
    StreamSetId: Keyspace._apply_xsetid,  # type: ignore[dict-item]
    Publish: Keyspace._apply_publish,  # type: ignore[dict-item]
    SetUser: Keyspace._apply_set_user,  # type: ignore[dict-item]
    DeleteUsers: Keyspace._apply_delete_users,  # type: ignore[dict-item]
    Batch: Keyspace._apply_batch,  # type: ignore[dict-item]
}
