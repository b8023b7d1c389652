"""Starting, stopping, refusing to start, authentication and idle timeouts."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from helpers.resp import RespError, encode_command
from helpers.servers import (
    READY_PATTERN,
    ServerProcess,
    run_tandemkv,
    start_server,
)

NOAUTH = RespError("NOAUTH Authentication required.")
WRONGPASS = RespError("WRONGPASS invalid username-password pair or user is disabled.")
PASSWORD = "s3cret pass"

# --- graceful shutdown ---------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(make_server: Callable[..., ServerProcess], sig: int) -> None:
    server = make_server()
    with server.raw() as conn:
        assert conn.call("SET", "k", "v") == "OK"
        assert server.stop(sig) == 0, server.describe()
        assert conn.is_closed_by_peer(wait=5)
    assert_port_released(server.port)


def test_shutdown_command_exits_zero(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server()
    with server.raw() as bystander, server.raw() as admin:
        assert bystander.call("PING") == "PONG"
        assert admin.call("SET", "a", "1") == "OK"
        admin.send(encode_command("SHUTDOWN"))
        assert admin.is_closed_by_peer(wait=10)
        assert server.wait_exit(10) == 0, server.describe()
        assert bystander.is_closed_by_peer(wait=5)
    assert_port_released(server.port)


@pytest.mark.tandemkv_only("Redis drops replies still buffered when SHUTDOWN runs")
def test_shutdown_answers_commands_pipelined_before_it(
    make_server: Callable[..., ServerProcess],
) -> None:
    server = make_server()
    with server.raw() as admin:
        admin.send(
            encode_command("SET", "a", "1")
            + encode_command("INCR", "n")
            + encode_command("SHUTDOWN")
        )
        assert admin.read_replies(2) == ["OK", 1]
        assert admin.is_closed_by_peer(wait=10)
    assert server.wait_exit(10) == 0, server.describe()


def assert_port_released(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


@pytest.mark.tandemkv_only("durability of a single node's data directory")
def test_data_survives_graceful_restart(tmp_path: Path, target: str) -> None:
    first = start_server(target, tmp_path)
    try:
        with first.raw() as conn:
            assert conn.call("SET", "durable", "yes") == "OK"
            assert conn.call("SET", "volatile", "v", "EX", "1000") == "OK"
    finally:
        assert first.stop() == 0
    second = start_server(target, tmp_path)
    try:
        with second.raw() as conn:
            assert conn.call("GET", "durable") == b"yes"
            assert 990 < conn.call("TTL", "volatile") <= 1000
    finally:
        second.stop()


# --- tandemkv's own startup contract -------------------------------------------------


@pytest.mark.tandemkv_only("tandemkv's ready line")
def test_ready_line_names_the_listening_address(
    make_server: Callable[..., ServerProcess],
) -> None:
    server = make_server()
    ready = [line for line in server.stdout_text().splitlines() if READY_PATTERN.match(line)]
    assert ready == [f"Ready to accept connections at 127.0.0.1:{server.port}"]
    with server.raw() as conn:
        assert conn.call("PING") == "PONG"


def assert_refuses_to_start(workdir: Path, *server_args: str) -> str:
    """Run the server expecting it to exit non-zero with one clean stderr line."""
    args = ["--db-path", str(workdir / "data"), "server", *server_args]
    result = run_tandemkv(*args, cwd=workdir, timeout=20)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, f"started anyway: {result.stdout!r}"
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, f"expected one stderr line, got: {result.stderr!r}"
    assert not READY_PATTERN.search(result.stdout), result.stdout
    return lines[0]


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.tandemkv_only("tandemkv's startup errors")
def test_port_in_use(tmp_path: Path, listening_port: int) -> None:
    line = assert_refuses_to_start(tmp_path, "--address", f"127.0.0.1:{listening_port}")
    assert str(listening_port) in line or "in use" in line.lower(), line


@pytest.mark.tandemkv_only("tandemkv's startup errors")
@pytest.mark.parametrize(
    "address", ["nonsense", "127.0.0.1:99999", "127.0.0.1:http", "999.1.1.1:7000"]
)
def test_bad_address(tmp_path: Path, address: str) -> None:
    line = assert_refuses_to_start(tmp_path, "--address", address)
    assert address.split(":")[-1] in line or "address" in line.lower(), line


@pytest.mark.tandemkv_only("tandemkv's startup errors")
@pytest.mark.parametrize(
    "content",
    [None, "this is [not toml", "maxclients = 'many'\n", "no_such_setting = 1\n"],
    ids=["missing-file", "invalid-toml", "wrong-type", "unknown-setting"],
)
def test_bad_config_file(tmp_path: Path, content: str | None) -> None:
    config = tmp_path / "tandemkv.toml"
    if content is not None:
        config.write_text(content)
    line = assert_refuses_to_start(tmp_path, "--address", "127.0.0.1:0", "--config", str(config))
    assert "tandemkv.toml" in line or "config" in line.lower(), line


@pytest.mark.tandemkv_only("tandemkv's configuration sources")
def test_settings_precedence_flags_over_env_over_file(
    tmp_path: Path, make_server: Callable[..., ServerProcess]
) -> None:
    config = tmp_path / "tandemkv.toml"
    config.write_text("maxclients = 70\ntimeout = 300\nrequirepass = 'from-file'\n")
    from_file = make_server(config_file=config, requirepass=None)
    with from_file.raw(auth=False) as conn:
        assert conn.call("GET", "k") == NOAUTH
        assert conn.call("AUTH", "from-file") == "OK"
        assert conn.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"70"]
        assert conn.call("CONFIG", "GET", "timeout") == [b"timeout", b"300"]
    layered = make_server(
        config_file=config,
        requirepass="from-flag",
        env=(("TANDEMKV_MAXCLIENTS", "80"), ("TANDEMKV_TIMEOUT", "400")),
        timeout=500,
    )
    with layered.raw() as conn:
        assert conn.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"80"]
        assert conn.call("CONFIG", "GET", "timeout") == [b"timeout", b"500"]


@pytest.mark.tandemkv_only("tandemkv's protected mode")
def test_public_bind_needs_a_password(tmp_path: Path) -> None:
    line = assert_refuses_to_start(tmp_path, "--address", "0.0.0.0:0")
    assert "requirepass" in line or "protected" in line.lower(), line


@pytest.mark.tandemkv_only("tandemkv's protected mode")
def test_public_bind_with_password_or_protection_off(
    make_server: Callable[..., ServerProcess],
) -> None:
    with_password = make_server(bind_host="0.0.0.0", requirepass=PASSWORD)
    with with_password.raw() as conn:
        assert conn.call("PING") == "PONG"
    unprotected = make_server(bind_host="0.0.0.0", protected_mode="no")
    with unprotected.raw() as conn:
        assert conn.call("PING") == "PONG"


# --- authentication ------------------------------------------------------------------


@pytest.fixture
def auth_server(make_server: Callable[..., ServerProcess]) -> ServerProcess:
    return make_server(requirepass=PASSWORD)


def test_auth_required(auth_server: ServerProcess) -> None:
    with auth_server.raw(auth=False) as conn:
        assert conn.call("GET", "k") == NOAUTH
        assert conn.call("PING") == NOAUTH
        hello = conn.call("HELLO", "3")
        assert isinstance(hello, RespError) and hello.text.startswith("NOAUTH "), hello
        assert conn.call("AUTH", "wrong") == WRONGPASS
        assert conn.call("AUTH", "default", "wrong") == WRONGPASS
        assert conn.call("AUTH", "nobody", PASSWORD) == WRONGPASS
        assert conn.call("GET", "k") == NOAUTH
        assert conn.call("AUTH", PASSWORD) == "OK"
        assert conn.call("SET", "k", "v") == "OK"
        assert conn.call("RESET") == "RESET"
        assert conn.call("GET", "k") == NOAUTH
        assert conn.call("AUTH", "default", PASSWORD) == "OK"
        assert conn.call("GET", "k") == b"v"
    with auth_server.raw(auth=False) as conn:
        hello = conn.call("HELLO", "3", "AUTH", "default", PASSWORD)
        assert isinstance(hello, dict) and hello[b"proto"] == 3
        assert conn.call("GET", "k") == b"v"


def test_auth_with_redis_py(auth_server: ServerProcess) -> None:
    for protocol in (2, 3):
        good = auth_server.client(protocol=protocol)
        assert good.ping() is True
        good.close()
        bad = auth_server.client(protocol=protocol, password="wrong")
        with pytest.raises(redis.AuthenticationError):
            bad.ping()
        bad.close()
        anonymous = auth_server.client(protocol=protocol, password=None)
        with pytest.raises(redis.AuthenticationError):
            anonymous.get("k")
        anonymous.close()


def test_config_set_requirepass_applies_to_new_connections(
    make_server: Callable[..., ServerProcess],
) -> None:
    server = make_server()
    with server.raw() as admin:
        assert admin.call("CONFIG", "SET", "requirepass", PASSWORD) == "OK"
        assert admin.call("PING") == "PONG"
        with server.raw() as newcomer:
            assert newcomer.call("GET", "k") == NOAUTH
            assert newcomer.call("AUTH", PASSWORD) == "OK"
            assert newcomer.call("CONFIG", "SET", "requirepass", "") == "OK"
        with server.raw() as anyone:
            assert anyone.call("PING") == "PONG"


@pytest.mark.parametrize(
    "payload",
    [b"*11\r\n", b"*1\r\n$16385\r\n"],
    ids=["multibulk-over-10-elements", "bulk-over-16k"],
)
def test_pre_auth_limits(auth_server: ServerProcess, payload: bytes) -> None:
    with auth_server.raw(auth=False) as conn:
        conn.send(payload)
        reply = conn.read_reply()
        assert isinstance(reply, RespError) and reply.text.startswith("ERR Protocol error: ")
        assert conn.is_closed_by_peer(wait=5)
    with auth_server.raw(auth=False) as conn:
        assert conn.call(*["MSET"] + ["x"] * 9) == NOAUTH
        assert conn.call("ECHO", "y" * 16384) == NOAUTH
        assert conn.call("AUTH", PASSWORD) == "OK"
        assert conn.call(*["MSET"] + ["x"] * 20) == "OK"
        assert conn.call("SET", "big", "z" * 100_000) == "OK"


# --- idle timeout --------------------------------------------------------------------


def test_idle_timeout_closes_only_idle_clients(
    make_server: Callable[..., ServerProcess],
) -> None:
    server = make_server(timeout=1)
    with server.raw() as idle, server.raw() as busy:
        assert idle.call("PING") == "PONG"
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            assert busy.call("PING") == "PONG"
            time.sleep(0.2)
        assert idle.is_closed_by_peer(wait=3), "idle client still connected after ~6 s"
        assert busy.call("PING") == "PONG"


def test_no_timeout_by_default(server: ServerProcess) -> None:
    with server.raw() as conn:
        time.sleep(2.5)
        assert conn.call("PING") == "PONG"
