"""Every CLI verb against every failure a new user meets: a data directory that is a file,
read-only, missing or locked by a running server; a server that is down, is not Redis (an
HTTP listener), or wants a password. Each must end in one line on stderr, nothing on
stdout, no traceback, and the exit status of the table in `tandemkv --help`.

Not tested: a directory with mode 0o500 (the tests run as root, which ignores modes); the
read-only case uses a read-only bind mount in a private mount namespace instead, and is
skipped where `unshare -m` is not permitted.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.servers import (
    ServerProcess,
    free_port,
    kill_process_group,
    run_tandemkv,
    start_tandemkv_on,
    tandemkv_command,
    tandemkv_env,
)
from tandemkv import cli
from tandemkv.cli import (
    EXIT_AUTH,
    EXIT_DATA_DIR,
    EXIT_OK,
    EXIT_PROTOCOL,
    EXIT_SERVER_ERROR,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)

SEED = '{"data": {"a": "1", "b": "2"}}'

# Every verb, with arguments that would succeed against a healthy standalone server
# (remove-node, failover, promote and add-backup would then fail for other reasons).
CLIENT_VERBS = {
    "put": ["put", "k", "v"],
    "get": ["get", "k"],
    "delete": ["delete", "k"],
    "keys": ["keys"],
    "import": ["import", "seed.json"],
    "export": ["export", "out.json"],
}
CLUSTER_VERBS = {
    "status": ["status"],
    "add-backup": ["add-backup", "--backup", "127.0.0.1:1"],
    "remove-node": ["remove-node", "9"],
    "failover": ["failover"],
    "promote": ["promote", "--force", "--yes"],
}
ALL_VERBS = {**CLIENT_VERBS, **CLUSTER_VERBS}


def one_line_failure(result: subprocess.CompletedProcess[str], status: int) -> str:
    """The failure's single stderr line, once its shape is checked."""
    detail = f"rc={result.returncode}\nstdout={result.stdout!r}\nstderr={result.stderr!r}"
    assert "Traceback" not in result.stderr, detail
    assert result.returncode == status, detail
    assert result.stdout == "", detail
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tandemkv: "), detail
    return lines[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "seed.json").write_text(SEED)
    (tmp_path / "afile").write_text("not a directory")
    return tmp_path


def run(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_tandemkv(*args, cwd=workdir, timeout=30)


# ------------------------------------------------------------------ data directories


@pytest.mark.parametrize("verb", [*CLIENT_VERBS, "server"])
@pytest.mark.parametrize("where", ["afile", "afile/sub"])
def test_a_data_directory_that_is_or_lies_under_a_file(
    workdir: Path, verb: str, where: str
) -> None:
    args = ["server", "--address", "127.0.0.1:0"] if verb == "server" else CLIENT_VERBS[verb]
    line = one_line_failure(run(workdir, "--db-path", where, *args), EXIT_DATA_DIR)
    if where == "afile" or verb in ("put", "import", "server"):
        assert "is a file, not a directory" in line
    else:  # reading verbs check that it exists first
        assert line == f"tandemkv: no data directory at {where}: check --db-path"


@pytest.mark.parametrize("verb", ["get", "delete", "keys", "export"])
def test_reading_verbs_on_a_missing_directory_fail_and_create_nothing(
    workdir: Path, verb: str
) -> None:
    line = one_line_failure(run(workdir, "--db-path", "typo-dir", *CLIENT_VERBS[verb]), 6)
    assert "no data directory at typo-dir" in line
    assert not (workdir / "typo-dir").exists()
    assert not (workdir / "out.json").exists()


@pytest.mark.parametrize("content", ['{"data": [1]}', "not json", None])
def test_a_failed_import_leaves_no_data_directory_behind(
    workdir: Path, content: str | None
) -> None:
    if content is not None:
        (workdir / "bad.json").write_text(content)
    result = run(workdir, "--db-path", "fresh", "import", "bad.json")
    one_line_failure(result, EXIT_USAGE)
    assert not (workdir / "fresh").exists()


def test_a_good_import_into_a_new_directory_keeps_it(workdir: Path) -> None:
    result = run(workdir, "--db-path", "fresh", "import", "seed.json")
    assert (result.returncode, result.stdout) == (0, "imported 2 keys from seed.json\n")
    got = run(workdir, "--db-path", "fresh", "get", "b")
    assert (got.returncode, got.stdout) == (0, "2\n"), got.stderr


@pytest.mark.parametrize("verb", list(CLUSTER_VERBS))
def test_cluster_verbs_on_a_data_directory_no_server_uses(workdir: Path, verb: str) -> None:
    (workdir / "idle").mkdir()
    line = one_line_failure(run(workdir, "--db-path", "idle", *CLUSTER_VERBS[verb]), 6)
    assert "no running server on this machine uses the data directory" in line


def _readonly_mount_works() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _readonly_mount_works(), reason="needs root and unshare -m")
@pytest.mark.parametrize("verb", [*CLIENT_VERBS, "server"])
def test_a_read_only_data_directory(workdir: Path, verb: str) -> None:
    data = workdir / "data"
    assert run(workdir, "--db-path", "data", "put", "k", "v").returncode == 0
    args = ["server", "--address", "127.0.0.1:0"] if verb == "server" else CLIENT_VERBS[verb]
    command = " ".join(f"'{a}'" for a in tandemkv_command("--db-path", str(data), *args))
    script = f"mount --bind {data} {data} && mount -o remount,ro,bind {data} && exec {command}"
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        env=tandemkv_env(),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    line = one_line_failure(result, EXIT_DATA_DIR)
    assert line.endswith(f"cannot use {data} as a data directory: the file system is read-only")


