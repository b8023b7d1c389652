"""Durability with real server processes: restarts, crashes, damaged logs, snapshots.

Every test owns its data directory and starts, kills and restarts servers on it; the
`servers` fixture stops each of them by pid even when a test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.resp import RawClient, RespError, encode_command
from helpers.servers import ServerGroup, run_tandemkv
from tandemkv.cli import EXIT_DATA_DIR

pytestmark = pytest.mark.tandemkv_only("tandemkv's log, snapshots and data directory")

POLICIES = ["always", "everysec", "no"]
SEGMENT_HEADER = 20
RECORD_PREFIX = 8
WAIT_SECONDS = 20.0


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "db"


# ------------------------------------------------------------------ helpers


def persistence(conn: RawClient) -> dict[str, str]:
    text = conn.call("INFO", "persistence")
    assert isinstance(text, bytes), text
    fields = {}
    for line in text.decode().splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name] = value
    return fields


def wait_for(conn: RawClient, what: str, check: Callable[[dict[str, str]], bool]) -> dict[str, str]:
    """Poll INFO persistence until `check(fields)` holds (bounded)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        fields = persistence(conn)
        if check(fields):
            return fields
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}: {fields}")
        time.sleep(0.02)


def bgsave_done(fields: dict[str, str]) -> bool:
    return fields["rdb_bgsave_in_progress"] == "0" and int(fields["snapshot_index"]) > 0


def pipeline(conn: RawClient, commands: list[tuple[str | bytes | int, ...]]) -> list[object]:
    conn.send(b"".join(encode_command(*c) for c in commands))
    return conn.read_replies(len(commands))


def write_keys(conn: RawClient, count: int, prefix: str = "k", size: int = 10) -> None:
    for start in range(0, count, 100):
        stop = min(count, start + 100)
        replies = pipeline(
            conn, [("SET", f"{prefix}{i}", f"{i}:".ljust(size, "v")) for i in range(start, stop)]
        )
        assert replies == ["OK"] * (stop - start)


def check_keys(conn: RawClient, count: int, prefix: str = "k", size: int = 10) -> None:
    keys = [f"{prefix}{i}" for i in range(count)]
    for start in range(0, count, 500):
        values = conn.call("MGET", *keys[start : start + 500])
        assert values == [
            f"{i}:".ljust(size, "v").encode() for i in range(start, min(count, start + 500))
        ]


def segments(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("*.log"))


