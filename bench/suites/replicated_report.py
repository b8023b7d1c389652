"""The replicated suite's tables, target verdicts and charts, from its samples."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench import charts, markdown
from bench.group_measure import GroupSample
from bench.stats import Summary, ratio, summarize
from bench.suites.base import Context, Section

BUSY_MACHINE = 0.25
ANCHOR = "redis-2r"
LABELS = {
    ANCHOR: "Redis + 2 replicas",
    "tkv-majority": "tandemkv 3 nodes, --ack majority",
    "tkv-leader": "tandemkv 3 nodes, --ack leader",
}
LOADS = {"c50": "-c 50", "c50-p16": "-c 50 -P 16", "wait": "SET+WAIT 1 0, 50 connections"}
TESTS = ("SET", "GET", "SET+WAIT")


@dataclass(frozen=True)
class Target:
    system: str
    workload: str
    bound: float
    text: str


TARGETS = (
    Target(
        "tkv-majority", "c50", 0.5, "SET req/s at -c 50, --ack majority ≥ 0.5x Redis + 2 replicas"
    ),
    Target("tkv-leader", "c50", 0.8, "SET req/s at -c 50, --ack leader ≥ 0.8x Redis + 2 replicas"),
    Target(
        "tkv-majority",
        "c50-p16",
        0.5,
        "SET req/s at -c 50 -P 16, --ack majority ≥ 0.5x Redis + 2 replicas",
    ),
    Target(
        "tkv-leader",
        "c50-p16",
        0.8,
        "SET req/s at -c 50 -P 16, --ack leader ≥ 0.8x Redis + 2 replicas",
    ),
)


@dataclass(frozen=True)
class Cell:
    """The repeats of one (system, load, command)."""

    rps: Summary
    cpu_us: Summary
    p50_ms: float
    p99_ms: float
    primary_us: float
    replicas_us: float
    primary_busy: float
    replicas_busy: float
    client_busy: float
    client_us: float
    others_busy: float
    requests: int


Key = tuple[str, str, str]


def collect(samples: Sequence[GroupSample]) -> dict[Key, Cell]:
    grouped: dict[Key, list[GroupSample]] = {}
    for sample in samples:
        grouped.setdefault((sample.system, sample.workload, sample.test), []).append(sample)
    return {key: _cell(group) for key, group in grouped.items()}


def _cell(group: list[GroupSample]) -> Cell:
    def median(values: Sequence[float]) -> float:
        return statistics.median(values)

    return Cell(
        rps=summarize([s.rps for s in group]),
        cpu_us=summarize([s.cpu_us_per_request for s in group]),
        p50_ms=median([s.p50_ms for s in group]),
        p99_ms=median([s.p99_ms for s in group]),
        primary_us=median([s.primary_us_per_request for s in group]),
        replicas_us=median([s.replicas_us_per_request for s in group]),
        primary_busy=median([s.primary_busy for s in group]),
        replicas_busy=median([s.replicas_busy for s in group]),
        client_busy=median([s.client_busy for s in group]),
        client_us=median([s.client_us_per_request for s in group]),
        others_busy=median([s.others_busy for s in group]),
        requests=int(median([s.requests for s in group])),
    )


def render(
    ctx: Context,
    section: Section,
    samples: Sequence[GroupSample],
    failed: dict[str, str],
    server_args: Sequence[str],
) -> None:
    cells = collect(samples)
    systems = [key for key in LABELS if any(k[0] == key for k in cells)]
    lines = section.markdown
    lines += _setup(ctx, server_args)
    lines += _contention(samples)
    lines += ["", "### Targets", ""]
    lines += target_table(cells)
    lines += ["", "### Throughput and latency", ""]
    lines += throughput_table(cells, systems)
    lines += ["", "### CPU per request, all processes of each system", ""]
    lines += cpu_table(cells, systems)
    lines += ["", *_failures(failed)]
    lines += _charts(ctx, section, cells, systems)
    section.summary = summary_table(cells)


def _setup(ctx: Context, server_args: Sequence[str]) -> list[str]:
    variant = f"`{' '.join(server_args)}`" if server_args else "the default parser and loop"
    etcd = ctx.tools["etcd"]
    etcd_line = (
        f"etcd: not measured, {etcd.describe()}; Debian packages it as `etcd-server` and "
        "`etcd-client` (not installed by this harness)."
        if not etcd.usable
        else f"etcd: found ({etcd.describe()}), but this suite does not drive it yet."
    )
    return [
        "Three processes per system on this one machine, over loopback. **tandemkv**: a group "
        "started as `--role primary` plus two `--role backup --primary` nodes, each with "
        f"`--fsync everysec` and {variant}; heartbeat and election timing at their defaults "
        "(100 ms / 400 ms). With `--ack majority` a write is answered once a majority (the "
        "primary and one backup) stored it; with `--ack leader`, once the primary did. GETs "
        "are served by the primary after it confirms its leadership (`--read-mode index`, the "
        "default). **Redis**: one `redis-server` plus two started with `--replicaof`, every "
        "one with `appendonly yes` and `appendfsync everysec` (the same persistence as "
        "tandemkv's `--fsync everysec`); Redis replies before any replica has the write.",
        "",
        "*SET+WAIT 1 0*: `python3 -m bench.waitload` (in this repository: one process, asyncio "
        "on uvloop, 50 connections, each sending SET and `WAIT 1 0` together and waiting for "
        "both replies before its next write), so a write counts only once a replica holds it. "
        "Against tandemkv majority the WAIT returns at once (the SET already waited for a "
        "backup): the two rows compare the same guarantee.",
        "",
        f"Each figure is the median of {ctx.options.repeats} run(s), the systems taking turns "
        "(A B C A B C ...), each run sized to about "
        f"{ctx.options.duration:g} s. *range* is (max - min) / median. CPU is utime + stime "
        "from `/proc/<pid>/stat` summed over the three data processes of the system, before "
        "and after each run, divided by the requests it sent; *primary* and *replicas* split "
        "it. *busy* is CPU seconds per wall-clock second (1.00 = one core).",
        "",
        etcd_line,
    ]


def _contention(samples: Sequence[GroupSample]) -> list[str]:
    if not samples:
        return []
    others = statistics.median(s.others_busy for s in samples)
    text = (
        f"During these runs the rest of the machine kept {others:.2f} cores busy (median) "
        f"out of {os.cpu_count()}; the client and the three processes of the system under "
        "test shared the rest."
    )
    if others >= BUSY_MACHINE:
        text += " Other work competed for the CPU: prefer the CPU-per-request ratios to req/s."
    return ["", text]


def anchor_ratio(cells: dict[Key, Cell], system: str, workload: str, test: str) -> float | None:
    cell, anchor = cells.get((system, workload, test)), cells.get((ANCHOR, workload, test))
    if cell is None or anchor is None:
        return None
    return ratio(cell.rps.median, anchor.rps.median)


def cpu_ratio(cells: dict[Key, Cell], system: str, workload: str, test: str) -> float | None:
    cell, anchor = cells.get((system, workload, test)), cells.get((ANCHOR, workload, test))
    if cell is None or anchor is None:
        return None
    return ratio(cell.cpu_us.median, anchor.cpu_us.median)


def verdict(cells: dict[Key, Cell], target: Target) -> str:
    if (target.system, target.workload, "SET") not in cells:
        return "n/a: not measured"
    value = anchor_ratio(cells, target.system, target.workload, "SET")
    if value is None:
        return "n/a: no Redis figure in this run"
    met = value >= target.bound
    return f"{markdown.times_near(value, target.bound)}: **{'met' if met else 'missed'}**"


def target_table(cells: dict[Key, Cell]) -> list[str]:
    rows = [[target.text, verdict(cells, target)] for target in TARGETS]
    wait = anchor_ratio(cells, "tkv-majority", "wait", "SET+WAIT")
    rows.append(
        [
            "SET+WAIT 1 0: tandemkv --ack majority against Redis + 2 replicas (no target)",
            markdown.times(wait),
        ]
    )
    return markdown.table(["Target", "Ratio (median req/s over Redis's)"], rows, "ll")


def summary_table(cells: dict[Key, Cell]) -> list[str]:
    rows = [[target.text, verdict(cells, target)] for target in TARGETS]
    wait = anchor_ratio(cells, "tkv-majority", "wait", "SET+WAIT")
    if wait is not None:
        rows.append(
            ["SET+WAIT 1 0 (both wait for a replica): majority vs Redis", markdown.times(wait)]
        )
    return markdown.table(["Replicated, 3 nodes", "Result"], rows, "ll")


def _ordered(cells: dict[Key, Cell], systems: list[str]) -> list[tuple[str, str, str, Cell]]:
    return [
        (load, test, system, cells[(system, load, test)])
        for load in LOADS
        for test in TESTS
        for system in systems
        if (system, load, test) in cells
    ]


def throughput_table(cells: dict[Key, Cell], systems: list[str]) -> list[str]:
    headers = [
        "Load",
        "Op",
        "System",
        "req/s",
        "range",
        "x Redis",
        "p50 ms",
        "p99 ms",
        "requests/run",
    ]
    rows = [
        [
            LOADS[load],
            test,
            LABELS[system],
            markdown.rate(cell.rps.median),
            markdown.percent(cell.rps.spread),
            _ratio_text(system, anchor_ratio(cells, system, load, test)),
            markdown.millis(cell.p50_ms),
            markdown.millis(cell.p99_ms),
            markdown.rate(cell.requests),
        ]
        for load, test, system, cell in _ordered(cells, systems)
    ]
    return markdown.table(headers, rows, "lll" + "r" * 6)


def cpu_table(cells: dict[Key, Cell], systems: list[str]) -> list[str]:
    headers = [
        "Load",
        "Op",
        "System",
        "CPU us/req, all 3",
        "range",
        "x Redis",
        "primary us/req",
        "replicas us/req",
        "primary busy",
        "replicas busy",
        "client busy",
        "client CPU us/req",
        "rest of machine",
    ]
    rows = [
        [
            LOADS[load],
            test,
            LABELS[system],
            markdown.micros(cell.cpu_us.median),
            markdown.percent(cell.cpu_us.spread),
            _ratio_text(system, cpu_ratio(cells, system, load, test)),
            markdown.micros(cell.primary_us),
            markdown.micros(cell.replicas_us),
            f"{cell.primary_busy:.2f}",
            f"{cell.replicas_busy:.2f}",
            f"{cell.client_busy:.2f}",
            markdown.micros(cell.client_us),
            f"{cell.others_busy:.2f}",
        ]
        for load, test, system, cell in _ordered(cells, systems)
    ]
    return markdown.table(headers, rows, "lll" + "r" * 10)


def _ratio_text(system: str, value: float | None) -> str:
    return "1.00x" if system == ANCHOR else markdown.times(value)


def _failures(failed: dict[str, str]) -> list[str]:
    if not failed:
        return []
    lines = ["Not measured in this section:", ""]
    lines += [f"- {LABELS.get(key, key)}: {reason}" for key, reason in failed.items()]
    return [*lines, ""]


def _charts(
    ctx: Context, section: Section, cells: dict[Key, Cell], systems: list[str]
) -> list[str]:
    reason = charts.unavailable_reason()
    if reason is not None:
        return [f"Charts not drawn: {reason}."]
    if not cells:
        return []
    figures = {
        "throughput": ("req/s (higher is better)", "rps"),
        "cpu": ("CPU us/req, all 3 (lower is better)", "cpu_us"),
    }
    lines = []
    for name, (ylabel, attribute) in figures.items():
        panels = []
        for load, title in LOADS.items():
            tests = tuple(t for t in TESTS if any((s, load, t) in cells for s in systems))
            if not tests:
                continue
            series = {
                LABELS[s]: [_summary(cells.get((s, load, t)), attribute) for t in tests]
                for s in systems
                if any((s, load, t) in cells for t in tests)
            }
            panels.append(charts.Panel(title, ylabel, tests, series))
        file_name = f"replicated-{name}.png"
        charts.draw(ctx.img_dir / file_name, "3 processes per system, loopback", panels)
        section.charts.append(file_name)
        lines += [f"![replicated {name}](img/{file_name})", ""]
    return lines


def _summary(cell: Cell | None, attribute: str) -> Summary | None:
    value = getattr(cell, attribute) if cell is not None else None
    return value if isinstance(value, Summary) else None
