"""The durability measurements: memory per key, restart time and latency during a snapshot.

Each round gives every system a fresh data directory and takes it through three steps, the
systems taking turns at each step (A B, A B, A B) and each step ending with the server stopped:

1. *load*: start empty (timed: exec to first PONG), note the RSS, load N keys, let it settle,
   note the RSS again. (RSS after - RSS before) / N is the memory per key.
2. *replay*: restart with the write log on, so it rebuilds the keys from its log (timed); run
   the latency probe (no snapshot, then BGSAVEs back to back, bench/snapshot_probe.py); then
   SAVE in the foreground (timed).
3. *image*: restart from the snapshot SAVE wrote (timed).

The write log is tandemkv's own (``--fsync everysec``, automatic snapshots off) and Redis's
AOF (``appendfsync everysec``, automatic rewrites off); step 3 restarts Redis with the AOF off
so that it loads the RDB file. Every restart checks DBSIZE, so a fast restart that lost keys
fails instead of counting.

Nothing here knows about the report: bench/suites/durability.py drives it for
``python3 -m bench`` and bench/restart_rss.py, bench/snapshot_latency.py for their scripts.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.keyload import load_keys
from bench.procs import ProcessBook, guarded
from bench.procstat import read_rss_bytes
from bench.resp import Connection, ReplyError
from bench.restarts import TimedServer, start_timed
from bench.servers import HOST, StartError, free_port, redis_argv, tandemkv_env
from bench.snapshot_probe import Clients, LatencyResult, ProbeError, measure_latency

# The log never triggers a snapshot by itself: only the SAVE and BGSAVEs sent here write one.
NO_AUTO_SNAPSHOT = {"TANDEMKV_SNAPSHOT_LOG_BYTES": str(1 << 40)}
STEPS = ("load", "replay", "image")
START_TIMEOUT = 300.0


@dataclass(frozen=True)
class Plan:
    keys: int
    value_size: int
    latency_seconds: float  # each latency phase; the BGSAVE phase lasts at least one save
    settle_seconds: float  # before reading the RSS after a load or a restart
    latency: bool = True
    seed: int = 1


@dataclass(frozen=True)
class Contender:
    """One system: how to start it with its write log on, and how to start it from its image.

    ``replay_kind`` and ``image_kind`` name its two restarts ("log"/"snapshot" for tandemkv,
    "aof"/"rdb" for Redis)."""

    key: str
    label: str
    family: str
    replay_kind: str
    image_kind: str
    logged: Callable[[int, Path], list[str]]  # (port, data directory) -> command
    from_image: Callable[[int, Path], list[str]]
    env: Mapping[str, str] | None = None
    env_note: str = ""  # environment settings shown before the command in the report


def tandemkv_contender(
    key: str, label: str, server_args: Sequence[str], fsync: str = "everysec"
) -> Contender:
    def command(port: int, data: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tandemkv",
            "--db-path",
            str(data),
            "server",
            "--address",
            f"{HOST}:{port}",
            *server_args,
            "--fsync",
            fsync,
        ]

    note = " ".join(f"{name}={value}" for name, value in NO_AUTO_SNAPSHOT.items())
    env = {**tandemkv_env(), **NO_AUTO_SNAPSHOT}
    return Contender(key, label, "tandemkv", "log", "snapshot", command, command, env, note)


def redis_contender(binary: str, key: str = "redis", label: str = "Redis") -> Contender:
    def command(port: int, data: Path, aof: bool) -> list[str]:
        log = (
            ("--appendonly", "yes", "--appendfsync", "everysec") if aof else ("--appendonly", "no")
        )
        settings = ("--save", "", *log, "--auto-aof-rewrite-percentage", "0")
        return redis_argv(binary, port, data, settings)

    return Contender(
        key,
        label,
        "redis",
        "aof",
        "rdb",
        lambda port, data: command(port, data, True),
        lambda port, data: command(port, data, False),
    )


@dataclass
class RoundResult:
    """What one round measured for one system; sizes in bytes, times in seconds."""

    system: str
    round: int
    empty_start_s: float | None = None
    load_s: float | None = None
    rss_empty: int | None = None
    rss_loaded: int | None = None
    keys: int = 0
    save_s: float | None = None
    restart_s: dict[str, float] = field(default_factory=dict)
    restart_rss: dict[str, int] = field(default_factory=dict)
    latency: LatencyResult | None = None

    @property
    def bytes_per_key(self) -> float | None:
        if self.rss_empty is None or self.rss_loaded is None or not self.keys:
            return None
        return (self.rss_loaded - self.rss_empty) / self.keys


@dataclass
class Harness:
    """Where processes are recorded and logged: the harness's, or a script's own."""

    book: ProcessBook
    scratch: Path
    log: Callable[[str], None]
    # (command, its port, environment settings to show before it) for the report.
    record: Callable[[Sequence[str], int, str], None] = lambda *_: None


StepError = (StartError, ReplyError, ProbeError, OSError)


def run_alone(
    contenders: Sequence[Contender], plan: Plan, repeats: int
) -> tuple[list[RoundResult], dict[str, str]]:
    """run_rounds outside the harness (for the scripts): its own temporary directory and
    process book, progress on stderr, every process stopped by pid however it ends."""
    book = ProcessBook()
    with tempfile.TemporaryDirectory(prefix="tandemkv-durability-") as scratch, guarded(book):
        harness = Harness(book, Path(scratch), lambda line: print(line, file=sys.stderr))
        return run_rounds(harness, contenders, plan, repeats)


def run_rounds(
    harness: Harness, contenders: Sequence[Contender], plan: Plan, repeats: int
) -> tuple[list[RoundResult], dict[str, str]]:
    """Every round, every step, the systems taking turns; a system that fails a step is
    dropped from the rest of the run and its reason kept."""
    results: list[RoundResult] = []
    failed: dict[str, str] = {}
    for round_index in range(repeats):
        live = [c for c in contenders if c.key not in failed]
        shift = round_index % len(live) if live else 0
        order = live[shift:] + live[:shift]
        rounds = {c.key: RoundResult(c.key, round_index, keys=plan.keys) for c in order}
        for step in STEPS:
            for contender in order:
                if contender.key not in failed:
                    _guarded_step(harness, contender, plan, rounds[contender.key], step, failed)
        for contender in order:
            shutil.rmtree(_home(harness, contender), ignore_errors=True)
        results += [r for key, r in rounds.items() if key not in failed]
    return results, failed


def _guarded_step(
    harness: Harness,
    contender: Contender,
    plan: Plan,
    result: RoundResult,
    step: str,
    failed: dict[str, str],
) -> None:
    label = f"round {result.round + 1} {step} {contender.label}"
    try:
        _STEP_FUNCTIONS[step](harness, contender, plan, result)
    except StepError as error:
        failed[contender.key] = f"failed in round {result.round + 1}, step {step}: {error}"
        harness.log(f"[durability] dropping {contender.label}: {failed[contender.key]}")
        return
    harness.log(f"[durability] {label}: {_describe(result, step, contender)}")


def _home(harness: Harness, contender: Contender) -> Path:
    # The same path every round (emptied in between), so the recorded commands repeat exactly.
    return harness.scratch / "durability" / contender.key


def _start(harness: Harness, contender: Contender, from_image: bool, run: str) -> TimedServer:
    home = _home(harness, contender)
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = (contender.from_image if from_image else contender.logged)(port, data)
    harness.record(command, port, contender.env_note)
    server = start_timed(harness.book, command, home / run, port, START_TIMEOUT, contender.env)
    harness.log(f"[durability] started {contender.label} pid {server.pid} port {port}")
    return server


def _stop(harness: Harness, server: TimedServer) -> None:
    harness.book.stop(server.proc)


def _step_load(harness: Harness, contender: Contender, plan: Plan, result: RoundResult) -> None:
    server = _start(harness, contender, False, "load")
    try:
        result.empty_start_s = server.seconds
        result.rss_empty = read_rss_bytes(server.pid)
        result.load_s = load_keys(server.port, plan.keys, plan.value_size)
        time.sleep(plan.settle_seconds)
        result.rss_loaded = read_rss_bytes(server.pid)
    finally:
        _stop(harness, server)


def _step_replay(harness: Harness, contender: Contender, plan: Plan, result: RoundResult) -> None:
    server = _start(harness, contender, False, "replay")
    try:
        _note_restart(server, contender.replay_kind, plan, result)
        if plan.latency:
            clients = Clients(
                harness.book,
                _home(harness, contender) / "replay",
                lambda command: harness.record(command, server.port, ""),
            )
            result.latency = measure_latency(
                clients,
                server.port,
                server.pid,
                plan.keys,
                plan.value_size,
                plan.latency_seconds,
                plan.seed,
            )
        result.save_s = _timed_save(server.port)
    finally:
        _stop(harness, server)


def _step_image(harness: Harness, contender: Contender, plan: Plan, result: RoundResult) -> None:
    server = _start(harness, contender, True, "image")
    try:
        _note_restart(server, contender.image_kind, plan, result)
    finally:
        _stop(harness, server)


_STEP_FUNCTIONS: dict[str, Callable[[Harness, Contender, Plan, RoundResult], None]] = {
    "load": _step_load,
    "replay": _step_replay,
    "image": _step_image,
}


def _note_restart(server: TimedServer, kind: str, plan: Plan, result: RoundResult) -> None:
    with Connection(server.port) as conn:
        size = conn.call("DBSIZE")
    if size != plan.keys:
        raise ReplyError(f"restart ({kind}) came back with {size} keys, not {plan.keys}")
    result.restart_s[kind] = server.seconds
    time.sleep(plan.settle_seconds)
    result.restart_rss[kind] = read_rss_bytes(server.pid)


def _timed_save(port: int) -> float:
    with Connection(port) as conn:
        started = time.perf_counter()
        reply = conn.call("SAVE")
        took = time.perf_counter() - started
    if reply != "OK":
        raise ReplyError(f"SAVE answered {reply!r}")
    return took


def _describe(result: RoundResult, step: str, contender: Contender) -> str:
    if step == "load":
        per_key = result.bytes_per_key
        return (
            f"empty start {result.empty_start_s or 0:.3f} s, {result.keys:,} keys loaded in "
            f"{result.load_s or 0:.2f} s, {per_key or 0:.1f} bytes of RSS per key"
        )
    if step == "replay":
        text = f"restart ({contender.replay_kind}) {result.restart_s[contender.replay_kind]:.3f} s"
        if result.latency is not None:
            quiet, saving = result.latency.quiet_set, result.latency.saving_set
            text += (
                f", SET p99 {quiet.p99_ms or 0:.3f} ms, during BGSAVE {saving.p99_ms or 0:.3f} ms"
            )
        return text + f", SAVE {result.save_s or 0:.2f} s"
    return f"restart ({contender.image_kind}) {result.restart_s[contender.image_kind]:.3f} s"
