"""Users and ACLs end to end, with redis-py and byte-exact replies; the same tests pass
against redis-server 7.0 (TANDEMKV_TEST_TARGET=redis), except what only tandemkv has:
users that survive a restart and a failover, and its start-up errors.

One server per module, started with an aclfile; every test starts from the file's users
(ACL LOAD), so tests do not see each other's users.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from helpers.cluster import Cluster, wait_for
from helpers.resp import ConnectionClosed, RawClient, RespError
from helpers.servers import (
    ServerOptions,
    ServerProcess,
    ServerStartError,
    kill_process_group,
    run_tandemkv,
    start_server,
)

USERS = b"user default on nopass ~* &* +@all\nuser app on >pw ~app:* +@read\n"
PW_HASH = hashlib.sha256(b"pw").hexdigest()
NOPERM_KEYS = "this user has no permissions to access one of the keys used as arguments"


@pytest.fixture(scope="module")
def acl_server(target: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("acl")
    aclfile = workdir / "users.acl"
    aclfile.write_bytes(USERS)
    server = start_server(target, workdir, ServerOptions(aclfile=aclfile))
    yield server
    server.stop()
    kill_process_group(server)


@pytest.fixture
def admin(acl_server: ServerProcess) -> Iterator[RawClient]:
    """A default-user connection, with the users reset to the file's."""
    (acl_server.workdir / "users.acl").write_bytes(USERS)
    with acl_server.raw() as conn:
        assert conn.call("ACL", "LOAD") == "OK"
        assert conn.call("FLUSHALL") == "OK"
        yield conn


def test_a_read_only_user_reads_its_keys_and_nothing_else(
    acl_server: ServerProcess, admin: RawClient
) -> None:
    """The issue's done-when: +@read ~app:* can GET app:x, not other:x, and cannot write."""
    admin.call("SET", "app:x", "1")
    admin.call("SET", "other:x", "2")
    app = acl_server.client(username="app", password="pw")
    assert app.get("app:x") == b"1"
    with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_KEYS):
        app.get("other:x")
    with pytest.raises(
        redis.exceptions.NoPermissionError,
        match="this user has no permissions to run the 'set' command",
    ):
        app.set("app:x", "2")
    with pytest.raises(redis.exceptions.NoPermissionError, match="'flushall' command"):
        app.flushall()
    with pytest.raises(redis.exceptions.AuthenticationError, match="invalid username-password"):
        acl_server.client(username="app", password="wrong").ping()
    app.close()


def test_list_and_getuser_in_resp2_and_resp3(acl_server: ServerProcess, admin: RawClient) -> None:
    assert admin.call("ACL", "LIST") == [
        f"user app on #{PW_HASH} ~app:* resetchannels -@all +@read".encode(),
        b"user default on nopass ~* &* +@all",
    ]
    getuser = [
        b"flags",
        [b"on"],
        b"passwords",
        [PW_HASH.encode()],
        b"commands",
        b"-@all +@read",
        b"keys",
        b"~app:*",
        b"channels",
        b"",
        b"selectors",
        [],
    ]
    assert admin.call("ACL", "GETUSER", "app") == getuser
    assert admin.call("ACL", "GETUSER", "nosuch") is None
    with acl_server.raw() as resp3:
        resp3.call("HELLO", "3")
        reply = resp3.call("ACL", "GETUSER", "app")
        assert reply == dict(zip(getuser[::2], getuser[1::2], strict=True))
    assert admin.call("ACL", "SETUSER", "app", "bogus") == RespError(
        "ERR Error in ACL SETUSER modifier 'bogus': Syntax error"
    )
    assert admin.call("ACL", "USERS") == [b"app", b"default"]


def test_hello_auth_whoami_and_client_list(acl_server: ServerProcess, admin: RawClient) -> None:
    admin.call("ACL", "SETUSER", "ops", "on", ">x", "+@all", "~*")
    with acl_server.raw() as conn:
        hello = conn.call("HELLO", "3", "AUTH", "ops", "x")
        assert hello[b"proto"] == 3
        assert conn.call("ACL", "WHOAMI") == b"ops"
        assert b" user=ops " in conn.call("CLIENT", "INFO")
        assert conn.call("AUTH", "ops", "bad") == RespError(
            "WRONGPASS invalid username-password pair or user is disabled."
        )
        assert conn.call("ACL", "WHOAMI") == b"ops"  # a failed AUTH changes nothing


def test_changes_reach_connections_at_once_and_deleting_closes_them(
    acl_server: ServerProcess, admin: RawClient
) -> None:
    admin.call("ACL", "SETUSER", "worker", "on", ">w", "+@all", "~*")
    with acl_server.raw() as conn:
        assert conn.call("AUTH", "worker", "w") == "OK"
        assert conn.call("SET", "k", "v") == "OK"
        admin.call("ACL", "SETUSER", "worker", "-set")
        assert conn.call("SET", "k", "v") == RespError(
            "NOPERM this user has no permissions to run the 'set' command"
        )
        assert admin.call("ACL", "DELUSER", "worker") == 1
        with pytest.raises((ConnectionClosed, ConnectionError)):
            conn.call("PING")


