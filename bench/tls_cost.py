"""What TLS costs: redis-benchmark SET and GET with and without TLS, tandemkv and Redis.

    python3 -m bench.tls_cost [--requests 100000] [--clients 50] [--rounds 3]

Each server listens twice, in one process: in plaintext and with TLS (tandemkv
``--tls-port``, Redis ``--tls-port``), so both rates come from the same process and the same
data. Certificates come from trustme (the test extra) or, without it, from ``openssl``.
Clients show a certificate, as Redis's default (tls-auth-clients yes) asks. Runs are
interleaved (for each round: every system, every test, plaintext then TLS) and the medians
of the rounds are printed with the TLS/plaintext ratios, as bench/findings.md quotes them.
tandemkv runs as the environment says (TANDEMKV_PURE=1 for the pure-Python build), with its
defaults (a log fsynced every second); Redis with its AOF fsynced every second to match.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.loadgen import Workload, benchmark_command, parse_csv
from bench.procs import ProcessBook, guarded
from bench.procstat import read_cpu_times
from bench.servers import HOST, free_port, ping, redis_argv, tandemkv_env

TESTS = ("set", "get")


def make_certificates(directory: Path) -> list[str]:
    """CA, server and client files; the redis-benchmark/redis-cli options that use them."""
    try:
        import trustme
    except ImportError:
        return _openssl_certificates(directory)
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    for name in ("server", "client"):
        leaf = ca.issue_cert("localhost", HOST)
        leaf.cert_chain_pems[0].write_to_path(str(directory / f"{name}.pem"))
        leaf.private_key_pem.write_to_path(str(directory / f"{name}.key"))
    return client_options(directory)


def _openssl_certificates(directory: Path) -> list[str]:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("genrsa", "-out", "ca.key", "2048")
    openssl(
        "req", "-x509", "-new", "-key", "ca.key", "-days", "2", "-subj", "/CN=ca", "-out", "ca.pem"
    )
    for name in ("server", "client"):
        openssl("genrsa", "-out", f"{name}.key", "2048")
        openssl(
            "req", "-new", "-key", f"{name}.key", "-subj", "/CN=localhost", "-out", f"{name}.csr"
        )
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
        )  # fmt: skip
    return client_options(directory)


def client_options(directory: Path) -> list[str]:
    return [
        "--tls",
        "--cacert",
        str(directory / "ca.pem"),
        "--cert",
        str(directory / "client.pem"),
        "--key",
        str(directory / "client.key"),
    ]


def server_tls_settings(directory: Path) -> list[str]:
    """Both servers take these names (tandemkv as flags, Redis as config directives)."""
    return [
        "--tls-cert-file",
        str(directory / "server.pem"),
        "--tls-key-file",
        str(directory / "server.key"),
        "--tls-ca-cert-file",
        str(directory / "ca.pem"),
    ]


def start(book: ProcessBook, system: str, workdir: Path, certs: Path) -> tuple[int, int, int]:
    """Start `system` in `workdir`; its (pid, plaintext port, TLS port)."""
    workdir.mkdir()
    port, tls_port = free_port(), free_port()
    if system == "redis":
        binary = shutil.which("redis-server") or "redis-server"
        # Logged and fsynced about once a second, as tandemkv's defaults.
        settings = ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
        settings += ["--tls-port", str(tls_port)]
        command = redis_argv(binary, port, workdir, settings + server_tls_settings(certs))
        env = None
    else:
        command = [sys.executable, "-m", "tandemkv", "--db-path", str(workdir / "data")]
        command += ["server", "--address", f"{HOST}:{port}", "--tls-port", str(tls_port)]
        command += server_tls_settings(certs)
        env = tandemkv_env()
    proc = book.spawn(command, cwd=workdir, log_stem="server", env=env)
    if not ping(port, time.monotonic() + 30):
        book.stop(proc)
        err = (workdir / "server.err").read_text(errors="replace")
        raise SystemExit(f"{system} did not start: {err.strip()[-500:]}")
    return proc.pid, port, tls_port


def run_once(
    book: ProcessBook,
    workdir: Path,
    server: tuple[int, int],
    test: str,
    workload: Workload,
    tls: Sequence[str],
) -> tuple[float, float]:
    """One redis-benchmark run at server (pid, port): requests a second, and the server's
    CPU microseconds per request (steadier than the rate on a shared machine)."""
    pid, port = server
    binary = shutil.which("redis-benchmark") or "redis-benchmark"
    requests = workload.calibration_requests
    command = benchmark_command(binary, port, test, requests, workload, tls)
    before = read_cpu_times(pid).total
    proc = book.spawn(command, cwd=workdir, log_stem="redis-benchmark")
    if book.wait(proc, 600) != 0:
        raise SystemExit((workdir / "redis-benchmark.err").read_text(errors="replace")[-500:])
    cpu_us = (read_cpu_times(pid).total - before) * 1e6 / requests
    return parse_csv((workdir / "redis-benchmark.out").read_text())[0].rps, cpu_us


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.tls_cost", description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--systems", default="tandemkv,redis")
    args = parser.parse_args(argv)
    workload = Workload("tls", "TLS", args.clients, 1, args.requests, args.requests)
    systems = args.systems.split(",")
    samples: dict[tuple[str, str, bool], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="tls-cost-") as tmp, guarded(ProcessBook()) as book:
        base = Path(tmp)
        certs = base / "certs"
        certs.mkdir()
        tls = make_certificates(certs)
        servers = {system: start(book, system, base / system, certs) for system in systems}
        for round_index in range(args.rounds):
            for system in systems:
                pid, plain, secure = servers[system]
                for test in TESTS:
                    for use_tls in (False, True):
                        rps, cpu = run_once(
                            book,
                            base / system,
                            (pid, secure if use_tls else plain),
                            test,
                            workload,
                            tls if use_tls else (),
                        )
                        samples.setdefault((system, test, use_tls), []).append((rps, cpu))
                        print(
                            f"round {round_index + 1} {system} {test.upper()} "
                            f"{'TLS' if use_tls else 'plain'}: {rps:,.0f}/s, {cpu:.1f} us/req",
                            file=sys.stderr,
                        )
        book.stop_all()
    print(report(samples, systems, args))
    return 0


def report(
    samples: dict[tuple[str, str, bool], list[tuple[float, float]]],
    systems: list[str],
    args: argparse.Namespace,
) -> str:
    """Medians over rounds; each ratio is the median of the rounds' own ratios (a plaintext
    run and its TLS run are back to back, so they share the machine's state)."""
    lines = [
        f"redis-benchmark -c {args.clients} -n {args.requests} -t set,get "
        f"[--tls --cacert --cert --key], medians of {args.rounds} interleaved rounds",
        "",
        "| system | test | plaintext req/s | TLS req/s | TLS / plaintext rate "
        "| server CPU us/req plaintext | TLS | TLS / plaintext CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]

    def median(key: tuple[str, str, bool], field: int) -> float:
        return statistics.median(sample[field] for sample in samples[key])

    def paired(system: str, test: str, field: int) -> float:
        pairs = zip(samples[(system, test, False)], samples[(system, test, True)], strict=True)
        return statistics.median(secure[field] / plain[field] for plain, secure in pairs)

    for system in systems:
        for test in TESTS:
            plain, secure = (system, test, False), (system, test, True)
            lines.append(
                f"| {system} | {test.upper()} | {median(plain, 0):,.0f} | "
                f"{median(secure, 0):,.0f} | {paired(system, test, 0):.2f} | "
                f"{median(plain, 1):.1f} | {median(secure, 1):.1f} | "
                f"{paired(system, test, 1):.2f} |"
            )
    if "redis" in systems and "tandemkv" in systems:
        lines.append("")
        for test in TESTS:
            ours = median(("tandemkv", test, True), 0)
            theirs = median(("redis", test, True), 0)
            lines.append(f"{test.upper()} with TLS, tandemkv / Redis rate: {ours / theirs:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
