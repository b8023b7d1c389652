"""The durability suite's rounds folded into medians and ranges per system, and the ratios the
report states. Pure: results in, figures out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.durability import RoundResult
from bench.snapshot_probe import Latencies, LatencyResult
from bench.stats import Summary, ratio, summarize

MIB = 1024 * 1024
# (phase, request) pairs of the latency probe, in report order.
LATENCY_CELLS = (("quiet", "GET"), ("saving", "GET"), ("quiet", "SET"), ("saving", "SET"))


@dataclass(frozen=True)
class LatencyFigures:
    requests: int  # median over the rounds
    p50_ms: Summary | None
    p99_ms: Summary | None
    max_ms: Summary | None


@dataclass
class SystemFigures:
    system: str
    rounds: int
    bytes_per_key: Summary | None = None
    empty_start_s: Summary | None = None
    load_s: Summary | None = None
    save_s: Summary | None = None
    rss_empty_mib: Summary | None = None
    rss_loaded_mib: Summary | None = None
    restart_s: dict[str, Summary] = field(default_factory=dict)
    restart_bytes_per_key: dict[str, Summary] = field(default_factory=dict)
    latency: dict[tuple[str, str], LatencyFigures] = field(default_factory=dict)
    bgsave_s: Summary | None = None  # every background save of every round
    bgsave_reply_ms: Summary | None = None  # the slowest BGSAVE reply of each round
    pss_before_mib: Summary | None = None
    pss_peak_mib: Summary | None = None

    @property
    def pss_growth(self) -> float | None:
        """How much the server plus its snapshot child grew over the server alone (0.5 = +50%)."""
        if self.pss_before_mib is None or self.pss_peak_mib is None:
            return None
        before = self.pss_before_mib.median
        return ratio(self.pss_peak_mib.median - before, before)


def _maybe(values: Sequence[float | None]) -> Summary | None:
    present = [v for v in values if v is not None]
    return summarize(present) if present else None


def figures(results: Sequence[RoundResult], system: str) -> SystemFigures:
    mine = [r for r in results if r.system == system]
    made = SystemFigures(system, len(mine))
    made.bytes_per_key = _maybe([r.bytes_per_key for r in mine])
    made.empty_start_s = _maybe([r.empty_start_s for r in mine])
    made.load_s = _maybe([r.load_s for r in mine])
    made.save_s = _maybe([r.save_s for r in mine])
    made.rss_empty_mib = _maybe([_mib(r.rss_empty) for r in mine])
    made.rss_loaded_mib = _maybe([_mib(r.rss_loaded) for r in mine])
    for kind in dict.fromkeys(k for r in mine for k in r.restart_s):
        made.restart_s[kind] = summarize([r.restart_s[kind] for r in mine if kind in r.restart_s])
        per_key = [_restart_per_key(r, kind) for r in mine]
        if (summary := _maybe(per_key)) is not None:
            made.restart_bytes_per_key[kind] = summary
    probes = [r.latency for r in mine if r.latency is not None]
    if probes:
        _add_latency(made, probes)
    return made


def _mib(value: int | None) -> float | None:
    return None if value is None else value / MIB


def _restart_per_key(result: RoundResult, kind: str) -> float | None:
    rss = result.restart_rss.get(kind)
    if rss is None or result.rss_empty is None or not result.keys:
        return None
    return (rss - result.rss_empty) / result.keys


_PICK: dict[tuple[str, str], Callable[[LatencyResult], Latencies]] = {
    ("quiet", "GET"): lambda p: p.quiet_get,
    ("saving", "GET"): lambda p: p.saving_get,
    ("quiet", "SET"): lambda p: p.quiet_set,
    ("saving", "SET"): lambda p: p.saving_set,
}


def _add_latency(made: SystemFigures, probes: Sequence[LatencyResult]) -> None:
    for cell in LATENCY_CELLS:
        picked = [_PICK[cell](probe) for probe in probes]
        counts = sorted(p.requests for p in picked)
        made.latency[cell] = LatencyFigures(
            counts[len(counts) // 2],
            _maybe([p.p50_ms for p in picked]),
            _maybe([p.p99_ms for p in picked]),
            _maybe([p.max_ms for p in picked]),
        )
    made.bgsave_s = _maybe([s for probe in probes for s in probe.saves.seconds])
    made.bgsave_reply_ms = _maybe([probe.saves.reply_ms_max for probe in probes])
    made.pss_before_mib = _maybe([probe.saves.pss_before / MIB for probe in probes])
    made.pss_peak_mib = _maybe([probe.saves.pss_peak / MIB for probe in probes])


def median_ratio(mine: Summary | None, anchor: Summary | None) -> float | None:
    if mine is None or anchor is None:
        return None
    return ratio(mine.median, anchor.median)


def p99(made: SystemFigures, phase: str, request: str) -> Summary | None:
    cell = made.latency.get((phase, request))
    return None if cell is None else cell.p99_ms