def test_multi_refuses_a_forbidden_command_when_queued(
    acl_server: ServerProcess, admin: RawClient
) -> None:
    admin.call("ACL", "SETUSER", "app", "+@transaction")
    with acl_server.raw() as conn:
        conn.call("AUTH", "app", "pw")
        assert conn.call("MULTI") == "OK"
        assert conn.call("GET", "app:x") == "QUEUED"
        assert conn.call("SET", "app:x", "1") == RespError(
            "NOPERM this user has no permissions to run the 'set' command"
        )
        assert conn.call("EXEC") == RespError(
            "EXECABORT Transaction discarded because of previous errors."
        )
        # Permissions lost after queuing are checked again at EXEC.
        conn.call("MULTI")
        conn.call("GET", "app:x")
        conn.call("GET", "app:y")
        admin.call("ACL", "SETUSER", "app", "resetkeys", "~app:x")
        assert conn.call("EXEC") == [
            None,
            RespError(
                "NOPERM ACLs rules changed between the moment the transaction was accumulated "
                "and the EXEC call. This command is no longer allowed for the following "
                "reason: no permission to touch the specified keys"
            ),
        ]


def test_dryrun_cat_and_log(acl_server: ServerProcess, admin: RawClient) -> None:
    assert admin.call("ACL", "DRYRUN", "app", "GET", "app:1") == "OK"
    assert (
        admin.call("ACL", "DRYRUN", "app", "GET", "x")
        == b"This user has no permissions to access the 'x' key"
    )
    assert b"get" in admin.call("ACL", "CAT", "read")
    assert b"flushall" in admin.call("ACL", "CAT", "dangerous")
    admin.call("ACL", "LOG", "RESET")
    with acl_server.raw() as conn:
        conn.call("AUTH", "app", "pw")
        conn.call("SET", "x", "1")
    (flat,) = admin.call("ACL", "LOG")
    entry = dict(zip(flat[::2], flat[1::2], strict=True))
    assert (entry[b"reason"], entry[b"object"], entry[b"username"]) == (b"command", b"set", b"app")


# redis-server 7.0.15's ACL DRYRUN for a user with %W~* and one with %R~*.
KEY_PERMISSIONS = [
    (("SET", "k", "v"), True, False),
    (("SET", "k", "v", "GET"), False, False),
    (("GET", "k"), False, True),
    (("APPEND", "k", "v"), True, False),
    (("INCR", "k"), False, False),
    (("DEL", "k"), True, False),
    (("EXPIRE", "k", "10"), True, False),
    (("TTL", "k"), False, True),
    (("EXISTS", "k"), True, True),
    (("LPUSH", "k", "v"), True, False),
    (("LPOP", "k"), False, False),
    (("HSET", "k", "f", "v"), True, False),
    (("HINCRBY", "k", "f", "1"), False, False),
    (("ZREMRANGEBYRANK", "k", "0", "1"), True, False),
    (("RENAME", "k", "k2"), False, False),
    (("SINTERSTORE", "d", "k"), False, False),
]


def test_each_key_of_a_source_and_destination_command(admin: RawClient) -> None:
    admin.call("ACL", "SETUSER", "rw", "on", "nopass", "+@all", "%R~src:*", "%W~dst:*")
    for args, may in (
        (("SINTERSTORE", "dst:d", "src:a", "src:b"), True),
        (("SINTERSTORE", "src:d", "src:a"), False),
        (("ZUNIONSTORE", "dst:d", "2", "src:a", "src:b"), True),
        (("COPY", "src:a", "dst:b"), True),
        (("COPY", "dst:a", "dst:b"), False),
        (("LMOVE", "src:a", "dst:b", "LEFT", "LEFT"), False),
    ):
        assert (admin.call("ACL", "DRYRUN", "rw", *args) == "OK") is may, args


def test_read_and_write_key_patterns(admin: RawClient) -> None:
    admin.call("ACL", "SETUSER", "wo", "on", "nopass", "+@all", "%W~*")
    admin.call("ACL", "SETUSER", "ro", "on", "nopass", "+@all", "%R~*")
    for args, writer_may, reader_may in KEY_PERMISSIONS:
        for user, may in (("wo", writer_may), ("ro", reader_may)):
            reply = admin.call("ACL", "DRYRUN", user, *args)
            assert (reply == "OK") is may, (user, args, reply)


