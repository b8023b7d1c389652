"""The profile suite: where tandemkv's CPU goes per request, per command and client shape.

Each recording profiles one (load, command) pair, so per-request costs are not averaged
across SET and GET, and the pipelined load shows the per-command cost without the per-request
system calls.
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import persistence
from bench.loadgen import Workload, benchmark_command, requests_for
from bench.measure import MeasureError, Run, Sample, measure
from bench.persistence import Persistence
from bench.profiles import Profile, load_cprofile, parse_pyspy_raw
from bench.servers import SYSTEMS, RunningServer, StartError, SystemSpec, start_tandemkv
from bench.suites.base import Context, Section, Suite
from bench.suites.profile_report import render_profiles
from bench.suites.syscall_pass import trace_systems

LOADS = (
    Workload(
        "c50", "-c 50", clients=50, pipeline=1, calibration_requests=20_000, quick_requests=2_000
    ),
    Workload(
        "c50-p16",
        "-c 50 -P 16",
        clients=50,
        pipeline=16,
        calibration_requests=100_000,
        quick_requests=16_000,
    ),
)
TESTS = ("set", "get")
SAMPLE_RATE = 250
PYSPY_START_TIMEOUT = 15.0


class ProfileError(Exception):
    """The profiler could not run; the message says why."""


@dataclass(frozen=True)
class Step:
    setting: Persistence
    workload: Workload
    test: str


@dataclass(frozen=True)
class Recording:
    step: Step
    sample: Sample
    profile: Profile

    @property
    def label(self) -> str:
        setting = "" if self.step.setting.key == "off" else f", log {self.step.setting.key}"
        return f"{self.step.workload.title} {self.sample.test}{setting}"


@dataclass
class ProfiledRun:
    spec: SystemSpec
    profiler: str
    recordings: list[Recording] = field(default_factory=list)
    error: str | None = None


def run_profile(ctx: Context) -> Section:
    bench = ctx.tools["redis-benchmark"]
    if bench.path is None or not bench.usable:
        reason = f"needs redis-benchmark 7: {bench.describe()}"
        return Section(SUITE.name, SUITE.title, skipped=reason)
    specs = [SYSTEMS[k] for k in ctx.options.systems if SYSTEMS[k].family == "tandemkv"]
    if not specs:
        return Section(SUITE.name, SUITE.title, skipped="no tandemkv system was selected")
    runs = [profile_system(ctx, spec, bench.path) for spec in specs]
    traced = [SYSTEMS[k] for k in ctx.options.systems if SYSTEMS[k].family == "redis"] + specs
    syscall_runs = trace_systems(ctx, traced, bench.path)
    return render_profiles(SUITE, ctx, runs, syscall_runs, SAMPLE_RATE)


def profile_system(ctx: Context, spec: SystemSpec, bench_binary: str) -> ProfiledRun:
    """Profile with py-spy (sampling, out of process) if it works here, else cProfile."""
    scratch = ctx.scratch / "profile" / spec.key
    scratch.mkdir(parents=True, exist_ok=True)
    run = Run(bench_binary, scratch, 60.0 if ctx.options.quick else 600.0)
    pyspy = ctx.tools["py-spy"]
    try:
        if pyspy.usable and pyspy.path is not None:
            try:
                return with_pyspy(ctx, spec, run, pyspy.path)
            except ProfileError as error:
                ctx.log(f"[profile] py-spy failed ({error}); falling back to cProfile")
        else:
            ctx.log(f"[profile] {pyspy.describe()}; using cProfile")
        return with_cprofile(ctx, spec, run)
    except StartError as error:
        return ProfiledRun(spec, "none", error=str(error))
    except MeasureError as error:
        return ProfiledRun(spec, "none", error=f"the load failed: {error}")


def plan() -> list[Step]:
    """Every (setting, load, command) to record: persistence off, and SET with the log on."""
    off = persistence.off()
    steps = [Step(off, workload, test) for workload in LOADS for test in TESTS]
    logged = persistence.with_fsync()[0]  # everysec, tandemkv's default
    if logged.tandemkv_args is not None:
        steps += [Step(logged, workload, "set") for workload in LOADS]
    return steps


def with_pyspy(ctx: Context, spec: SystemSpec, run: Run, binary: str) -> ProfiledRun:
    result = ProfiledRun(spec, "py-spy")
    steps = plan()
    for setting in dict.fromkeys(step.setting for step in steps):
        server = start_server(ctx, spec, run.scratch / f"pyspy-{setting.key}", setting)
        try:
            sizes: dict[str, int] = {}
            for step in (s for s in steps if s.setting == setting):
                workload, test = step.workload, step.test
                if workload.key not in sizes:
                    sizes[workload.key] = warm_up(ctx, run, server, workload)
                output = run.scratch / f"pyspy-{setting.key}-{workload.key}-{test}.txt"
                sample = pyspy_recording(
                    ctx, run, server, binary, output, workload, test, sizes[workload.key]
                )
                profile = parse_pyspy_raw(output.read_text(errors="replace"))
                result.recordings.append(Recording(step, sample, profile))
        finally:
            ctx.book.stop(server.proc)
    return result


def pyspy_recording(
    ctx: Context,
    run: Run,
    server: RunningServer,
    binary: str,
    output: Path,
    workload: Workload,
    test: str,
    requests: int,
) -> Sample:
    command = [
        binary,
        "record",
        "--pid",
        str(server.pid),
        "--rate",
        str(SAMPLE_RATE),
        "--format",
        "raw",
        "--output",
        str(output),
        "--nonblocking",
    ]
    profiler = ctx.book.spawn(command, cwd=run.scratch, log_stem="pyspy")
    ctx.record_command(command, run.scratch)
    try:
        wait_for_pyspy(profiler, run.scratch)
        sample = apply_load(ctx, run, server, workload, test, requests)
    finally:
        # py-spy writes its output when interrupted.
        ctx.book.stop(profiler, sig=signal.SIGINT, timeout=60)
    if not output.exists():
        raise ProfileError("py-spy wrote no output")
    return sample


def wait_for_pyspy(profiler: subprocess.Popen[bytes], scratch: Path) -> None:
    deadline = time.monotonic() + PYSPY_START_TIMEOUT
    while time.monotonic() < deadline:
        text = (scratch / "pyspy.out").read_text(errors="replace")
        text += (scratch / "pyspy.err").read_text(errors="replace")
        if "Sampling process" in text:
            return
        if profiler.poll() is not None:
            raise ProfileError(text.strip()[-300:] or "py-spy exited")
        time.sleep(0.05)
    raise ProfileError("py-spy did not start sampling")


def with_cprofile(ctx: Context, spec: SystemSpec, run: Run) -> ProfiledRun:
    """cProfile writes its stats when the server exits: one server per recording."""
    result = ProfiledRun(spec, "cProfile")
    for step in plan():
        name = f"cprofile-{step.setting.key}-{step.workload.key}-{step.test}"
        output = run.scratch / f"{name}.prof"
        prefix = ("-m", "cProfile", "-o", str(output))
        server = start_server(ctx, spec, run.scratch / name, step.setting, prefix)
        try:
            requests = warm_up(ctx, run, server, step.workload)
            sample = apply_load(ctx, run, server, step.workload, step.test, requests)
        finally:
            # SIGTERM: the server shuts down cleanly, then cProfile writes its file.
            ctx.book.stop(server.proc)
        if not output.exists():
            raise StartError("cProfile wrote no output")
        result.recordings.append(Recording(step, sample, load_cprofile(output)))
    return result


def start_server(
    ctx: Context,
    spec: SystemSpec,
    workdir: Path,
    setting: Persistence,
    prefix: tuple[str, ...] = (),
) -> RunningServer:
    server = start_tandemkv(ctx.book, spec, workdir, setting, prefix)
    ctx.record_command(server.command, workdir)
    ctx.log(f"[profile] started {spec.label} ({setting.key}) pid {server.pid} port {server.port}")
    return server


def warm_up(ctx: Context, run: Run, server: RunningServer, workload: Workload) -> int:
    """A short run that warms the server up and measures the rate that sizes the real runs."""
    if ctx.options.quick:
        return workload.quick_requests
    sample = measure(ctx.book, run, server, workload, "set", workload.calibration_requests, -1)
    return requests_for(sample.rps, ctx.options.duration * 2, workload.calibration_requests // 4)


def apply_load(
    ctx: Context, run: Run, server: RunningServer, workload: Workload, test: str, requests: int
) -> Sample:
    sample = measure(ctx.book, run, server, workload, test, requests, 0)
    ctx.record_command(benchmark_command(run.binary, server.port, test, requests, workload))
    ctx.log(
        f"[profile] {server.spec.label} {workload.title} {test.upper()}: "
        f"{sample.rps:,.0f} req/s, {sample.server_cpu_us_per_request:.1f} us CPU/req"
    )
    return sample


SUITE = Suite(
    name="profile",
    title="Profile: where tandemkv's CPU goes per request",
    description="py-spy (or cProfile) on the server under redis-benchmark -c 50 (and -P 16), "
    "SET and GET recorded apart; strace counts of system calls per request",
    run=run_profile,
)
