"""What a background snapshot costs clients: GET/SET latency with and without BGSAVE.

    python3 -m bench.snapshot_latency [--keys 1000000] [--seconds 5] [--fsync everysec]
    python3 bench/snapshot_latency.py ...          (the same; it imports nothing from bench)

Starts a tandemkv server in a temporary directory, loads --keys keys with pipelined MSETs,
then runs one closed-loop client (one request in flight, alternating GET and SET on random
loaded keys) for --seconds with no snapshot running, and again while BGSAVEs run back to
back. It prints client-observed latency percentiles for both phases, how long each BGSAVE
took, and how much memory the forked child cost: the proportional set size (PSS) of the
server plus its child at the peak of a save, against the server's alone before it. PSS
counts a page shared by both processes once, so the growth is what copy-on-write copied.

Needs only the standard library and Linux's /proc; run it from the repository root (it
puts src/ on the server's PYTHONPATH).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
READY = re.compile(rb"Ready to accept connections at (\S+):(\d+)")
LOAD_BATCH = 1000  # pairs per MSET
LOAD_PIPELINE = 8  # MSETs in flight
POLL_SECONDS = 0.02


# ------------------------------------------------------------------ a minimal RESP client


def encode(*args: bytes | str | int) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class Connection:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> object:
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind in (b"+", b":"):
            return rest.decode() if kind == b"+" else int(rest)
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.file.read(size + 2)[:-2]
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")

    def call(self, *args: bytes | str | int) -> object:
        self.send(encode(*args))
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def persistence(conn: Connection) -> dict[str, str]:
    text = conn.call("INFO", "persistence")
    assert isinstance(text, bytes)
    return dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line)


# ------------------------------------------------------------------ the server


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_server(workdir: Path, fsync: str) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEMKV_")}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO / "src"), env.get("PYTHONPATH", "")])
    )
    env["TANDEMKV_SNAPSHOT_LOG_BYTES"] = str(1 << 40)  # only our BGSAVEs, none automatic
    out = open(workdir / "server.out", "wb")  # noqa: SIM115 - the child keeps it open
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tandemkv",
            "--db-path",
            str(workdir / "data"),
            "server",
            "--address",
            "127.0.0.1:0",
            "--fsync",
            fsync,
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        match = READY.search((workdir / "server.out").read_bytes())
        if match:
            return Server(proc, int(match.group(2)), workdir)
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"the server did not start:\n{(workdir / 'server.out').read_text()}")


def pss_kib(pid: int) -> int:
    """Proportional set size of one process, in KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except FileNotFoundError:
        return []


# ------------------------------------------------------------------ load and measure


def key_name(i: int) -> bytes:
    return b"key:%09d" % i


def load(port: int, keys: int, value_size: int) -> float:
    conn = Connection(port)
    value = b"v" * value_size
    started = time.perf_counter()
    in_flight = 0
    for start in range(0, keys, LOAD_BATCH):
        args: list[bytes | str | int] = ["MSET"]
        for i in range(start, min(keys, start + LOAD_BATCH)):
            args += [key_name(i), value]
        conn.send(encode(*args))
        in_flight += 1
        if in_flight == LOAD_PIPELINE:
            assert conn.reply() == "OK"
            in_flight -= 1
    for _ in range(in_flight):
        assert conn.reply() == "OK"
    assert conn.call("DBSIZE") == keys
    conn.close()
    return time.perf_counter() - started


@dataclass
class Samples:
    get: list[float] = field(default_factory=list)
    set: list[float] = field(default_factory=list)


def closed_loop(
    conn: Connection,
    keys: int,
    value_size: int,
    until: threading.Event,
    rng: random.Random,
    keep: threading.Event | None = None,
) -> Samples:
    """Alternate GET and SET on random keys, one in flight, until `until` is set. With
    `keep`, only requests that start while it is set are recorded."""
    samples = Samples()
    value = b"w" * value_size
    clock = time.perf_counter
    while not until.is_set():
        key = key_name(rng.randrange(keys))
        recording = keep is None or keep.is_set()
        began = clock()
        conn.send(encode("GET", key))
        conn.reply()
        middle = clock()
        conn.send(encode("SET", key, value))
        conn.reply()
        ended = clock()
        if recording:
            samples.get.append(middle - began)
            samples.set.append(ended - middle)
    return samples


