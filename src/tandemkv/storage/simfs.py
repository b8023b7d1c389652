"""A simulated directory that forgets what was never fsynced, for crash tests. No real I/O.

    SimFileSystem(rng: random.Random)            implements storage.fs.FileSystem
    SimFileSystem.crash(mode: CrashMode) -> None  lose what a power cut could lose
    CrashMode.DROP_UNSYNCED   every file reverts to its last fsync, the directory to its
                              last fsync_dir
    CrashMode.TORN            each file keeps its synced bytes plus a random prefix of what
                              was written after; a random prefix of the directory operations
                              since the last fsync_dir survives
    CrashMode.FLIP            like TORN, then a few bytes inside the surviving unsynced part
                              of each file are flipped (a half-written sector)

Model. A file (inode) holds `data` (what reads see now), `durable` (its content at the last
fsync) and `stable`, the length of the prefix `data` and `durable` are known to share. The
directory maps names to inodes twice: the live view and the view as of the last fsync_dir,
plus the list of create/rename/remove operations since then. So a file that was fsynced but
whose creating directory entry was not can vanish, and a rename can be undone, as on a real
filesystem. All randomness comes from the seeded `rng`, so a schedule replays exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum

from tandemkv.storage.fs import check_name


class CrashMode(Enum):
    DROP_UNSYNCED = "drop"
    TORN = "torn"
    FLIP = "flip"


@dataclass(eq=False)
class _Inode:
    data: bytearray = field(default_factory=bytearray)
    durable: bytes = b""
    stable: int = 0

    def sync(self) -> None:
        self.durable = bytes(self.data)
        self.stable = len(self.data)


# A directory operation since the last fsync_dir: ("link", name, inode) binds a name,
# ("unlink", name, None) removes one. A rename is an unlink of src plus a link of dst,
# recorded together so a crash never half-applies it.
_DirOp = tuple[tuple[str, str, _Inode | None], ...]


class SimFileSystem:
    """In-memory FileSystem whose crash() keeps only what a real disk guarantees."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._live: dict[str, _Inode] = {}
        self._durable_dir: dict[str, _Inode] = {}
        self._pending: list[_DirOp] = []
        self.fsync_count = 0
        self.fsync_dir_count = 0

    def _inode(self, name: str) -> _Inode:
        check_name(name)
        inode = self._live.get(name)
        if inode is None:
            raise FileNotFoundError(f"simulated file not found: {name}")
        return inode

    def describe(self, name: str) -> str:
        return f"<simulated>/{name}"

    def list_names(self) -> list[str]:
        return sorted(self._live)

    def exists(self, name: str) -> bool:
        check_name(name)
        return name in self._live

    def size(self, name: str) -> int:
        return len(self._inode(name).data)

    def create(self, name: str, mode: int = 0o644) -> None:  # no permissions here
        check_name(name)
        inode = _Inode()
        self._live[name] = inode
        self._pending.append((("link", name, inode),))

    def append(self, name: str, data: bytes) -> None:
        self._inode(name).data += data

    def read(self, name: str, offset: int = 0, size: int | None = None) -> bytes:
        data = self._inode(name).data
        end = len(data) if size is None else min(len(data), offset + size)
        return bytes(data[offset:end])

    def truncate(self, name: str, size: int) -> None:
        inode = self._inode(name)
        if size < len(inode.data):
            del inode.data[size:]
        else:
            inode.data += bytes(size - len(inode.data))
        inode.stable = min(inode.stable, size)

    def fsync(self, name: str) -> None:
        self._inode(name).sync()
        self.fsync_count += 1

    def rename(self, src: str, dst: str) -> None:
        inode = self._inode(src)
        check_name(dst)
        del self._live[src]
        self._live[dst] = inode
        self._pending.append((("unlink", src, None), ("link", dst, inode)))

    def remove(self, name: str) -> None:
        self._inode(name)
        del self._live[name]
        self._pending.append((("unlink", name, None),))

    def fsync_dir(self) -> None:
        self._durable_dir = dict(self._live)
        self._pending.clear()
        self.fsync_dir_count += 1

    def close(self) -> None:
        pass

    def crash(self, mode: CrashMode) -> None:
        """Simulate power loss: afterwards the directory holds only what could survive."""
        directory = dict(self._durable_dir)
        if mode is not CrashMode.DROP_UNSYNCED:
            for op in self._pending[: self.rng.randint(0, len(self._pending))]:
                for kind, name, inode in op:
                    if kind == "link" and inode is not None:
                        directory[name] = inode
                    else:
                        directory.pop(name, None)
        done: list[_Inode] = []
        for name in sorted(directory):  # sorted: the rng must be consumed in a fixed order
            inode = directory[name]
            if any(inode is seen for seen in done):
                continue
            done.append(inode)
            inode.data = bytearray(self._surviving_bytes(inode, mode))
            inode.sync()
        self._live = directory
        self._durable_dir = dict(directory)
        self._pending.clear()

    def _surviving_bytes(self, inode: _Inode, mode: CrashMode) -> bytes:
        if mode is CrashMode.DROP_UNSYNCED or inode.data == inode.durable:
            return inode.durable
        keep = self.rng.randint(inode.stable, len(inode.data))
        survived = bytearray(inode.data[:keep])
        if mode is CrashMode.FLIP and keep > inode.stable:
            for _ in range(self.rng.randint(1, 3)):
                pos = self.rng.randrange(inode.stable, keep)
                survived[pos] ^= self.rng.randint(1, 255)
        return bytes(survived)
