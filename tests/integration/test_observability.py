"""SLOWLOG, MONITOR and INFO commandstats/errorstats as clients see them (also run against
redis-server: TANDEMKV_TEST_TARGET=redis)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest

from helpers.resp import RawClient, RespError, encode_command
from helpers.servers import ServerProcess


@pytest.fixture
def slow_all(server: ServerProcess) -> Iterator[RawClient]:
    """A client on a server that logs every command in SLOWLOG (restored afterwards)."""
    with server.raw() as conn:
        assert conn.call("CONFIG", "SET", "slowlog-log-slower-than", "0") == "OK"
        try:
            yield conn
        finally:
            conn.call("CONFIG", "SET", "slowlog-log-slower-than", "10000", "slowlog-max-len", "128")
            conn.call("SLOWLOG", "RESET")


def local_address(conn: RawClient) -> bytes:
    host, port = conn.sock.getsockname()[:2]
    return f"{host}:{port}".encode()


def test_slowlog_entries(slow_all: RawClient) -> None:
    conn = slow_all
    assert conn.call("CLIENT", "SETNAME", "app") == "OK"
    assert conn.call("SLOWLOG", "RESET") == "OK"
    started = int(time.time())
    assert conn.call("SET", "k", "x" * 200) == "OK"
    assert conn.call("RPUSH", "list", *range(40)) == 40
    assert isinstance(conn.call("AUTH", "someone", "secret"), RespError)
    newest = conn.call("SLOWLOG", "GET", "3")
    assert [entry[3] for entry in newest] == [
        [b"AUTH", b"(redacted)", b"(redacted)"],
        [b"RPUSH", b"list", *(str(i).encode() for i in range(29)), b"... (11 more arguments)"],
        [b"SET", b"k", b"x" * 128 + b"... (72 more bytes)"],
    ]
    ids = [entry[0] for entry in newest]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3
    for entry in newest:
        assert started - 1 <= entry[1] <= time.time() + 1
        assert isinstance(entry[2], int) and entry[2] >= 0
        assert entry[4:] == [local_address(conn), b"app"]
    # The RESET itself, then the three commands and the GET: each logged after it ran.
    assert conn.call("SLOWLOG", "LEN") == 5
    assert len(conn.call("SLOWLOG", "GET", "-1")) == 6
    assert conn.call("SLOWLOG", "GET", "0") == []


def test_slowlog_keeps_max_len_and_can_be_off(slow_all: RawClient) -> None:
    conn = slow_all
    assert conn.call("CONFIG", "SET", "slowlog-max-len", "2") == "OK"
    for i in range(5):
        conn.call("PING", str(i))
    assert [entry[3] for entry in conn.call("SLOWLOG", "GET")] == [[b"PING", b"4"], [b"PING", b"3"]]
    assert conn.call("CONFIG", "SET", "slowlog-log-slower-than", "-1") == "OK"
    conn.call("SLOWLOG", "RESET")
    conn.call("PING")
    assert conn.call("SLOWLOG", "LEN") == 0
    assert conn.call("CONFIG", "GET", "slowlog-*") in (
        [b"slowlog-log-slower-than", b"-1", b"slowlog-max-len", b"2"],
        [b"slowlog-max-len", b"2", b"slowlog-log-slower-than", b"-1"],
    )


def test_slowlog_errors(raw2: RawClient) -> None:
    count_error = RespError("ERR count should be greater than or equal to -1")
    assert raw2.call("SLOWLOG", "GET", "-2") == count_error
    assert raw2.call("SLOWLOG", "GET", "x") == count_error
    assert raw2.call("SLOWLOG", "LEN", "1") == RespError(
        "ERR wrong number of arguments for 'slowlog|len' command"
    )
    assert raw2.call("SLOWLOG", "NOPE") == RespError(
        "ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP."
    )
    assert raw2.call("SLOWLOG", "HELP")[0].startswith("SLOWLOG <subcommand>")


MONITOR_LINE = re.compile(r"^\d+\.\d{6} \[0 (127\.0\.0\.1:\d+)\] (.*)$")


def monitored(monitor: RawClient, count: int, address: bytes) -> list[str]:
    """The next `count` MONITOR lines, as the commands they show (address checked)."""
    shown = []
    for _ in range(count):
        line = monitor.read_reply()
        match = MONITOR_LINE.match(line)
        assert match, line
        assert match.group(1).encode() == address
        assert abs(float(line.split(" ", 1)[0]) - time.time()) < 60
        shown.append(match.group(2))
    return shown


def test_monitor_shows_what_others_run(server: ServerProcess) -> None:
    with server.raw() as monitor, server.raw() as other:
        assert monitor.call("MONITOR") == "OK"
        assert other.call("SET", "k", b'a "b"\n\x01\xff') == "OK"
        assert isinstance(other.call("NOSUCH"), RespError)  # refused: not shown
        assert isinstance(other.call("GET"), RespError)  # nor this one (arity)
        assert other.call("CONFIG", "GET", "hz")  # administrative: not shown
        assert isinstance(other.call("AUTH", "someone", "secret"), RespError)
        assert other.call("MULTI") == "OK"
        assert other.call("INCR", "n") == "QUEUED"
        assert other.call("EXEC") == [1]
        assert other.call("PING") == "PONG"
        assert monitored(monitor, 6, local_address(other)) == [
            '"SET" "k" "a \\"b\\"\\n\\x01\\xff"',
            '"AUTH" "(redacted)" "(redacted)"',
            '"MULTI"',
            '"INCR" "n"',  # a queued command is shown as it runs, before EXEC
            '"EXEC"',
            '"PING"',
        ]
        # RESET ends it, as QUIT would.
        assert monitor.call("RESET") == "RESET"
        assert other.call("SET", "after", "1") == "OK"
        assert monitor.call("PING") == "PONG"  # nothing came before its reply


def test_info_commandstats_and_errorstats(raw2: RawClient) -> None:
    assert raw2.call("CONFIG", "RESETSTAT") == "OK"
    for _ in range(3):
        assert raw2.call("SET", "k", "v") == "OK"
    assert isinstance(raw2.call("GET"), RespError)
    assert isinstance(raw2.call("LPUSH", "k", "x"), RespError)
    assert raw2.call("CONFIG", "GET", "hz")
    stats = info_fields(raw2, "commandstats")
    line = re.compile(
        r"^calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),"
        r"rejected_calls=(\d+),failed_calls=(\d+)$"
    )
    parsed = {name: line.match(text) for name, text in stats.items()}
    assert all(parsed.values()), stats
    counts = {
        name: [int(match.group(i)) for i in (1, 4, 5)] for name, match in parsed.items() if match
    }
    assert counts["cmdstat_set"] == [3, 0, 0]
    assert counts["cmdstat_get"] == [0, 1, 0]
    assert counts["cmdstat_lpush"] == [1, 0, 1]
    assert counts["cmdstat_config|get"] == [1, 0, 0]
    assert "cmdstat_config|resetstat" in stats
    assert info_fields(raw2, "errorstats") == {
        "errorstat_ERR": "count=1",
        "errorstat_WRONGTYPE": "count=1",
    }
    assert raw2.call("CONFIG", "RESETSTAT") == "OK"
    assert info_fields(raw2, "errorstats") == {}


def info_fields(conn: RawClient, section: str) -> dict[str, str]:
    text = conn.call("INFO", section).decode()
    lines = [line for line in text.split("\r\n") if line and not line.startswith("#")]
    return dict(line.split(":", 1) for line in lines)


def test_monitor_refused_inside_a_transaction(raw2: RawClient) -> None:
    assert raw2.call("MULTI") == "OK"
    assert raw2.call("MONITOR") == "QUEUED"
    assert raw2.call("EXEC") == [RespError("ERR MONITOR isn't allowed for DENY BLOCKING client")]


@pytest.mark.tandemkv_only("Redis holds a monitor to the normal class, unlimited by default")
def test_a_monitor_that_stops_reading_is_dropped(server: ServerProcess) -> None:
    with server.raw() as admin, server.raw() as other:
        limit = "pubsub 256kb 0 0"
        assert admin.call("CONFIG", "SET", "client-output-buffer-limit", limit) == "OK"
        try:
            with server.raw() as monitor:
                assert monitor.call("MONITOR") == "OK"
                value = "x" * 4000  # quoted in each line the monitor does not read
                for _ in range(100):  # 20 MB of lines: past what the kernel buffers
                    other.send(b"".join(encode_command("SET", "k", value) for _ in range(50)))
                    assert other.read_replies(50) == ["OK"] * 50
                assert drained_to_close(monitor.sock), server.stderr_text()[-2000:]
        finally:
            admin.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60")


def drained_to_close(sock: socket.socket, wait: float = 5.0) -> bool:
    """Read what was sent until the server closes the connection: True if it did."""
    deadline = time.monotonic() + wait
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if not sock.recv(1 << 20):
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False
