"""redis-benchmark as the load generator: its command line and its --csv output."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from bench.servers import HOST

_COLUMNS = ("test", "rps", "p50_latency_ms", "p99_latency_ms")


@dataclass(frozen=True)
class Workload:
    """One redis-benchmark client shape; request counts scale to a target duration."""

    key: str
    title: str
    clients: int
    pipeline: int
    # Requests for the warm-up run that also measures the rate used to size real runs.
    calibration_requests: int
    # Requests per run in --quick mode (a smoke run: no calibration, no timing claims).
    quick_requests: int

    def args(self) -> list[str]:
        pipeline = ["-P", str(self.pipeline)] if self.pipeline > 1 else []
        return ["-c", str(self.clients), *pipeline]


@dataclass(frozen=True)
class LoadResult:
    test: str
    rps: float
    p50_ms: float
    p99_ms: float


def benchmark_command(
    binary: str,
    port: int,
    test: str,
    requests: int,
    workload: Workload,
    extra: Sequence[str] = (),
) -> list[str]:
    """`extra`: more redis-benchmark options (--tls --cacert ... for bench/tls_cost.py)."""
    return [
        binary,
        "-h",
        HOST,
        "-p",
        str(port),
        "-t",
        test,
        "-n",
        str(requests),
        *workload.args(),
        *extra,
        "--csv",
    ]


def parse_csv(text: str) -> list[LoadResult]:
    """Rows of redis-benchmark 7's --csv output (header: test, rps, ..., p50, ..., p99, ...)."""
    lines = [line for line in text.splitlines() if line.startswith('"')]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    if not rows or any(column not in rows[0] for column in _COLUMNS):
        raise ValueError(f"unexpected redis-benchmark output: {text.strip()[:300]!r}")
    return [
        LoadResult(
            test=row["test"],
            rps=float(row["rps"]),
            p50_ms=float(row["p50_latency_ms"]),
            p99_ms=float(row["p99_latency_ms"]),
        )
        for row in rows
    ]


def requests_for(rate: float, seconds: float, floor: int) -> int:
    """A round request count that takes about ``seconds`` at ``rate`` (never below ``floor``)."""
    wanted = max(floor, int(rate * seconds))
    magnitude = int(10 ** max(len(str(wanted)) - 2, 0))
    return max(floor, round(wanted / magnitude) * magnitude)
