"""The filesystem interface: the os and simulated versions agree; the simulator forgets right."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandemkv.storage.fs import MAX_OPEN_FILES, FileSystem, OsFileSystem, publish_file
from tandemkv.storage.simfs import CrashMode, SimFileSystem


@pytest.fixture(params=["os", "sim"])
def fs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FileSystem]:
    impl: FileSystem = (
        OsFileSystem(str(tmp_path / "d"))
        if request.param == "os"
        else SimFileSystem(random.Random(1))
    )
    yield impl
    impl.close()


def test_basic_operations_behave_alike(fs: FileSystem) -> None:
    fs.create("a")
    fs.append("a", b"hello ")
    fs.append("a", b"world")
    assert fs.read("a") == b"hello world"
    assert fs.read("a", 6) == b"world"
    assert fs.read("a", 6, 3) == b"wor"
    assert fs.read("a", 8, 100) == b"rld"
    assert fs.size("a") == 11
    fs.truncate("a", 5)
    assert fs.read("a") == b"hello"
    fs.fsync("a")
    fs.create("b")
    fs.rename("a", "b")
    assert fs.list_names() == ["b"]
    assert fs.read("b") == b"hello"
    assert not fs.exists("a")
    fs.create("b")
    assert fs.read("b") == b""
    fs.remove("b")
    fs.fsync_dir()
    assert fs.list_names() == []
    with pytest.raises(FileNotFoundError):
        fs.read("b")


def test_names_cannot_escape_the_directory(fs: FileSystem) -> None:
    for bad in ("", "..", "x/y", "/etc"):
        with pytest.raises(ValueError):
            fs.create(bad)


def test_publish_file_replaces_atomically(fs: FileSystem) -> None:
    fs.create("f.tmp")
    fs.append("f.tmp", b"new")
    publish_file(fs, "f.tmp", "f")
    assert fs.list_names() == ["f"]
    assert fs.read("f") == b"new"


def test_crash_drops_unsynced_bytes_and_keeps_synced_ones() -> None:
    sim = SimFileSystem(random.Random(7))
    sim.create("f")
    sim.fsync_dir()
    sim.append("f", b"synced")
    sim.fsync("f")
    sim.append("f", b"-lost")
    sim.crash(CrashMode.DROP_UNSYNCED)
    assert sim.read("f") == b"synced"


def test_create_and_rename_without_directory_fsync_can_be_lost() -> None:
    sim = SimFileSystem(random.Random(7))
    sim.create("f")
    sim.append("f", b"data")
    sim.fsync("f")  # the bytes are durable, the directory entry is not
    sim.crash(CrashMode.DROP_UNSYNCED)
    assert sim.list_names() == []

    sim.create("old")
    sim.fsync("old")
    sim.fsync_dir()
    sim.rename("old", "new")
    sim.crash(CrashMode.DROP_UNSYNCED)
    assert sim.list_names() == ["old"]


def test_torn_crash_keeps_a_prefix_of_unsynced_bytes() -> None:
    outcomes = set()
    for seed in range(40):
        sim = SimFileSystem(random.Random(seed))
        sim.create("f")
        sim.append("f", b"base")
        sim.fsync("f")
        sim.fsync_dir()
        sim.append("f", b"0123456789")
        sim.crash(CrashMode.TORN)
        data = sim.read("f")
        assert (b"base0123456789").startswith(data) and data.startswith(b"base")
        outcomes.add(len(data))
    assert len(outcomes) > 5  # the tear point really varies


def test_flip_crash_damages_only_unsynced_bytes() -> None:
    flipped = 0
    for seed in range(40):
        sim = SimFileSystem(random.Random(seed))
        sim.create("f")
        sim.append("f", b"A" * 100)
        sim.fsync("f")
        sim.fsync_dir()
        sim.append("f", b"B" * 100)
        sim.crash(CrashMode.FLIP)
        data = sim.read("f")
        assert data[:100] == b"A" * 100
        flipped += any(byte != ord("B") for byte in data[100:])
    assert flipped > 10


def test_same_seed_same_crash() -> None:
    def run(seed: int) -> list[bytes]:
        sim = SimFileSystem(random.Random(seed))
        for name in ("c", "a", "b"):
            sim.create(name)
            sim.append(name, name.encode() * 50)
        sim.fsync_dir()
        sim.crash(CrashMode.FLIP)
        return [sim.read(name) for name in sim.list_names()]

    assert run(3) == run(3)


def test_os_filesystem_keeps_a_bounded_number_of_descriptors(tmp_path: Path) -> None:
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    fs = OsFileSystem(str(tmp_path))
    before = open_fds()
    for i in range(3 * MAX_OPEN_FILES):
        fs.create(f"f{i}")
        fs.append(f"f{i}", str(i).encode())
    assert open_fds() - before <= MAX_OPEN_FILES
    assert [fs.read(f"f{i}") for i in range(3 * MAX_OPEN_FILES)] == [
        str(i).encode() for i in range(3 * MAX_OPEN_FILES)
    ]
    assert fs.size("f0") == 1
    fs.close()
    assert open_fds() == before
