"""Local discovery: every server listening on loopback leaves a small JSON file in a
per-user runtime directory while it runs, so `tandemkv put k v` finds it without --server.

The directory is $TANDEMKV_RUNTIME_DIR if set (tests point it at a temp dir), else
$XDG_RUNTIME_DIR/tandemkv if that is usable, else <tmp>/tandemkv-<uid>; it is private to
the user (0700), and one that another user owns or can write to is never used. Each file
holds pid, address, absolute data directory and start time. A clean shutdown removes the
file; one left by a killed server is noticed (its pid is gone) and removed by readers.
Registration is best effort: a server never fails to start because of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tandemkv.config import parse_address

RUNTIME_DIR_ENV = "TANDEMKV_RUNTIME_DIR"
ENTRY_PREFIX = "server-"
ENTRY_SUFFIX = ".json"


@dataclass(frozen=True, slots=True)
class Entry:
    pid: int
    address: str  # HOST:PORT the server is bound to
    data_dir: str  # absolute
    started: str  # ISO 8601, UTC
    path: Path  # the file this entry was read from


def runtime_dir() -> Path:
    """Where entries live; not necessarily existing yet."""
    override = os.environ.get(RUNTIME_DIR_ENV)
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK | os.X_OK):
        return Path(xdg) / "tandemkv"
    return Path(tempfile.gettempdir()) / f"tandemkv-{os.getuid()}"


def _private_dir(create: bool) -> Path | None:
    """The runtime directory if it is ours alone (made so if we create it), else None."""
    path = runtime_dir()
    if create:
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700, parents=True)
    try:
        info = path.lstat()
    except OSError:
        return None
    # A symlink or a directory someone else owns could be a trap set in a shared /tmp.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return None
    if stat.S_IMODE(info.st_mode) & 0o077:
        try:
            path.chmod(0o700)
        except OSError:
            return None
    return path


def register(address: str, data_dir: str) -> Path | None:
    """Record a server bound to `address` (skipped unless loopback); returns the file."""
    try:
        if not parse_address(address).is_loopback:
            return None
        directory = _private_dir(create=True)
        if directory is None:
            return None
        entry = {
            "pid": os.getpid(),
            "address": address,
            "data_dir": os.path.abspath(data_dir),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        port = parse_address(address).port
        target = directory / f"{ENTRY_PREFIX}{os.getpid()}-{port}{ENTRY_SUFFIX}"
        _write_atomically(target, json.dumps(entry).encode())
        return target
    except (OSError, ValueError):
        return None


def _write_atomically(target: Path, data: bytes) -> None:
    # Readers list the directory at any moment: they must see a whole file or none.
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def unregister(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def live_entries() -> list[Entry]:
    """The servers registered now, ordered by address; entries of dead pids are removed."""
    directory = _private_dir(create=False)
    if directory is None:
        return []
    entries: list[Entry] = []
    for path in sorted(directory.glob(f"{ENTRY_PREFIX}*{ENTRY_SUFFIX}")):
        entry = read_entry(path)
        if entry is None:
            continue
        if pid_alive(entry.pid):
            entries.append(entry)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return sorted(entries, key=lambda e: e.address)


def read_entry(path: Path) -> Entry | None:
    """The entry in `path`, or None if it is unreadable or not one of ours."""
    try:
        data = json.loads(path.read_bytes())
        pid, address = data["pid"], data["address"]
        data_dir, started = data.get("data_dir", ""), data.get("started", "")
    except (OSError, ValueError, TypeError, KeyError):
        return None
    valid = (
        isinstance(pid, int)
        and pid > 0
        and isinstance(address, str)
        and isinstance(data_dir, str)
        and isinstance(started, str)
    )
    return Entry(pid, address, data_dir, started, path) if valid else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed server whose parent has not reaped it yet still has its pid (Linux)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (command) state ...": the command may itself contain spaces or parentheses.
    return stat_line.rpartition(")")[2].split()[:1] == ["Z"]
