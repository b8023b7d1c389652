"""What a background snapshot costs clients: GET/SET latency with and without BGSAVE running.

One closed-loop client (bench/latency_client.py, its own process) runs for a while with no
snapshot; then a second one runs while the harness sends BGSAVEs back to back, and only its
requests that start while a save is in progress count. Meanwhile the proportional set size
(PSS) of the server plus its forked child is sampled: its growth over the server's own PSS
before the save is the memory copy-on-write cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from bench.paths import REPO_ROOT
from bench.procs import ProcessBook
from bench.procstat import child_pids, read_pss_bytes
from bench.resp import Connection, ReplyError, info

POLL_SECONDS = 0.02
READY_TIMEOUT = 30.0
BGSAVE_STARTED = "Background saving started"


class ProbeError(Exception):
    """A save failed, the client failed or the server stopped answering; the message says."""


@dataclass(frozen=True)
class Clients:
    """Where the latency clients run: the process book, a directory for their files, and
    who to tell each command line."""

    book: ProcessBook
    workdir: Path
    record: Callable[[list[str]], None] = lambda _: None


@dataclass(frozen=True)
class Latencies:
    """One kind of request in one phase, in milliseconds; None when none was sent."""

    requests: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass(frozen=True)
class SaveFigures:
    seconds: list[float]  # each BGSAVE, from sending it until INFO says it finished
    reply_ms_max: float  # the BGSAVE command itself: the fork happens before it answers
    pss_before: int  # bytes, the server alone before the first save
    pss_peak: int  # bytes, the server plus its child at the fullest moment of a save


@dataclass(frozen=True)
class LatencyResult:
    quiet_get: Latencies
    quiet_set: Latencies
    saving_get: Latencies
    saving_set: Latencies
    saves: SaveFigures


@dataclass
class _Samples:
    start: list[float] = field(default_factory=list)
    get: list[float] = field(default_factory=list)
    set: list[float] = field(default_factory=list)

    def within(self, intervals: list[tuple[float, float]]) -> _Samples:
        kept = _Samples()
        for start, get, set_ in zip(self.start, self.get, self.set, strict=True):
            if any(low <= start <= high for low, high in intervals):
                kept.start.append(start)
                kept.get.append(get)
                kept.set.append(set_)
        return kept


@dataclass
class _SaveLog:
    intervals: list[tuple[float, float]] = field(default_factory=list)
    replies: list[float] = field(default_factory=list)
    pss_before: int = 0
    pss_peak: int = 0


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: the value below which ``fraction`` of ``values`` fall."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latencies(seconds: list[float]) -> Latencies:
    if not seconds:
        return Latencies(0, None, None, None)
    ms = [value * 1000 for value in seconds]
    return Latencies(len(ms), percentile(ms, 0.5), percentile(ms, 0.99), max(ms))


def measure_latency(
    clients: Clients,
    port: int,
    pid: int,
    keys: int,
    value_size: int,
    seconds: float,
    seed: int = 1,
) -> LatencyResult:
    """``seconds`` without a snapshot, then at least ``seconds`` of back-to-back BGSAVEs
    (always at least one whole save)."""
    words = ["--keys", str(keys), "--value-size", str(value_size), "--seed", str(seed)]
    quiet_client = _spawn(clients, port, "quiet", [*words, "--seconds", str(seconds)])
    try:
        clients.book.wait(quiet_client, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise ProbeError(f"the latency client ran over {seconds + 60:g} s") from None
    quiet = _samples(clients, quiet_client, "quiet")
    saving_client = _spawn(clients, port, "saving", [*words, "--seconds", "0"])
    try:
        _wait_ready(clients, saving_client, "saving")
        log = _run_saves(port, pid, seconds)
    finally:
        clients.book.stop(saving_client)
    during = _samples(clients, saving_client, "saving").within(log.intervals)
    saves = SaveFigures(
        [high - low for low, high in log.intervals],
        max(log.replies) * 1000,
        log.pss_before,
        log.pss_peak,
    )
    return LatencyResult(
        latencies(quiet.get),
        latencies(quiet.set),
        latencies(during.get),
        latencies(during.set),
        saves,
    )


def _spawn(clients: Clients, port: int, name: str, words: list[str]) -> Popen[bytes]:
    out = clients.workdir / f"latency-{name}.json"
    command = [sys.executable, "-m", "bench.latency_client", "--port", str(port)]
    command += [*words, "--out", str(out)]
    clients.workdir.mkdir(parents=True, exist_ok=True)
    clients.record(command)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return clients.book.spawn(command, cwd=clients.workdir, log_stem=f"latency-{name}", env=env)


def _wait_ready(clients: Clients, proc: Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    out = clients.workdir / f"latency-{name}.out"
    while time.monotonic() < deadline and proc.poll() is None:
        if "ready" in out.read_text(errors="replace"):
            return
        time.sleep(POLL_SECONDS / 4)
    raise ProbeError(f"the latency client did not start: {_tail(clients, name)}")


def _samples(clients: Clients, proc: Popen[bytes], name: str) -> _Samples:
    path = clients.workdir / f"latency-{name}.json"
    if proc.returncode != 0 or not path.exists():
        raise ProbeError(
            f"the latency client exited with status {proc.returncode}: {_tail(clients, name)}"
        )
    data = json.loads(path.read_text())
    return _Samples(data["start"], data["get"], data["set"])


def _tail(clients: Clients, name: str) -> str:
    path = clients.workdir / f"latency-{name}.err"
    text = path.read_text(errors="replace").strip() if path.exists() else ""
    return " / ".join(text.splitlines()[-3:]) or "no output"


def _run_saves(port: int, pid: int, seconds: float) -> _SaveLog:
    """BGSAVE back to back for ``seconds``, and at least once."""
    log = _SaveLog()
    try:
        with Connection(port) as conn:
            log.pss_before = read_pss_bytes(pid)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline or not log.intervals:
                _one_save(conn, pid, log)
    except (OSError, ReplyError) as error:
        raise ProbeError(f"during the BGSAVE phase: {error}") from None
    return log


def _one_save(conn: Connection, pid: int, log: _SaveLog) -> None:
    started = time.monotonic()
    reply = conn.call("BGSAVE")
    log.replies.append(time.monotonic() - started)
    if reply != BGSAVE_STARTED:
        raise ProbeError(f"BGSAVE answered {reply!r}")
    while True:
        total = read_pss_bytes(pid) + sum(read_pss_bytes(c) for c in child_pids(pid))
        log.pss_peak = max(log.pss_peak, total)
        if info(conn, "persistence").get("rdb_bgsave_in_progress") == "0":
            break
        time.sleep(POLL_SECONDS)
    log.intervals.append((started, time.monotonic()))
    status = info(conn, "persistence").get("rdb_last_bgsave_status")
    if status != "ok":
        raise ProbeError(f"a background save failed (rdb_last_bgsave_status {status})")
