"""The single-node suite: SET/GET under redis-benchmark, tandemkv against Redis, interleaved."""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field

from bench import markdown, persistence
from bench.loadgen import Workload, benchmark_command, requests_for
from bench.measure import MeasureError, Run, Sample, measure
from bench.persistence import STORAGE_REASON, Persistence
from bench.servers import (
    SYSTEMS,
    RunningServer,
    StartError,
    SystemSpec,
    start_system,
    stop_server,
)
from bench.suites.base import Context, Section, Suite
from bench.suites.single_report import TARGETS, render_variant

WORKLOADS = (
    Workload(
        "c50", "-c 50", clients=50, pipeline=1, calibration_requests=20_000, quick_requests=2_000
    ),
    Workload(
        "c50-p16",
        "-c 50 -P 16",
        clients=50,
        pipeline=16,
        calibration_requests=200_000,
        quick_requests=16_000,
    ),
    Workload("c1", "-c 1", clients=1, pipeline=1, calibration_requests=2_000, quick_requests=500),
)
TESTS = ("set", "get")
FAMILIES = ("redis", "tandemkv")


@dataclass
class SingleState:
    servers: dict[str, RunningServer] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    requests: dict[tuple[str, str], int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)


def run_single(ctx: Context) -> Section:
    bench = ctx.tools["redis-benchmark"]
    if bench.path is None or not bench.usable:
        reason = f"needs redis-benchmark 7: {bench.describe()}"
        return Section(SUITE.name, SUITE.title, skipped=reason)
    section = Section(SUITE.name, SUITE.title)
    rows: list[list[str]] = []
    for variant in chosen_variants(ctx):
        if variant.tandemkv_args is None:
            section.markdown += ["", f"### {variant.title}", "", f"Skipped: {STORAGE_REASON}."]
            rows.append(
                [variant.title, "-", f"skipped: {STORAGE_REASON}", *("" for _ in TARGETS[1:])]
            )
            continue
        state = run_variant(ctx, variant, bench.path)
        part = render_variant(ctx, variant, state.samples, state.failed, WORKLOADS)
        section.markdown += part.markdown
        rows += part.summary_rows
        section.charts += part.charts
        section.raw[variant.key] = raw(state)
    headers = ["Single node", "System", *(target.text for target in TARGETS)]
    section.summary = markdown.table(headers, rows, "l" * len(headers))
    return section


def chosen_variants(ctx: Context) -> list[Persistence]:
    variants = (persistence.off(), *persistence.with_fsync())
    return [variant for variant in variants if variant.key in ctx.options.persistence]


def run_variant(ctx: Context, variant: Persistence, bench_binary: str) -> SingleState:
    state = SingleState()
    specs = select_systems(ctx, state)
    scratch = ctx.scratch / "single" / variant.key
    scratch.mkdir(parents=True, exist_ok=True)
    timeout = 60.0 if ctx.options.quick else max(300.0, ctx.options.duration * 30)
    run = Run(bench_binary, scratch, timeout)
    try:
        start_all(ctx, specs, state, variant)
        size_runs(ctx, run, state)
        for round_index in range(ctx.options.repeats):
            run_round(ctx, run, state, round_index)
    finally:
        for server in state.servers.values():
            stop_server(ctx.book, server)
    return state


def select_systems(ctx: Context, state: SingleState) -> list[SystemSpec]:
    """The asked-for systems this suite compares; the others are noted with a reason."""
    specs = []
    for key in ctx.options.systems:
        spec = SYSTEMS[key]
        if spec.family not in FAMILIES:
            continue
        reason = unavailable_reason(ctx, spec)
        if reason is None:
            specs.append(spec)
        else:
            state.failed[key] = reason
            ctx.log(f"[single] skipping {spec.label}: {reason}")
    return specs


def unavailable_reason(ctx: Context, spec: SystemSpec) -> str | None:
    if spec.family == "redis":
        tool = ctx.tools["redis-server"]
        return None if tool.usable else tool.describe()
    if "hiredis" in spec.server_args or "uvloop" in spec.server_args:
        missing = [m for m in ("hiredis", "uvloop") if importlib.util.find_spec(m) is None]
        if missing:
            return f"needs the fast extra ({', '.join(missing)}): pip install 'tandemkv[fast]'"
    return None


def start_all(
    ctx: Context, specs: list[SystemSpec], state: SingleState, variant: Persistence
) -> None:
    for spec in specs:
        workdir = ctx.scratch / "single" / variant.key / spec.key
        try:
            server = start_system(ctx.book, spec, workdir, variant, ctx.tools["redis-server"].path)
        except StartError as error:
            state.failed[spec.key] = str(error)
            ctx.log(f"[single] skipping {spec.label}: {error}")
            continue
        ctx.record_command(server.command, workdir)
        state.servers[spec.key] = server
        ctx.log(f"[single] started {spec.label} pid {server.pid} port {server.port}")


def size_runs(ctx: Context, run: Run, state: SingleState) -> None:
    """Pick each run's request count; outside --quick, a warm-up run measures the rate."""
    for workload in WORKLOADS:
        for key in list(state.servers):
            if ctx.options.quick:
                state.requests[(key, workload.key)] = workload.quick_requests
                continue
            sample = guarded_measure(
                ctx, run, state, key, workload, "set", workload.calibration_requests, -1
            )
            if sample is not None:
                floor = workload.calibration_requests // 4
                count = requests_for(sample.rps, ctx.options.duration, floor)
                state.requests[(key, workload.key)] = count


def run_round(ctx: Context, run: Run, state: SingleState, round_index: int) -> None:
    """One pass over every workload and test, the systems taking turns (A B A B ...)."""
    keys = list(state.servers)
    shift = round_index % len(keys) if keys else 0
    order = keys[shift:] + keys[:shift]
    for workload in WORKLOADS:
        for test in TESTS:
            for key in order:
                requests = state.requests.get((key, workload.key))
                if key in state.servers and requests is not None:
                    sample = guarded_measure(
                        ctx, run, state, key, workload, test, requests, round_index
                    )
                    if sample is not None:
                        state.samples.append(sample)


def guarded_measure(
    ctx: Context,
    run: Run,
    state: SingleState,
    key: str,
    workload: Workload,
    test: str,
    requests: int,
    round_index: int,
) -> Sample | None:
    """Measure once; a failure drops the system from the rest of the suite, with the reason."""
    server = state.servers[key]
    label = "warm-up" if round_index < 0 else f"round {round_index + 1}/{ctx.options.repeats}"
    try:
        sample = measure(ctx.book, run, server, workload, test, requests, round_index)
    except MeasureError as error:
        state.failed[key] = f"failed during {workload.title} {test.upper()}: {error}"
        ctx.log(f"[single] dropping {server.spec.label}: {state.failed[key]}")
        stop_server(ctx.book, state.servers.pop(key))
        return None
    ctx.record_command(benchmark_command(run.binary, server.port, test, requests, workload))
    ctx.log(
        f"[single] {label} {workload.title} {test.upper()} {server.spec.label}: "
        f"{sample.rps:,.0f} req/s, {sample.server_cpu_us_per_request:.1f} us CPU/req"
    )
    return sample


def raw(state: SingleState) -> dict[str, object]:
    return {
        "samples": [asdict(sample) for sample in state.samples],
        "failed": state.failed,
        "requests": {f"{s}/{w}": n for (s, w), n in state.requests.items()},
    }


SUITE = Suite(
    name="single",
    title="Single node: SET/GET throughput, latency and CPU per request",
    description="redis-benchmark -c 50, -c 50 -P 16 and -c 1 against tandemkv and Redis",
    run=run_single,
)
