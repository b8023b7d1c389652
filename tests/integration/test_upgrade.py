"""A single server is a group of one: data directories of the standalone release upgrade
in place, and a server started without --role takes backups like any primary.

`tests/data/standalone-0.1.0` was written by tandemkv 0.1.0's standalone server (the
release before groups of one): MSET, SAVE, then SET with EXAT, APPEND, INCRBY, DEL,
RENAME, a MULTI/EXEC, SETRANGE and a key that had expired before the server stopped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers.cluster import Cluster, wait_for
from helpers.servers import run_tandemkv

pytestmark = pytest.mark.tandemkv_only("tandemkv's data directory and groups")

RELEASE_DIR = Path(__file__).resolve().parents[1] / "data" / "standalone-0.1.0"
RELEASE_DATA = {
    b"a": b"100",
    b"counter": b"42",
    b"keep": b"forever",
    b"renamed": b"3",
    b"sr": b"\x00\x00\x00abc",
    b"ttl": b"v",
    b"tx1": b"x",
    b"tx2": b"y",
}


def _with_release_data(cluster: Cluster, name: str) -> None:
    shutil.copytree(RELEASE_DIR, cluster.base / name / "data")


def test_a_standalone_release_directory_becomes_a_group_of_one_with_all_its_data(
    cluster: Cluster,
) -> None:
    _with_release_data(cluster, "old")
    node = cluster.start("old")
    with node.client() as c:
        assert {k: c.get(k) for k in c.keys("*")} == RELEASE_DATA
        assert c.ttl("ttl") > 0 and c.expiretime("ttl") == 4102444800
        assert c.execute_command("ROLE")[0] == b"master"
        c.set("after", "upgrade")
    status = node.status()
    assert status[b"role"] == b"primary" and len(status[b"members"]) == 1  # type: ignore[arg-type]
    assert (node.data / "cluster.json").exists()
    cluster.kill("old")  # SIGKILL: the restart replays the log the upgrade extended
    node = cluster.start("old")
    with node.client() as c:
        assert {k: c.get(k) for k in c.keys("*")} == {**RELEASE_DATA, b"after": b"upgrade"}


def test_a_server_started_without_a_role_takes_a_backup(cluster: Cluster) -> None:
    _with_release_data(cluster, "a")
    primary = cluster.start("a")
    backup = cluster.start("b", "--role", "backup")
    done = run_tandemkv("add-backup", "--primary", primary.address, "--backup", backup.address)
    assert done.returncode == 0, done.stderr
    with primary.client() as c:
        c.set("new", "write")
    with backup.client() as c:
        c.execute_command("READONLY")
        wait_for(lambda: c.get("new") == b"write" or None, 15, cluster.describe())
        assert {k: c.get(k) for k in c.keys("*")} == {**RELEASE_DATA, b"new": b"write"}
