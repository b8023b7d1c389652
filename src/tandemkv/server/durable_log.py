"""The durable write log: a Store behind the WriteLog seam, with an fsync policy.

    always    a batch's replies wait until its entries are fsynced. The fsync runs in a
              background thread, so the loop keeps serving and collecting the next group.
    everysec  replies wait until their entries are written to the OS, so a crash of the
              process loses nothing acknowledged; a background thread fsyncs about once a
              second, so a crash of the machine loses at most about a second of writes.
    no        replies wait until their entries are written; the OS decides when to flush.

In every mode the entries of all connections in one event-loop turn are written together,
with one write() (group commit), at the end of the turn.

An fsync error is fatal: after a failed fsync the kernel may have dropped the dirty pages,
so retrying could report success for data that is gone. The node stops with a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import StrEnum

from tandemkv.storage.errors import StorageError
from tandemkv.storage.mutation import Mutation
from tandemkv.storage.store import Store
from tandemkv.storage.syncer import Syncer

EVERYSEC_INTERVAL = 1.0


class FsyncPolicy(StrEnum):
    ALWAYS = "always"
    EVERYSEC = "everysec"
    NO = "no"
    # appendonly off: nothing is logged; only SAVE/BGSAVE snapshots persist data, as with
    # Redis running on RDB alone. Writes since the last snapshot are lost on any restart.
    OFF = "off"


class DurableLog:
    def __init__(
        self,
        store: Store,
        policy: FsyncPolicy,
        loop: asyncio.AbstractEventLoop,
        on_fatal: Callable[[str], None],
    ) -> None:
        self.store = store
        self.policy = policy
        self._loop = loop
        self._on_fatal = on_fatal
        self._assigned = store.last_index  # highest index handed out by append()
        self._pending: list[Mutation] = []
        self._flush_scheduled = False
        self._waiters: list[tuple[int, Callable[[], None]]] = []
        self._fire_scheduled = False
        self.written_through = store.last_index
        self.synced_through = store.last_index
        self.failed = False
        interval = EVERYSEC_INTERVAL if policy == FsyncPolicy.EVERYSEC else None
        self._syncer: Syncer | None = None
        if policy in (FsyncPolicy.ALWAYS, FsyncPolicy.EVERYSEC):
            self._syncer = Syncer(
                store, interval, self._synced, self._fail, loop.call_soon_threadsafe
            )
            self._syncer.start()

    def append(self, mutations: list[Mutation]) -> int:
        self._assigned += len(mutations)
        if self.failed:
            return self._assigned  # never safe: the node is stopping
        if self.policy == FsyncPolicy.OFF:
            return self._assigned
        self._pending.extend(mutations)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return self._assigned

    def is_safe(self, position: int) -> bool:
        if self.failed:
            return False
        if self.policy == FsyncPolicy.ALWAYS:
            return position <= self.synced_through
        return self.policy == FsyncPolicy.OFF or position <= self.written_through

    def read_fence(self) -> int | None:
        return None

    def when_safe(self, position: int, callback: Callable[[], None]) -> None:
        if self.is_safe(position):
            self._loop.call_soon(callback)
        elif not self.failed:
            self._waiters.append((position, callback))

    def flush_now(self) -> None:
        """Write what the current group holds now, so the log matches the keyspace.

        Waiters are told on a later turn: the caller may be in the middle of a connection's
        batch, and callbacks must never run inside one.
        """
        self._flush(notify_now=False)

    def close(self) -> None:
        """Write and fsync everything, stop the syncer. Called once at shutdown."""
        if self._pending and not self.failed:
            self._flush()
        if self._syncer is not None:
            self._syncer.stop()
        if not self.failed:
            self.store.sync()
            self._synced(self.store.last_index)

    # ------------------------------------------------------------ internals

    def _write(self, mutations: list[Mutation]) -> bool:
        try:
            self.store.append(mutations)
        except (OSError, StorageError) as error:
            self._fail(f"cannot write to the log in {self.store.path}: {error}; stopping")
            return False
        return True

    def _flush(self, notify_now: bool = True) -> None:
        self._flush_scheduled = False
        if not self._pending or self.failed:
            return
        pending, self._pending = self._pending, []
        if not self._write(pending):
            return
        self.written_through = self.store.written_index
        if self.policy == FsyncPolicy.ALWAYS:
            assert self._syncer is not None
            self._syncer.request(self.written_through)
        elif notify_now:
            self._fire_waiters()
        else:
            self._schedule_fire()

    def _synced(self, index: int) -> None:
        if index <= self.synced_through:
            return
        self.synced_through = index
        self._fire_waiters()

    def _schedule_fire(self) -> None:
        if not self._fire_scheduled:
            self._fire_scheduled = True
            self._loop.call_soon(self._fire_waiters)

    def _fire_waiters(self) -> None:
        self._fire_scheduled = False
        if not self._waiters:
            return
        ready = [cb for pos, cb in self._waiters if self.is_safe(pos)]
        if ready:
            self._waiters = [(pos, cb) for pos, cb in self._waiters if not self.is_safe(pos)]
            for callback in ready:
                callback()

    def _fail(self, message: str) -> None:
        if not self.failed:
            self.failed = True
            self._waiters.clear()
            self._on_fatal(message)
