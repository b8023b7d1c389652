"""The replicated suite's measurements: start the groups, size the runs, take turns, stop."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import asdict, dataclass, field

from bench import persistence
from bench.group_measure import (
    ClientRun,
    GroupSample,
    benchmark_result,
    measure_group,
    waitload_result,
)
from bench.groups import Group, Member, current_primary, redis_group, stop_group, tandemkv_group
from bench.loadgen import Workload, benchmark_command, requests_for
from bench.measure import MeasureError
from bench.paths import REPO_ROOT
from bench.servers import SYSTEMS, StartError, SystemSpec
from bench.suites.base import Context, Section, Suite, display_command
from bench.suites.replicated_report import ANCHOR, LABELS, render

WORKLOADS = (
    Workload(
        "c50", "-c 50", clients=50, pipeline=1, calibration_requests=10_000, quick_requests=1_000
    ),
    Workload(
        "c50-p16",
        "-c 50 -P 16",
        clients=50,
        pipeline=16,
        calibration_requests=50_000,
        quick_requests=8_000,
    ),
)
TESTS = ("set", "get")
# The SET+WAIT 1 client: as many connections as redis-benchmark's -c 50.
WAIT_WORKLOAD = "wait"
WAIT_CONNECTIONS = 50
WAIT_QUICK_REQUESTS = 500
# Both systems log every write and fsync it about once a second, on every member.
SETTING = persistence.with_fsync()[0]


@dataclass(frozen=True)
class Setup:
    """One system of this suite; ``node_args`` go to every tandemkv node."""

    key: str
    label: str
    family: str
    node_args: tuple[str, ...] = ()
    runs_wait: bool = False


SETUPS = (
    Setup(ANCHOR, LABELS[ANCHOR], "redis", runs_wait=True),
    Setup(
        "tkv-majority",
        LABELS["tkv-majority"],
        "tandemkv",
        ("--ack", "majority", "--fsync", "everysec"),
        runs_wait=True,
    ),
    Setup(
        "tkv-leader",
        LABELS["tkv-leader"],
        "tandemkv",
        ("--ack", "leader", "--fsync", "everysec"),
    ),
)


@dataclass
class ReplicatedState:
    groups: dict[str, Group] = field(default_factory=dict)
    primaries: dict[str, Member] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    requests: dict[tuple[str, str], int] = field(default_factory=dict)
    samples: list[GroupSample] = field(default_factory=list)


def run_plan(ctx: Context, suite: Suite, bench_binary: str) -> Section:
    state = ReplicatedState()
    scratch = ctx.scratch / "replicated"
    scratch.mkdir(parents=True, exist_ok=True)
    server_args = tandemkv_server_args(ctx)
    try:
        for setup in chosen_setups(ctx):
            start_group(ctx, state, setup, server_args)
        size_runs(ctx, state, bench_binary)
        for round_index in range(ctx.options.repeats):
            run_round(ctx, state, bench_binary, round_index)
    finally:
        for group in state.groups.values():
            stop_group(ctx.book, group)
    section = Section(suite.name, suite.title)
    render(ctx, section, state.samples, state.failed, server_args)
    section.raw = {
        "samples": [asdict(sample) for sample in state.samples],
        "failed": state.failed,
        "requests": {f"{s}/{w}": n for (s, w), n in state.requests.items()},
        "setting": SETTING.key,
    }
    return section


def tandemkv_server_args(ctx: Context) -> tuple[str, ...]:
    """hiredis + uvloop if that variant was asked for, else the pure-Python one."""
    for key in ("tandemkv-fast", "tandemkv-py"):
        if key in ctx.options.systems:
            return SYSTEMS[key].server_args
    return ()


def chosen_setups(ctx: Context) -> list[Setup]:
    families = {SYSTEMS[key].family for key in ctx.options.systems}
    return [setup for setup in SETUPS if setup.family in families]


def start_group(
    ctx: Context, state: ReplicatedState, setup: Setup, server_args: tuple[str, ...]
) -> None:
    home = ctx.scratch / "replicated" / setup.key
    try:
        if setup.family == "redis":
            binary = ctx.tools["redis-server"].path
            if binary is None or not ctx.tools["redis-server"].usable:
                raise StartError(ctx.tools["redis-server"].describe())
            spec = SystemSpec(setup.key, setup.label, "redis")
            group = redis_group(ctx.book, spec, home, binary, SETTING)
        else:
            spec = SystemSpec(setup.key, setup.label, "tandemkv", server_args)
            group = tandemkv_group(ctx.book, spec, home, setup.node_args)
        primary = current_primary(group)
        if primary is None:
            stop_group(ctx.book, group)
            raise StartError("no primary after the group formed")
    except StartError as error:
        state.failed[setup.key] = str(error)
        ctx.log(f"[replicated] skipping {setup.label}: {error}")
        return
    state.groups[setup.key] = group
    state.primaries[setup.key] = primary
    record_group_commands(ctx, group)
    pids = ", ".join(f"{m.name} pid {m.pid} port {m.port}" for m in group.members)
    ctx.log(f"[replicated] started {setup.label}: {pids}")


def record_group_commands(ctx: Context, group: Group) -> None:
    """Each member's command with its port shown as $P1, $P2 ... (the order of the members)."""
    names = {member.port: f"$P{index + 1}" for index, member in enumerate(group.all_processes())}
    for member in group.all_processes():
        text = display_command(member.command, ctx.scratch, None)
        for port, name in names.items():
            text = re.sub(rf"\b{port}\b", name, text)
        ctx.record_text(text)


