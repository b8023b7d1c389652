"""Snapshots without stalling clients: a forked child writes a copy-on-write image.

As Redis does: fork() gives the child a frozen view of the keyspace at no copying cost up
front; the child streams it into the snapshot file and exits, while the parent keeps
serving. Pages the parent changes meanwhile are copied by the kernel, so memory grows by
about what is written during the save. When the child succeeds, the parent drops the log
segments the snapshot covers.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tandemkv.storage.errors import StorageError
from tandemkv.storage.fs import OsFileSystem
from tandemkv.storage.store import SnapshotPoint, Store, keyspace_items

if TYPE_CHECKING:
    from tandemkv.runtime import Runtime

log = logging.getLogger("tandemkv.server")
_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Make the kernel kill this child if its parent dies.

    The child inherits the data directory's lock; an orphan still writing after its parent
    was SIGKILLed would keep a restarted server out, and could later rename an old snapshot
    over a newer one. Linux's PR_SET_PDEATHSIG ends it with the parent.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the orphan finishes its snapshot, then exits
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class BackgroundSave:
    def __init__(self, store: Store, runtime: Runtime) -> None:
        self._store = store
        self._runtime = runtime
        self._loop = runtime.loop
        self.child_pid: int | None = None
        self.last_status = "ok"
        self.last_duration = -1.0
        self._started = 0.0
        # Told how long each fork took (ms), and whether each snapshot succeeded: the
        # server's LATENCY "fork" event and its save points.
        self.on_fork: Callable[[int], None] | None = None
        self.on_done: Callable[[bool], None] | None = None

    @property
    def in_progress(self) -> bool:
        return self.child_pid is not None

    def start(self) -> bool:
        """Fork a child that writes the snapshot; False if one is already running or the
        store cannot be cut now (cluster mode with writes not yet committed)."""
        if self.child_pid is not None:
            return False
        store = self._store
        point = store.snapshot_point()
        if point is None:
            return False
        self._started = time.monotonic()
        if not self._runtime.can_fork:
            # A world without processes (the cluster simulator): write it here and now,
            # from the keyspace as it is at this point, as SAVE does; it is reported done
            # on the next turn, as a child's exit would be.
            self.child_pid = 0
            self._loop.call_soon(self._finished, self._write_inline(point), point)
            return True
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: write and leave without running any parent cleanup
            status = 1
            try:
                _die_with(parent)
                store.write_snapshot(
                    point, keyspace_items(store.keyspace), fs=OsFileSystem(store.path)
                )
                status = 0
            finally:
                os._exit(status)
        self.child_pid = pid
        if self.on_fork is not None:
            self.on_fork(int((time.monotonic() - self._started) * 1000))
        threading.Thread(
            target=self._reap, args=(pid, point), daemon=True, name="tandemkv-bgsave-wait"
        ).start()
        return True

    def _write_inline(self, point: SnapshotPoint) -> int:
        """The snapshot written in this process: 0 on success, as a child's exit code."""
        store = self._store
        try:
            store.write_snapshot(point, keyspace_items(store.keyspace))
        except (OSError, StorageError) as error:
            log.error("snapshot failed: %s", error)
            return 1
        return 0

    def _reap(self, pid: int, point: SnapshotPoint) -> None:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        self._loop.call_soon_threadsafe(self._finished, code, point)

    def _finished(self, code: int, point: SnapshotPoint) -> None:
        self.child_pid = None
        self.last_duration = time.monotonic() - self._started
        if code != 0:
            self.last_status = "err"
            log.error("background snapshot failed (child exit code %s); the log is kept", code)
        else:
            self.last_status = "ok"
            self._store.snapshot_written(point)
        if self.on_done is not None:
            self.on_done(code == 0)

    def abort(self) -> None:
        """Stop a running child at shutdown; its temporary file is cleaned at next start."""
        if self.child_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child_pid, 9)
