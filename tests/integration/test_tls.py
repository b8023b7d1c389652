"""TLS end to end: redis-cli --tls and redis-py ssl=True against a server whose address
speaks only TLS (tandemkv `--tls yes`; Redis `--port 0 --tls-port`), clients without a
certificate or without TLS refused, our CLI's lines, certificate reload on SIGHUP, and a
three-node group whose peer links use TLS.

One CA (tests/helpers/certs.py) and one server for the module; the reload and the group
start their own."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from helpers.certs import Certs, issue, make_certs
from helpers.cluster import Cluster, wait_for
from helpers.servers import (
    ServerOptions,
    ServerProcess,
    ServerStartError,
    _spawn,
    free_port,
    kill_process_group,
    run_tandemkv,
    start_server,
    start_tandemkv_on,
)

EXIT_UNAVAILABLE = 3


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_server(
    target: str, certs: Certs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server whose one address speaks TLS only, requiring client certificates."""
    workdir = tmp_path_factory.mktemp("tls-server")
    if target == "redis":
        server = _start_redis_tls(workdir, certs)
    else:
        options = ServerOptions(extra_args=("--tls", "yes", *certs.server_args()))
        server = start_server(target, workdir, options)
    yield server
    server.stop()
    kill_process_group(server)


def _start_redis_tls(workdir: Path, certs: Certs) -> ServerProcess:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerStartError("redis-server is not installed")
    port = free_port()
    args = [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
    args += ["--save", "", "--appendonly", "no", "--dir", str(workdir), "--logfile", ""]
    args += ["--tls-cert-file", str(certs.cert_file), "--tls-key-file", str(certs.key_file)]
    args += ["--tls-ca-cert-file", str(certs.ca_file)]
    server = ServerProcess("redis", _spawn(args, workdir, {}, None), port, workdir, ServerOptions())
    wait_for(lambda: _client(server, certs).ping() or None, 10, server.describe())
    return server


def _client(server: ServerProcess, certs: Certs, **options: object) -> redis.Redis:
    # No retries: redis-py would otherwise redial a refused handshake for seconds.
    merged = {**certs.redis_py(), "socket_timeout": 5, "retry": Retry(NoBackoff(), 0), **options}
    return redis.Redis(port=server.port, **merged)  # type: ignore[arg-type]


def test_redis_cli_with_tls(tls_server: ServerProcess, certs: Certs) -> None:
    cli = ["redis-cli", "-p", str(tls_server.port), *certs.cli_args()]
    assert _run(*cli, "SET", "tls:cli", "hello") == "OK"
    assert _run(*cli, "GET", "tls:cli") == "hello"


def _run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=10, check=True)
    return result.stdout.strip()


def test_redis_py_with_ssl(tls_server: ServerProcess, certs: Certs) -> None:
    with _client(tls_server, certs, protocol=3) as client:
        client.set("tls:py", "v")
        assert client.get("tls:py") == b"v"
        assert client.execute_command("HELLO", "3")[b"proto"] == 3


def test_a_client_without_a_certificate_is_refused(tls_server: ServerProcess, certs: Certs) -> None:
    with pytest.raises(redis.ConnectionError):
        _client(tls_server, certs, ssl_certfile=None, ssl_keyfile=None).ping()
    stranger = {"ssl_certfile": str(certs.stranger_cert), "ssl_keyfile": str(certs.stranger_key)}
    with pytest.raises(redis.ConnectionError):
        _client(tls_server, certs, **stranger).ping()


def test_a_plaintext_client_is_refused(tls_server: ServerProcess) -> None:
    with pytest.raises(redis.RedisError):
        redis.Redis(port=tls_server.port, socket_timeout=5, retry=Retry(NoBackoff(), 0)).ping()


