"""One measurement against a replication group: a client run, with every member's CPU time.

The client is redis-benchmark or the SET+WAIT client (bench/waitload.py), always aimed at the
primary; CPU per request is summed over the primary and its replicas, since a replicated
write costs all of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.groups import Group
from bench.loadgen import parse_csv
from bench.measure import MeasureError
from bench.procs import ProcessBook
from bench.procstat import (
    CpuTimes,
    read_cpu_times,
    read_machine_busy_seconds,
    reaped_children_cpu_seconds,
)


@dataclass(frozen=True)
class ClientResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class GroupSample:
    system: str
    workload: str
    test: str
    round: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    user_s: float  # all members of the group
    system_s: float
    primary_s: float  # the primary alone
    client_cpu_s: float
    machine_cpu_s: float
    wall_s: float

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.system_s

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / self.requests * 1e6

    @property
    def primary_us_per_request(self) -> float:
        return self.primary_s / self.requests * 1e6

    @property
    def replicas_us_per_request(self) -> float:
        return (self.cpu_s - self.primary_s) / self.requests * 1e6

    @property
    def client_us_per_request(self) -> float:
        return self.client_cpu_s / self.requests * 1e6

    @property
    def primary_busy(self) -> float:
        """Primary CPU seconds per wall second: 1.0 is one core kept fully busy."""
        return self.primary_s / self.wall_s if self.wall_s else 0.0

    @property
    def replicas_busy(self) -> float:
        return (self.cpu_s - self.primary_s) / self.wall_s if self.wall_s else 0.0

    @property
    def client_busy(self) -> float:
        return self.client_cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def others_busy(self) -> float:
        """Cores kept busy by everything else on the machine during the run (noise)."""
        others = self.machine_cpu_s - self.cpu_s - self.client_cpu_s
        return max(others, 0.0) / self.wall_s if self.wall_s else 0.0


@dataclass(frozen=True)
class ClientRun:
    """One client process to run against the group's primary."""

    command: list[str]
    workload: str
    test: str
    parse: Callable[[str], ClientResult]
    env: dict[str, str] | None = None


def benchmark_result(requests: int) -> Callable[[str], ClientResult]:
    def parse(output: str) -> ClientResult:
        row = parse_csv(output)[0]
        return ClientResult(requests, row.rps, row.p50_ms, row.p99_ms)

    return parse


def waitload_result(output: str) -> ClientResult:
    """The last line of bench/waitload.py's output: a JSON object."""
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if not lines:
        raise ValueError(f"no result line in the WAIT client's output: {output.strip()[-300:]!r}")
    data = json.loads(lines[-1])
    if data.get("errors"):
        raise ValueError(f"the WAIT client saw {data['errors']} errors: {data.get('first_error')}")
    return ClientResult(int(data["writes"]), float(data["rps"]), data["p50_ms"], data["p99_ms"])


def measure_group(
    book: ProcessBook,
    group: Group,
    primary_pid: int,
    client: ClientRun,
    scratch: Path,
    timeout: float,
    round_index: int,
) -> GroupSample:
    pids = group.pids()
    before = _cpu_of(group, pids)
    client_before = reaped_children_cpu_seconds()
    machine_before = read_machine_busy_seconds()
    started = time.monotonic()
    proc = book.spawn(client.command, cwd=scratch, log_stem="client", env=client.env)
    code = book.wait(proc, timeout)
    wall = time.monotonic() - started
    client_cpu = reaped_children_cpu_seconds() - client_before
    machine_cpu = read_machine_busy_seconds() - machine_before
    after = _cpu_of(group, pids)
    output = (scratch / "client.out").read_text(errors="replace")
    if code != 0:
        errors = (scratch / "client.err").read_text(errors="replace")
        raise MeasureError(f"the client exited {code}: {(errors or output).strip()[-300:]}")
    try:
        result = client.parse(output)
    except (ValueError, KeyError) as error:
        raise MeasureError(str(error)) from None
    spent = {pid: after[pid] - before[pid] for pid in pids}
    return GroupSample(
        system=group.key,
        workload=client.workload,
        test=client.test,
        round=round_index,
        requests=result.requests,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        user_s=sum(t.user for t in spent.values()),
        system_s=sum(t.system for t in spent.values()),
        primary_s=spent[primary_pid].total,
        client_cpu_s=client_cpu,
        machine_cpu_s=machine_cpu,
        wall_s=wall,
    )


def _cpu_of(group: Group, pids: Sequence[int]) -> dict[int, CpuTimes]:
    dead = [m.name for m in group.members if not m.alive()]
    if dead:
        raise MeasureError(f"{group.label}: {', '.join(dead)} exited")
    return {pid: read_cpu_times(pid) for pid in pids}