@dataclass
class SaveStats:
    durations: list[float] = field(default_factory=list)
    replies: list[float] = field(default_factory=list)  # the BGSAVE command itself (fork)
    pss_before_kib: int = 0
    pss_peak_kib: int = 0


def run_saves(
    port: int,
    server_pid: int,
    seconds: float,
    saving: threading.Event,
    stop: threading.Event,
    stats: SaveStats,
) -> None:
    """BGSAVE back to back for `seconds`, tracking durations and parent+child PSS."""
    conn = Connection(port)
    stats.pss_before_kib = pss_kib(server_pid)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline or not stats.durations:
            saving.set()
            started = time.perf_counter()
            assert conn.call("BGSAVE") == "Background saving started"
            stats.replies.append(time.perf_counter() - started)
            while True:
                total = pss_kib(server_pid) + sum(pss_kib(c) for c in children(server_pid))
                stats.pss_peak_kib = max(stats.pss_peak_kib, total)
                if persistence(conn)["rdb_bgsave_in_progress"] == "0":
                    break
                time.sleep(POLL_SECONDS)
            stats.durations.append(time.perf_counter() - started)
            saving.clear()
            if persistence(conn)["rdb_last_bgsave_status"] != "ok":
                raise SystemExit("a background save failed")
    finally:
        saving.clear()
        stop.set()
        conn.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def row(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<22} {'0':>8}"
    ms = [v * 1000 for v in values]
    return (
        f"{name:<22} {len(ms):>8} {percentile(ms, 0.5):>8.3f} {percentile(ms, 0.99):>8.3f}"
        f" {max(ms):>9.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--value-size", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--fsync", choices=("always", "everysec", "no"), default="everysec")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tandemkv-snapbench-"))
    server = start_server(workdir, args.fsync)
    try:
        print(
            f"server pid {server.proc.pid} on port {server.port}, fsync={args.fsync}, "
            f"data in {workdir}",
            flush=True,
        )
        took = load(server.port, args.keys, args.value_size)
        print(
            f"loaded {args.keys:,} keys ({args.value_size}-byte values) in {took:.1f} s "
            f"({args.keys / took:,.0f} keys/s)",
            flush=True,
        )
        rng = random.Random(args.seed)
        conn = Connection(server.port)

        stop = threading.Event()
        timer = threading.Timer(args.seconds, stop.set)
        timer.start()
        baseline = closed_loop(conn, args.keys, args.value_size, stop, rng)

        stop, saving, stats = threading.Event(), threading.Event(), SaveStats()
        saver = threading.Thread(
            target=run_saves, args=(server.port, server.proc.pid, args.seconds, saving, stop, stats)
        )
        saver.start()
        during = closed_loop(conn, args.keys, args.value_size, stop, rng, keep=saving)
        saver.join()
        conn.close()

        print()
        print(f"{'client latency':<22} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>9}")
        print(row("GET, no snapshot", baseline.get))
        print(row("SET, no snapshot", baseline.set))
        print(row("GET, during BGSAVE", during.get))
        print(row("SET, during BGSAVE", during.set))
        durations = stats.durations
        print()
        print(
            f"BGSAVE: {len(durations)} saves of {args.keys:,} keys, "
            f"{min(durations):.2f}-{max(durations):.2f} s each "
            f"(mean {sum(durations) / len(durations):.2f} s); the BGSAVE command itself "
            f"(the fork) answered in {max(stats.replies) * 1000:.1f} ms at most"
        )
        growth = stats.pss_peak_kib - stats.pss_before_kib
        print(
            f"memory: server PSS {stats.pss_before_kib / 1024:.0f} MiB before; server+child "
            f"peak {stats.pss_peak_kib / 1024:.0f} MiB during a save "
            f"(+{growth / 1024:.0f} MiB, {100 * growth / max(1, stats.pss_before_kib):.0f}%)"
        )
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
