"""CONFIG SET of persistence settings on a running server, and CONFIG REWRITE of its TOML
file: each takes effect without a restart, and what it promises holds across one."""

from __future__ import annotations

import signal
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.resp import RawClient, RespError
from helpers.servers import ServerGroup

pytestmark = pytest.mark.tandemkv_only("tandemkv's data directory, log and config file")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


def persistence(conn: RawClient) -> dict[str, str]:
    text = conn.call("INFO", "persistence")
    assert isinstance(text, bytes)
    pairs = (line.split(":", 1) for line in text.decode().splitlines() if ":" in line)
    return dict(pairs)  # type: ignore[arg-type]


def test_appendfsync_changes_when_the_log_reaches_the_disk(
    servers: ServerGroup, tmp_path: Path
) -> None:
    server = servers.start(tmp_path / "db", "--fsync", "no")
    with server.raw() as conn:
        for i in range(20):
            conn.call("SET", f"k{i}", "v")
        time.sleep(1.2)  # under everysec the syncer would have caught up by now
        info = persistence(conn)
        assert int(info["log_synced_index"]) < int(info["log_last_index"]), info
        assert conn.call("CONFIG", "SET", "appendfsync", "always") == "OK"
        assert conn.call("CONFIG", "GET", "appendfsync") == [b"appendfsync", b"always"]
        conn.call("SET", "after", "v")  # its reply waits for its fsync now
        info = persistence(conn)
        assert info["fsync_policy"] == "always"
        assert info["log_synced_index"] == info["log_last_index"], info
        assert conn.call("CONFIG", "SET", "fsync", "everysec") == "OK"
        conn.call("SET", "later", "v")
        assert persistence(conn)["fsync_policy"] == "everysec"
        # Started without --config: there is no file to rewrite.
        refused = conn.call("CONFIG", "REWRITE")
        assert refused == RespError("ERR The server is running without a config file")


def test_appendonly_off_and_on_keeps_what_each_setting_promises(
    servers: ServerGroup, tmp_path: Path
) -> None:
    db = tmp_path / "db"
    server = servers.start(db)
    with server.raw() as conn:
        conn.call("SET", "k1", "logged")
        assert conn.call("CONFIG", "SET", "appendonly", "no") == "OK"
        assert persistence(conn)["aof_enabled"] == "0"
        conn.call("SET", "k2", "unlogged, then in the snapshot turning the log on takes")
        assert conn.call("CONFIG", "SET", "appendonly", "yes") == "OK"
        assert persistence(conn)["aof_enabled"] == "1"
        # A write in the same transaction as the switch is in the snapshot it takes.
        assert conn.call("MULTI") == "OK"
        assert conn.call("SET", "k3", "logged") == "QUEUED"
        assert conn.call("CONFIG", "SET", "appendonly", "no") == "QUEUED"
        assert conn.call("EXEC") == ["OK", "OK"]
        conn.call("SET", "k4", "unlogged: lost by a crash")
    assert server.stop(signal.SIGKILL) != 0
    again = servers.start(db)  # appendonly yes, as the flags (not CONFIG SET) say
    with again.raw() as conn:
        values = conn.call("MGET", "k1", "k2", "k3", "k4")
        assert values[:3] == [  # type: ignore[index]
            b"logged",
            b"unlogged, then in the snapshot turning the log on takes",
            b"logged",
        ]
        assert values[3] is None  # type: ignore[index]
        conn.call("SET", "k5", "logged")
    assert again.stop(signal.SIGKILL) != 0
    with servers.start(db).raw() as conn:
        assert conn.call("GET", "k5") == b"logged"


def test_save_points_snapshot_in_the_background(servers: ServerGroup, tmp_path: Path) -> None:
    server = servers.start(tmp_path / "db", "--appendonly", "no")
    with server.raw() as conn:
        # 3 changes, however soon (0 s): Redis's syntax, a point tests can reach at once.
        assert conn.call("CONFIG", "SET", "save", " 3600 100  0 3") == "OK"
        assert conn.call("CONFIG", "GET", "save") == [b"save", b"3600 100 0 3"]
        for i in range(2):
            conn.call("SET", f"k{i}", "v")
        time.sleep(0.3)  # three cron steps
        assert persistence(conn)["rdb_changes_since_last_save"] == "2", "2 changes: no save"
        conn.call("SET", "k2", "v")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            info = persistence(conn)
            if info["rdb_changes_since_last_save"] == "0":
                break
            time.sleep(0.05)
        assert info["rdb_changes_since_last_save"] == "0", "3 changes: a snapshot"
        assert info["rdb_last_bgsave_status"] == "ok"
    assert server.stop(signal.SIGKILL) != 0
    with servers.start(tmp_path / "db", "--appendonly", "no").raw() as conn:
        assert conn.call("MGET", "k0", "k1", "k2") == [b"v", b"v", b"v"]


CONFIG = """\
# The node of the rewrite test: comments and untouched settings must survive.
address = "127.0.0.1:0"
fsync = "everysec"  # changed at run time
maxmemory-policy = "noeviction"
"""


def test_config_rewrite_writes_what_config_set_changed(
    servers: ServerGroup, tmp_path: Path
) -> None:
    path = tmp_path / "node.toml"
    path.write_text(CONFIG)
    server = servers.start(tmp_path / "db", "--config", str(path))
    with server.raw() as conn:
        assert conn.call("CONFIG", "SET", "appendfsync", "always", "maxmemory", "10mb") == "OK"
        assert conn.call("CONFIG", "SET", "save", "60 5", "loglevel", "warning") == "OK"
        assert conn.call("CONFIG", "REWRITE") == "OK"
    text = path.read_text()
    assert text.startswith("# The node of the rewrite test")
    settings = tomllib.loads(text)
    assert settings["fsync"] == "always" and "appendfsync" not in settings
    assert settings["maxmemory"] == 10 * 1024 * 1024
    assert settings["save"] == "60 5" and settings["log-level"] == "warning"
    assert settings["maxmemory-policy"] == "noeviction"
    assert not list(tmp_path.glob(".tandemkv-config-*")), "no temporary file is left"
    assert server.stop() == 0
    with servers.start(tmp_path / "db", "--config", str(path)).raw() as conn:
        assert conn.call("CONFIG", "GET", "appendfsync") == [b"appendfsync", b"always"]
        assert conn.call("CONFIG", "GET", "save") == [b"save", b"60 5"]
