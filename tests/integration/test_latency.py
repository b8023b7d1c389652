"""LATENCY's replies as Redis 7.0 gives them (run against redis-server too). What the
events record is tested on the pure monitor (tests/commands/test_latency.py) and on a
group's election (test_role_changes.py)."""

from __future__ import annotations

from helpers.resp import RawClient, RespError
from helpers.servers import ServerProcess


def test_latency_replies_with_nothing_recorded(server: ServerProcess) -> None:
    with server.raw() as conn:
        assert conn.call("CONFIG", "GET", "latency-monitor-threshold") == [
            b"latency-monitor-threshold",
            b"0",
        ]
        assert conn.call("LATENCY", "RESET") == 0
        assert conn.call("LATENCY", "LATEST") == []
        assert conn.call("LATENCY", "HISTORY", "fork") == []
        assert conn.call("LATENCY", "RESET", "fork", "nosuch") == 0
        doctor = conn.call("LATENCY", "DOCTOR")
        assert isinstance(doctor, bytes) and doctor
        help_lines = conn.call("LATENCY", "HELP")
        assert help_lines[0] == "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
        assert "RESET [<event> ...]" in help_lines


def test_latency_errors_and_threshold(server: ServerProcess) -> None:
    with server.raw() as conn:
        _errors(conn)
        assert conn.call("CONFIG", "SET", "latency-monitor-threshold", "100") == "OK"
        assert conn.call("CONFIG", "GET", "latency-monitor-threshold") == [
            b"latency-monitor-threshold",
            b"100",
        ]
        assert conn.call("CONFIG", "SET", "latency-monitor-threshold", "0") == "OK"


def _errors(conn: RawClient) -> None:
    assert conn.call("LATENCY", "HISTORY") == RespError(
        "ERR wrong number of arguments for 'latency|history' command"
    )
    assert conn.call("LATENCY", "LATEST", "x") == RespError(
        "ERR wrong number of arguments for 'latency|latest' command"
    )
    assert conn.call("LATENCY", "NOSUCH") == RespError(
        "ERR unknown subcommand 'NOSUCH'. Try LATENCY HELP."
    )
    assert conn.call("CONFIG", "SET", "latency-monitor-threshold", "-1") == RespError(
        "ERR CONFIG SET failed (possibly related to argument 'latency-monitor-threshold') - "
        "argument must be between 0 and 9223372036854775807 inclusive"
    )
