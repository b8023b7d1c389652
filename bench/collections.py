"""Hashes, lists, sets and sorted sets against Redis: memory, worst pause, throughput.

    python3 -m bench.collections [--elements 1000000] [--parts memory,benchmark]
                                 [--rounds 3] [--requests 200000] [--json FILE]

*memory*: for each type, a fresh server of each system (persistence off) gets one key of
--elements elements, filled with pipelined variadic writes through redis-py (fields, set and
sorted-set members ``b"%d" % i``, hash values and list items 10 bytes). RSS growth (from /proc)
over the empty server is the memory per element; Redis's ``used_memory`` growth too. Then a
second process sends PING in a loop and records every gap of a millisecond or more between
PONGs, while the harness reads the whole key (HGETALL, LRANGE 0 -1, SMEMBERS, ZRANGE 0 -1),
SAVEs (the snapshot file's size per element), BGSAVEs (until INFO says it is done) and DELs it:
each operation's longest overlapping gap is its pause.

*benchmark*: ``redis-benchmark -t lpush,lpop,sadd,hset,zadd -r 100000 -c 50 [-P 16]``, each
test its own run (lpop pops what lpush pushed; FLUSHALL before each system's set), rounds
alternating which system goes first; medians and the tandemkv/Redis ratio.

tandemkv runs the pure-Python build (TANDEMKV_PURE=1, hiredis + uvloop): the compiled one is
stale while sources change. Needs Linux's /proc, redis-server and redis-benchmark; run it from
the repository root. Servers are on ephemeral ports in a temporary directory, stopped by pid.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis

from bench import persistence
from bench.loadgen import Workload
from bench.measure import Run, Sample, measure
from bench.paths import REPO_ROOT
from bench.procs import ProcessBook, guarded
from bench.procstat import read_rss_bytes
from bench.resp import Connection
from bench.servers import SYSTEMS, RunningServer, start_redis, start_tandemkv, stop_server

TYPES = ("hash", "list", "set", "zset")
READ_ALL = {
    "hash": ("HGETALL", "c"),
    "list": ("LRANGE", "c", "0", "-1"),
    "set": ("SMEMBERS", "c"),
    "zset": ("ZRANGE", "c", "0", "-1"),
}
COUNT = {"hash": "HLEN", "list": "LLEN", "set": "SCARD", "zset": "ZCARD"}
SYSTEM_KEYS = ("tandemkv-pure", "redis")
BATCH = 1000  # elements per write command
PIPELINE = 8  # write commands per round trip
GAP_SECONDS = 0.001  # the pinger records gaps at least this long
BENCH_TESTS = ("lpush", "lpop", "sadd", "hset", "zadd")
RANDOM_KEYSPACE = 100_000  # -r: sadd/hset/zadd grow their key instead of rewriting one element
Op = tuple[str, float, float]  # name, start, end (CLOCK_MONOTONIC)


class _Randomized(Workload):
    """A redis-benchmark shape with -r, so each request names a random element."""

    def args(self) -> list[str]:
        return [*super().args(), "-r", str(RANDOM_KEYSPACE)]


WORKLOADS = (
    _Randomized("c50", "-c 50", 50, 1, 0, 0),
    _Randomized("c50-p16", "-c 50 -P 16", 50, 16, 0, 0),
)


@dataclass
class TypeResult:
    system: str
    kind: str
    elements: int
    fill_s: float
    rss_growth: int
    used_memory_growth: int | None  # Redis only: tandemkv's used_memory is its RSS
    snapshot_bytes: int
    pauses_ms: dict[str, float] = field(default_factory=dict)
    took_ms: dict[str, float] = field(default_factory=dict)  # each operation, end to end


# ------------------------------------------------------------------ memory and pauses


def fill_words(kind: str, indexes: range) -> list[bytes]:
    if kind == "hash":
        return [b"HSET", b"c", *(w for i in indexes for w in (b"%d" % i, b"v%09d" % i))]
    if kind == "list":
        return [b"RPUSH", b"c", *(b"v%09d" % i for i in indexes)]
    if kind == "set":
        return [b"SADD", b"c", *(b"%d" % i for i in indexes)]
    return [b"ZADD", b"c", *(w for i in indexes for w in (b"%d" % i, b"%d" % i))]


def fill(client: redis.Redis, kind: str, elements: int) -> float:
    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for start in range(0, elements, BATCH):
        words = fill_words(kind, range(start, min(elements, start + BATCH)))
        pipe.execute_command(*words)  # type: ignore[no-untyped-call]
        if len(pipe) == PIPELINE:
            pipe.execute()
    pipe.execute()
    took = time.perf_counter() - started
    count = _call(client, COUNT[kind], "c")
    if count != elements:
        raise RuntimeError(f"{COUNT[kind]} is {count} after filling {elements} elements")
    return took


def measure_type(
    book: ProcessBook, start: Callable[[Path], RunningServer], workdir: Path, kind: str, n: int
) -> TypeResult:
    server = start(workdir)
    try:
        client = redis.Redis(port=server.port, socket_timeout=600)
        is_redis = server.spec.family == "redis"
        rss0, used0 = read_rss_bytes(server.pid), _used_memory(client)
        took = fill(client, kind, n)
        time.sleep(1.0)  # let a background free or rehash settle before reading memory
        rss1, used1 = read_rss_bytes(server.pid), _used_memory(client)
        with pinging(book, server.port, workdir) as gaps:
            ops = timed_ops(client, kind)
        snapshot = workdir / ("dump.rdb" if is_redis else "data/snapshot")
        result = TypeResult(
            server.spec.key,
            kind,
            n,
            took,
            rss1 - rss0,
            used1 - used0 if is_redis else None,
            snapshot.stat().st_size,
        )
        result.pauses_ms = pauses(gaps, ops)
        result.took_ms = {name: (end - start) * 1000 for name, start, end in ops}
        return result
    finally:
        stop_server(book, server)


def timed_ops(client: redis.Redis, kind: str) -> list[Op]:
    """Idle, read everything, SAVE, BGSAVE (until done), DEL: each one's CLOCK_MONOTONIC span."""
    ops: list[Op] = []
    clock = time.monotonic
    began = clock()
    time.sleep(1.0)
    ops.append(("idle 1 s", began, clock()))
    for name, words in (("read all", READ_ALL[kind]), ("SAVE", ("SAVE",))):
        began = clock()
        _call(client, *words)
        ops.append((name, began, clock()))
    began = clock()
    _call(client, "BGSAVE")
    while client.info("persistence")["rdb_bgsave_in_progress"]:
        time.sleep(0.01)
    ops.append(("BGSAVE", began, clock()))
    if client.info("persistence")["rdb_last_bgsave_status"] != "ok":
        raise RuntimeError("BGSAVE failed")
    began = clock()
    _call(client, "DEL", "c")
    ops.append(("DEL", began, clock()))
    time.sleep(0.2)  # the pinger's gap after DEL ends with its next PONG
    return ops


