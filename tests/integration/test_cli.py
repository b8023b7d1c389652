"""The command-line client verbs, following the seed README's single-node walkthrough."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers.cluster import Cluster
from helpers.servers import ServerProcess, free_port, run_tandemkv
from tandemkv.cli import EXIT_AUTH, EXIT_DATA_DIR, EXIT_UNAVAILABLE

pytestmark = pytest.mark.tandemkv_only("the tandemkv command-line client")


def cli(
    server: ServerProcess | None, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    prefix = ["--server", server.address] if server is not None else []
    return run_tandemkv(*prefix, *args, env=env)


def assert_clean_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip(), "a failure must say why on stderr"
    assert "Traceback" not in result.stderr, result.stderr


def test_readme_walkthrough(server: ServerProcess) -> None:
    put = cli(server, "put", "mykey", "myvalue")
    assert (put.returncode, put.stdout) == (0, "OK\n"), put.stderr

    got = cli(server, "get", "mykey")
    assert (got.returncode, got.stdout) == (0, "myvalue\n"), got.stderr

    listed = cli(server, "keys")
    assert (listed.returncode, listed.stdout) == (0, "mykey\n"), listed.stderr

    deleted = cli(server, "delete", "mykey")
    assert (deleted.returncode, deleted.stdout) == (0, "OK\n"), deleted.stderr

    missing = cli(server, "get", "mykey")
    assert missing.returncode == 1
    assert_clean_failure(missing)

    again = cli(server, "delete", "mykey")
    assert again.returncode == 1
    assert_clean_failure(again)

    empty = cli(server, "keys")
    assert (empty.returncode, empty.stdout) == (0, ""), empty.stderr


def test_cli_writes_are_visible_to_redis_clients(server: ServerProcess) -> None:
    assert cli(server, "put", "greeting", "hello world").returncode == 0
    with server.raw() as conn:
        assert conn.call("GET", "greeting") == b"hello world"
        conn.call("SET", "from-redis", "héllo ✓")
    got = cli(server, "get", "from-redis")
    assert (got.returncode, got.stdout) == (0, "héllo ✓\n"), got.stderr


def test_keys_pattern(server: ServerProcess) -> None:
    for key in ("user:1", "user:2", "order:1"):
        assert cli(server, "put", key, "x").returncode == 0
    users = cli(server, "keys", "user:*")
    assert users.returncode == 0
    assert sorted(users.stdout.splitlines()) == ["user:1", "user:2"]
    everything = cli(server, "keys")
    assert sorted(everything.stdout.splitlines()) == ["order:1", "user:1", "user:2"]


def test_server_address_from_environment(server: ServerProcess) -> None:
    env = {"TANDEMKV_SERVER": server.address}
    assert cli(None, "put", "envkey", "envvalue", env=env).returncode == 0
    got = cli(None, "get", "envkey", env=env)
    assert (got.returncode, got.stdout) == (0, "envvalue\n"), got.stderr
    # --server wins over the environment.
    nowhere = {"TANDEMKV_SERVER": f"127.0.0.1:{free_port()}"}
    got = cli(server, "get", "envkey", env=nowhere)
    assert (got.returncode, got.stdout) == (0, "envvalue\n"), got.stderr


# Exit statuses: the table of README.md and `tandemkv --help` (tandemkv.cli.EXIT_STATUSES);
# tests/test_cli_failures.py walks every verb through every failure.


def test_unreachable_server_is_a_clean_error() -> None:
    result = cli(None, "get", "k", env={"TANDEMKV_SERVER": f"127.0.0.1:{free_port()}"})
    assert_clean_failure(result)
    assert result.returncode == EXIT_UNAVAILABLE


def test_usage_errors(server: ServerProcess) -> None:
    for args in (["get"], ["put", "only-key"], ["frobnicate"]):
        result = cli(server, *args)
        assert result.returncode == 2, args
        assert "usage:" in result.stderr.lower()
        assert "Traceback" not in result.stderr


def test_password(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server(requirepass="cli-pass")
    put = cli(server, "--password", "cli-pass", "put", "k", "v")
    assert (put.returncode, put.stdout) == (0, "OK\n"), put.stderr
    got = cli(server, "get", "k", env={"TANDEMKV_PASSWORD": "cli-pass"})
    assert (got.returncode, got.stdout) == (0, "v\n"), got.stderr
    for args in (["get", "k"], ["--password", "wrong", "get", "k"]):
        refused = cli(server, *args)
        assert_clean_failure(refused)
        assert refused.returncode == EXIT_AUTH, args
        assert "--password" in refused.stderr


@pytest.mark.parametrize("verb", [None, "server", "put", "get", "delete", "keys"])
def test_help(verb: str | None) -> None:
    result = run_tandemkv(*([verb] if verb else []), "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout.lower()
    if verb is not None:
        assert verb in result.stdout


@pytest.mark.tandemkv_only("tandemkv's data directory")
@pytest.mark.parametrize("verb", [["server", "--address", "127.0.0.1:0"], ["get", "k"]])
def test_a_data_directory_that_is_a_file_is_one_line(tmp_path: Path, verb: list[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    result = run_tandemkv("--db-path", str(afile), *verb)
    assert result.returncode == EXIT_DATA_DIR, result
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"tandemkv: cannot use {afile} as a data directory: it, or a folder on its path, "
        "is a file, not a directory"
    )


@pytest.mark.tandemkv_only("tandemkv's data directory")
@pytest.mark.parametrize("verb", [["export", "out.json"], ["get", "k"], ["keys"]])
def test_a_mistyped_data_directory_is_an_error_not_an_empty_store(
    tmp_path: Path, verb: list[str]
) -> None:
    typo = tmp_path / "typo-dir"
    result = run_tandemkv("--db-path", str(typo), *verb, cwd=tmp_path)
    assert result.returncode == EXIT_DATA_DIR, result
    assert result.stderr.strip() == f"tandemkv: no data directory at {typo}: check --db-path"
    assert not typo.exists(), "the typo must not be created"
    assert not (tmp_path / "out.json").exists()


# ------------------------------------------------------------------ through a failover


def _three_nodes(cluster: Cluster) -> list[str]:
    cluster.start_three()
    return [cluster.nodes[n].address for n in ("a", "b", "c")]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("named", ["every member", "the old primary only"])
def test_client_verbs_follow_a_failover(cluster: Cluster, named: str) -> None:
    addresses = _three_nodes(cluster)
    server = ",".join(addresses) if named == "every member" else addresses[0]
    before = run_tandemkv("--server", server, "put", "before", "1")
    assert (before.returncode, before.stdout) == (0, "OK\n"), before.stderr
    cluster.kill("a")  # SIGKILL: no handover; the put below runs during the election
    during = run_tandemkv("--server", server, "--wait-seconds", "15", "put", "during", "2")
    assert (during.returncode, during.stdout) == (0, "OK\n"), during.stderr
    for key, value in (("before", "1"), ("during", "2")):
        got = run_tandemkv("--server", server, "get", key)
        assert (got.returncode, got.stdout) == (0, f"{value}\n"), got.stderr
    new_primary = cluster.primary(among=["b", "c"])
    listed = run_tandemkv("--server", new_primary.address, "keys", "*ing")
    assert listed.stdout.split() == ["during"], listed.stderr


@pytest.mark.timeout(60)
def test_wait_seconds_zero_fails_at_once(cluster: Cluster) -> None:
    addresses = _three_nodes(cluster)
    cluster.kill("a")
    result = run_tandemkv("--server", addresses[0], "--wait-seconds", "0", "put", "k", "v")
    assert_clean_failure(result)
    assert result.returncode == EXIT_UNAVAILABLE
    assert f"cannot connect to {addresses[0]}" in result.stderr
