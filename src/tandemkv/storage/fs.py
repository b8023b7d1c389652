"""The tiny filesystem interface all storage file access goes through, and its os version.

Everything storage keeps lives in one flat directory, so files are addressed by bare name.
The interface is small on purpose: it is exactly what the log, snapshot and hard-state code
need, and exactly what the simulated disk (storage/simfs.py) must model faithfully.

    class FileSystem(Protocol):
        describe(name) -> str                         where the file is, for error messages
        list_names() -> list[str]                     sorted names in the directory
        exists(name) -> bool
        size(name) -> int
        create(name, mode=0o644) -> None              new empty file (replaces an existing one)
        append(name, data: bytes) -> None             write at the end of the file
        read(name, offset=0, size=None) -> bytes      short only at end of file
        truncate(name, size) -> None
        fsync(name) -> None                           make the file's bytes durable
        rename(src, dst) -> None                      atomic replace of dst
        remove(name) -> None
        fsync_dir() -> None                           make creates/renames/removes durable
        close() -> None                               release cached descriptors

    publish_file(fs, tmp_name, final_name)            fsync + rename + fsync_dir

Durability contract (what POSIX actually promises, and what the simulator enforces):
bytes are durable only after fsync(name); a create, rename or remove is durable only after
fsync_dir(). OsFileSystem keeps descriptors of the most recently used files open between
calls (at most MAX_OPEN_FILES) so appends and reads do not pay an open() each.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Protocol

MAX_OPEN_FILES = 16


class FileSystem(Protocol):
    def describe(self, name: str) -> str: ...
    def list_names(self) -> list[str]: ...
    def exists(self, name: str) -> bool: ...
    def size(self, name: str) -> int: ...
    def create(self, name: str, mode: int = 0o644) -> None: ...
    def append(self, name: str, data: bytes) -> None: ...
    def read(self, name: str, offset: int = 0, size: int | None = None) -> bytes: ...
    def truncate(self, name: str, size: int) -> None: ...
    def fsync(self, name: str) -> None: ...
    def rename(self, src: str, dst: str) -> None: ...
    def remove(self, name: str) -> None: ...
    def fsync_dir(self) -> None: ...
    def close(self) -> None: ...


def publish_file(fs: FileSystem, tmp_name: str, final_name: str) -> None:
    """Durably replace `final_name` with the fully written `tmp_name`.

    fsync the data, rename over the old file, fsync the directory: a crash at any point
    leaves either the complete old file or the complete new one under `final_name`.
    """
    fs.fsync(tmp_name)
    fs.rename(tmp_name, final_name)
    fs.fsync_dir()


def check_name(name: str) -> None:
    """Names are bare file names; refusing separators keeps every file inside the directory."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"invalid storage file name: {name!r}")


class OsFileSystem:
    """FileSystem on a real directory (created if missing)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self._fds: OrderedDict[str, int] = OrderedDict()

    def path(self, name: str) -> str:
        check_name(name)
        return os.path.join(self.root, name)

    def describe(self, name: str) -> str:
        return self.path(name)

    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is None:
            fd = os.open(self.path(name), os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
            self._remember(name, fd)
        else:
            self._fds.move_to_end(name)
        return fd

    def _remember(self, name: str, fd: int) -> None:
        self._fds[name] = fd
        while len(self._fds) > MAX_OPEN_FILES:
            _, oldest = self._fds.popitem(last=False)
            os.close(oldest)

    def _forget(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    def list_names(self) -> list[str]:
        return sorted(os.listdir(self.root))

    def exists(self, name: str) -> bool:
        return os.path.exists(self.path(name))

    def size(self, name: str) -> int:
        fd = self._fds.get(name)
        return os.fstat(fd).st_size if fd is not None else os.stat(self.path(name)).st_size

    def create(self, name: str, mode: int = 0o644) -> None:
        """`mode` applies to a new file (0o600 for one holding a secret)."""
        self._forget(name)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        self._remember(name, os.open(self.path(name), flags, mode))

    def append(self, name: str, data: bytes) -> None:
        fd = self._fd(name)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def read(self, name: str, offset: int = 0, size: int | None = None) -> bytes:
        fd = self._fd(name)
        if size is None:
            size = max(0, os.fstat(fd).st_size - offset)
        chunks: list[bytes] = []
        while size > 0:
            chunk = os.pread(fd, size, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def truncate(self, name: str, size: int) -> None:
        os.ftruncate(self._fd(name), size)

    def fsync(self, name: str) -> None:
        os.fsync(self._fd(name))

    def rename(self, src: str, dst: str) -> None:
        self._forget(src)
        self._forget(dst)
        os.replace(self.path(src), self.path(dst))

    def remove(self, name: str) -> None:
        self._forget(name)
        os.remove(self.path(name))

    def fsync_dir(self) -> None:
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        for name in list(self._fds):
            self._forget(name)
