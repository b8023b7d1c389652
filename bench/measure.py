"""One measurement: a redis-benchmark run against a server, with both processes' CPU time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen import Workload, benchmark_command, parse_csv
from bench.procs import ProcessBook
from bench.procstat import (
    read_cpu_times,
    read_machine_busy_seconds,
    reaped_children_cpu_seconds,
)
from bench.servers import RunningServer


class MeasureError(Exception):
    """A run produced no usable figure (server died, client failed); the message says why."""


@dataclass(frozen=True)
class Sample:
    system: str
    workload: str
    test: str
    round: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_user_s: float
    server_system_s: float
    client_cpu_s: float
    machine_cpu_s: float
    wall_s: float

    @property
    def server_cpu_s(self) -> float:
        return self.server_user_s + self.server_system_s

    @property
    def server_kernel_share(self) -> float:
        """The part of the server's CPU time spent in the kernel (system calls, networking)."""
        return self.server_system_s / self.server_cpu_s if self.server_cpu_s else 0.0

    @property
    def server_cpu_us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6

    @property
    def client_cpu_us_per_request(self) -> float:
        return self.client_cpu_s / self.requests * 1e6

    @property
    def server_busy(self) -> float:
        """Server CPU seconds per wall second: 1.0 means it kept one core fully busy."""
        return self.server_cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def client_busy(self) -> float:
        return self.client_cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def others_busy(self) -> float:
        """Cores kept busy by everything else on the machine during the run (noise)."""
        others = self.machine_cpu_s - self.server_cpu_s - self.client_cpu_s
        return max(others, 0.0) / self.wall_s if self.wall_s else 0.0


@dataclass(frozen=True)
class Run:
    """What to run: where the output goes and how long the client may take."""

    binary: str
    scratch: Path
    timeout: float


def measure(
    book: ProcessBook,
    run: Run,
    server: RunningServer,
    workload: Workload,
    test: str,
    requests: int,
    round_index: int,
) -> Sample:
    if not server.alive():
        raise MeasureError(f"{server.spec.label} exited: {server.stderr_tail()}")
    command = benchmark_command(run.binary, server.port, test, requests, workload)
    server_before = read_cpu_times(server.pid)
    client_before = reaped_children_cpu_seconds()
    machine_before = read_machine_busy_seconds()
    started = time.monotonic()
    proc = book.spawn(command, cwd=run.scratch, log_stem="redis-benchmark")
    code = book.wait(proc, run.timeout)
    wall = time.monotonic() - started
    client_cpu = reaped_children_cpu_seconds() - client_before
    machine_cpu = read_machine_busy_seconds() - machine_before
    if not server.alive():
        raise MeasureError(f"{server.spec.label} exited under load: {server.stderr_tail()}")
    server_cpu = read_cpu_times(server.pid) - server_before
    output = (run.scratch / "redis-benchmark.out").read_text(errors="replace")
    if code != 0:
        errors = (run.scratch / "redis-benchmark.err").read_text(errors="replace")
        raise MeasureError(f"redis-benchmark exited {code}: {(errors or output).strip()[-300:]}")
    try:
        result = parse_csv(output)[0]
    except ValueError as error:
        raise MeasureError(str(error)) from None
    return Sample(
        system=server.spec.key,
        workload=workload.key,
        test=test.upper(),
        round=round_index,
        requests=requests,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        server_user_s=server_cpu.user,
        server_system_s=server_cpu.system,
        client_cpu_s=client_cpu,
        machine_cpu_s=machine_cpu,
        wall_s=wall,
    )