@pytest.mark.tandemkv_only("the RESP error and the CLI's lines are tandemkv's")
def test_plaintext_refusal_says_why(tls_server: ServerProcess, certs: Certs) -> None:
    offset = len(tls_server.stderr_text())
    with pytest.raises(redis.ResponseError, match="accepts TLS connections only"):
        redis.Redis(port=tls_server.port, socket_timeout=5, retry=Retry(NoBackoff(), 0)).ping()
    address = f"127.0.0.1:{tls_server.port}"
    result = run_tandemkv("--server", address, "--wait-seconds", "0", "get", "k")
    assert result.returncode == EXIT_UNAVAILABLE, result
    assert result.stderr.strip() == (
        f"tandemkv: {address} accepts TLS connections only: pass --tls (with --cacert CA.pem, "
        "and --cert/--key if it asks for client certificates)"
    )
    # Logged as one line, and not once per attempt (at most one a LOG_EVERY_SECONDS).
    wait_for(
        lambda: "refused a plaintext connection from" in tls_server.stderr_text() or None,
        5,
        tls_server.describe(),
    )
    assert tls_server.stderr_text()[offset:].count("refused a plaintext connection") <= 1
    assert "Traceback" not in tls_server.stderr_text()


@pytest.mark.tandemkv_only("the tandemkv CLI")
def test_cli_over_tls(tls_server: ServerProcess, certs: Certs) -> None:
    address = f"127.0.0.1:{tls_server.port}"
    base = ("--server", address, "--wait-seconds", "0")
    put = run_tandemkv(*base, *certs.cli_args(), "put", "tls:k", "v1")
    assert (put.returncode, put.stdout.strip()) == (0, "OK"), put
    get = run_tandemkv(*base, *certs.cli_args(), "get", "tls:k")
    assert (get.returncode, get.stdout.strip()) == (0, "v1"), get
    status = run_tandemkv(*base, *certs.cli_args(), "status", "--json")
    assert status.returncode == 0 and '"role": "primary"' in status.stdout, status

    no_cert = run_tandemkv(*base, *certs.cli_args(client_cert=False), "get", "tls:k")
    assert no_cert.returncode == EXIT_UNAVAILABLE, no_cert
    assert "may require a client certificate (pass --cert and --key" in no_cert.stderr

    wrong_ca = ("--tls", "--cacert", str(certs.stranger_cert))
    untrusted = run_tandemkv(*base, *wrong_ca, "get", "tls:k")
    assert untrusted.returncode == EXIT_UNAVAILABLE, untrusted
    assert "TLS certificate verification failed" in untrusted.stderr
    assert len(untrusted.stderr.strip().splitlines()) == 1


@pytest.mark.tandemkv_only("a tandemkv node answers SENTINEL itself")
def test_sentinel_discovery_on_a_tls_only_address(tls_server: ServerProcess, certs: Certs) -> None:
    options = {**certs.redis_py(), "socket_timeout": 5}
    sentinel = Sentinel([("127.0.0.1", tls_server.port)], sentinel_kwargs=options, **options)
    assert sentinel.discover_master("tandemkv") == ("127.0.0.1", tls_server.port)
    primary = sentinel.master_for("tandemkv")
    primary.set("tls:sentinel", "found")
    assert primary.get("tls:sentinel") == b"found"


