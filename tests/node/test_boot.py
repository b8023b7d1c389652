"""Starting a node: identity, the cluster secret rules, the first membership, and a sole
voter's log loaded before it serves."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest

from tandemkv.config import Config, load_config
from tandemkv.node.boot import (
    BootError,
    bootstrap_group,
    catch_up_alone,
    prepare_identity,
    starts_group,
)
from tandemkv.node.disk_storage import DiskStorage
from tandemkv.node.identity import IDENTITY_FILE, NodeIdentity, load_identity, save_identity
from tandemkv.replication import ConfState, Entry, EntryKind
from tandemkv.replication.conf import encode_conf
from tandemkv.replication.log import RaftLog
from tandemkv.storage.codec import encode_mutation
from tandemkv.storage.fs import OsFileSystem
from tandemkv.storage.mutation import SetValue
from tandemkv.storage.store import Store

ENTROPY = random.Random(7)


def config(tmp_path: Path, **flags: object) -> Config:
    return load_config({"db_path": str(tmp_path), **flags}, env={})


def test_a_start_writes_a_new_membership_only_for_a_node_of_no_group(tmp_path: Path) -> None:
    assert starts_group(config(tmp_path), new_identity=True)  # plain `tandemkv server`
    assert not starts_group(config(tmp_path), new_identity=False)  # a member restarting
    assert starts_group(config(tmp_path, role="primary"), new_identity=False)
    assert not starts_group(config(tmp_path, role="backup"), new_identity=True)
    assert not starts_group(config(tmp_path, role="witness"), new_identity=True)
    # Without a log on disk the membership lives only in snapshots: maybe needed again.
    assert starts_group(config(tmp_path, appendonly="no"), new_identity=False)


def test_a_single_server_on_a_public_address_needs_no_cluster_settings(tmp_path: Path) -> None:
    """A group of one talks to no peer: only adding backups needs --cluster-secret and
    --advertise (checked then)."""
    store = Store.open(str(tmp_path))
    try:
        identity = prepare_identity(config(tmp_path, address="0.0.0.0:7001"), store, ENTROPY)
    finally:
        store.close()
    assert len(identity.secret) == 64


def test_a_loopback_primary_generates_a_private_secret_and_keeps_it(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    try:
        first = prepare_identity(config(tmp_path, role="primary"), store, ENTROPY)
        again = prepare_identity(config(tmp_path), store, ENTROPY)
    finally:
        store.close()
    assert len(first.secret) == 64 and again == first
    mode = stat.S_IMODE(os.stat(tmp_path / IDENTITY_FILE).st_mode)
    assert mode == 0o600


def test_a_joining_backup_starts_without_a_secret(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    try:
        identity = prepare_identity(
            config(tmp_path, role="backup", primary="127.0.0.1:7001"), store, ENTROPY
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
                config(
                    tmp_path, role="primary", address="0.0.0.0:7001", advertise="192.0.2.1:7001"
                ),
                store,
                ENTROPY,
            )
        with pytest.raises(BootError, match="--advertise"):
            prepare_identity(
                config(tmp_path, role="primary", address="0.0.0.0:7001", cluster_secret="s3cret"),
                store,
                ENTROPY,
            )
        identity = prepare_identity(
            config(
                tmp_path,
                role="primary",
                address="0.0.0.0:7001",
                advertise="192.0.2.1:7001",
                cluster_secret="s3cret",
            ),
            store,
            ENTROPY,
        )
        assert identity.secret == "s3cret"
    finally:
        store.close()
    saved = load_identity(OsFileSystem(str(tmp_path)))
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


def test_a_backup_needs_its_log_and_so_does_any_member_of_a_larger_group(
    tmp_path: Path,
) -> None:
    store = Store.open(str(tmp_path), replay=False)
    try:
        with pytest.raises(BootError, match="appendonly"):
            prepare_identity(config(tmp_path, role="backup", appendonly="no"), store, ENTROPY)
        identity = prepare_identity(config(tmp_path, appendonly="no"), store, ENTROPY)
        three = ConfState((identity.node_id, 2, 3), (), (), ())
        DiskStorage(store).append([Entry(1, 1, encode_conf(three), EntryKind.CONFIG)])
        with pytest.raises(BootError, match="appendonly no is only for a server on its own"):
            catch_up_alone(config(tmp_path, appendonly="no"), store, identity, False)
    finally:
        store.close()


def test_a_sole_voter_replays_its_whole_log_before_it_serves(tmp_path: Path) -> None:
    """All of a sole voter's log is committed once it elects itself, even entries past the
    commit index it saved (saved lazily): they are loaded before the server listens."""
    store = Store.open(str(tmp_path), replay=False)
    try:
        identity = prepare_identity(config(tmp_path), store, ENTROPY)
        bootstrap_group(store, identity.node_id, "127.0.0.1:7001")
        DiskStorage(store).append(
            [
                Entry(1, 2, encode_mutation(SetValue(b"a", b"1")), EntryKind.NORMAL),
                Entry(1, 3, encode_mutation(SetValue(b"b", b"2")), EntryKind.NORMAL),
            ]
        )
        assert DiskStorage(store).hard_state().commit == 1
        applied = catch_up_alone(config(tmp_path), store, identity, new_identity=False)
        assert applied == 3
        assert store.keyspace.get(b"a", 0) == b"1" and store.keyspace.get(b"b", 0) == b"2"
    finally:
        store.close()


def test_a_member_of_a_larger_group_applies_only_what_the_group_commits(
    tmp_path: Path,
) -> None:
    store = Store.open(str(tmp_path), replay=False)
    try:
        identity = prepare_identity(config(tmp_path, role="backup"), store, ENTROPY)
        three = ConfState((identity.node_id, 2, 3), (), (), ())
        DiskStorage(store).append(
            [
                Entry(1, 1, encode_conf(three), EntryKind.CONFIG),
                Entry(1, 2, encode_mutation(SetValue(b"a", b"1")), EntryKind.NORMAL),
            ]
        )
        assert catch_up_alone(config(tmp_path), store, identity, new_identity=False) == 0
        assert len(store.keyspace) == 0
    finally:
        store.close()


def test_the_members_a_forced_promotion_left_behind_survive_a_restart(tmp_path: Path) -> None:
    identity = NodeIdentity(7, "g", "s", deposed=((3, "127.0.0.1:7003"), (5, "")))
    save_identity(OsFileSystem(str(tmp_path)), identity)
    assert load_identity(OsFileSystem(str(tmp_path))) == identity


def test_an_identity_file_from_before_forced_promotions_were_fenced_still_loads(
    tmp_path: Path,
) -> None:
    (tmp_path / IDENTITY_FILE).write_text(
        '{"node_id": 9, "group": "g", "secret": "s", "learner": false, "removed": false}'
    )
    loaded = load_identity(OsFileSystem(str(tmp_path)))
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
