"""The stock redis-cli and redis-benchmark tools work against the server."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import pytest

from helpers.servers import ServerProcess

REDIS_CLI = shutil.which("redis-cli")
REDIS_BENCHMARK = shutil.which("redis-benchmark")
needs_cli = pytest.mark.skipif(
    REDIS_CLI is None, reason="redis-cli is not installed (apt-get install redis-tools)"
)
needs_benchmark = pytest.mark.skipif(
    REDIS_BENCHMARK is None, reason="redis-benchmark is not installed (apt-get install redis-tools)"
)


def redis_cli(
    server: ServerProcess,
    *args: str,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    assert REDIS_CLI is not None
    auth = ["-a", server.password, "--no-auth-warning"] if server.password else []
    return subprocess.run(
        [REDIS_CLI, "-h", server.host, "-p", str(server.port), *auth, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def output_of(server: ServerProcess, *args: str) -> str:
    result = redis_cli(server, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_cli
def test_ping_set_get(server: ServerProcess) -> None:
    assert output_of(server, "ping") == "PONG\n"
    assert output_of(server, "set", "foo", "bar baz") == "OK\n"
    assert output_of(server, "get", "foo") == "bar baz\n"
    assert output_of(server, "incr", "n") == "1\n"
    assert output_of(server, "get", "missing") == "\n"
    assert output_of(server, "mget", "foo", "missing") == "bar baz\n\n"


@needs_cli
def test_no_raw_formatting(server: ServerProcess) -> None:
    assert output_of(server, "--no-raw", "set", "foo", "bar") == "OK\n"
    assert output_of(server, "--no-raw", "get", "foo") == '"bar"\n'
    assert output_of(server, "--no-raw", "get", "missing") == "(nil)\n"
    assert output_of(server, "--no-raw", "incrby", "n", "5") == "(integer) 5\n"
    assert output_of(server, "--no-raw", "mget", "foo", "missing") == '1) "bar"\n2) (nil)\n'
    assert output_of(server, "--no-raw", "incr", "foo") == (
        "(error) ERR value is not an integer or out of range\n"
    )


@needs_cli
def test_commands_from_stdin(server: ServerProcess) -> None:
    script = "SET a 1\nINCR a\nGET a\nDEL a\nEXISTS a\nNOSUCH x\nPING\n"
    result = redis_cli(server, stdin=script)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line]
    assert lines[:5] == ["OK", "2", "2", "1", "0"]
    assert lines[5].startswith("ERR unknown command 'NOSUCH'")
    assert lines[6:] == ["PONG"]


@needs_cli
def test_resp3_mode(server: ServerProcess) -> None:
    assert output_of(server, "-3", "set", "foo", "bar") == "OK\n"
    assert output_of(server, "-3", "get", "foo") == "bar\n"
    assert output_of(server, "-3", "--no-raw", "get", "missing") == "(nil)\n"
    assert output_of(server, "-3", "--no-raw", "config", "get", "maxclients") == (
        '1# "maxclients" => "10000"\n'
    )
    hello = output_of(server, "-3", "--no-raw", "hello", "3")
    assert '"proto" => (integer) 3' in hello


@needs_cli
def test_redis_cli_with_password(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server(requirepass="cli secret")
    assert output_of(server, "set", "k", "v") == "OK\n"
    assert output_of(server, "get", "k") == "v\n"
    assert REDIS_CLI is not None
    anonymous = subprocess.run(
        [REDIS_CLI, "-h", server.host, "-p", str(server.port), "get", "k"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr


@needs_benchmark
@pytest.mark.timeout(120)
def test_redis_benchmark_smoke(server: ServerProcess) -> None:
    assert REDIS_BENCHMARK is not None
    result = subprocess.run(
        [
            REDIS_BENCHMARK,
            "-h",
            server.host,
            "-p",
            str(server.port),
            "-t",
            "set,get",
            "-n",
            "2000",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output = (result.stdout + result.stderr).replace("\r", "\n")
    summaries = [line for line in output.splitlines() if "requests per second" in line]
    assert [line.split(":")[0] for line in summaries] == ["SET", "GET"], output
    problems = [
        line
        for line in output.splitlines()
        if "error" in line.lower() or line.startswith(("ERR", "-ERR"))
    ]
    assert problems == [], output
