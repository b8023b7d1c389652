"""Server commands: INFO, DBSIZE, FLUSHALL/FLUSHDB, TIME, SHUTDOWN, SAVE/LASTSAVE, REPLICAOF
and the CONFIG whitelist."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import cast

import pytest

from tandemkv.commands.cluster_view import ClusterView, NodeStatus
from tandemkv.commands.detached import DetachedHost
from tandemkv.commands.settings import Settings
from tandemkv.commands.table import NO_REPLY, TABLE
from tandemkv.protocol.types import OK, ErrorReply, SimpleString, Verbatim
from tandemkv.storage.mutation import FlushAll

from .harness import SYNTAX, Client, World, arity_err, err


def info_text(c: Client, *sections: str) -> str:
    reply = c("INFO", *sections)
    assert isinstance(reply, Verbatim) and reply.fmt == "txt"
    return reply.text.decode()


def info_fields(text: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


# ------------------------------------------------------------------ INFO


def test_info_default_sections(c: Client) -> None:
    text = info_text(c)
    headers = [line for line in text.split("\r\n") if line.startswith("# ")]
    assert headers == [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Modules",
        "# Errorstats",
        "# Cluster",
        "# Keyspace",
    ]
    assert "\n" not in text.replace("\r\n", "")


def test_info_cluster_says_redis_cluster_is_off(c: Client) -> None:
    """redis-py and cluster-aware clients read cluster_enabled: a group is not a Redis Cluster."""
    assert info_text(c, "cluster") == "# Cluster\r\ncluster_enabled:0\r\n"


def test_info_persistence_last_save_is_the_start_before_any_save() -> None:
    class Host(DetachedHost):
        def server_info(self) -> dict[str, dict[str, object]]:
            return {"persistence": {"loading": 0, "rdb_last_save_time": 0}}

    c = World(host=Host(), settings=Settings(started_at=1_600_000_000)).client()
    assert info_fields(info_text(c, "persistence"))["rdb_last_save_time"] == "1600000000"


def test_info_keyspace_line(c: Client) -> None:
    assert info_fields(info_text(c, "keyspace")) == {}
    c("SET", "a", "1")
    c("SET", "b", "1", "EX", 100)
    text = info_text(c, "keyspace")
    assert text.startswith("# Keyspace\r\n")
    assert info_fields(text) == {"db0": "keys=2,expires=1,avg_ttl=0"}


def test_info_counts_commands_and_errors(c: Client) -> None:
    c("PING")
    c("NOSUCH")
    fields = info_fields(info_text(c, "stats"))
    assert int(fields["total_commands_processed"]) >= 2
    assert int(fields["total_error_replies"]) >= 1


def test_info_section_names_are_case_insensitive_and_unknown_is_empty(c: Client) -> None:
    assert info_text(c, "KEYSPACE").startswith("# Keyspace")
    assert info_text(c, "nosuch") == ""


def test_info_all_includes_host_sections() -> None:
    class Host(DetachedHost):
        def server_info(self) -> dict[str, dict[str, object]]:
            return {"server": {"redis_version": "7.2.0", "tcp_port": 7000}, "custom": {"x": 1}}

    world = World(host=Host())
    c = world.client()
    fields = info_fields(info_text(c, "all"))
    assert fields["redis_version"] == "7.2.0"
    assert fields["x"] == "1"
    assert "# Custom" in info_text(c, "everything")
    assert "# Custom" not in info_text(c)


# ------------------------------------------------------------------ DBSIZE / FLUSH


def test_dbsize(c: Client) -> None:
    assert c("DBSIZE") == 0
    c("MSET", "a", "1", "b", "2")
    assert c("DBSIZE") == 2
    assert c("DBSIZE", "x") == arity_err("dbsize")


def test_dbsize_counts_expired_keys_until_they_are_removed(world: World, c: Client) -> None:
    c("SET", "a", "1", "PX", 10)
    c("SET", "b", "1")
    world.advance(10)
    assert c("DBSIZE") == 2  # like Redis: the key is still stored
    world.engine.active_expire()
    assert c("DBSIZE") == 1


@pytest.mark.parametrize("cmd", ["FLUSHALL", "FLUSHDB"])
@pytest.mark.parametrize("option", [(), ("ASYNC",), ("SYNC",), ("sync",)])
def test_flush(world: World, c: Client, cmd: str, option: tuple[str, ...]) -> None:
    c("MSET", "a", "1", "b", "2")
    c("EXPIRE", "a", 100)
    world.mutations()
    assert c(cmd, *option) == OK
    assert c("DBSIZE") == 0
    assert world.engine.keyspace.expiring_count() == 0
    assert world.mutations() == [FlushAll()]


@pytest.mark.parametrize("option", [("FOO",), ("SYNC", "ASYNC")])
def test_flush_syntax(c: Client, option: tuple[str, ...]) -> None:
    c("SET", "a", "1")
    assert c("FLUSHALL", *option) == SYNTAX
    assert c("FLUSHDB", *option) == SYNTAX
    assert c("DBSIZE") == 1


# ------------------------------------------------------------------ TIME


def test_time_comes_from_the_engine_clock(world: World, c: Client) -> None:
    world.engine.now_ms = 1_700_000_123_456
    assert c("TIME") == [b"1700000123", b"456000"]
    assert c("TIME", "x") == arity_err("time")


# ------------------------------------------------------------------ SHUTDOWN


@pytest.mark.parametrize("options", [(), ("NOSAVE",), ("SAVE",), ("NOW", "FORCE"), ("nosave",)])
def test_shutdown_asks_the_host_and_sends_no_reply(options: tuple[str, ...]) -> None:
    host = DetachedHost()
    world = World(host=host)
    c = world.client()
    assert c("SHUTDOWN", *options) is NO_REPLY
    assert host.shutdown_requested
    assert c.session.close_after_reply


def test_shutdown_errors() -> None:
    host = DetachedHost()
    c = World(host=host).client()
    assert c("SHUTDOWN", "ABORT") == err("ERR No shutdown in progress.")
    assert c("SHUTDOWN", "FOO") == SYNTAX
    assert not host.shutdown_requested


# ------------------------------------------------------------------ SAVE / BGSAVE / LASTSAVE


class SavingHost(DetachedHost):
    def __init__(self) -> None:
        super().__init__()
        self.saves: list[bool] = []

    def save(self, background: bool) -> object:
        self.saves.append(background)
        return SimpleString("Background saving started") if background else OK

    def last_save_time(self) -> int:
        return 1_700_000_000


def test_save_and_bgsave_ask_the_host() -> None:
    host = SavingHost()
    c = World(host=host).client()
    assert c("SAVE") == OK
    assert c("BGSAVE") == "Background saving started"
    assert c("BGSAVE", "schedule") == "Background saving started"
    assert host.saves == [False, True, True]
    assert c("LASTSAVE") == 1_700_000_000


def test_save_without_a_data_directory() -> None:
    c = World(settings=Settings(started_at=1_600_000_000)).client()
    reply = c("SAVE")
    assert isinstance(reply, ErrorReply) and reply.message.startswith("ERR ")
    # Before any snapshot Redis answers its start time, counting its data as saved.
    assert c("LASTSAVE") == 1_600_000_000


def test_lastsave_before_any_save_is_the_start_worked_out_from_the_uptime() -> None:
    class Host(DetachedHost):
        uptime = 25

        def server_info(self) -> dict[str, dict[str, object]]:
            return {"server": {"uptime_in_seconds": self.uptime}}

    host = Host()
    c = World(host=host).client()
    c.engine.now_ms = 1_700_000_100_999
    assert c("LASTSAVE") == 1_700_000_075
    host.uptime, c.engine.now_ms = 26, 1_700_000_102_000  # a second later, rounded the other way
    assert c("LASTSAVE") == 1_700_000_075  # kept: stable until a snapshot
    assert c.engine.settings.started_at == 1_700_000_075
    assert Settings(started_at=1) == Settings(started_at=2)  # not a setting: not compared


def test_lastsave_without_a_start_or_a_save_is_zero(c: Client) -> None:
    assert c("LASTSAVE") == 0  # a detached store (the embedded API) has no start to tell


def test_save_errors() -> None:
    host = SavingHost()
    c = World(host=host).client()
    assert c("BGSAVE", "NOW") == SYNTAX
    assert c("BGSAVE", "SCHEDULE", "x") == SYNTAX
    assert c("SAVE", "x") == arity_err("save")
    assert c("LASTSAVE", "x") == arity_err("lastsave")
    assert host.saves == []


def test_save_is_refused_inside_multi() -> None:
    host = SavingHost()
    c = World(host=host).client()
    c("MULTI")
    assert c("SAVE") == err("ERR Command not allowed inside a transaction")
    assert c("EXEC") == err("EXECABORT Transaction discarded because of previous errors.")
    assert host.saves == []


# ------------------------------------------------------------------ CONFIG GET


def test_config_get_exact_names(c: Client) -> None:
    assert c("CONFIG", "GET", "maxclients") == {b"maxclients": b"10000"}
    assert c("CONFIG", "GET", "timeout") == {b"timeout": b"0"}
    assert c("CONFIG", "GET", "protected-mode") == {b"protected-mode": b"yes"}
    assert c("CONFIG", "GET", "proto-max-bulk-len") == {b"proto-max-bulk-len": b"536870912"}
    assert c("CONFIG", "GET", "nosuch") == {}


def test_config_get_several_and_globs(c: Client) -> None:
    assert c("CONFIG", "GET", "maxclients", "timeout") == {
        b"maxclients": b"10000",
        b"timeout": b"0",
    }
    assert c("CONFIG", "GET", "*max-*-len*") == {b"proto-max-bulk-len": b"536870912"}
    everything = c("CONFIG", "GET", "*")
    assert isinstance(everything, dict)
    assert {b"requirepass", b"maxclients", b"timeout", b"port", b"bind", b"hz"} <= set(everything)


def test_config_get_never_shows_file_paths(c: Client) -> None:
    everything = c("CONFIG", "GET", "*")
    assert isinstance(everything, dict)
    for name in (b"dir", b"dbfilename", b"logfile", b"appendfilename", b"aclfile", b"pidfile"):
        assert name not in everything
    assert c("CONFIG", "GET", "dir") == {}


def test_config_get_echoes_the_name_as_sent(c: Client) -> None:
    assert c("CONFIG", "GET", "MAXCLIENTS") == {b"MAXCLIENTS": b"10000"}


# ------------------------------------------------------------------ CONFIG SET


def test_config_set_changes_the_settings(world: World, c: Client) -> None:
    settings = world.engine.settings
    assert c("CONFIG", "SET", "timeout", "30", "maxclients", "50") == OK
    assert (settings.timeout, settings.maxclients) == (30, 50)
    assert c("CONFIG", "GET", "timeout") == {b"timeout": b"30"}
    assert c("CONFIG", "SET", "PROTECTED-MODE", "NO") == OK
    assert settings.protected_mode is False
    assert c("CONFIG", "GET", "protected-mode") == {b"protected-mode": b"no"}
    assert c("CONFIG", "SET", "proto-max-bulk-len", "1mb") == OK
    assert settings.proto_max_bulk_len == 1024 * 1024
    assert c("CONFIG", "GET", "client-query-buffer-limit") == {
        b"client-query-buffer-limit": b"1073741824"
    }
    assert c("CONFIG", "SET", "client-query-buffer-limit", "2mb") == OK
    assert settings.client_query_buffer_limit == 2 * 1024 * 1024


def test_config_set_hz_is_clamped_like_redis(world: World, c: Client) -> None:
    assert c("CONFIG", "SET", "hz", "0") == OK
    assert c("CONFIG", "GET", "hz") == {b"hz": b"1"}
    assert c("CONFIG", "SET", "hz", "1000") == OK
    assert c("CONFIG", "GET", "hz") == {b"hz": b"500"}


def test_config_set_is_all_or_nothing(world: World, c: Client) -> None:
    reply = c("CONFIG", "SET", "timeout", "30", "maxclients", "abc")
    assert reply == err(
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
        "argument couldn't be parsed into an integer"
    )
    assert world.engine.settings.timeout == 0


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("timeout", "abc", "argument couldn't be parsed into an integer"),
        ("timeout", " 5", "argument couldn't be parsed into an integer"),
        ("timeout", "+5", "argument couldn't be parsed into an integer"),
        ("hz", "abc", "argument couldn't be parsed into an integer"),
        ("protected-mode", "maybe", "argument must be 'yes' or 'no'"),
        ("appendonly", "maybe", "argument must be 'yes' or 'no'"),
        ("appendfsync", "foo", "argument(s) must be one of the following: everysec, always, no"),
        ("save", "1 2 3", "Invalid save parameters"),
        ("save", "a b", "Invalid save parameters"),
        (
            "latency-monitor-threshold",
            "-1",
            f"argument must be between 0 and {2**63 - 1} inclusive",
        ),
        ("latency-monitor-threshold", "abc", "argument couldn't be parsed into an integer"),
    ],
)
def test_config_set_bad_values(c: Client, name: str, value: str, reason: str) -> None:
    assert c("CONFIG", "SET", name, value) == err(
        f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
    )


@pytest.mark.parametrize("name", ["port", "bind"])
def test_config_set_refuses_immutable_settings(world: World, c: Client, name: str) -> None:
    assert c("CONFIG", "SET", name, "yes") == err(
        f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
        "can't set immutable config"
    )
    assert world.engine.settings == Settings()


def test_config_get_persistence_mirrors(c: Client) -> None:
    assert c("CONFIG", "GET", "save") == {b"save": b""}
    assert c("CONFIG", "GET", "appendonly") == {b"appendonly": b"no"}
    assert c("CONFIG", "GET", "appendfsync") == {b"appendfsync": b"everysec"}


def test_config_set_runtime_settings(world: World, c: Client) -> None:
    """Values as Redis normalises them; the host (here detached) carries them out."""
    assert c("CONFIG", "SET", "save", " 3600  1 300 100 ", "appendfsync", "ALWAYS") == OK
    assert c("CONFIG", "GET", "save") == {b"save": b"3600 1 300 100"}
    assert c("CONFIG", "GET", "appendfsync") == {b"appendfsync": b"always"}
    # tandemkv's own flag names are aliases of Redis's.
    assert c("CONFIG", "SET", "fsync", "no", "loglevel", "warning") == OK
    assert c("CONFIG", "GET", "fsync") == {b"fsync": b"no"}
    assert c("CONFIG", "GET", "log-level") == {b"log-level": b"warning"}
    assert c("CONFIG", "SET", "save", "") == OK
    assert world.engine.settings.save == ""
    assert c("CONFIG", "SET", "latency-monitor-threshold", "5") == OK
    assert world.engine.settings.latency_monitor_threshold == 5


def test_config_set_is_refused_whole_when_the_host_refuses(world: World) -> None:
    class Refusing(DetachedHost):
        def apply_settings(self, changes: dict[str, object]) -> str:
            return "appendonly no is only for a server on its own"

    world.engine.host = Refusing()
    c = world.client()
    reply = c("CONFIG", "SET", "timeout", "5", "appendonly", "yes")
    assert reply == err("ERR appendonly no is only for a server on its own")
    assert world.engine.settings == Settings()


def test_config_rewrite_without_a_config_file(c: Client) -> None:
    assert c("CONFIG", "REWRITE") == err("ERR The server is running without a config file")


@pytest.mark.parametrize(
    "name", ["dir", "dbfilename", "logfile", "appendfilename", "aclfile", "pidfile", "nosuch"]
)
def test_config_set_has_no_file_paths(world: World, c: Client, name: str) -> None:
    before = Settings()
    reply = c("CONFIG", "SET", name, "/tmp/evil")
    assert reply == err(f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
    assert world.engine.settings == before


def test_config_set_requirepass(world: World, c: Client) -> None:
    assert c("CONFIG", "SET", "requirepass", "pw") == OK
    assert world.engine.settings.requirepass == "pw"
    assert world.client()("GET", "k") == err("NOAUTH Authentication required.")


def test_config_set_requirepass_keeps_existing_connections_in(world: World, c: Client) -> None:
    bystander = world.client()
    assert bystander("PING") == "PONG"
    assert c("CONFIG", "SET", "requirepass", "pw") == OK
    assert c("CONFIG", "GET", "requirepass") == {b"requirepass": b"pw"}
    assert bystander("GET", "k") is None


def test_config_arity(c: Client) -> None:
    assert c("CONFIG") == arity_err("config")
    assert c("CONFIG", "GET") == arity_err("config|get")
    assert c("CONFIG", "SET", "timeout") == arity_err("config|set")
    assert c("CONFIG", "FOO") == err("ERR unknown subcommand 'FOO'. Try CONFIG HELP.")


def test_config_resetstat_rewrite_help(c: Client) -> None:
    c("PING")
    assert c("CONFIG", "RESETSTAT") == OK
    fields = info_fields(info_text(c, "stats"))
    assert int(fields["total_commands_processed"]) <= 2
    rewrite = c("CONFIG", "REWRITE")
    assert isinstance(rewrite, ErrorReply) and rewrite.message.startswith("ERR ")
    help_lines = c("CONFIG", "HELP")
    assert isinstance(help_lines, list) and help_lines


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("timeout", "-1", "argument must be between 0 and 2147483647 inclusive"),
        ("timeout", "2147483648", "argument must be between 0 and 2147483647 inclusive"),
        ("hz", "-1", "argument must be between 0 and 2147483647 inclusive"),
        ("maxclients", "0", "argument must be between 1 and 4294967295 inclusive"),
        ("maxclients", "-1", "argument must be between 1 and 4294967295 inclusive"),
        ("maxclients", "1k", "argument couldn't be parsed into an integer"),
        ("timeout", "1kb", "argument couldn't be parsed into an integer"),
        ("timeout", "05", "argument couldn't be parsed into an integer"),
        (
            "proto-max-bulk-len",
            "100",
            "argument must be between 1048576 and 9223372036854775807 inclusive",
        ),
        ("proto-max-bulk-len", "-1", "argument must be a memory value"),
    ],
)
def test_config_set_numeric_validation_like_redis(
    world: World, c: Client, name: str, value: str, reason: str
) -> None:
    assert c("CONFIG", "SET", name, value) == err(
        f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
    )
    assert world.engine.settings == Settings()


def test_config_set_duplicate_parameter(c: Client) -> None:
    assert c("CONFIG", "SET", "timeout", "0", "timeout", "1") == err(
        "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter"
    )


def test_config_set_odd_arguments(c: Client) -> None:
    assert c("CONFIG", "SET", "timeout", "0", "hz") == SYNTAX


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("CONFIG", "RESETSTAT", "x"), "config|resetstat"),
        (("CONFIG", "REWRITE", "x"), "config|rewrite"),
        (("CONFIG", "HELP", "x"), "config|help"),
        (("COMMAND", "COUNT", "x"), "command|count"),
        (("COMMAND", "HELP", "x"), "command|help"),
    ],
)
def test_subcommand_arity_errors(c: Client, args: tuple[str, ...], name: str) -> None:
    assert c(*args) == arity_err(name)


class BugRecordingHost(DetachedHost):
    """Like the server: reports a handler's bug instead of raising it."""

    def __init__(self) -> None:
        super().__init__()
        self.bugs: list[tuple[str, Exception]] = []

    def report_bug(self, command: str, error: Exception) -> None:
        self.bugs.append((command, error))


