"""The single-node suite's tables, target verdicts and charts, from its samples."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench import charts, markdown
from bench.loadgen import Workload
from bench.measure import Sample
from bench.persistence import Persistence
from bench.servers import SYSTEMS
from bench.stats import Summary, ratio, summarize
from bench.suites.base import Context

ANCHOR = "redis"
# Other work using this many cores makes req/s a measure of sharing, not of the servers.
BUSY_MACHINE = 0.25
TESTS = ("SET", "GET")


@dataclass(frozen=True)
class Target:
    workload: str
    metric: str  # "rps" (higher is better) or "cpu" (lower is better)
    bound: float
    text: str

    def met(self, value: float) -> bool:
        return value >= self.bound if self.metric == "rps" else value <= self.bound


TARGETS = (
    Target("c50", "rps", 0.9, "req/s at -c 50 ≥ 0.9x Redis"),
    Target("c50-p16", "rps", 0.75, "req/s at -c 50 -P 16 ≥ 0.75x Redis"),
    Target("c50", "cpu", 2.0, "CPU per request at -c 50 ≤ 2x Redis"),
    Target("c50-p16", "cpu", 2.0, "CPU per request at -c 50 -P 16 ≤ 2x Redis"),
)


@dataclass(frozen=True)
class Cell:
    """The repeats of one (system, workload, test)."""

    rps: Summary
    cpu_us: Summary
    p50_ms: Summary
    p99_ms: Summary
    server_busy: float
    kernel_share: float
    client_busy: float
    others_busy: float
    client_cpu_us: float
    requests: int


@dataclass
class VariantReport:
    markdown: list[str] = field(default_factory=list)
    summary_rows: list[list[str]] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)


Key = tuple[str, str, str]


def collect(samples: Sequence[Sample]) -> dict[Key, Cell]:
    grouped: dict[Key, list[Sample]] = {}
    for sample in samples:
        grouped.setdefault((sample.system, sample.workload, sample.test), []).append(sample)
    return {key: _cell(group) for key, group in grouped.items()}


def _cell(group: list[Sample]) -> Cell:
    return Cell(
        rps=summarize([s.rps for s in group]),
        cpu_us=summarize([s.server_cpu_us_per_request for s in group]),
        p50_ms=summarize([s.p50_ms for s in group]),
        p99_ms=summarize([s.p99_ms for s in group]),
        server_busy=statistics.median(s.server_busy for s in group),
        kernel_share=statistics.median(s.server_kernel_share for s in group),
        client_busy=statistics.median(s.client_busy for s in group),
        others_busy=statistics.median(s.others_busy for s in group),
        client_cpu_us=statistics.median(s.client_cpu_us_per_request for s in group),
        requests=group[0].requests,
    )


def systems_in(cells: dict[Key, Cell]) -> list[str]:
    present = {key[0] for key in cells}
    return [key for key in SYSTEMS if key in present]


def render_variant(
    ctx: Context,
    variant: Persistence,
    samples: Sequence[Sample],
    failed: dict[str, str],
    workloads: Sequence[Workload],
) -> VariantReport:
    cells = collect(samples)
    systems = systems_in(cells)
    report = VariantReport()
    lines = report.markdown
    lines += ["", f"### {variant.title}", "", variant.note, ""]
    lines += _method_note(ctx)
    lines += _contention_note(samples)
    lines += ["", "#### Targets", ""]
    lines += target_table(cells, systems)
    report.summary_rows += summary_rows(cells, systems, variant)
    lines += ["", "#### Throughput and latency", ""]
    lines += throughput_table(cells, systems, workloads)
    lines += ["", "#### CPU per request", ""]
    lines += cpu_table(cells, systems, workloads)
    lines += ["", *_failures(failed)]
    lines += _charts(ctx, variant, cells, systems, workloads, report)
    return report


def _method_note(ctx: Context) -> list[str]:
    repeats = ctx.options.repeats
    return [
        f"Each figure is the median of {repeats} run(s), the systems taking turns (A B A B ...). "
        "*range* is (max - min) / median of those runs; *x Redis* is the system's median over "
        "Redis's median from the same run. Server CPU is utime + stime from `/proc/<pid>/stat` "
        "read before and after each run, divided by the requests the run sent; *in kernel* is "
        "the stime part of it. *busy* is CPU seconds per wall-clock second (1.00 = one core "
        "kept fully busy); *rest of machine* is every other busy core-second (/proc/stat) per "
        "wall-clock second: other processes, and kernel threads, some of which (network, "
        "memory reclaim) work for the benchmark itself."
    ]


def _contention_note(samples: Sequence[Sample]) -> list[str]:
    """Say, from the numbers, whether other work competed for the CPU during this section."""
    if not samples:
        return []
    others = statistics.median(s.others_busy for s in samples)
    server = statistics.median(s.server_busy for s in samples)
    client = statistics.median(s.client_busy for s in samples)
    text = (
        f"During these runs the rest of the machine kept {others:.2f} cores busy (median); the "
        f"server averaged {server:.2f} of a core and redis-benchmark {client:.2f}."
    )
    if others >= BUSY_MACHINE:
        text += (
            " The servers competed with other work for the CPU, so req/s here reflects how the "
            "machine was shared as much as what each server can do: the CPU-per-request ratios "
            "are the steadier comparison."
        )
    return ["", text]


def _anchor_ratio(
    cells: dict[Key, Cell], system: str, workload: str, test: str, metric: str
) -> float | None:
    cell, anchor = cells.get((system, workload, test)), cells.get((ANCHOR, workload, test))
    if cell is None or anchor is None:
        return None
    if metric == "rps":
        return ratio(cell.rps.median, anchor.rps.median)
    return ratio(cell.cpu_us.median, anchor.cpu_us.median)


def _verdict(cells: dict[Key, Cell], system: str, target: Target) -> str:
    ratios = {t: _anchor_ratio(cells, system, target.workload, t, target.metric) for t in TESTS}
    if any(value is None for value in ratios.values()):
        return "n/a: no Redis figure in this run"
    parts = ", ".join(
        f"{t} {markdown.times_near(value, target.bound)}"
        for t, value in ratios.items()
        if value is not None
    )
    met = all(value is not None and target.met(value) for value in ratios.values())
    return f"{parts}: **{'met' if met else 'missed'}**"


def target_table(cells: dict[Key, Cell], systems: list[str]) -> list[str]:
    candidates = [s for s in systems if s != ANCHOR]
    if not candidates:
        return ["No tandemkv system ran, so there is nothing to compare."]
    headers = ["Target", *(SYSTEMS[s].label for s in candidates)]
    rows = [[t.text, *(_verdict(cells, s, t) for s in candidates)] for t in TARGETS]
    return markdown.table(headers, rows, "l" * len(headers))


def summary_rows(
    cells: dict[Key, Cell], systems: list[str], variant: Persistence
) -> list[list[str]]:
    return [
        [variant.title, SYSTEMS[s].label, *(_verdict(cells, s, t) for t in TARGETS)]
        for s in systems
        if s != ANCHOR
    ]


def throughput_table(
    cells: dict[Key, Cell], systems: list[str], workloads: Sequence[Workload]
) -> list[str]:
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
    rows = []
    for workload, test, system, cell in _ordered(cells, systems, workloads):
        rows.append(
            [
                workload.title,
                test,
                SYSTEMS[system].label,
                markdown.rate(cell.rps.median),
                markdown.percent(cell.rps.spread),
                _ratio_text(cells, system, workload.key, test, "rps"),
                markdown.millis(cell.p50_ms.median),
                markdown.millis(cell.p99_ms.median),
                markdown.rate(cell.requests),
            ]
        )
    return markdown.table(headers, rows, "lll" + "r" * 6)


def cpu_table(
    cells: dict[Key, Cell], systems: list[str], workloads: Sequence[Workload]
) -> list[str]:
    headers = [
        "Load",
        "Op",
        "System",
        "server CPU us/req",
        "range",
        "x Redis",
        "in kernel",
        "server busy",
        "redis-benchmark busy",
        "redis-benchmark CPU us/req",
        "rest of machine",
    ]
    rows = []
    for workload, test, system, cell in _ordered(cells, systems, workloads):
        rows.append(
            [
                workload.title,
                test,
                SYSTEMS[system].label,
                markdown.micros(cell.cpu_us.median),
                markdown.percent(cell.cpu_us.spread),
                _ratio_text(cells, system, workload.key, test, "cpu"),
                markdown.percent(cell.kernel_share),
                f"{cell.server_busy:.2f}",
                f"{cell.client_busy:.2f}",
                markdown.micros(cell.client_cpu_us),
                f"{cell.others_busy:.2f}",
            ]
        )
    return markdown.table(headers, rows, "lll" + "r" * 8)


def _ordered(
    cells: dict[Key, Cell], systems: list[str], workloads: Sequence[Workload]
) -> list[tuple[Workload, str, str, Cell]]:
    return [
        (workload, test, system, cells[(system, workload.key, test)])
        for workload in workloads
        for test in TESTS
        for system in systems
        if (system, workload.key, test) in cells
    ]


def _ratio_text(cells: dict[Key, Cell], system: str, workload: str, test: str, metric: str) -> str:
    if system == ANCHOR:
        return "1.00x" if (ANCHOR, workload, test) in cells else "n/a"
    return markdown.times(_anchor_ratio(cells, system, workload, test, metric))


def _failures(failed: dict[str, str]) -> list[str]:
    if not failed:
        return []
    lines = ["Not measured in this section:", ""]
    lines += [f"- {SYSTEMS[key].label}: {reason}" for key, reason in failed.items()]
    return [*lines, ""]


def _charts(
    ctx: Context,
    variant: Persistence,
    cells: dict[Key, Cell],
    systems: list[str],
    workloads: Sequence[Workload],
    report: VariantReport,
) -> list[str]:
    reason = charts.unavailable_reason()
    if reason is not None:
        return [f"Charts not drawn: {reason}."]
    if not cells:
        return []
    labels = {s: SYSTEMS[s].label for s in systems}
    figures = {
        "throughput": ("req/s (higher is better)", "rps"),
        "cpu": ("server CPU us per request (lower is better)", "cpu_us"),
    }
    lines = []
    for name, (ylabel, attribute) in figures.items():
        panels = [
            charts.Panel(
                w.title,
                ylabel,
                TESTS,
                {
                    labels[s]: [_summary(cells, (s, w.key, t), attribute) for t in TESTS]
                    for s in systems
                },
            )
            for w in workloads
        ]
        file_name = f"single-{variant.key}-{name}.png"
        charts.draw(ctx.img_dir / file_name, f"Single node, {variant.title.lower()}", panels)
        report.charts.append(file_name)
        lines += [f"![{name}, {variant.title.lower()}](img/{file_name})", ""]
    return lines + _latency_chart(ctx, variant, cells, labels, report)


def _latency_chart(
    ctx: Context,
    variant: Persistence,
    cells: dict[Key, Cell],
    labels: dict[str, str],
    report: VariantReport,
) -> list[str]:
    panels = [
        charts.Panel(
            f"-c 1, {percentile}",
            "latency ms (lower is better)",
            TESTS,
            {
                label: [_summary(cells, (s, "c1", test), f"{percentile}_ms") for test in TESTS]
                for s, label in labels.items()
            },
        )
        for percentile in ("p50", "p99")
    ]
    file_name = f"single-{variant.key}-latency.png"
    charts.draw(ctx.img_dir / file_name, "One client, one request at a time", panels)
    report.charts.append(file_name)
    return [f"![latency at -c 1, {variant.title.lower()}](img/{file_name})", ""]


def _summary(cells: dict[Key, Cell], key: Key, attribute: str) -> Summary | None:
    cell = cells.get(key)
    value = getattr(cell, attribute) if cell is not None else None
    return value if isinstance(value, Summary) else None
