"""The profile suite's part of the report: shares of server CPU, turned into us per request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

from bench import markdown
from bench.profiles import Cost
from bench.suites.base import Context, Section, Suite

if TYPE_CHECKING:
    from bench.suites.profile import ProfiledRun, Recording
    from bench.suites.syscall_pass import SyscallRun

TOP = 10
# System calls rarer than this per request are connection setup or timers: left out.
SYSCALL_FLOOR = 0.02
# Frames present in (nearly) every sample are the entry-point chain: no information.
ENTRY_CHAIN_SHARE = 0.97


def render_profiles(
    suite: Suite,
    ctx: Context,
    runs: Sequence[ProfiledRun],
    syscall_runs: Sequence[SyscallRun],
    rate: int,
) -> Section:
    section = Section(suite.name, suite.title)
    section.markdown += _method(runs, rate)
    for run in runs:
        section.markdown += ["", f"### {run.spec.label}", ""]
        if not run.recordings:
            reason = run.error or "no profile"
            section.markdown.append(f"Not profiled: {reason}")
            section.summary.append(f"- Profile of {run.spec.label}: not taken ({reason}).")
            continue
        section.markdown += _run_tables(run)
        section.raw[run.spec.key] = _raw(run)
    section.markdown += syscall_section(syscall_runs)
    section.raw["syscalls"] = {r.spec.key: r.per_request for r in syscall_runs}
    return section


def _method(runs: Sequence[ProfiledRun], rate: int) -> list[str]:
    tools = sorted({run.profiler for run in runs if run.recordings})
    text = (
        "Each recording profiles the server while redis-benchmark sends one command at one "
        "client shape: with persistence off (as in the first single-node section), and SET "
        "again with the log on (*log everysec*, tandemkv's default). "
    )
    if "py-spy" in tools:
        text += (
            f"py-spy samples the server's Python stacks {rate} times a second from outside the "
            "process (`--nonblocking`, idle time excluded). Without native frames, time in C "
            "code (uvloop, hiredis, the system calls themselves) is charged to the Python line "
            "that called it, and time the server spent runnable but waiting for a core counts "
            "as well. "
        )
    if "cProfile" in tools:
        text += "cProfile instruments every call, which slows the server; read its shares only. "
    text += (
        "*us/req* = share of samples x the server CPU per request measured from /proc during "
        "that recording."
    )
    return [text]


def _label(recording: Recording) -> str:
    return recording.label


def _per_request(recording: Recording) -> float:
    return recording.sample.server_cpu_us_per_request


def _run_tables(run: ProfiledRun) -> list[str]:
    recordings = run.recordings
    headers = ["", *(_label(r) for r in recordings)]
    measured = [
        ["req/s while profiled", *(markdown.rate(r.sample.rps) for r in recordings)],
        ["**server CPU us/req**", *(f"**{markdown.micros(_per_request(r))}**" for r in recordings)],
        [
            "of which in kernel",
            *(markdown.percent(r.sample.server_kernel_share) for r in recordings),
        ],
        [f"{run.profiler} samples", *(f"{r.profile.samples:,}" for r in recordings)],
    ]
    lines = [f"Profiler: {run.profiler}.", "", "By area (self time, us per request):", ""]
    lines += markdown.table(headers, [*measured, *_area_rows(recordings)])
    lines += ["", "Heaviest functions (including what they call, us per request):", ""]
    lines += markdown.table(headers, _inclusive_rows(recordings))
    for recording in recordings:
        lines += _hot_lines(recording, run.profiler)
    return lines


def _area_rows(recordings: Sequence[Recording]) -> list[list[str]]:
    return _cost_rows(recordings, lambda r: r.profile.areas, lambda c: c.name)


def _inclusive_rows(recordings: Sequence[Recording]) -> list[list[str]]:
    # The entry-point chain (main, run_server, ...) holds (nearly) every sample somewhere.
    chain = {
        (c.name, c.where)
        for r in recordings
        for c in r.profile.inclusive
        if c.share >= ENTRY_CHAIN_SHARE
    }

    def informative(recording: Recording) -> list[Cost]:
        return [c for c in recording.profile.inclusive if (c.name, c.where) not in chain]

    return _cost_rows(recordings, informative, lambda c: f"`{c.name}` ({c.where})")


def _cost_rows(
    recordings: Sequence[Recording],
    costs_of: Callable[[Recording], list[Cost]],
    name_of: Callable[[Cost], str],
) -> list[list[str]]:
    """The TOP names by their largest us/req in any recording; one column per recording."""
    tables = [{name_of(c): c.share * _per_request(r) for c in costs_of(r)} for r in recordings]
    largest: dict[str, float] = {}
    for table in tables:
        for name, value in table.items():
            largest[name] = max(largest.get(name, 0.0), value)
    chosen = sorted(largest, key=lambda name: -largest[name])[:TOP]
    return [[name, *(markdown.micros(t.get(name, 0.0)) for t in tables)] for name in chosen]


def _hot_lines(recording: Recording, profiler: str) -> list[str]:
    what = "lines" if profiler == "py-spy" else "functions"
    per_request = _per_request(recording)
    rows = [
        [
            f"`{c.name}`",
            f"`{c.where}`",
            f"`{c.code}`" if c.code else "",
            markdown.percent(c.share),
            markdown.micros(c.share * per_request),
        ]
        for c in recording.profile.hot_lines[:TOP]
    ]
    table = markdown.table(["Function", "Where", "Code", "share", "us/req"], rows, "lllrr")
    summary = f"Hottest {what} (self time), {_label(recording)}"
    return ["", "<details>", f"<summary>{summary}</summary>", "", *table, "", "</details>"]


def _raw(run: ProfiledRun) -> dict[str, object]:
    return {
        "profiler": run.profiler,
        "recordings": [
            {
                "recording": r.label,
                "sample": asdict(r.sample),
                "areas": [asdict(c) for c in r.profile.areas[:TOP]],
                "hot_lines": [asdict(c) for c in r.profile.hot_lines[:TOP]],
            }
            for r in run.recordings
        ],
    }


def syscall_section(runs: Sequence[SyscallRun]) -> list[str]:
    """One row per system call (and target), one column per system and test."""
    measured = [run for run in runs if run.per_request]
    lines = ["", "### System calls per request", ""]
    if not runs:
        return [*lines, "Not counted: strace is not installed (apt-get install strace)."]
    lines.append(
        "Counted with `strace -f -y` attached to the server while redis-benchmark -c 50 sent "
        "SET, then GET. strace slows the server, so calls that serve many requests at once "
        "(epoll_wait) are undercounted; per-request calls (read, write) are exact."
    )
    lines += ["", *_syscall_table(measured)] if measured else []
    lines += [f"- {run.spec.label}: not counted ({run.error})" for run in runs if run.error]
    return lines


def _syscall_table(runs: Sequence[SyscallRun]) -> list[str]:
    columns = [(run, test) for run in runs for test in ("SET", "GET")]
    names: dict[str, float] = {}
    for run, test in columns:
        for name, value in run.per_request.get(test, {}).items():
            names[name] = max(names.get(name, 0.0), value)
    shown = sorted((n for n, v in names.items() if v >= SYSCALL_FLOOR), key=lambda n: -names[n])
    headers = ["System call (target)", *(f"{run.spec.label} {test}" for run, test in columns)]
    rows = [
        [
            f"`{name}`",
            *(f"{run.per_request.get(test, {}).get(name, 0.0):.2f}" for run, test in columns),
        ]
        for name in shown
    ]
    totals = [f"{sum(run.per_request.get(test, {}).values()):.2f}" for run, test in columns]
    return markdown.table(headers, [*rows, ["**all calls**", *totals]])
