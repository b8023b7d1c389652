"""When and where the log is fsynced: the policy, and the thread that keeps fsync, which
can take long, off the caller's thread."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from enum import StrEnum

from tandemkv.storage.store import Store


class FsyncPolicy(StrEnum):
    """--fsync: when a write's log entry reaches the disk, relative to its reply."""

    ALWAYS = "always"  # before the reply (writes of a loop turn share one fsync)
    EVERYSEC = "everysec"  # about once a second, in the background
    NO = "no"  # when the OS likes


class Syncer:
    """fsyncs the active segment off the event loop, on request and/or on an interval.

    It opens the segment by path with its own descriptor, so nothing the loop thread does
    to the log's descriptors can race with it. It reads the index written so far *before*
    fsyncing, so the index it reports is covered: earlier segments were fsynced by the log
    itself when it rotated, and a newly created segment's directory entry is fsynced too.

    It runs on a thread it owns rather than being a Thread subclass: compiled by mypyc, a
    subclass's deallocator does not clear weak references, and threading keeps one to every
    Thread (its _dangling WeakSet), so starting a thread after a stopped syncer was freed
    (CONFIG SET appendonly no, then yes) crashed the process with a segfault.
    """

    def __init__(
        self,
        store: Store,
        interval: float | None,
        on_synced: Callable[[int], None],
        on_error: Callable[[str], None],
        post: Callable[..., object],
        on_timed: Callable[[int], None] | None = None,
    ) -> None:
        """`post(callback, arg)` runs a callback where the owner wants it (its event loop);
        `on_timed(nanoseconds)` is told, through it, how long each fsync took."""
        # Not named _thread: mypyc would name the C field __thread, a keyword of GCC's.
        self._worker = threading.Thread(target=self.run, name="tandemkv-fsync", daemon=True)
        self._store = store
        self._interval = interval
        self._on_synced = on_synced
        self._on_error = on_error
        self._post = post
        self._on_timed = on_timed
        self._wake = threading.Event()
        self._stopping = False
        self._requests = 0  # asked for by request(), counted on the caller's thread
        self._served = 0  # ... and the count this thread last acted on
        self._synced = store.last_index
        self._last_segment = ""

    def start(self) -> None:
        self._worker.start()

    def request(self) -> None:
        """fsync now and report the index covered, even one reported before: a log cut
        back on a conflict is written again at indexes already synced once."""
        self._requests += 1
        self._wake.set()

    def set_interval(self, interval: float | None) -> None:
        """A new schedule (CONFIG SET appendfsync): seconds between fsyncs, or None for
        only when asked; takes effect at once."""
        self._interval = interval
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._worker.join(timeout=10)

    def run(self) -> None:
        while not self._stopping:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stopping:
                return
            requests = self._requests  # read after clear(): a later request wakes us again
            target = self._store.written_index
            forced, self._served = requests != self._served, requests
            if target <= self._synced and not forced:
                continue
            started = time.perf_counter_ns()
            try:
                self._fsync_active_segment()
            except OSError as error:
                message = f"fsync of the log in {self._store.path} failed: {error}; stopping"
                self._post(self._on_error, message)
                return
            self._synced = target
            if self._on_timed is not None:
                self._post(self._on_timed, time.perf_counter_ns() - started)
            self._post(self._on_synced, target)

    def _fsync_active_segment(self) -> None:
        path = self._store.segment_path()
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return  # compacted away under us: covered by a durable snapshot
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if path != self._last_segment:
            dir_fd = os.open(os.path.dirname(path), os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            self._last_segment = path
