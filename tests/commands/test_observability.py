"""INFO commandstats/errorstats, SLOWLOG and MONITOR in the pure layer (no server)."""

from __future__ import annotations

import pytest

from tandemkv.commands.commandstats import BUCKET_BOUNDS_NS, CommandStats
from tandemkv.commands.monitor import format_line, quote
from tandemkv.commands.redaction import redacted
from tandemkv.commands.settings import Settings
from tandemkv.commands.slowlog import SlowLog, entry_args
from tandemkv.protocol.types import ErrorReply, SimpleString

from .harness import Client, World


class Shell:
    """Runs commands as the connection does: each one that ran is timed (`took` ns)."""

    def __init__(self, world: World, took: int = 0, **session_fields: object) -> None:
        self.client = world.client(**session_fields)
        self.engine = world.engine
        self.took = took

    def __call__(self, *args: str | bytes | int) -> object:
        reply = self.client(*args)
        if self.engine.ran is not None:
            self.engine.commandstats.add_call(self.engine.ran, self.took)
        return reply


@pytest.fixture
def sh(world: World) -> Shell:
    return Shell(world)


def _info(c: Client | Shell, section: str) -> dict[str, str]:
    text = c("INFO", section).text.decode()  # type: ignore[attr-defined]
    lines = [line for line in text.split("\r\n") if line and not line.startswith("#")]
    return dict(line.split(":", 1) for line in lines)


def test_commandstats_count_calls_failures_and_rejections(sh: Shell) -> None:
    c = sh
    c("SET", "k", "v")
    c("GET", "k")
    c("GET")  # arity: rejected before running
    c("LPUSH", "k", "x")  # WRONGTYPE: ran and failed
    c("NOSUCH")  # unknown: errorstats only
    stats = _info(c, "commandstats")
    assert stats["cmdstat_set"] == (
        "calls=1,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=0"
    )
    assert stats["cmdstat_get"].startswith("calls=1,")
    assert "rejected_calls=1" in stats["cmdstat_get"]
    assert stats["cmdstat_lpush"].endswith("rejected_calls=0,failed_calls=1")
    assert not any("nosuch" in name for name in stats)
    assert _info(c, "errorstats") == {
        "errorstat_ERR": "count=2",
        "errorstat_WRONGTYPE": "count=1",
    }


def test_subcommands_and_exec_have_their_own_entries(sh: Shell) -> None:
    c = sh
    c("CONFIG", "GET", "maxmemory")
    c("MULTI")
    c("SET", "a", "1")
    c("GET", "a")
    c("EXEC")
    stats = _info(c, "commandstats")
    assert {"cmdstat_config|get", "cmdstat_multi", "cmdstat_exec", "cmdstat_set"} <= set(stats)
    assert stats["cmdstat_get"].startswith("calls=1,")  # EXEC is not counted as its last command
    assert stats["cmdstat_exec"].startswith("calls=1,")


def test_durations_are_the_shells_and_resetstat_clears(world: World) -> None:
    c = Shell(world, took=1_500_000)
    c("PING")
    assert world.engine.ran == "ping"
    assert _info(c, "commandstats")["cmdstat_ping"] == (
        "calls=1,usec=1500,usec_per_call=1500.00,rejected_calls=0,failed_calls=0"
    )
    c("GET")
    assert world.engine.ran is None  # refused: nothing to time
    c("MULTI")
    c("GET", "k")
    assert world.engine.ran is None  # queued: not run yet
    c("EXEC")
    assert world.engine.ran == "exec"
    assert _info(c, "commandstats")["cmdstat_get"] == (
        "calls=1,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0"
    )  # run inside EXEC: a call, its time is EXEC's
    assert c("CONFIG", "RESETSTAT") == SimpleString("OK")
    assert list(_info(c, "commandstats")) == ["cmdstat_config|resetstat"]
    assert _info(c, "errorstats") == {}


def test_histogram_buckets_hold_each_duration_once() -> None:
    stat = CommandStats().stat("get")
    for nanoseconds in (1, BUCKET_BOUNDS_NS[0], BUCKET_BOUNDS_NS[0] + 1, 10**12):
        stat.record(nanoseconds)
    stat.quick += 1  # what the connection adds for a duration under the first bound
    assert stat.counts()[0] == 3 and stat.counts()[1] == 1 and stat.counts()[-1] == 1
    assert stat.timed == stat.calls == 5


def test_slowlog_entries_are_trimmed_as_redis_trims_them() -> None:
    args = [b"RPUSH", b"l", *(str(i).encode() for i in range(40))]
    trimmed = entry_args(args)
    assert len(trimmed) == 32 and trimmed[-1] == b"... (11 more arguments)"
    assert entry_args([b"SET", b"k", b"x" * 200])[2] == b"x" * 128 + b"... (72 more bytes)"
    assert entry_args([b"AUTH", b"user", b"secret"]) == [b"AUTH", b"(redacted)", b"(redacted)"]


