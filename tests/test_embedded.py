"""The embedded API, `tandemkv.open(path)`: a data directory used in-process."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tandemkv
from helpers.servers import ServerGroup, run_tandemkv
from tandemkv import EmbeddedStore, StoreError
from tandemkv.cli import EXIT_DATA_DIR
from tandemkv.storage.errors import DataDirLockedError


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "db")


@pytest.fixture
def db(path: str) -> Iterator[EmbeddedStore]:
    store = tandemkv.open(path, fsync="no")
    yield store
    store.close()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


# ------------------------------------------------------------------ basic operations


def test_put_get_delete_keys(db: EmbeddedStore) -> None:
    assert db.get("missing") is None
    db.put("a", "1")
    db.put("b", "2")
    assert db.get("a") == b"1"
    assert sorted(db.keys()) == [b"a", b"b"]
    assert len(db) == 2
    assert db.delete("a") is True
    assert db.delete("a") is False
    assert db.get("a") is None
    assert db.keys() == [b"b"]


def test_str_is_utf8_and_bytes_are_kept_exactly(db: EmbeddedStore) -> None:
    db.put("clé", "välue ✓")
    assert db.get("clé".encode()) == "välue ✓".encode()
    db.put(b"\xff\x00k", b"\x00\xfe")
    assert db.get(b"\xff\x00k") == b"\x00\xfe"
    db.put(b"", b"")
    assert db.get("") == b""
    assert sorted(db.keys()) == sorted([b"", "clé".encode(), b"\xff\x00k"])


def test_keys_pattern_and_scan_over_many_keys(db: EmbeddedStore) -> None:
    for i in range(2500):
        db.put(f"user:{i}", str(i))
    db.put("order:1", "x")
    assert db.keys("order:*") == [b"order:1"]
    scanned = list(db.scan(match="user:*", count=100))
    assert len(scanned) == 2500
    assert set(scanned) == {f"user:{i}".encode() for i in range(2500)}
    assert len(list(db.scan())) == 2501


def test_execute_runs_any_command_and_raises_on_error_replies(db: EmbeddedStore) -> None:
    assert db.execute("SET", "n", 10) == "OK"
    assert db.execute("INCRBY", "n", 5) == 15
    assert db.execute("APPEND", "s", "ab") == 2
    assert db.execute("MGET", "n", "s", "none") == [b"15", b"ab", None]
    with pytest.raises(StoreError, match="not an integer"):
        db.execute("INCR", "s")
    with pytest.raises(StoreError, match="unknown command"):
        db.execute("NOSUCHCOMMAND")
    assert db.get("s") == b"ab", "a refused command changes nothing"


def test_ttl_and_expire(db: EmbeddedStore) -> None:
    db.put("forever", "v")
    assert db.ttl("forever") is None
    db.put("soon", "v", ttl=100)
    left = db.ttl("soon")
    assert left is not None and 99 < left <= 100
    assert db.expire("forever", 50) is True
    left = db.ttl("forever")
    assert left is not None and 49 < left <= 50
    assert db.expire("missing", 5) is False
    with pytest.raises(KeyError):
        db.ttl("missing")
    db.put("soon", "new value")  # like SET: a plain put clears the expiry
    assert db.ttl("soon") is None


def test_keys_expire(db: EmbeddedStore) -> None:
    db.put("brief", "v", ttl=0.05)
    db.put("stays", "v")
    assert db.get("brief") == b"v"
    time.sleep(0.15)
    assert db.get("brief") is None
    assert db.keys() == [b"stays"]
    assert len(db) == 1


def test_a_deadline_survives_reopening(path: str) -> None:
    with tandemkv.open(path) as db:
        db.put("long", "v", ttl=100)
        db.put("short", "v", ttl=0.05)
    time.sleep(0.15)
    with tandemkv.open(path) as db:
        left = db.ttl("long")
        assert left is not None and 95 < left <= 100
        assert db.get("short") is None


def test_a_closed_store_refuses_work(path: str) -> None:
    db = tandemkv.open(path)
    db.put("a", "1")
    db.close()
    db.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        db.get("a")
    with pytest.raises(StoreError, match="closed"):
        db.put("a", "2")


# ------------------------------------------------------------------ durability


@pytest.mark.parametrize("fsync", ["always", "everysec", "no"])
def test_reopening_sees_every_write(path: str, fsync: str) -> None:
    with tandemkv.open(path, fsync=fsync) as db:
        for i in range(300):
            db.put(f"k{i}", f"v{i}")
        db.execute("APPEND", "k0", "+")
        db.delete("k1")
    with tandemkv.open(path, fsync=fsync) as db:
        assert len(db) == 299
        assert db.get("k0") == b"v0+"
        assert db.get("k1") is None
        assert db.get("k299") == b"v299"


def test_save_writes_a_snapshot_that_reopening_builds_on(path: str) -> None:
    with tandemkv.open(path) as db:
        assert db.execute("LASTSAVE") == 0
        for i in range(100):
            db.put(f"k{i}", "x" * 100)
        db.execute("APPEND", "k0", "y")
        before = time.time()
        db.save()
        saved = db.execute("LASTSAVE")
        assert isinstance(saved, int) and saved >= int(before) - 1
        db.execute("APPEND", "k0", "z")  # after the snapshot: replayed from the log
    assert "snapshot" in os.listdir(path)
    with tandemkv.open(path) as db:
        assert len(db) == 100
        assert db.get("k0") == b"x" * 100 + b"yz", "no entry is applied twice or lost"


def test_eight_threads_writing_at_once_lose_nothing(path: str) -> None:
    threads_n, writes = 8, 500
    errors: list[BaseException] = []
    with tandemkv.open(path, fsync="everysec") as db:

        def writer(t: int) -> None:
            try:
                for i in range(writes):
                    db.put(f"t{t}:{i}", f"{t}-{i}")
                    db.execute("INCR", "counter")
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        assert not any(t.is_alive() for t in threads)
    with tandemkv.open(path) as db:
        assert len(db) == threads_n * writes + 1
        assert db.get("counter") == str(threads_n * writes).encode()
        for t in range(threads_n):
            for i in range(writes):
                assert db.get(f"t{t}:{i}") == f"{t}-{i}".encode()


def test_a_transaction_in_one_thread_does_not_capture_another_threads_writes(
    db: EmbeddedStore,
) -> None:
    assert db.execute("MULTI") == "OK"
    other = threading.Thread(target=db.put, args=("from-another-thread", "v"))
    other.start()
    other.join(timeout=10)
    assert db.execute("DISCARD") == "OK"
    assert db.get("from-another-thread") == b"v"


@pytest.mark.parametrize("policy", ["always", "everysec", "no"])
def test_fsync_policies_are_accepted(path: str, policy: str) -> None:
    with tandemkv.open(path, fsync=policy) as db:
        db.put("k", policy)
        assert db.get("k") == policy.encode()


@pytest.mark.parametrize("policy", ["sometimes", "", "ALWAYS", "1"])
def test_unknown_fsync_policies_are_refused_before_touching_the_disk(
    path: str, policy: str
) -> None:
    with pytest.raises(ValueError, match="fsync must be one of always, everysec, no"):
        tandemkv.open(path, fsync=policy)
    assert not os.path.exists(path)


# ------------------------------------------------------------------ one directory, two shells


def test_a_directory_written_embedded_is_served_by_a_server(
    tmp_path: Path, servers: ServerGroup
) -> None:
    data_dir = tmp_path / "db"
    with tandemkv.open(str(data_dir), fsync="always") as db:
        db.put("greeting", "héllo")
        db.put(b"\xff", b"\x00")
        db.put("session", "s", ttl=300)
        db.save()
        db.execute("APPEND", "greeting", "!")  # in the log after the snapshot
    server = servers.start(data_dir)
    with server.raw() as conn:
        assert conn.call("GET", "greeting") == "héllo!".encode()
        assert conn.call("GET", b"\xff") == b"\x00"
        assert 290 < conn.call("TTL", "session") <= 300
        assert conn.call("DBSIZE") == 3


def test_a_directory_written_by_a_server_opens_embedded(
    tmp_path: Path, servers: ServerGroup
) -> None:
    data_dir = tmp_path / "db"
    server = servers.start(data_dir, "--fsync", "always")
    with server.raw() as conn:
        assert conn.call("SET", "a", "1") == "OK"
        assert conn.call("APPEND", "a", "2") == 2
        assert conn.call("SET", "exp", "v", "EX", "300") == "OK"
        assert conn.call("SET", "gone", "v") == "OK"
        assert conn.call("DEL", "gone") == 1
    server.stop(signal.SIGKILL)  # a crash: acknowledged writes must still be there
    with tandemkv.open(str(data_dir)) as db:
        assert db.get("a") == b"12"
        assert db.get("gone") is None
        left = db.ttl("exp")
        assert left is not None and 290 < left <= 300
        db.put("from-embedded", "yes")
    again = servers.start(data_dir)
    with again.raw() as conn:
        assert conn.call("GET", "from-embedded") == b"yes"
        assert conn.call("GET", "a") == b"12"


# ------------------------------------------------------------------ the data-directory lock


def test_open_while_a_server_holds_the_directory_names_its_pid(
    tmp_path: Path, servers: ServerGroup
) -> None:
    data_dir = tmp_path / "db"
    server = servers.start(data_dir)
    with pytest.raises(DataDirLockedError) as caught:
        tandemkv.open(str(data_dir))
    assert caught.value.pid == server.pid
    assert f"process {server.pid}" in str(caught.value)


def test_a_server_refuses_a_directory_open_embedded(tmp_path: Path) -> None:
    data_dir = tmp_path / "db"
    with tandemkv.open(str(data_dir)):
        result = run_tandemkv(
            "--db-path", str(data_dir), "server", "--address", "127.0.0.1:0", timeout=30
        )
    assert result.returncode == EXIT_DATA_DIR
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"is already in use by process {os.getpid()}" in lines[0]


def test_a_second_open_in_the_same_process_is_refused(path: str) -> None:
    with tandemkv.open(path), pytest.raises(DataDirLockedError):
        tandemkv.open(path)
    with tandemkv.open(path) as db:  # released on close
        db.put("k", "v")


def test_cli_local_mode_on_a_directory_held_by_a_server_says_use_server(
    tmp_path: Path, servers: ServerGroup
) -> None:
    data_dir = tmp_path / "db"
    server = servers.start(data_dir)
    result = run_tandemkv("--db-path", str(data_dir), "get", "k", timeout=30)
    assert result.returncode == EXIT_DATA_DIR
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"(pid {server.pid})" in lines[0]
    assert f"run `tandemkv --server {server.address} get ...` instead" in lines[0]
    # and --server reaches the same data through the running server
    with server.raw() as conn:
        conn.call("SET", "k", "v")
    got = run_tandemkv(
        "--db-path", str(data_dir), "--server", server.address, "get", "k", timeout=30
    )
    assert (got.returncode, got.stdout) == (0, "v\n"), got.stderr


def test_cli_local_mode_writes_the_directory(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "db")
    put = run_tandemkv("--db-path", data_dir, "put", "k", "v", timeout=30)
    assert (put.returncode, put.stdout) == (0, "OK\n"), put.stderr
    got = run_tandemkv("--db-path", data_dir, "get", "k", timeout=30)
    assert (got.returncode, got.stdout) == (0, "v\n"), got.stderr
    with tandemkv.open(data_dir) as db:
        assert db.get("k") == b"v"


def test_a_data_directory_of_a_larger_group_is_refused(tmp_path: Path) -> None:
    """Its log is a replication log: opening it here could replay uncommitted entries
    and write where the group would never see it. (A group of one opens: see
    test_a_directory_written_by_a_server_opens_embedded.)"""
    from tandemkv.embedded import ClusterDataDirError
    from tandemkv.node.identity import NodeIdentity, save_identity
    from tandemkv.replication import ConfState, Entry, EntryKind
    from tandemkv.replication.conf import encode_conf
    from tandemkv.storage.fs import OsFileSystem
    from tandemkv.storage.record import encode_record_fields

    tmp_path.mkdir(exist_ok=True)
    save_identity(OsFileSystem(str(tmp_path)), NodeIdentity(7, "g", "s"))
    with pytest.raises(ClusterDataDirError, match="has not joined a group yet"):
        tandemkv.open(str(tmp_path))
    three = Entry(1, 1, encode_conf(ConfState((7, 8, 9), (), (), ())), EntryKind.CONFIG)
    with tandemkv.open(str(tmp_path / "scratch")):
        pass  # makes an empty log to copy the layout from
    segment = next((tmp_path / "scratch").glob("*.log"))
    record = encode_record_fields(three.term, three.index, three.kind, three.data)
    (tmp_path / segment.name).write_bytes(segment.read_bytes() + record)
    with pytest.raises(ClusterDataDirError, match="belongs to a group of 3 nodes"):
        tandemkv.open(str(tmp_path))
