"""The background fsync of a node's log, on the simulated disk and clock.

`SimSyncer` keeps `storage/syncer.py`'s contract (`runtime.BackgroundSync`) without a
thread: on `request()`, or every `interval` seconds when one is set, it reads
`store.written_index`, waits a disk latency drawn from the process's `disk` settings
(looked up at each fsync, so a disk can turn slow mid-run), fsyncs the active segment on
`store.datadir.fs` (the directory too the first time it sees a segment), then reports
`on_timed(nanoseconds)` and `on_synced(index)` on the process's loop, each as its own
callback as the thread's posts are.

Decisions: the index is read when the fsync starts, as the thread reads it before its
fsync; bytes written during the latency are made durable too (the simulated fsync runs at
its end), so what is reported is covered and possibly less than what is durable. A
request during an fsync causes one more after it; interval ticks during one are dropped
(the next tick comes). An interval tick with nothing new written does nothing. Setting
`fail_next` makes the next fsync fail: `on_error(message)` and the syncer stops, as the
thread does; so does an OSError from the file system.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from tandemkv.storage.store import Store
from tandemkv.testing.world.world import SimProcess


class SimSyncer:
    def __init__(
        self,
        process: SimProcess,
        store: Store,
        interval: float | None,
        on_synced: Callable[[int], None],
        on_error: Callable[[str], None],
        on_timed: Callable[[int], None],
        rng_draw: Callable[[float, float], float],
    ) -> None:
        """`rng_draw(low, high)`: a latency between the two (a seeded uniform)."""
        self._process = process
        self._loop = process.loop
        self._store = store
        self._interval = interval
        self._on_synced = on_synced
        self._on_error = on_error
        self._on_timed = on_timed
        self._draw = rng_draw
        self._synced = store.last_index
        self._last_segment = ""
        self._busy = False
        self._again = False  # a request came during the fsync in progress
        self._stopped = False
        self._timer: asyncio.TimerHandle | None = None
        self._fsync: asyncio.TimerHandle | None = None  # the one in progress
        self.fail_next = False
        self.fsyncs = 0

    def start(self) -> None:
        self._arm()

    def request(self) -> None:
        if self._stopped:
            return
        if self._busy:
            self._again = True
        else:
            self._begin(forced=True)

    def set_interval(self, interval: float | None) -> None:
        self._interval = interval
        self._arm()

    def stop(self) -> None:
        self._stopped = True
        self._disarm()
        if self._fsync is not None:
            self._fsync.cancel()  # as the node closes its log right after

    # --- the schedule ---------------------------------------------------------------

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        self._disarm()
        if self._interval is not None and not self._stopped:
            self._timer = self._loop.call_later(self._interval, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self._busy:
            self._begin(forced=False)
        self._arm()

    # --- one fsync ------------------------------------------------------------------

    def _begin(self, forced: bool) -> None:
        target = self._store.written_index
        if target <= self._synced and not forced:
            return
        self._busy = True
        disk = self._process.disk
        latency = self._draw(disk.min_latency, disk.max_latency)
        self._fsync = self._loop.call_later(latency, self._finish, target, latency)

    def _finish(self, target: int, latency: float) -> None:
        self._busy = False
        self._fsync = None
        try:
            self._fsync_active_segment()
        except OSError as error:
            self._stopped = True
            self._disarm()
            message = f"fsync of the log in {self._store.path} failed: {error}; stopping"
            self._loop.call_soon(self._on_error, message)
            return
        self.fsyncs += 1
        self._synced = target  # may go down: a log cut back on a conflict
        self._loop.call_soon(self._on_timed, int(latency * 1e9))
        self._loop.call_soon(self._on_synced, target)
        if self._again:
            self._again = False
            self._begin(forced=True)

    def _fsync_active_segment(self) -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError("simulated fsync failure (EIO)")
        name = os.path.basename(self._store.segment_path())
        fs = self._store.datadir.fs
        if not fs.exists(name):
            return  # compacted away under us: covered by a durable snapshot
        fs.fsync(name)
        if name != self._last_segment:
            fs.fsync_dir()
            self._last_segment = name
