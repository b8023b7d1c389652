"""The failover suite's tables, target verdicts and chart, from what each kill showed."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench import charts, markdown
from bench.failover_writer import RETRY_PAUSE, SOCKET_TIMEOUT
from bench.stats import summarize
from bench.suites.base import Context, Section
from bench.suites.failover import (
    QUICK_SETTLE,
    SENTINEL_DEFAULTS,
    SENTINEL_SETTINGS,
    SETTLE,
    TANDEMKV_ARGS,
)

MEDIAN_TARGET_S = 1.0


@dataclass(frozen=True)
class KillRound:
    kill: int
    killed: str  # member name (n1.., r1..)
    new_primary: str
    failover_s: float | None  # SIGKILL -> first write acknowledged by another node
    rejoin_s: float | None  # restart of the killed member -> group healthy again
    acked: int  # writes acknowledged during the round
    errors: int  # failed write attempts during the round (each retried)
    note: str = ""

    def describe(self) -> str:
        failover = "none" if self.failover_s is None else f"{self.failover_s:.3f} s"
        rejoin = "-" if self.rejoin_s is None else f"{self.rejoin_s:.1f} s"
        text = (
            f"kill {self.kill}: killed {self.killed or '?'}, new primary "
            f"{self.new_primary or '?'}, failover {failover}, healthy again {rejoin} after "
            f"the restart, {self.acked} writes acknowledged, {self.errors} failed attempts"
        )
        return text + (f" ({self.note})" if self.note else "")


@dataclass
class Outcome:
    system: str
    label: str
    rounds: list[KillRound]
    acked: int
    lost: int | None = None
    lost_examples: list[int] = field(default_factory=list)
    error: str | None = None

    def failover_times(self) -> list[float]:
        return [r.failover_s for r in self.rounds if r.failover_s is not None]


def render(
    ctx: Context,
    section: Section,
    outcomes: Sequence[Outcome],
    failed: dict[str, str],
    server_args: Sequence[str],
) -> None:
    lines = section.markdown
    lines += _setup(ctx, server_args)
    lines += ["", "### Results", ""]
    lines += results_table(outcomes)
    for outcome in outcomes:
        lines += ["", f"### Each kill: {outcome.label}", ""]
        lines += kills_table(outcome)
        if outcome.error:
            lines += ["", f"Stopped early: {outcome.error}"]
        if outcome.lost:
            examples = ", ".join(f"`fo:{i}`" for i in outcome.lost_examples)
            lines += ["", f"Lost acknowledged writes, first ones: {examples}."]
    lines += ["", *_failures(failed)]
    lines += _chart(ctx, section, outcomes)
    section.summary = results_table(outcomes)


def _setup(ctx: Context, server_args: Sequence[str]) -> list[str]:
    variant = f"`{' '.join(server_args)}`" if server_args else "the default parser and loop"
    sentinel = ", ".join(
        f"`{name} {value}`"
        + (f" (default {SENTINEL_DEFAULTS[name]})" if name in SENTINEL_DEFAULTS else "")
        for name, value in SENTINEL_SETTINGS.items()
    )
    settle = QUICK_SETTLE if ctx.options.quick else SETTLE
    etcd = ctx.tools["etcd"]
    etcd_reason = etcd.describe() if not etcd.usable else "this suite does not drive it yet"
    return [
        "**tandemkv**: three nodes on loopback (`--role primary`, then two `--role backup "
        f"--primary`), each with `{' '.join(TANDEMKV_ARGS)}` and {variant}; heartbeat "
        "100 ms and election timeout 400 ms (randomised up to 800 ms), the defaults. "
        "**Redis**: a primary and two `--replicaof` replicas, all with `appendonly yes` and "
        "`appendfsync everysec`, watched by three Sentinels (`redis-server sentinel.conf "
        f"--sentinel`, quorum 2) with {sentinel}.",
        "",
        "A writer thread in the harness sets `fo:<i>` to a value unique to the write and the "
        "run, one write at a time, through redis-py's Sentinel client (`master_for`; the "
        "tandemkv nodes answer the Sentinel queries themselves). redis-py's own retries are "
        f"off (`Retry(NoBackoff(), 0)`), socket timeouts are {SOCKET_TIMEOUT:g} s, and a "
        f"failed write is sent again as is after {RETRY_PAUSE * 1000:g} ms. An acknowledged "
        "write is one whose `OK` the writer received. "
        f"Each system's primary is killed {ctx.options.kills} time(s), the systems taking "
        f"turns: with the group healthy and the writer acknowledged for {settle:g} s, the "
        "harness sends SIGKILL to the primary's pid. *Failover* is the time from that SIGKILL "
        "to the first write acknowledged by another node. The killed node is then restarted "
        "with the same command line, port and data directory, and the next kill waits until "
        "the group is whole again (tandemkv: the primary's STATUS lists two healthy backups "
        "at most 50 entries behind; Redis: all three Sentinels name the same primary, which "
        "lists both replicas online). At the end every acknowledged key is read back from the "
        "final primary (MGET); a key that is missing or holds another value counts as lost.",
        "",
        "SIGKILL ends the process, not the machine: what it had written reaches the disk "
        "anyway, so the fsync setting does not decide what is lost here. What decides it is "
        "when the reply goes out: tandemkv `--ack majority` answers once a backup also stored "
        "the write; Redis answers before any replica has it.",
        "",
        f"etcd: not measured ({etcd_reason}).",
    ]


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def results_table(outcomes: Sequence[Outcome]) -> list[str]:
    headers = [
        "Failover",
        "kills",
        "median s",
        "max s",
        f"median ≤ {MEDIAN_TARGET_S:g} s",
        "acknowledged writes",
        "lost",
        "lost = 0",
    ]
    rows = []
    for outcome in outcomes:
        times = outcome.failover_times()
        median = _median(times)
        rows.append(
            [
                outcome.label,
                f"{len(times)}/{len(outcome.rounds)}",
                _seconds(median),
                _seconds(max(times) if times else None),
                _met(median is not None and median <= MEDIAN_TARGET_S, outcome),
                markdown.rate(outcome.acked),
                "n/a" if outcome.lost is None else str(outcome.lost),
                _met(outcome.lost == 0, outcome),
            ]
        )
    if not rows:
        return ["No system ran."]
    return markdown.table(headers, rows, "l" + "r" * 7)


def _met(ok: bool, outcome: Outcome) -> str:
    if outcome.system != "tkv":
        return "(no target)"
    return "**met**" if ok else "**missed**"


def kills_table(outcome: Outcome) -> list[str]:
    headers = [
        "kill",
        "killed",
        "new primary",
        "failover s",
        "whole again after restart, s",
        "writes acknowledged",
        "failed attempts",
    ]
    rows = [
        [
            str(r.kill),
            r.killed or "?",
            r.new_primary or "-",
            _seconds(r.failover_s),
            "-" if r.rejoin_s is None else f"{r.rejoin_s:.2f}",
            markdown.rate(r.acked),
            markdown.rate(r.errors),
        ]
        for r in outcome.rounds
    ]
    return markdown.table(headers, rows, "lllrrrr")


def _failures(failed: dict[str, str]) -> list[str]:
    if not failed:
        return []
    return ["Not measured:", "", *(f"- {key}: {reason}" for key, reason in failed.items()), ""]


def _chart(ctx: Context, section: Section, outcomes: Sequence[Outcome]) -> list[str]:
    reason = charts.unavailable_reason()
    if reason is not None:
        return [f"Chart not drawn: {reason}."]
    measured = [o for o in outcomes if o.failover_times()]
    if not measured:
        return []
    rejoins = {o.label: [r.rejoin_s for r in o.rounds if r.rejoin_s is not None] for o in measured}
    panels = [
        charts.Panel(
            "SIGKILL to the next acknowledged write",
            "seconds (lower is better)",
            ("failover",),
            {o.label: [summarize(o.failover_times())] for o in measured},
        ),
        charts.Panel(
            "Restart of the killed node to a whole group",
            "seconds (lower is better)",
            ("rejoin",),
            {label: [summarize(times) if times else None] for label, times in rejoins.items()},
        ),
    ]
    file_name = "failover-times.png"
    title = "Failover: bars are the median kill, whiskers the fastest and slowest"
    charts.draw(ctx.img_dir / file_name, title, panels)
    section.charts.append(file_name)
    return [f"![failover times](img/{file_name})", ""]
