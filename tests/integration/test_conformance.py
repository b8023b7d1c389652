"""Server and string behaviour checked against Redis 7.0 over the wire, on both targets:
INFO sections, CLIENT LIST's cmd=, CONFIG GET of several names, LASTSAVE before any save,
REPLICAOF's checks, SET option errors and INCRBYFLOAT's long double. Engine-level scripts
for the same live in tests/commands/test_redis_parity.py."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.resp import RawClient, RespError
from helpers.servers import ServerGroup, ServerProcess


def info(conn: RawClient, section: str) -> dict[str, str]:
    text = conn.call("INFO", section)
    assert isinstance(text, bytes)
    return dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line)


def client_line(conn: RawClient, name: str) -> dict[str, str]:
    listing = conn.call("CLIENT", "LIST")
    assert isinstance(listing, bytes)
    for line in listing.decode().splitlines():
        fields = dict(field.split("=", 1) for field in line.split(" ") if "=" in field)
        if fields.get("name") == name:
            return fields
    raise AssertionError(f"no client named {name} in {listing!r}")


# ------------------------------------------------------------------ INFO


def test_info_has_the_fields_clients_read(server: ServerProcess) -> None:
    with server.raw() as conn:
        assert info(conn, "cluster") == {"cluster_enabled": "0"}
        replication = info(conn, "replication")
        assert replication["role"] == "master"
        assert int(replication["master_repl_offset"]) >= 0
        headers = [line for line in conn.call("INFO").decode().splitlines() if line[:2] == "# "]
        assert headers[:6] == [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
        ]
        assert {"# CPU", "# Cluster", "# Keyspace"} <= set(headers)


def test_master_repl_offset_moves_with_writes(server: ServerProcess) -> None:
    with server.raw() as conn:
        before = int(info(conn, "replication")["master_repl_offset"])
        assert conn.call("SET", "k", "v") == "OK"
        after = int(info(conn, "replication")["master_repl_offset"])
    # Redis counts replication stream bytes only while it has a backlog (a replica has
    # connected); tandemkv counts log entries, which every write adds to.
    assert after >= before


# ------------------------------------------------------------------ CLIENT LIST


def test_client_list_names_subcommands(server: ServerProcess) -> None:
    with server.raw() as watcher, server.raw() as other:
        assert other.call("CLIENT", "SETNAME", "other") == "OK"
        assert client_line(watcher, "other")["cmd"] == "client|setname"
        assert other.call("CONFIG", "GET", "maxclients")
        assert client_line(watcher, "other")["cmd"] == "config|get"
        assert other.call("COMMAND", "COUNT")
        assert client_line(watcher, "other")["cmd"] == "command|count"
        assert isinstance(other.call("CONFIG", "NOSUCH"), RespError)
        assert client_line(watcher, "other")["cmd"] == "NULL"
        assert other.call("GET", "k") is None
        assert client_line(watcher, "other")["cmd"] == "get"
        assert watcher.call("CLIENT", "SETNAME", "watcher") == "OK"
        assert client_line(watcher, "watcher")["cmd"] == "client|list"


# ------------------------------------------------------------------ CONFIG GET, LASTSAVE


def test_config_get_several_names(server: ServerProcess) -> None:
    with server.raw() as conn:
        reply = conn.call("CONFIG", "GET", "maxmemory", "port", "PORT", "nosuch")
        assert isinstance(reply, list)
        pairs = dict(zip(reply[::2], reply[1::2], strict=True))
        assert pairs == {b"maxmemory": b"0", b"port": str(server.port).encode()}


def test_lastsave_is_the_start_time_before_any_save(
    make_server: Callable[..., ServerProcess],
) -> None:
    before = int(time.time())
    proc = make_server()
    after = int(time.time())
    with proc.raw() as conn:
        saved = conn.call("LASTSAVE")
        assert isinstance(saved, int) and before - 1 <= saved <= after + 1
        assert int(info(conn, "persistence")["rdb_last_save_time"]) == saved
        time.sleep(1.1)
        assert conn.call("LASTSAVE") == saved  # stable until a save


# ------------------------------------------------------------------ REPLICAOF


def test_replicaof_no_one_on_a_primary_and_the_port_check(server: ServerProcess) -> None:
    with server.raw() as conn:
        assert conn.call("REPLICAOF", "NO", "ONE") == "OK"
        assert conn.call("SLAVEOF", "no", "one") == "OK"
        assert conn.call("REPLICAOF", "127.0.0.1", "abc") == RespError("ERR Invalid master port")
        assert conn.call("REPLICAOF", "127.0.0.1", "70000") == RespError("ERR Invalid master port")
        assert info(conn, "replication")["role"] == "master"


@pytest.mark.tandemkv_only("tandemkv nodes join groups; Redis would start replicating")
def test_replicaof_a_host_points_to_add_backup(server: ServerProcess) -> None:
    with server.raw() as conn:
        reply = conn.call("REPLICAOF", "127.0.0.1", "6379")
        assert isinstance(reply, RespError)
        assert reply.text.startswith("ERR REPLICAOF is not supported")
        assert "ADD_BACKUP" in reply.text
        assert info(conn, "replication")["role"] == "master"


# ------------------------------------------------------------------ strings


def test_set_checks_option_words_before_amounts(server: ServerProcess) -> None:
    syntax = RespError("ERR syntax error")
    with server.raw() as conn:
        assert conn.call("SET", "k", "v", "EX", "x", "KEEPTTL") == syntax
        assert conn.call("SET", "k", "v", "KEEPTTL", "EX", "x") == syntax
        assert conn.call("SET", "k", "v", "PX", "x", "EX", "1") == syntax
        assert conn.call("SET", "k", "v", "EX", "x", "EX", "100") == "OK"
        assert conn.call("TTL", "k") == 100
        expire = RespError("ERR invalid expire time in 'set' command")
        assert conn.call("SET", "k", "v", "NX", "EX", "0") == expire
        assert conn.call("SET", "k", "v", "PX", "-1") == expire
        assert conn.call("EXISTS", "k", "k", "nope") == 2


def test_incrbyfloat_is_long_double(server: ServerProcess) -> None:
    with server.raw() as conn:
        assert conn.call("SET", "n", str(2**63 - 1)) == "OK"
        assert conn.call("INCRBYFLOAT", "n", "1.5") == b"9223372036854775808"
        assert conn.call("INCRBYFLOAT", "h", "0x10") == b"16"
        assert (
            conn.call("INCRBYFLOAT", "j", "123456789.123456789") == b"123456789.12345678899873747"
        )
        not_float = RespError("ERR value is not a valid float")
        assert conn.call("INCRBYFLOAT", "h", "1e5000") == not_float
        assert conn.call("INCRBYFLOAT", "h", "nan") == not_float
        assert conn.call("INCRBYFLOAT", "h", "inf") == RespError(
            "ERR increment would produce NaN or Infinity"
        )


# ------------------------------------------------------------------ durability


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


@pytest.mark.tandemkv_only("restarts a tandemkv data directory")
def test_incrbyfloat_results_survive_a_restart(servers: ServerGroup, tmp_path: Path) -> None:
    data = tmp_path / "db"
    first = servers.start(data)
    with first.raw() as conn:
        assert conn.call("SET", "f", "0.1", "EX", 1000) == "OK"
        assert conn.call("INCRBYFLOAT", "f", "0.2") == b"0.3"
        assert conn.call("INCRBYFLOAT", "g", "1e30") == b"1000000000000000000024696061952"
        assert conn.call("SET", "k", "v", "EX", "x", "EX", 500) == "OK"
        saved = conn.call("LASTSAVE")
    assert first.stop() == 0, first.describe()
    again = servers.start(data)
    with again.raw() as conn:
        assert conn.call("GET", "f") == b"0.3"
        assert 990 < conn.call("TTL", "f") <= 1000
        assert conn.call("GET", "g") == b"1000000000000000000024696061952"
        assert 490 < conn.call("TTL", "k") <= 500
        assert conn.call("INCRBYFLOAT", "f", "0.1") == b"0.4"
        assert conn.call("LASTSAVE") >= saved