def test_slowlog_ring_keeps_the_newest() -> None:
    log = SlowLog()
    for i in range(5):
        log.push(1000 + i, 10 * i, [b"GET", b"k%d" % i], "1.2.3.4:5", b"app", max_len=3)
    assert [entry[0] for entry in log.newest(-1)] == [4, 3, 2]
    assert log.newest(1) == [[4, 1004, 40, [b"GET", b"k4"], b"1.2.3.4:5", b"app"]]
    assert log.newest(0) == []


def test_slowlog_command() -> None:
    world = World()
    c = world.client()
    world.engine.slowlog.push(1, 20, [b"GET", b"k"], "a:1", b"", 128)
    assert c("SLOWLOG", "LEN") == 1
    assert c("SLOWLOG", "GET") == [[0, 1, 20, [b"GET", b"k"], b"a:1", b""]]
    for bad in ("-2", "x"):
        assert c("SLOWLOG", "GET", bad) == ErrorReply(
            "ERR count should be greater than or equal to -1"
        )
    assert c("SLOWLOG", "RESET", "x") == ErrorReply(
        "ERR wrong number of arguments for 'slowlog|reset' command"
    )
    assert c("SLOWLOG", "NOPE") == ErrorReply("ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP.")
    assert c("SLOWLOG", "RESET") == SimpleString("OK")
    assert c("SLOWLOG", "LEN") == 0


def test_slowlog_settings_follow_redis_ranges() -> None:
    c = World(Settings()).client()
    assert c("CONFIG", "GET", "slowlog-*") == {
        b"slowlog-log-slower-than": b"10000",
        b"slowlog-max-len": b"128",
    }
    assert c("CONFIG", "SET", "slowlog-log-slower-than", "-1") == SimpleString("OK")
    assert c("CONFIG", "SET", "slowlog-log-slower-than", "-2") == ErrorReply(
        "ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - "
        "argument must be between -1 and 9223372036854775807 inclusive"
    )
    assert c("CONFIG", "SET", "slowlog-max-len", "-1") == ErrorReply(
        "ERR CONFIG SET failed (possibly related to argument 'slowlog-max-len') - "
        "argument must be between 0 and 9223372036854775807 inclusive"
    )


def test_redaction() -> None:
    assert redacted([b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"]) == [
        b"HELLO", b"3", b"AUTH", b"(redacted)", b"(redacted)", b"SETNAME", b"n",
    ]  # fmt: skip
    assert redacted([b"ACL", b"SETUSER", b"bob", b">pw"]) == [
        b"ACL", b"SETUSER", b"(redacted)", b"(redacted)",
    ]  # fmt: skip
    assert redacted([b"CONFIG", b"SET", b"hz", b"5", b"requirepass", b"pw"])[-1] == b"(redacted)"
    assert redacted([b"CONFIG", b"SET", b"hz", b"5"])[-1] == b"5"
    plain = [b"SET", b"auth", b"x"]
    assert redacted(plain) is plain


def test_monitor_lines_quote_as_sdscatrepr() -> None:
    quoted = b'"\\x01\\"\\\\\\n\\r\\t\\a\\b\\xff\\xc3\\xa9 x"'
    assert quote(b'\x01"\\\n\r\t\x07\x08\xff\xc3\xa9 x') == quoted
    line = format_line(1339518083_107412, "127.0.0.1:60866", [b"keys", b"*"])
    assert line == b'+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"\r\n'
    assert format_line(5, "a:1", [b"AUTH", b"pw"]).endswith(b'"AUTH" "(redacted)"\r\n')


def test_monitor_feeds_what_ran_but_not_admin_commands(world: World) -> None:
    watcher, other = world.client(addr="w:1"), world.client(addr="o:2")
    lines: list[bytes] = []
    monitors = world.engine.monitors
    monitors.sink = lambda session, line: lines.append(line)
    monitors.clock = lambda: 2_000_000
    assert watcher("MONITOR") == SimpleString("OK")
    for args in (("SET", "k", "v"), ("CONFIG", "GET", "hz")):
        other(*args)
        if world.engine.ran is not None:  # what the connection checks
            monitors.feed(other.session, [a.encode() for a in args])
    assert lines == [b'+2.000000 [0 o:2] "SET" "k" "v"\r\n']
    watcher("RESET")
    assert not monitors.sessions


def test_monitor_in_a_transaction_and_client_list(world: World) -> None:
    c = world.client()
    c("MULTI")
    assert c("MONITOR") == SimpleString("QUEUED")
    assert c("EXEC") == [ErrorReply("ERR MONITOR isn't allowed for DENY BLOCKING client")]
    assert c("MONITOR") == SimpleString("OK")
    assert " flags=O " in c("CLIENT", "INFO").text.decode()  # type: ignore[attr-defined]
