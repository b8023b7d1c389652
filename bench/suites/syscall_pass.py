"""System calls per request, counted with strace under redis-benchmark -c 50, per system."""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench import persistence
from bench.loadgen import Workload
from bench.measure import MeasureError, Run, measure
from bench.servers import RunningServer, StartError, SystemSpec, start_system
from bench.suites.base import Context
from bench.syscalls import count_calls, strace_command

LOAD = Workload(
    "c50", "-c 50", clients=50, pipeline=1, calibration_requests=2_000, quick_requests=500
)
TRACED_REQUESTS = 10_000
TESTS = ("set", "get")
ATTACH_WAIT = 0.5


@dataclass
class SyscallRun:
    spec: SystemSpec
    # test ("SET"/"GET") -> "name (target)" -> calls per request
    per_request: dict[str, dict[str, float]] = field(default_factory=dict)
    error: str | None = None


def trace_systems(ctx: Context, specs: Sequence[SystemSpec], bench_binary: str) -> list[SyscallRun]:
    strace = ctx.tools["strace"]
    if strace.path is None or not strace.usable:
        ctx.log(f"[profile] no system call counts: {strace.describe()}")
        return []
    return [trace_system(ctx, spec, bench_binary, strace.path) for spec in specs]


def trace_system(
    ctx: Context, spec: SystemSpec, bench_binary: str, strace_binary: str
) -> SyscallRun:
    result = SyscallRun(spec)
    scratch = ctx.scratch / "syscalls" / spec.key
    scratch.mkdir(parents=True, exist_ok=True)
    run = Run(bench_binary, scratch, 300.0)
    try:
        server = start_system(
            ctx.book, spec, scratch / "server", persistence.off(), ctx.tools["redis-server"].path
        )
    except StartError as error:
        result.error = str(error)
        return result
    ctx.record_command(server.command, scratch / "server")
    try:
        measure(ctx.book, run, server, LOAD, "set", LOAD.calibration_requests, -1)
        for test in TESTS:
            result.per_request[test.upper()] = traced_run(ctx, run, server, test, strace_binary)
    except MeasureError as error:
        result.error = str(error)
    finally:
        ctx.book.stop(server.proc)
    return result


def traced_run(
    ctx: Context, run: Run, server: RunningServer, test: str, strace_binary: str
) -> dict[str, float]:
    requests = LOAD.quick_requests if ctx.options.quick else TRACED_REQUESTS
    output = run.scratch / f"strace-{test}.txt"
    command = strace_command(strace_binary, server.pid, output)
    tracer = ctx.book.spawn(command, cwd=run.scratch, log_stem=f"strace-{test}")
    ctx.record_command(command, run.scratch)
    try:
        time.sleep(ATTACH_WAIT)  # strace attaches asynchronously; idle calls are few
        measure(ctx.book, run, server, LOAD, test, requests, 0)
    finally:
        ctx.book.stop(tracer, sig=signal.SIGINT, timeout=30)
    counts = count_calls(output.read_text(errors="replace"))
    ctx.log(
        f"[profile] {server.spec.label} {test.upper()}: {counts.total() / requests:.2f} "
        "system calls per request"
    )
    return {name: calls / requests for name, calls in counts.most_common()}