def test_a_bug_in_a_handler_is_an_error_reply_and_a_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(e: object, s: object, args: list[bytes]) -> object:
        raise ZeroDivisionError("a bug")

    monkeypatch.setitem(TABLE, b"ECHO", dataclasses.replace(TABLE[b"ECHO"], handler=broken))
    host = BugRecordingHost()
    world = World(host=host)
    c = world.client()
    reply = c("ECHO", "x")
    assert reply == err(
        "ERR internal error running 'echo' (ZeroDivisionError); the server log has the details"
    )
    assert [(name, type(error)) for name, error in host.bugs] == [("echo", ZeroDivisionError)]
    assert c("PING") == "PONG", "the session goes on"
    with pytest.raises(ZeroDivisionError):
        World().client()("ECHO", "x")  # no server log: a detached engine raises it


# ------------------------------------------------------------------ CONFIG GET, several names


def test_config_get_names_each_parameter_once_whatever_its_case(c: Client) -> None:
    assert c("CONFIG", "GET", "timeout", "TIMEOUT") == {b"timeout": b"0"}
    assert c("CONFIG", "GET", "TIMEOUT", "timeout") == {b"TIMEOUT": b"0"}
    assert c("CONFIG", "GET", "time*", "timeout") == {b"timeout": b"0"}
    assert c("CONFIG", "GET", "timeout", "time*", "nosuch") == {b"timeout": b"0"}
    assert c("CONFIG", "GET", "maxclients", "timeout") == {
        b"maxclients": b"10000",
        b"timeout": b"0",
    }


