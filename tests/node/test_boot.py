"""Starting a cluster node: identity, the cluster secret rules, the first membership."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tandemkv.config import Config, load_config
from tandemkv.node.boot import BootError, bootstrap_group, is_cluster_node, prepare_identity
from tandemkv.node.disk_storage import DiskStorage
from tandemkv.node.identity import IDENTITY_FILE, NodeIdentity, load_identity, save_identity
from tandemkv.replication import ConfState
from tandemkv.replication.log import RaftLog
from tandemkv.storage.store import Store


def config(tmp_path: Path, **flags: object) -> Config:
    return load_config({"db_path": str(tmp_path), **flags}, env={})


def test_a_data_directory_is_a_cluster_node_once_it_has_an_identity(tmp_path: Path) -> None:
    assert not is_cluster_node(config(tmp_path))
    assert is_cluster_node(config(tmp_path, role="backup"))
    store = Store.open(str(tmp_path))
    try:
        prepare_identity(config(tmp_path, role="primary"), store)
    finally:
        store.close()
    assert is_cluster_node(config(tmp_path))


def test_a_loopback_primary_generates_a_private_secret_and_keeps_it(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    try:
        first = prepare_identity(config(tmp_path, role="primary"), store)
        again = prepare_identity(config(tmp_path), store)
    finally:
        store.close()
    assert len(first.secret) == 64 and again == first
    mode = stat.S_IMODE(os.stat(tmp_path / IDENTITY_FILE).st_mode)
    assert mode == 0o600


def test_a_joining_backup_starts_without_a_secret(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    try:
        identity = prepare_identity(
            config(tmp_path, role="backup", primary="127.0.0.1:7001"), store
        )
    finally:
        store.close()
    assert identity.secret == ""  # the primary hands it over on loopback


def test_a_group_reachable_from_other_machines_needs_a_configured_secret(
    tmp_path: Path,
) -> None:
    store = Store.open(str(tmp_path))
    try:
        with pytest.raises(BootError, match="--cluster-secret"):
            prepare_identity(
                config(tmp_path, role="primary", address="0.0.0.0:7001",
                       advertise="192.0.2.1:7001"), store
            )
        with pytest.raises(BootError, match="--advertise"):
            prepare_identity(
                config(tmp_path, role="primary", address="0.0.0.0:7001",
                       cluster_secret="s3cret"), store
            )
        identity = prepare_identity(
            config(tmp_path, role="primary", address="0.0.0.0:7001",
                   advertise="192.0.2.1:7001", cluster_secret="s3cret"),
            store,
        )
        assert identity.secret == "s3cret"
    finally:
        store.close()
    saved = load_identity(str(tmp_path))
    assert saved is not None and saved.secret == "s3cret"


def test_bootstrap_writes_the_first_membership_once(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path), replay=False)
    try:
        bootstrap_group(store, 42, "127.0.0.1:7001")
        bootstrap_group(store, 42, "127.0.0.1:7001")
        disk = DiskStorage(store)
        assert disk.last_index() == 1
        assert RaftLog(disk).conf_state() == ConfState((42,), (), (), ((42, "127.0.0.1:7001"),))
        assert disk.hard_state().commit == 1
    finally:
        store.close()


def test_a_group_member_needs_its_log(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    try:
        with pytest.raises(BootError, match="appendonly"):
            prepare_identity(config(tmp_path, role="primary", appendonly="no"), store)
    finally:
        store.close()


def test_the_members_a_forced_promotion_left_behind_survive_a_restart(tmp_path: Path) -> None:
    identity = NodeIdentity(7, "g", "s", deposed=((3, "127.0.0.1:7003"), (5, "")))
    save_identity(str(tmp_path), identity)
    assert load_identity(str(tmp_path)) == identity


def test_an_identity_file_from_before_forced_promotions_were_fenced_still_loads(
    tmp_path: Path,
) -> None:
    (tmp_path / IDENTITY_FILE).write_text(
        '{"node_id": 9, "group": "g", "secret": "s", "learner": false, "removed": false}'
    )
    loaded = load_identity(str(tmp_path))
    assert loaded is not None and loaded.deposed == ()


def test_a_new_node_on_another_groups_data_starts_a_group_of_its_own(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path), replay=False)
    try:
        bootstrap_group(store, 42, "127.0.0.1:7001")  # the data of group {42}, restored here
        disk = DiskStorage(store)
        bootstrap_group(store, 7, "127.0.0.1:7100")  # an existing identity: left as it is
        assert RaftLog(disk).conf_state().voters == (42,)
        bootstrap_group(store, 42, "127.0.0.1:7001", new_identity=True)  # already a member
        assert disk.last_index() == 1
        bootstrap_group(store, 7, "127.0.0.1:7100", new_identity=True)
        assert RaftLog(disk).conf_state() == ConfState((7,), (), (), ((7, "127.0.0.1:7100"),))
        assert disk.last_index() == 2
        assert DiskStorage(store).hard_state().commit == 2, "restored entries count as committed"
    finally:
        store.close()
