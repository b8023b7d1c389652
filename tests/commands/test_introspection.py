"""COMMAND, COMMAND COUNT/INFO/DOCS/LIST in Redis 7's shapes, and the command table itself."""

from __future__ import annotations

import pytest

from tandemkv.commands.table import CommandSpec, unique_specs
from tandemkv.protocol.types import SetReply, SimpleString, Verbatim

from .harness import Client, World, err

SPECS = unique_specs()
NAMES = [spec.name for spec in SPECS]

# Every flag Redis 7 can report in COMMAND INFO.
REDIS_FLAGS = {
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "may_replicate",
    "sentinel",
    "only_sentinel",
    "no_mandatory_keys",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
    "module_no_cluster",
}


def check_info_entry(entry: object, spec: CommandSpec) -> None:
    assert isinstance(entry, list) and len(entry) == 10, entry
    name, arity, flags, first, last, step, categories, tips, key_specs, subcommands = entry
    assert name == spec.name.encode()
    assert arity == spec.arity
    assert isinstance(flags, SetReply)
    assert all(isinstance(f, SimpleString) for f in flags.items)
    assert (first, last, step) == (spec.first_key, spec.last_key, spec.key_step)
    assert isinstance(categories, SetReply) and all(
        isinstance(cat, str) and cat.startswith("@") for cat in categories.items
    )
    assert isinstance(tips, list) and isinstance(key_specs, list)
    assert isinstance(subcommands, list)
    assert [sub[0] for sub in subcommands] == [
        f"{spec.name}|{sub}".encode() for sub in spec.subcommands
    ]
    for sub in subcommands:
        assert isinstance(sub, list) and len(sub) == 10


# ------------------------------------------------------------------ the table


def test_table_holds_the_commands_we_promise() -> None:
    expected = {
        "get",
        "set",
        "put",
        "setnx",
        "setex",
        "psetex",
        "getset",
        "getdel",
        "getex",
        "delifeq",
        "mget",
        "mset",
        "msetnx",
        "incr",
        "decr",
        "incrby",
        "decrby",
        "incrbyfloat",
        "append",
        "strlen",
        "getrange",
        "substr",
        "setrange",
        "del",
        "delete",
        "unlink",
        "exists",
        "touch",
        "type",
        "keys",
        "scan",
        "randomkey",
        "rename",
        "renamenx",
        "expire",
        "pexpire",
        "expireat",
        "pexpireat",
        "ttl",
        "pttl",
        "expiretime",
        "pexpiretime",
        "persist",
        "multi",
        "exec",
        "discard",
        "watch",
        "unwatch",
        "ping",
        "echo",
        "auth",
        "hello",
        "quit",
        "select",
        "reset",
        "client",
        "info",
        "dbsize",
        "flushdb",
        "flushall",
        "time",
        "shutdown",
        "config",
        "command",
        "save",
        "bgsave",
        "lastsave",
        "replicaof",
        "slaveof",
    }
    assert expected <= set(NAMES)


def test_write_commands_are_flagged_write() -> None:
    writes = {s.name for s in SPECS if s.is_write}
    assert {
        "set",
        "put",
        "del",
        "delete",
        "incr",
        "append",
        "setrange",
        "expire",
        "persist",
        "rename",
        "flushall",
        "mset",
        "getdel",
        "getex",
        "delifeq",
    } <= writes
    assert not writes & {"get", "mget", "exists", "ttl", "keys", "scan", "dbsize", "ping"}


def wrong_counts(spec: CommandSpec) -> list[int]:
    """Argument counts (command name included) that the spec's arity rules out."""
    if spec.arity > 0:
        return sorted({spec.arity - 1, spec.arity + 1} - {0})
    return [-spec.arity - 1] if -spec.arity > 1 else []


# EXEC is left out: Redis answers a rejected EXEC with EXECABORT (see test_transactions.py).
ARITY_CASES = [
    pytest.param(spec, count, id=f"{spec.name}-{count}")
    for spec in SPECS
    if spec.name != "exec"
    for count in wrong_counts(spec)
]


@pytest.mark.parametrize(("spec", "count"), ARITY_CASES)
def test_wrong_argument_count_for_every_command(spec: CommandSpec, count: int) -> None:
    world = World()
    c = world.client()
    args = [spec.name.upper()] + ["1"] * (count - 1)
    assert c(*args) == err(f"ERR wrong number of arguments for '{spec.name}' command")
    assert world.mutations() == []


# ------------------------------------------------------------------ COMMAND / COUNT / INFO


def test_command_count(c: Client) -> None:
    assert c("COMMAND", "COUNT") == len(SPECS)
    assert c("command", "count") == len(SPECS)


def test_command_lists_every_command_in_info_shape(c: Client) -> None:
    entries = c("COMMAND")
    assert isinstance(entries, list) and len(entries) == len(SPECS)
    for entry, spec in zip(entries, SPECS, strict=True):
        check_info_entry(entry, spec)


