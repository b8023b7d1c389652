"""Blocking pops end to end: a client waits, another's push serves it; timeouts; a client
that hangs up is never served; CLIENT UNBLOCK; and (tandemkv only) a served pop survives a
crash. Everything but the crash also runs against real Redis."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.resp import RawClient, RespError, encode_command
from helpers.servers import ServerGroup, ServerProcess


def blocked(server: ServerProcess, *args: object) -> RawClient:
    """A client that sent a blocking command; its reply is read later."""
    conn = server.raw()
    conn.send(encode_command(*args))
    wait_until_blocked(server, 1)
    return conn


def wait_until_blocked(server: ServerProcess, count: int) -> None:
    """Until INFO says `count` clients are blocked (Redis reports it too)."""
    with server.raw() as admin:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            info = admin.call("INFO", "clients").decode()
            if f"blocked_clients:{count}\r\n" in info:
                return
            time.sleep(0.01)
    raise AssertionError(f"never saw {count} blocked clients:\n{info}")


def test_a_push_from_another_client_serves_the_waiter(server: ServerProcess) -> None:
    waiter = blocked(server, "BLPOP", "jobs", 0)
    with server.raw() as pusher:
        assert pusher.call("RPUSH", "jobs", "j1", "j2") == 2
        assert waiter.read_reply() == [b"jobs", b"j1"]
        assert pusher.call("LRANGE", "jobs", 0, -1) == [b"j2"]
        assert waiter.call("PING") == "PONG"  # the connection goes on normally
    waiter.close()


def test_waiters_are_served_in_the_order_they_blocked(server: ServerProcess) -> None:
    first = blocked(server, "BRPOP", "q", 0)
    second = server.raw()
    second.send(encode_command("BRPOP", "q", 0))
    wait_until_blocked(server, 2)
    with server.raw() as pusher:
        pusher.call("LPUSH", "q", "a")
        assert first.read_reply() == [b"q", b"a"]
        pusher.call("LPUSH", "q", "b")
        assert second.read_reply() == [b"q", b"b"]
    first.close()
    second.close()


def test_a_timeout_answers_null_after_about_the_timeout(server: ServerProcess) -> None:
    with server.raw() as conn:
        started = time.monotonic()
        assert conn.call("BLPOP", "nothing", "0.2") is None
        assert 0.15 <= time.monotonic() - started < 2.0
        assert conn.call("BZPOPMIN", "nothing", "0.05") is None


def test_a_client_that_hangs_up_is_never_served(server: ServerProcess) -> None:
    waiter = blocked(server, "BLPOP", "q", 0)
    waiter.close()
    wait_until_blocked(server, 0)
    with server.raw() as pusher:
        pusher.call("RPUSH", "q", "kept")
        assert pusher.call("LRANGE", "q", 0, -1) == [b"kept"]


def test_client_unblock_ends_a_wait(server: ServerProcess) -> None:
    waiter = blocked(server, "BLMOVE", "a", "b", "LEFT", "LEFT", 0)
    with server.raw() as other:
        waiter_id = next(
            int(field.split("=")[1])
            for line in other.call("CLIENT", "LIST").decode().splitlines()
            if "cmd=blmove" in line
            for field in line.split()
            if field.startswith("id=")
        )
        assert other.call("CLIENT", "UNBLOCK", waiter_id) == 1
        assert waiter.read_reply() is None
        waiter.send(encode_command("BLPOP", "a", 0))
        wait_until_blocked(server, 1)
        assert other.call("CLIENT", "UNBLOCK", waiter_id, "ERROR") == 1
        assert waiter.read_reply() == RespError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    waiter.close()


def test_a_blmove_chain_feeds_the_next_waiter(server: ServerProcess) -> None:
    mover = blocked(server, "BLMOVE", "in", "mid", "RIGHT", "LEFT", 0)
    popper = server.raw()
    popper.send(encode_command("BLPOP", "mid", 0))
    wait_until_blocked(server, 2)
    with server.raw() as pusher:
        pusher.call("RPUSH", "in", "x")
        assert mover.read_reply() == b"x"
        assert popper.read_reply() == [b"mid", b"x"]
        assert pusher.call("EXISTS", "in", "mid") == 0
    mover.close()
    popper.close()


def test_xread_block_is_answered_by_an_xadd(server: ServerProcess) -> None:
    reader = blocked(server, "XREAD", "COUNT", 10, "BLOCK", 0, "STREAMS", "results", "$")
    with server.raw() as writer:
        writer.call("XADD", "results", "5-1", "status", "done")
    assert reader.read_reply() == [[b"results", [[b"5-1", [b"status", b"done"]]]]]
    with server.raw() as conn:
        started = time.monotonic()
        assert conn.call("XREAD", "BLOCK", 100, "STREAMS", "results", "$") is None
        assert 0.08 <= time.monotonic() - started < 2.0
    reader.close()


# ------------------------------------------------------------------ durability


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


@pytest.mark.tandemkv_only("tandemkv's log and data directory")
def test_a_served_pop_is_durable_before_its_reply(servers: ServerGroup, tmp_path: Path) -> None:
    server = servers.start(tmp_path / "db", "--fsync", "always")
    waiter = blocked(server, "BLPOP", "q", 0)
    with server.raw() as pusher:
        pusher.call("RPUSH", "q", "once", "twice")
    assert waiter.read_reply() == [b"q", b"once"]
    waiter.close()
    server.stop(signal.SIGKILL)
    restarted = servers.start(tmp_path / "db", "--fsync", "always")
    with restarted.raw() as conn:
        assert conn.call("LRANGE", "q", 0, -1) == [b"twice"]