def record_offsets(segment: Path) -> list[int]:
    """Where each record of a segment file starts (from the length prefixes)."""
    data = segment.read_bytes()
    offsets, pos = [], SEGMENT_HEADER
    while pos < len(data):
        offsets.append(pos)
        pos += RECORD_PREFIX + int.from_bytes(data[pos : pos + 4], "little")
    return offsets


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.stdout == "", result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def start_expecting_failure(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_tandemkv(
        "--db-path", str(data_dir), "server", "--address", "127.0.0.1:0", *args, timeout=30
    )


# ------------------------------------------------------------------ restarts and crashes


@pytest.mark.parametrize("policy", POLICIES)
def test_a_restart_after_sigterm_keeps_everything(
    servers: ServerGroup, data_dir: Path, policy: str
) -> None:
    server = servers.start(data_dir, "--fsync", policy)
    with server.raw() as conn:
        write_keys(conn, 500)
        assert conn.call("APPEND", "k0", "+more") == 15
        assert conn.call("DEL", "k1") == 1
        assert conn.call("EXPIRE", "k2", 300) == 1
        assert conn.call("INCRBY", "counter", 41) == 41
    assert server.stop(signal.SIGTERM) == 0, server.describe()
    assert "shut down cleanly" in server.stderr_text()

    again = servers.start(data_dir, "--fsync", policy)
    with again.raw() as conn:
        assert conn.call("DBSIZE") == 500
        assert conn.call("GET", "k0") == b"0:vvvvvvvv+more"
        assert conn.call("GET", "k1") is None
        assert 290 < conn.call("TTL", "k2") <= 300
        assert conn.call("GET", "counter") == b"41"
        values = conn.call("MGET", *[f"k{i}" for i in range(3, 500)])
        assert values == [f"{i}:".ljust(10, "v").encode() for i in range(3, 500)]


@pytest.mark.parametrize("policy", ["always", "everysec"])
def test_sigkill_loses_no_acknowledged_write(
    servers: ServerGroup, data_dir: Path, policy: str
) -> None:
    """fsync=always: each reply waits for its fsync. everysec: for the write to the OS, which
    a process crash cannot undo. Several connections pipeline at once (group commit)."""
    server = servers.start(data_dir, "--fsync", policy)
    acked: dict[str, bytes] = {}
    lock = threading.Lock()
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with server.raw() as conn:
                for batch in range(10):
                    keys = [f"w{n}:{batch}:{i}" for i in range(20)]
                    replies = pipeline(conn, [("SET", k, f"value of {k}") for k in keys])
                    assert replies == ["OK"] * len(keys)
                    with lock:
                        acked.update({k: f"value of {k}".encode() for k in keys})
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    server.stop(signal.SIGKILL)
    assert not failures, failures
    assert len(acked) == 800

    again = servers.start(data_dir, "--fsync", policy)
    with again.raw() as conn:
        keys = sorted(acked)
        assert conn.call("MGET", *keys) == [acked[k] for k in keys]


def test_a_second_server_on_the_same_directory_exits_naming_the_holder(
    servers: ServerGroup, data_dir: Path
) -> None:
    first = servers.start(data_dir)
    result = start_expecting_failure(data_dir)
    assert result.returncode == EXIT_DATA_DIR
    line = one_error_line(result)
    assert line.startswith("tandemkv: ")
    assert f"already in use by process {first.pid}" in line
    assert str(data_dir) in line
    with first.raw() as conn:
        assert conn.call("PING") == "PONG", "the first server is unaffected"


# ------------------------------------------------------------------ damaged logs


def test_a_torn_tail_is_repaired_and_reported(servers: ServerGroup, data_dir: Path) -> None:
    server = servers.start(data_dir, "--fsync", "always")
    with server.raw() as conn:
        write_keys(conn, 50)
        assert conn.call("SET", "last", "written just before the crash") == "OK"
    server.stop(signal.SIGKILL)
    [segment] = segments(data_dir)
    last_record = record_offsets(segment)[-1]
    os.truncate(segment, segment.stat().st_size - 3)  # the crash cut the last record short

    again = servers.start(data_dir)
    stderr = again.stderr_text()
    assert f"repaired torn log tail in {segment.name} at offset {last_record}" in stderr, stderr
    damaged = list(data_dir.glob("*.damaged"))
    assert len(damaged) == 1, os.listdir(data_dir)
    assert damaged[0].name in stderr
    with again.raw() as conn:
        check_keys(conn, 50)
        assert conn.call("GET", "last") is None, "the torn record is dropped"
        assert conn.call("DBSIZE") == 50
        assert conn.call("SET", "after", "repair") == "OK"
    assert again.stop() == 0

    third = servers.start(data_dir)
    # (Not just "repaired": the start-up line names the data directory, whose path holds
    # this test's name.)
    assert "repaired torn" not in third.stderr_text(), "a repaired log starts cleanly"
    with third.raw() as conn:
        assert conn.call("GET", "after") == b"repair"


def test_a_tail_repair_is_reported_once(servers: ServerGroup, data_dir: Path) -> None:
    server = servers.start(data_dir, "--fsync", "always")
    with server.raw() as conn:
        write_keys(conn, 5)
    server.stop(signal.SIGKILL)
    [segment] = segments(data_dir)
    os.truncate(segment, segment.stat().st_size - 3)
    again = servers.start(data_dir)
    damaged = next(data_dir.glob("*.damaged"))
    assert again.stderr_text().count(damaged.name) == 1, again.stderr_text()


def flip_byte_in_record_holding(data_dir: Path, value: bytes) -> tuple[Path, int, bytes]:
    """Damage the payload of the record that logged `value`; (segment, record offset,
    the damaged bytes)."""
    [segment] = segments(data_dir)
    original = segment.read_bytes()
    offsets = record_offsets(segment)
    assert len(offsets) > 10
    found = original.index(value)
    record = max(o for o in offsets if o < found)
    damaged = bytearray(original)
    damaged[found] ^= 0x40
    segment.write_bytes(bytes(damaged))
    return segment, record, bytes(damaged)


def test_corruption_in_the_middle_refuses_to_start(servers: ServerGroup, data_dir: Path) -> None:
    server = servers.start(data_dir, "--fsync", "always")
    with server.raw() as conn:
        for i in range(30):  # one at a time: a record each
            assert conn.call("SET", f"k{i}", f"{i}:".ljust(10, "v")) == "OK"
    assert server.stop() == 0
    segment, offset, damaged = flip_byte_in_record_holding(data_dir, b"1:vvvvvvvv")

    result = start_expecting_failure(data_dir)
    assert result.returncode == 1
    line = one_error_line(result)
    assert f"log file {segment} is corrupt at byte offset {offset}" in line
    assert "--truncate-corrupt-log" in line
    assert segment.read_bytes() == damaged, "a refused start changes nothing on disk"
    assert not list(data_dir.glob("*.damaged"))

    again = servers.start(data_dir, "--truncate-corrupt-log")
    stderr = again.stderr_text()
    assert f"cut corrupt log in {segment.name} at offset {offset}" in stderr, stderr
    assert list(data_dir.glob("*.damaged"))
    with again.raw() as conn:
        # Everything from the damaged record on is dropped: only the first write is left.
        assert conn.call("DBSIZE") == 1
        assert conn.call("GET", "k0") == b"0:vvvvvvvv"
        assert conn.call("SET", "new", "write") == "OK"
    assert again.stop() == 0
    third = servers.start(data_dir)
    with third.raw() as conn:
        assert conn.call("DBSIZE") == 2


# ------------------------------------------------------------------ snapshots


def test_bgsave_then_restart(servers: ServerGroup, data_dir: Path) -> None:
    server = servers.start(data_dir, "--fsync", "always")
    with server.raw() as conn:
        write_keys(conn, 1000, size=50)
        assert conn.call("BGSAVE") == "Background saving started"
        fields = wait_for(conn, "the background save", bgsave_done)
        assert fields["rdb_last_bgsave_status"] == "ok"
        snapshot_index = fields["snapshot_index"]
        assert snapshot_index == fields["log_last_index"], "it covers every write before it"
        write_keys(conn, 100, prefix="after", size=50)
    assert (data_dir / "snapshot").exists()
    server.stop(signal.SIGKILL)

    again = servers.start(data_dir, "--fsync", "always")
    with again.raw() as conn:
        assert persistence(conn)["snapshot_index"] == snapshot_index
        assert conn.call("DBSIZE") == 1100
        check_keys(conn, 1000, size=50)
        check_keys(conn, 100, prefix="after", size=50)


def test_an_automatic_snapshot_follows_log_growth(servers: ServerGroup, data_dir: Path) -> None:
    env = {"TANDEMKV_SNAPSHOT_LOG_BYTES": "20000"}
    server = servers.start(data_dir, "--fsync", "everysec", env=env)
    with server.raw() as conn:
        assert persistence(conn)["snapshot_index"] == "0"
        write_keys(conn, 400, size=100)  # about 45 KB of log
        fields = wait_for(conn, "an automatic snapshot", bgsave_done)
        assert int(fields["log_bytes_since_snapshot"]) < 20000
        assert int(fields["snapshot_index"]) <= int(fields["log_last_index"])
        snapshot_index = fields["snapshot_index"]
    server.stop(signal.SIGKILL)
    assert (data_dir / "snapshot").exists()

    again = servers.start(data_dir, env=env)
    with again.raw() as conn:
        fields = persistence(conn)
        assert int(fields["snapshot_index"]) >= int(snapshot_index)
        assert conn.call("DBSIZE") == 400
        check_keys(conn, 400, size=100)


def test_save_and_lastsave(servers: ServerGroup, data_dir: Path) -> None:
    started = int(time.time())
    server = servers.start(data_dir)
    with server.raw() as conn:
        # No snapshot yet: the start time, as Redis answers (a date clients can read).
        assert started - 2 <= conn.call("LASTSAVE") <= int(time.time()) + 1
        conn.call("SET", "a", "1")
        before = int(time.time())
        assert conn.call("SAVE") == "OK"
        saved = conn.call("LASTSAVE")
        assert before - 1 <= saved <= int(time.time()) + 1
        fields = persistence(conn)
        assert fields["snapshot_index"] == fields["log_last_index"], "it covers the SET"
        assert conn.call("BGSAVE", "SCHEDULE") == "Background saving started"
        wait_for(conn, "the background save", lambda f: f["rdb_bgsave_in_progress"] == "0")
        assert isinstance(conn.call("BGSAVE", "NOW"), RespError)
        assert conn.call("MULTI") == "OK"
        assert isinstance(conn.call("SAVE"), RespError), "SAVE is refused inside MULTI"
        conn.call("DISCARD")
    assert server.stop() == 0
    again = servers.start(data_dir)
    with again.raw() as conn:
        assert conn.call("LASTSAVE") >= saved, "LASTSAVE survives a restart"
        assert conn.call("GET", "a") == b"1"


def test_appendonly_no_keeps_what_the_last_snapshot_holds(
    servers: ServerGroup, data_dir: Path
) -> None:
    """Like Redis on RDB files alone: SAVE and BGSAVE persist, nothing else does, and a
    restart brings back exactly the last snapshot (several snapshots in a row included)."""
    server = servers.start(data_dir, "--appendonly", "no")
    with server.raw() as conn:
        write_keys(conn, 300)
        assert conn.call("SAVE") == "OK"
        assert conn.call("SET", "second", "1") == "OK"
        assert conn.call("BGSAVE") == "Background saving started"
        wait_for(conn, "the background save", lambda f: f["rdb_bgsave_in_progress"] == "0")
        assert conn.call("SET", "unsaved", "1") == "OK"
        assert conn.call("DEL", "k0") == 1
        fields = persistence(conn)
        assert fields["aof_enabled"] == "0"
    server.stop(signal.SIGKILL)
    logged = sum(path.stat().st_size for path in data_dir.glob("*.log"))
    assert logged < 1024, "300 writes went to a log"  # at most the group's first entry

    again = servers.start(data_dir, "--appendonly", "no")
    with again.raw() as conn:
        assert conn.call("DBSIZE") == 301
        assert conn.call("GET", "second") == b"1"
        assert conn.call("GET", "unsaved") is None
        check_keys(conn, 300)


@pytest.mark.parametrize("policy", POLICIES)
def test_append_is_replayed_exactly_once_after_a_snapshot_mid_pipeline(
    servers: ServerGroup, data_dir: Path, policy: str
) -> None:
    server = servers.start(data_dir, "--fsync", policy)
    with server.raw() as conn:
        replies = pipeline(
            conn, [("SET", "a", "x"), ("APPEND", "a", "y"), ("BGSAVE",), ("APPEND", "a", "z")]
        )
        assert replies == ["OK", 2, "Background saving started", 3]
        wait_for(conn, "the background save", bgsave_done)
        assert conn.call("GET", "a") == b"xyz"
    server.stop(signal.SIGKILL)

    again = servers.start(data_dir, "--fsync", policy)
    with again.raw() as conn:
        assert conn.call("GET", "a") == b"xyz"


def test_a_restart_after_a_crash_during_a_background_save(
    servers: ServerGroup, data_dir: Path
) -> None:
    server = servers.start(data_dir, "--fsync", "always")
    with server.raw() as conn:
        write_keys(conn, 2000, size=100)
        # A snapshot that cannot finish: its temporary file is a FIFO nobody reads, so the
        # child blocks once the pipe's buffer is full. It stands for a long save.
        os.mkfifo(data_dir / "snapshot.tmp")
        assert conn.call("BGSAVE") == "Background saving started"
        wait_for(conn, "the save to start", lambda f: f["rdb_bgsave_in_progress"] == "1")
    server.stop(signal.SIGKILL)  # the blocked child is killed by the fixture's teardown
    again = servers.start(data_dir, "--fsync", "always")
    with again.raw() as conn:
        check_keys(conn, 2000, size=100)


def test_bgsave_inside_a_transaction_keeps_the_log_in_order(
    servers: ServerGroup, data_dir: Path
) -> None:
    server = servers.start(data_dir, "--fsync", "always")
    with server.raw() as conn:
        replies = pipeline(
            conn,
            [
                ("SET", "a", "x"),
                ("MULTI",),
                ("APPEND", "a", "y"),
                ("BGSAVE",),
                ("APPEND", "a", "z"),
                ("EXEC",),
                ("APPEND", "a", "w"),
            ],
        )
        assert replies[-2:] == [[2, "Background saving started", 3], 4]
        wait_for(conn, "the background save", bgsave_done)
        assert conn.call("GET", "a") == b"xyzw"
    server.stop(signal.SIGKILL)

    again = servers.start(data_dir)
    with again.raw() as conn:
        assert conn.call("GET", "a") == b"xyzw"