def test_command_info_named(c: Client) -> None:
    reply = c("COMMAND", "INFO", "get", "SET", "nosuch", "config")
    assert isinstance(reply, list) and len(reply) == 4
    by_name = {s.name: s for s in SPECS}
    check_info_entry(reply[0], by_name["get"])
    check_info_entry(reply[1], by_name["set"])
    assert reply[2] is None
    check_info_entry(reply[3], by_name["config"])
    assert set(reply[0][2].items) >= {"readonly", "fast"}
    assert "write" in reply[1][2].items
    assert reply[1][1] == -3


def test_command_info_without_names_lists_all(c: Client) -> None:
    reply = c("COMMAND", "INFO")
    assert isinstance(reply, list) and len(reply) == len(SPECS)


def test_command_info_flags_use_redis_names(c: Client) -> None:
    entries = c("COMMAND")
    assert isinstance(entries, list)
    reported = {str(flag) for entry in entries for flag in entry[2].items}
    assert reported <= REDIS_FLAGS
    auth = c("COMMAND", "INFO", "auth")
    assert "no_auth" in auth[0][2].items  # type: ignore[index]


# ------------------------------------------------------------------ DOCS / LIST / HELP


def test_command_docs_shape(c: Client) -> None:
    docs = c("COMMAND", "DOCS", "set", "nosuch", "get")
    assert isinstance(docs, dict)
    assert list(docs) == [b"set", b"get"]
    get = docs[b"get"]
    assert get[b"summary"] and get[b"since"] and get[b"group"] == b"string"
    assert get[b"arguments"] == [{b"name": b"key", b"type": b"key"}]
    set_args = docs[b"set"][b"arguments"]
    assert [a[b"name"] for a in set_args][:2] == [b"key", b"value"]
    assert all(a.get(b"flags") == SetReply(("optional",)) for a in set_args[2:])


def test_command_docs_of_everything(c: Client) -> None:
    docs = c("COMMAND", "DOCS")
    assert isinstance(docs, dict) and set(docs) == {n.encode() for n in NAMES}
    for doc in docs.values():
        assert set(doc) == {b"summary", b"since", b"group", b"arguments"}
        assert isinstance(doc[b"arguments"], list)


def test_command_docs_multiple_arguments(c: Client) -> None:
    docs = c("COMMAND", "DOCS", "del")
    assert docs == {
        b"del": {
            b"summary": b"Delete keys",
            b"since": b"1.0.0",
            b"group": b"generic",
            b"arguments": [
                {b"name": b"key", b"type": b"key"},
                {b"name": b"key", b"type": b"key", b"flags": SetReply(("optional", "multiple"))},
            ],
        }
    }


def test_command_list(c: Client) -> None:
    assert c("COMMAND", "LIST") == [n.encode() for n in NAMES]
    assert c("COMMAND", "LIST", "FILTERBY", "PATTERN", "get*") == [
        b"get",
        b"getdel",
        b"getex",
        b"getrange",
        b"getset",
    ]
    assert c("COMMAND", "LIST", "FOO") == err("ERR syntax error")


def test_command_help_and_unknown_subcommand(c: Client) -> None:
    lines = c("COMMAND", "HELP")
    assert isinstance(lines, list) and lines
    assert c("COMMAND", "FOO") == err("ERR unknown subcommand 'FOO'. Try COMMAND HELP.")


@pytest.mark.parametrize("cmd", ["CLIENT", "CONFIG", "COMMAND"])
def test_help_lines_are_status_strings(c: Client, cmd: str) -> None:
    lines = c(cmd, "HELP")
    assert isinstance(lines, list)
    assert all(isinstance(line, SimpleString) for line in lines)


# ------------------------------------------------------------------ cmd= in CLIENT LIST


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("CONFIG", "GET", "port"), "config|get"),
        (("config", "get"), "config|get"),  # a subcommand's arity error still names it
        (("CONFIG", "RESETSTAT", "x"), "config|resetstat"),
        (("CONFIG", "FOO"), "NULL"),  # an unknown subcommand names nothing, as in Redis
        (("CLIENT", "ID"), "client|id"),
        (("client", "setname", "me"), "client|setname"),
        (("CLIENT", "GETNAME", "x"), "client|getname"),
        (("CLIENT", "NOPE"), "NULL"),
        (("COMMAND", "COUNT"), "command|count"),
        (("COMMAND", "docs", "get"), "command|docs"),
        (("COMMAND",), "command"),
        (("GET", "k"), "get"),
        (("REPLICAOF", "NO", "ONE"), "replicaof"),
    ],
)
def test_last_command_names_the_subcommand(c: Client, args: tuple[str, ...], shown: str) -> None:
    """Redis 7's CLIENT LIST and CLIENT INFO show container commands as name|subcommand."""
    c("SET", "k", "v")
    c(*args)
    assert c.session.last_command == shown


def test_client_info_shows_its_own_subcommand(c: Client) -> None:
    info = c("CLIENT", "INFO")
    assert isinstance(info, Verbatim)
    assert " cmd=client|info " in info.text.decode()