def test_config_get_memory_and_databases_tell_the_truth(c: Client) -> None:
    """No memory limit by default (tests/commands/test_maxmemory.py sets one) and one
    database, read-only: tools ask for them."""
    assert c("CONFIG", "GET", "maxmemory", "port") == {b"maxmemory": b"0", b"port": b"7000"}
    assert c("CONFIG", "GET", "maxmemory*") == {
        b"maxmemory": b"0",
        b"maxmemory-policy": b"noeviction",
        b"maxmemory-samples": b"5",
    }
    assert c("CONFIG", "GET", "databases") == {b"databases": b"1"}
    assert c("CONFIG", "SET", "databases", "16") == err(
        "ERR CONFIG SET failed (possibly related to argument 'databases') - "
        "can't set immutable config"
    )


def test_config_get_never_shows_the_start_time(c: Client) -> None:
    assert c("CONFIG", "GET", "started*") == {}
    assert c("CONFIG", "GET", "started-at") == {}


# ------------------------------------------------------------------ REPLICAOF / SLAVEOF


class GroupHost(DetachedHost):
    """A host whose node has the given role in its group."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    @property
    def cluster(self) -> ClusterView | None:
        # A real NodeStatus: the compiled build checks the type status() returns.
        status = NodeStatus(
            node_id=1,
            address="127.0.0.1:1",
            role=self.role,
            term=1,
            leader_id=1 if self.role == "primary" else 2,
            primary_address="127.0.0.1:1",
            last_index=0,
            commit_index=0,
            applied_index=0,
            ack_level="majority",
            members=(),
        )
        view = SimpleNamespace(status=lambda: status)
        return cast(ClusterView, view)


@pytest.mark.parametrize("name", ["REPLICAOF", "SLAVEOF", "replicaof"])
def test_replicaof_no_one_on_a_primary_is_ok(name: str) -> None:
    assert World().client()(name, "NO", "ONE") == OK  # a standalone store
    assert World(host=GroupHost("primary")).client()(name, "no", "one") == OK


@pytest.mark.parametrize("role", ["backup", "learner", "witness", "candidate", "detached"])
def test_replicaof_no_one_elsewhere_names_failover_and_promote(role: str) -> None:
    reply = World(host=GroupHost(role)).client()("REPLICAOF", "NO", "ONE")
    assert isinstance(reply, ErrorReply)
    assert reply.message.startswith("ERR REPLICAOF NO ONE cannot make this node primary")
    assert "FAILOVER TO" in reply.message and "PROMOTE FORCE" in reply.message


@pytest.mark.parametrize("host", [None, "primary", "backup"])
def test_replicaof_a_host_names_add_backup(host: str | None) -> None:
    world = World(host=GroupHost(host)) if host else World()
    reply = world.client()("SLAVEOF", "127.0.0.1", "6379")
    assert isinstance(reply, ErrorReply)
    assert reply.message.startswith("ERR REPLICAOF is not supported")
    assert "ADD_BACKUP" in reply.message and "tandemkv add-backup" in reply.message


@pytest.mark.parametrize("port", ["abc", "-1", "65536", "1.5", ""])
def test_replicaof_checks_the_port_like_redis(c: Client, port: str) -> None:
    assert c("REPLICAOF", "127.0.0.1", port) == err("ERR Invalid master port")


def test_replicaof_arity(c: Client) -> None:
    assert c("REPLICAOF", "NO") == arity_err("replicaof")
    assert c("SLAVEOF", "a", "b", "c") == arity_err("slaveof")
    assert "admin" in TABLE[b"replicaof"].flags


def test_replicaof_changes_nothing(world: World, c: Client) -> None:
    c("SET", "k", "v")
    world.mutations()
    c("REPLICAOF", "NO", "ONE")
    c("REPLICAOF", "localhost", "6379")
    assert world.mutations() == []
    assert c("GET", "k") == b"v"