def pauses(gaps: list[list[float]], ops: list[Op]) -> dict[str, float]:
    """Each operation's longest gap between PONGs, in ms (0 if none reached GAP_SECONDS).

    A gap goes to the operation it overlaps most: a stall starts at the last PONG before the
    command was sent and may end after the harness already sent the next one."""
    longest = dict.fromkeys((name for name, _, _ in ops), 0.0)
    for a, b in gaps:
        overlaps = [(min(b, end) - max(a, start), name) for name, start, end in ops]
        overlap, name = max(overlaps)
        if overlap > 0:
            longest[name] = max(longest[name], (b - a) * 1000)
    return longest


def _call(client: redis.Redis, *words: str) -> object:
    return client.execute_command(*words)  # type: ignore[no-untyped-call]


def _used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


@contextmanager
def pinging(book: ProcessBook, port: int, workdir: Path) -> Iterator[list[list[float]]]:
    """A second process sends PING in a loop; the yielded list fills with its gaps at exit."""
    out = workdir / "ping-gaps.json"
    command = [sys.executable, "-m", "bench.collections", "--ping-port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = book.spawn([*command, "--ping-out", str(out)], cwd=workdir, log_stem="ping", env=env)
    gaps: list[list[float]] = []
    deadline = time.monotonic() + 30
    while "ready" not in (workdir / "ping.out").read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"the pinger did not start: {(workdir / 'ping.err').read_text()}")
        time.sleep(0.01)
    try:
        yield gaps
    finally:
        book.stop(proc, signal.SIGINT)
    gaps += json.loads(out.read_text())["gaps"]


def ping_loop(port: int, out: Path) -> int:
    """PING until SIGINT; writes every gap of GAP_SECONDS or more between PONGs as JSON."""
    gaps: list[tuple[float, float]] = []
    pings = 0
    with Connection(port) as conn:
        print("ready", flush=True)
        last = time.monotonic()
        try:
            while True:
                conn.call("PING")
                now = time.monotonic()
                if now - last >= GAP_SECONDS:
                    gaps.append((last, now))
                last = now
                pings += 1
        except KeyboardInterrupt:
            pass
    out.write_text(json.dumps({"pings": pings, "gaps": gaps}))
    return 0


# ------------------------------------------------------------------ redis-benchmark


def run_benchmark(
    book: ProcessBook, servers: dict[str, RunningServer], run: Run, requests: int, rounds: int
) -> list[Sample]:
    samples: list[Sample] = []
    for round_index in range(rounds):
        order = list(servers.values())
        if round_index % 2:
            order.reverse()
        for workload in WORKLOADS:
            for server in order:
                redis.Redis(port=server.port).flushall()
                for test in BENCH_TESTS:
                    sample = measure(book, run, server, workload, test, requests, round_index)
                    print(f"  {_line(sample)}", file=sys.stderr, flush=True)
                    samples.append(sample)
    return samples