def size_runs(ctx: Context, state: ReplicatedState, bench_binary: str) -> None:
    """Requests per run: fixed in --quick; else a warm-up SET run measures the rate."""
    for workload in WORKLOADS:
        for key in list(state.groups):
            if ctx.options.quick:
                state.requests[(key, workload.key)] = workload.quick_requests
                continue
            count = workload.calibration_requests
            sample = guarded(
                ctx, state, key, benchmark_run(bench_binary, state, key, workload, "set", count), -1
            )
            if sample is not None:
                floor = workload.calibration_requests // 4
                count = requests_for(sample.rps, ctx.options.duration, floor)
                state.requests[(key, workload.key)] = count


def run_round(ctx: Context, state: ReplicatedState, bench_binary: str, round_index: int) -> None:
    """One pass over every load and command, the systems taking turns (A B C A B C ...)."""
    keys = list(state.groups)
    shift = round_index % len(keys) if keys else 0
    order = keys[shift:] + keys[:shift]
    for workload in WORKLOADS:
        for test in TESTS:
            for key in order:
                requests = state.requests.get((key, workload.key))
                if key in state.groups and requests is not None:
                    client = benchmark_run(bench_binary, state, key, workload, test, requests)
                    keep(state, guarded(ctx, state, key, client, round_index))
    for key in order:
        setup = next(s for s in SETUPS if s.key == key)
        if setup.runs_wait and key in state.groups:
            keep(state, guarded(ctx, state, key, wait_run(ctx, state, key), round_index))


def keep(state: ReplicatedState, sample: GroupSample | None) -> None:
    if sample is not None:
        state.samples.append(sample)


def benchmark_run(
    binary: str, state: ReplicatedState, key: str, workload: Workload, test: str, requests: int
) -> ClientRun:
    port = state.primaries[key].port
    command = benchmark_command(binary, port, test, requests, workload)
    return ClientRun(command, workload.key, test.upper(), benchmark_result(requests))


def wait_run(ctx: Context, state: ReplicatedState, key: str) -> ClientRun:
    port = state.primaries[key].port
    limit = (
        ["--requests", str(WAIT_QUICK_REQUESTS)]
        if ctx.options.quick
        else ["--seconds", str(ctx.options.duration)]
    )
    command = [
        sys.executable,
        "-m",
        "bench.waitload",
        "--port",
        str(port),
        "--connections",
        str(WAIT_CONNECTIONS),
        *limit,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return ClientRun(command, WAIT_WORKLOAD, "SET+WAIT", waitload_result, env)


def guarded(
    ctx: Context, state: ReplicatedState, key: str, client: ClientRun, round_index: int
) -> GroupSample | None:
    """Measure once; a failure drops the system from the rest of the suite, with the reason."""
    group = state.groups[key]
    scratch = ctx.scratch / "replicated" / "clients"
    scratch.mkdir(parents=True, exist_ok=True)
    timeout = 60.0 if ctx.options.quick else max(300.0, ctx.options.duration * 30)
    label = "warm-up" if round_index < 0 else f"round {round_index + 1}/{ctx.options.repeats}"
    primary = state.primaries[key]
    try:
        sample = measure_group(ctx.book, group, primary.pid, client, scratch, timeout, round_index)
    except MeasureError as error:
        state.failed[key] = f"failed during {client.workload} {client.test}: {error}"
        ctx.log(f"[replicated] dropping {group.label}: {state.failed[key]}")
        stop_group(ctx.book, state.groups.pop(key))
        return None
    ctx.record_command(client.command)
    ctx.log(
        f"[replicated] {label} {client.workload} {client.test} {group.label}: "
        f"{sample.rps:,.0f} req/s, {sample.cpu_us_per_request:.1f} us CPU/req "
        f"(primary {sample.primary_us_per_request:.1f})"
    )
    return sample