@pytest.mark.tandemkv_only("certificate reload on SIGHUP is tandemkv's")
def test_sighup_reloads_the_certificate(tmp_path: Path, certs: Certs) -> None:
    files = tmp_path / "live"
    files.mkdir()
    cert, key = files / "cert.pem", files / "key.pem"
    shutil.copy(certs.cert_file, cert)
    shutil.copy(certs.key_file, key)
    server = start_tandemkv_on(
        tmp_path / "data",
        tmp_path / "run",
        "--tls-port",
        str(free_port()),
        "--tls-auth-clients",
        "no",
        "--tls-cert-file",
        str(cert),
        "--tls-key-file",
        str(key),
    )
    try:
        tls_port = int(
            redis.Redis(port=server.port).config_get("tls-port")["tls-port"]  # plaintext port
        )
        options = {"ssl": True, "ssl_ca_certs": str(certs.ca_file), "socket_timeout": 5}
        before = redis.Redis(port=tls_port, single_connection_client=True, **options)  # type: ignore[arg-type]
        assert before.set("k", "1")
        assert _serial(tls_port, certs) == _serial_of(certs.cert_file)

        new_cert, new_key = issue(certs.ca, tmp_path, "renewed", "localhost", "127.0.0.1")
        shutil.copy(new_cert, cert)
        shutil.copy(new_key, key)
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "TLS certificates reloaded" in server.stderr_text() or None, 5, "")
        assert _serial(tls_port, certs) == _serial_of(new_cert)
        assert before.get("k") == b"1"  # the connection made before goes on

        cert.write_text("truncated\n")
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "TLS reload failed" in server.stderr_text() or None, 5, "")
        assert _serial(tls_port, certs) == _serial_of(new_cert)  # the last good one
        assert "Traceback" not in server.stderr_text()
        before.close()
    finally:
        server.stop()
        kill_process_group(server)


def _serial(port: int, certs: Certs) -> int:
    import socket
    import ssl

    context = ssl.create_default_context(cafile=str(certs.ca_file))
    context.check_hostname = False
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        context.wrap_socket(sock) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return _serial_of_der(der)


def _serial_of(path: Path) -> int:
    import ssl

    return _serial_of_der(ssl.PEM_cert_to_DER_cert(path.read_text()))


def _serial_of_der(der: bytes) -> int:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).serial_number


@pytest.mark.tandemkv_only("cluster mode is tandemkv's own")
def test_group_with_peer_tls(cluster: Cluster, certs: Certs) -> None:
    """Three nodes with plaintext addresses for local clients and a tls-port each, which
    with tls-replication is the address the group knows them by: joined, elected and
    replicating over TLS links with client certificates; the membership verbs over TLS;
    redis-py's Sentinel(ssl=True) asking a plaintext address and reaching the primary's
    TLS one."""
    tls_ports = {name: free_port() for name in "abc"}

    def tls_args(name: str) -> tuple[str, ...]:
        return (
            "--tls-port",
            str(tls_ports[name]),
            "--tls-replication",
            "yes",
            *certs.server_args(),
        )

    cluster.start("a", "--role", "primary", *tls_args("a"))
    a_tls = f"127.0.0.1:{tls_ports['a']}"
    b = cluster.start("b", "--role", "backup", "--primary", a_tls, *tls_args("b"))
    c = cluster.start("c", "--role", "backup", *tls_args("c"))  # added below, by add-backup
    cli = ("--server", a_tls, *certs.cli_args())
    added = run_tandemkv(*cli, "add-backup", "--backup", f"127.0.0.1:{tls_ports['c']}", timeout=30)
    assert (added.returncode, added.stdout.strip()) == (0, "OK"), added
    status = run_tandemkv(*cli, "status", "--json")
    assert status.returncode == 0 and status.stdout.count('"role": "backup"') == 2, status
    assert f'"address": "127.0.0.1:{tls_ports["b"]}"' in status.stdout

    cluster.kill("a")
    new = cluster.primary(timeout=15, among=["b", "c"])
    new_name = "b" if new is b else "c"
    sentinel = Sentinel(
        [("127.0.0.1", b.port), ("127.0.0.1", c.port)], socket_timeout=5, **certs.redis_py()
    )
    assert sentinel.discover_master("tandemkv") == ("127.0.0.1", tls_ports[new_name])
    sentinel.master_for("tandemkv").set("after", "failover")
    cluster.converged(["b", "c"])
    other = c if new is b else b
    with other.client(single_connection_client=True) as client:
        client.execute_command("READONLY")
        assert client.get("after") == b"failover"
    assert "Traceback" not in cluster.describe()