def _line(s: Sample) -> str:
    return f"round {s.round} {s.workload} {s.system} {s.test}: {s.rps:,.0f} req/s"


# ------------------------------------------------------------------ report


def memory_tables(results: Sequence[TypeResult]) -> list[str]:
    by = {(r.system, r.kind): r for r in results}
    lines = [
        "| type | tandemkv B/elem (RSS) | Redis B/elem (used_memory) | Redis B/elem (RSS) "
        "| ratio (RSS/RSS) | tandemkv snapshot B/elem | Redis RDB B/elem | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind in TYPES:
        ours, theirs = by.get(("tandemkv-pure", kind)), by.get(("redis", kind))
        if ours is None or theirs is None:
            continue
        n = ours.elements
        cells: list[float] = [
            ours.rss_growth / n,
            (theirs.used_memory_growth or 0) / n,
            theirs.rss_growth / n,
            ours.rss_growth / theirs.rss_growth,
            ours.snapshot_bytes / n,
            theirs.snapshot_bytes / n,
            ours.snapshot_bytes / theirs.snapshot_bytes,
        ]
        text = [f"{c:.1f}" for c in cells[:3]] + [f"{cells[3]:.2f}x"]
        text += [f"{c:.1f}" for c in cells[4:6]] + [f"{cells[6]:.2f}x"]
        lines.append(f"| {kind} | " + " | ".join(text) + " |")
    ops = list(results[0].pauses_ms) if results else []
    lines += ["", "| type | system | " + " | ".join(ops) + " | fill s |"]
    lines.append("| --- | --- |" + " ---: |" * (len(ops) + 1))
    for r in results:
        shown = [f"{r.pauses_ms[op]:.0f}" if r.pauses_ms[op] else "<1" for op in ops]
        lines.append(f"| {r.kind} | {r.system} | " + " | ".join(shown) + f" | {r.fill_s:.1f} |")
    return lines


def benchmark_table(samples: Sequence[Sample]) -> list[str]:
    lines = [
        "| workload | test | Redis req/s | tandemkv req/s (range) | ratio | CPU µs/req Redis "
        "| tandemkv |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workload in WORKLOADS:
        for test in BENCH_TESTS:
            cell = {
                system: [s for s in samples if (s.workload, s.test, s.system) == key]
                for system in SYSTEM_KEYS
                for key in [(workload.key, test.upper(), system)]
            }
            if not all(cell.values()):
                continue
            theirs = statistics.median(s.rps for s in cell["redis"])
            rates = [s.rps for s in cell["tandemkv-pure"]]
            ours = statistics.median(rates)
            cpu = {
                k: statistics.median(s.server_cpu_us_per_request for s in v)
                for k, v in cell.items()
            }
            lines.append(
                f"| {workload.title} | {test.upper()} | {theirs:,.0f} | {ours:,.0f} "
                f"({min(rates):,.0f}-{max(rates):,.0f}) | {ours / theirs:.2f}x "
                f"| {cpu['redis']:.1f} | {cpu['tandemkv-pure']:.1f} |"
            )
    return lines


# ------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--elements", type=int, default=1_000_000)
    parser.add_argument("--parts", default="memory,benchmark")
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--ping-port", type=int, help=argparse.SUPPRESS)  # the pinger process
    parser.add_argument("--ping-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ping_port is not None:
        return ping_loop(args.ping_port, args.ping_out)
    redis_server, bench_binary = shutil.which("redis-server"), shutil.which("redis-benchmark")
    if redis_server is None or bench_binary is None:
        print("needs redis-server and redis-benchmark (apt-get install redis)", file=sys.stderr)
        return 1
    parts = set(args.parts.split(","))
    book = ProcessBook()
    raw: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="tandemkv-coll-") as tmp, guarded(book):
        scratch = Path(tmp)
        off = persistence.off()

        def starter(key: str) -> Callable[[Path], RunningServer]:
            spec = SYSTEMS[key]
            if spec.family == "redis":
                return lambda d: start_redis(book, spec, d, off, redis_server)
            return lambda d: start_tandemkv(book, spec, d, off)

        if "memory" in parts:
            results = []
            for kind in args.types.split(","):
                for key in SYSTEM_KEYS:
                    print(f"[memory] {kind} on {key}", file=sys.stderr, flush=True)
                    workdir = scratch / f"{kind}-{key}"
                    results.append(measure_type(book, starter(key), workdir, kind, args.elements))
            print("\n".join(["", *memory_tables(results)]))
            raw["memory"] = [asdict(r) for r in results]
        if "benchmark" in parts:
            servers = {key: starter(key)(scratch / f"bench-{key}") for key in SYSTEM_KEYS}
            run = Run(bench_binary, scratch, timeout=900.0)
            samples = run_benchmark(book, servers, run, args.requests, args.rounds)
            print("\n".join(["", *benchmark_table(samples)]))
            raw["benchmark"] = [asdict(s) for s in samples]
    if args.json is not None:
        args.json.write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