def test_acl_save_writes_the_file_that_acl_load_reads(
    acl_server: ServerProcess, admin: RawClient
) -> None:
    aclfile = acl_server.workdir / "users.acl"
    admin.call("ACL", "SETUSER", "saved", "on", "nopass", "+get", "~s:*")
    assert admin.call("ACL", "SAVE") == "OK"
    assert b"user saved on nopass ~s:* resetchannels -@all +get" in aclfile.read_bytes()
    aclfile.write_bytes(USERS)
    assert admin.call("ACL", "LOAD") == "OK"
    assert admin.call("ACL", "USERS") == [b"app", b"default"]


# ----------------------------------------------------------- tandemkv's own


@pytest.mark.tandemkv_only("Redis keeps users in memory or its aclfile, not its data")
def test_users_survive_a_restart_from_snapshot_and_log(tmp_path: Path) -> None:
    server = start_server("tandemkv", tmp_path)
    try:
        with server.raw() as conn:
            conn.call("ACL", "SETUSER", "snap", "on", ">a", "+@all", "~*")
            assert conn.call("SAVE") == "OK"
            conn.call("ACL", "SETUSER", "logged", "on", ">b", "+get", "~*")
            conn.call("FLUSHALL")  # users are not keys
    finally:
        server.stop()
    server = start_server("tandemkv", tmp_path)
    try:
        with server.raw() as conn:
            assert conn.call("ACL", "USERS") == [b"default", b"logged", b"snap"]
            assert conn.call("AUTH", "logged", "b") == "OK"
            assert conn.call("SET", "k", "v") == RespError(
                "NOPERM this user has no permissions to run the 'set' command"
            )
    finally:
        server.stop()


@pytest.mark.tandemkv_only("tandemkv's start-up errors")
def test_a_bad_aclfile_stops_the_server_naming_the_line(tmp_path: Path) -> None:
    aclfile = tmp_path / "bad.acl"
    aclfile.write_bytes(b"user a on\nuser b bogus\n")
    expected = "aclfile .*bad.acl: line 2: Error in ACL SETUSER modifier 'bogus': Syntax error"
    with pytest.raises(ServerStartError, match=expected):
        start_server("tandemkv", tmp_path, ServerOptions(aclfile=aclfile))


@pytest.mark.tandemkv_only("cluster mode is tandemkv's own")
def test_users_set_on_the_primary_hold_on_a_new_primary(cluster: Cluster) -> None:
    aclfile = cluster.base / "users.acl"
    aclfile.write_bytes(b"user seeded on >s ~* &* +@all\n")
    primary = cluster.start_three("--aclfile", str(aclfile))
    with primary.client() as c:
        c.execute_command("ACL", "SETUSER", "app", "on", ">pw", "+@read", "~app:*")
        c.set("app:x", "1")
        c.execute_command("WAIT", 2, 5000)
    with cluster.nodes["c"].client() as backup, pytest.raises(redis.exceptions.ReadOnlyError):
        backup.execute_command("ACL", "SETUSER", "x", "on")
    target = cluster.nodes["b"]
    with primary.client() as c:
        assert c.execute_command("FAILOVER", "TO", "127.0.0.1", target.port) == b"OK"
    new = cluster.primary()
    assert new.name == "b"
    with new.client(username="app", password="pw") as app:
        assert app.get("app:x") == b"1"
        with pytest.raises(redis.exceptions.NoPermissionError, match="'set' command"):
            app.set("app:x", "2")
        with pytest.raises(redis.exceptions.NoPermissionError, match=NOPERM_KEYS):
            app.get("other:x")
    with new.client(username="seeded", password="s") as seeded:  # from the aclfile
        assert seeded.execute_command("ACL", "USERS") == [b"app", b"default", b"seeded"]
    # A backup enforces them too, for its READONLY readers.
    backup = cluster.nodes["c"]
    wait_for(
        lambda: (
            backup.client().execute_command("ACL", "USERS") == [b"app", b"default", b"seeded"]
            or None
        ),
        10,
        cluster.describe(),
    )


@pytest.mark.tandemkv_only("the tandemkv CLI's client verbs")
def test_client_verbs_take_a_user(acl_server: ServerProcess, admin: RawClient) -> None:
    admin.call("SET", "app:x", "1")
    server = ["--server", f"127.0.0.1:{acl_server.port}"]
    env = {"TANDEMKV_USER": "app", "TANDEMKV_PASSWORD": "pw"}
    done = run_tandemkv(*server, "get", "app:x", env=env)
    assert (done.returncode, done.stdout) == (0, "1\n"), done.stderr
    refused = run_tandemkv(*server, "--user", "app", "--password", "pw", "put", "app:x", "2")
    assert refused.returncode == 7  # EXIT_SERVER_ERROR
    assert "NOPERM this user has no permissions to run the 'set' command" in refused.stderr
    wrong = run_tandemkv(*server, "--user", "app", "--password", "bad", "get", "app:x")
    assert wrong.returncode == 5 and "WRONGPASS" in wrong.stderr  # EXIT_AUTH
