"""The data directory: one process at a time, enforced by an flock'ed lock file holding its pid.

Public API:

    DataDir.open(path: str) -> DataDir     creates the directory if needed; raises
                                           DataDirLockedError (naming the holder's pid) when
                                           another process has it open, and
                                           DataDirUnusableError when the path cannot be one
                                           (a file, a read-only file system...)
    DataDir.over(path, fs) -> DataDir      a directory on another FileSystem (the simulated
                                           disk), unlocked: one simulated process owns it
    DataDir.path, DataDir.fs (an OsFileSystem rooted at the directory)
    DataDir.close() -> None                releases the lock (also on process exit)
    LOCK_FILE = "LOCK"
    DataDir is a context manager.

flock locks belong to the open file description, so the kernel drops the lock when the
process dies however it dies, and a stale pid in the file never blocks a restart.
"""

from __future__ import annotations

import errno
import fcntl
import os
from types import TracebackType

from tandemkv.storage.errors import DataDirLockedError, DataDirUnusableError
from tandemkv.storage.fs import FileSystem, OsFileSystem

LOCK_FILE = "LOCK"


class DataDir:
    def __init__(self, path: str, fs: FileSystem, lock_fd: int | None) -> None:
        self.path = path
        self.fs = fs
        self._lock_fd = lock_fd

    @classmethod
    def over(cls, path: str, fs: FileSystem) -> DataDir:
        return cls(path, fs, None)

    @classmethod
    def open(cls, path: str) -> DataDir:
        path = os.path.abspath(path)
        try:
            os.makedirs(path, exist_ok=True)
            fd = os.open(
                os.path.join(path, LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644
            )
        except OSError as error:
            raise DataDirUnusableError(path, unusable_reason(error)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DataDirLockedError(path, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, OsFileSystem(path), fd)

    def close(self) -> None:
        self.fs.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def __enter__(self) -> DataDir:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def unusable_reason(error: OSError) -> str:
    """Why a path cannot be a data directory, in words an operator can act on."""
    if isinstance(error, (FileExistsError, NotADirectoryError)):
        return "it, or a folder on its path, is a file, not a directory"
    if isinstance(error, PermissionError):
        return "permission denied"
    if error.errno == errno.EROFS:
        return "the file system is read-only"
    return error.strerror or str(error)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