@pytest.fixture
def running(workdir: Path) -> Iterator[ServerProcess]:
    server = start_tandemkv_on(workdir / "data", workdir / "server")
    yield server
    server.stop()
    kill_process_group(server)


@pytest.mark.parametrize("verb", [*CLIENT_VERBS, "server"])
def test_a_data_directory_locked_by_a_running_server(
    workdir: Path, running: ServerProcess, verb: str
) -> None:
    args = ["server", "--address", "127.0.0.1:0"] if verb == "server" else CLIENT_VERBS[verb]
    line = one_line_failure(run(workdir, "--db-path", "data", *args), EXIT_DATA_DIR)
    assert f"already in use by process {running.pid}" in line or running.address in line
    if verb != "server":  # the CLI names the server to use instead
        assert f"--server {running.address}" in line


def test_status_on_a_locked_data_directory_asks_the_server_using_it(
    workdir: Path, running: ServerProcess
) -> None:
    result = run(workdir, "--db-path", "data", "status", "--json")
    assert result.returncode == EXIT_OK, result.stderr
    assert running.address in result.stdout


# ------------------------------------------------------------------ servers


class _HttpHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_address() -> Iterator[str]:
    """A plain HTTP listener (Python's own), as on a port a user mistyped."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HttpHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("guarded")
    server = start_tandemkv_on(base / "data", base / "run", "--requirepass", "s3cret")
    yield server
    server.stop()
    kill_process_group(server)


@pytest.mark.parametrize("verb", list(ALL_VERBS))
def test_a_server_that_is_down(workdir: Path, verb: str) -> None:
    down = f"127.0.0.1:{free_port()}"
    result = run(workdir, *ALL_VERBS[verb], "--server", down, "--wait-seconds", "0")
    line = one_line_failure(result, EXIT_UNAVAILABLE)
    assert f"cannot connect to {down}" in line


@pytest.mark.parametrize("verb", list(ALL_VERBS))
def test_a_server_that_is_not_redis(workdir: Path, http_address: str, verb: str) -> None:
    result = run(workdir, *ALL_VERBS[verb], "--server", http_address)
    line = one_line_failure(result, EXIT_PROTOCOL)
    assert f"{http_address} does not speak the Redis protocol" in line


@pytest.mark.parametrize("verb", list(ALL_VERBS))
def test_a_server_that_wants_a_password(workdir: Path, guarded: ServerProcess, verb: str) -> None:
    result = run(workdir, *ALL_VERBS[verb], "--server", guarded.address)
    line = one_line_failure(result, EXIT_AUTH)
    assert line.startswith("tandemkv: NOAUTH") and "--password" in line


@pytest.mark.parametrize("verb", list(ALL_VERBS))
def test_a_wrong_password(workdir: Path, guarded: ServerProcess, verb: str) -> None:
    result = run(workdir, *ALL_VERBS[verb], "--server", guarded.address, "--password", "nope")
    line = one_line_failure(result, EXIT_AUTH)
    assert line.startswith("tandemkv: WRONGPASS") and "--password" in line


@pytest.mark.parametrize("verb", list(ALL_VERBS))
def test_a_malformed_server_address(workdir: Path, verb: str) -> None:
    line = one_line_failure(run(workdir, *ALL_VERBS[verb], "--server", "nonsense"), EXIT_USAGE)
    assert "'nonsense' is not HOST:PORT" in line


def test_a_server_error_reply_has_its_own_status(workdir: Path, guarded: ServerProcess) -> None:
    auth = ["--server", guarded.address, "--password", "s3cret"]
    with guarded.raw() as conn:
        assert conn.call("AUTH", "s3cret") == "OK"
        assert conn.call("HSET", "h", "f", "v") == 1
    line = one_line_failure(run(workdir, "get", "h", *auth), EXIT_SERVER_ERROR)
    assert line.startswith("tandemkv: server error: WRONGTYPE")


# ------------------------------------------------------------------ the server verb


def test_protected_mode_refusal_is_a_usage_error(workdir: Path) -> None:
    result = run(workdir, "--db-path", "data", "server", "--address", "0.0.0.0:0")
    line = one_line_failure(result, EXIT_USAGE)
    assert "--requirepass" in line and "--protected-mode no" in line


def test_client_options_are_refused_by_the_server_verb(workdir: Path) -> None:
    result = run(workdir, "--server", "127.0.0.1:1", "server", "--address", "127.0.0.1:0")
    one_line_failure(result, EXIT_USAGE)
    helped = run_tandemkv("server", "--help")
    assert "--server" not in helped.stdout and "--password" not in helped.stdout
    assert "--config" in helped.stdout and "--db-path" in helped.stdout


def test_config_before_the_verb(workdir: Path) -> None:
    args = cli.build_parser().parse_args(["--config", "c.toml", "server"])
    assert (args.verb, args.config_file) == ("server", "c.toml")
    result = run(workdir, "--config", "missing.toml", "server")
    line = one_line_failure(result, EXIT_USAGE)
    assert "missing.toml does not exist" in line


def test_client_verbs_use_the_server_a_config_file_names(
    workdir: Path, guarded: ServerProcess
) -> None:
    port = guarded.address.rpartition(":")[2]
    (workdir / "c.toml").write_text(f'address = "0.0.0.0:{port}"\nrequirepass = "s3cret"\n')
    put = run(workdir, "--config", "c.toml", "put", "from-config", "yes")
    assert (put.returncode, put.stdout) == (0, "OK\n"), put.stderr


def test_help_has_examples_and_the_exit_status_table() -> None:
    result = run_tandemkv("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout
    for status, _ in cli.EXIT_STATUSES:
        assert f"\n  {status} " in result.stdout
    codes = [status for status, _ in cli.EXIT_STATUSES]
    assert len(set(codes)) == len(codes), "every failure kind has its own status"


def test_an_unexpected_error_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_dispatch", broken)
    monkeypatch.delenv("TANDEMKV_DEBUG", raising=False)
    assert cli.main(["keys"]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: RuntimeError: boom" in err


def test_an_unnamed_default_address_that_is_not_tandemkv_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tandemkv import client_verbs

    foreign = client_verbs.Probe(cli.DEFAULT_ADDRESS, "foreign", note="it does not know STATUS")
    monkeypatch.setattr(client_verbs, "probe", lambda address, password: foreign)
    with pytest.raises(client_verbs.DiscoveryError) as raised:
        client_verbs._check_default_is_tandemkv(None)
    assert raised.value.status == EXIT_USAGE
    assert f"--server {cli.DEFAULT_ADDRESS}" in raised.value.message
    tandem = client_verbs.Probe(cli.DEFAULT_ADDRESS, "standalone")
    monkeypatch.setattr(client_verbs, "probe", lambda address, password: tandem)
    client_verbs._check_default_is_tandemkv(None)  # a tandemkv server there is used


def test_which_refusals_a_failover_explains() -> None:
    from tandemkv.client_verbs import transient

    assert transient("READONLY The primary is not known yet (an election is under way)")
    assert transient(
        "READONLY You can't write against this node now: a failover is in progress; retry"
    )
    assert transient("TRYAGAIN the previous membership change is not committed yet")
    assert not transient("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert not transient("READONLY this node was removed from its group; wipe its data directory")
