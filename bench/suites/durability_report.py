"""The durability suite's part of the report: setup and method, the target verdicts, the
tables (memory, restarts, snapshots, latency) and a chart."""

from __future__ import annotations

from collections.abc import Sequence

from bench import charts, markdown
from bench.durability import NO_AUTO_SNAPSHOT, Contender, Plan, RoundResult
from bench.keyload import BATCH, PIPELINE
from bench.restarts import POLL_SECONDS
from bench.stats import Summary
from bench.suites.base import Context, Section
from bench.suites.durability_figures import (
    LATENCY_CELLS,
    SystemFigures,
    figures,
    median_ratio,
    p99,
)

ANCHOR = "redis"
RSS_TARGET = 2.0
RSS_TARGET_TEXT = f"RSS per key ≤ {RSS_TARGET:g}x Redis"
NO_TARGET = "no target set"
NO_ANCHOR = "n/a: no Redis figure in this run"
KIND_TEXT = {
    "log": "its log (replay)",
    "aof": "its AOF (replay)",
    "snapshot": "its snapshot",
    "rdb": "its RDB file",
}
CHART_PHASE = {"quiet": "no save", "saving": "in BGSAVE"}


def render(
    ctx: Context,
    section: Section,
    plan: Plan,
    contenders: Sequence[Contender],
    results: Sequence[RoundResult],
    failed: dict[str, str],
) -> None:
    made = {c.key: figures(results, c.key) for c in contenders if c.key not in failed}
    made = {key: f for key, f in made.items() if f.rounds}
    labels = {c.key: c.label for c in contenders}
    anchor = made.get(ANCHOR)
    candidates = [made[c.key] for c in contenders if c.family == "tandemkv" and c.key in made]
    lines = section.markdown
    lines += _setup(ctx, plan, contenders)
    lines += ["", "### Targets", ""]
    lines += target_table(candidates, anchor, labels)
    lines += ["", "### Memory", ""]
    lines += memory_table(made, anchor, labels, plan.keys)
    lines += ["", "### Restart: from exec to the first PONG", ""]
    lines += restart_table(made, anchor, labels, contenders)
    if plan.latency:
        lines += ["", "### Latency with and without a background snapshot", ""]
        lines += latency_table(made, labels)
        lines += ["", "### What a snapshot costs", ""]
        lines += snapshot_table(made, anchor, labels)
    lines += ["", *_failures(failed)]
    lines += _chart(ctx, section, made, labels, contenders)
    section.summary = summary_table(plan, candidates, anchor, labels)


def _setup(ctx: Context, plan: Plan, contenders: Sequence[Contender]) -> list[str]:
    tkv = next((c for c in contenders if c.family == "tandemkv"), None)
    name = tkv.label if tkv is not None else "tandemkv"
    snapshot_env = ", ".join(f"`{k}={v}`" for k, v in NO_AUTO_SNAPSHOT.items())
    return [
        f"{plan.keys:,} keys (`key:000000000` ...) with {plan.value_size}-byte values, loaded by "
        f"the harness with pipelined MSETs ({BATCH:,} pairs each, {PIPELINE} in flight) on one "
        f"connection. **{name}**: `--fsync everysec` (its default), automatic "
        f"snapshots off ({snapshot_env}), so only the harness's SAVE and BGSAVEs write one. "
        "**Redis**: AOF on with `appendfsync everysec` and automatic rewrites off "
        "(`--auto-aof-rewrite-percentage 0`), no RDB save points; restarted with "
        "`--appendonly no` so that it loads the RDB file SAVE wrote. Both therefore log every "
        "write the same way and fsync about once a second. One tandemkv variant is measured "
        "(hiredis + uvloop when chosen): restarts and memory belong to its storage, not to "
        "its parser or event loop.",
        "",
        f"Each figure is the median of {ctx.options.repeats} round(s); *range* is (max - min) / "
        "median. A round starts from an empty data directory and has three steps, the systems "
        "taking turns at each step, and each step ends with the server stopped (SIGTERM): "
        "**load** (start empty, RSS, load, RSS); **replay** (restart, which rebuilds the keys "
        "from the write log; latency probe; SAVE, timed); **image** (restart from the snapshot "
        "or RDB file SAVE wrote). *RSS per key* is (RSS after the load and "
        f"{plan.settle_seconds:g} s of rest - RSS of the freshly started empty server) / keys, "
        "RSS from `/proc/<pid>/statm`. A *restart* is timed from spawning the process to its "
        f"first PONG, polled every {POLL_SECONDS * 1000:g} ms (tandemkv listens once its data "
        "is loaded; Redis answers `-LOADING` until then); it includes starting the "
        "interpreter, which the *empty* row shows alone. After every restart DBSIZE must equal "
        "the keys loaded. The files were just written, so they are read from the page cache: "
        "a cold disk would add its read time to both systems.",
        "",
        *_latency_method(plan),
    ]


def _latency_method(plan: Plan) -> list[str]:
    if not plan.latency:
        return []
    return [
        "*Latency*: on the server restarted from its log, `python3 -m bench.latency_client` "
        "(one process, one connection) sends GET then SET of a random loaded key, one request "
        f"in flight, for {plan.latency_seconds:g} s with no snapshot; then a second one runs "
        "while the harness sends BGSAVEs back to back for at least "
        f"{plan.latency_seconds:g} s (and at least one whole save), and only its requests that "
        "start while a save runs count. These are round trips of a Python client, alike for "
        "both systems. The client busy-polls its socket instead of sleeping in `recv`: on "
        "this virtual machine a CPU that goes idle between requests takes tens of "
        "microseconds to wake, which in a trial made every round trip several times slower "
        "whenever nothing else kept the CPUs busy, and so made the no-snapshot phase look "
        "slower than the snapshot phase, whose child kept them busy. The polling client keeps "
        "one core busy itself: on a 2-core machine the server and its snapshot child then "
        "share the other one during a save, for both systems alike. "
        "*PSS* is the proportional set size (`/proc/<pid>/smaps_rollup`) of the server plus "
        "its forked child, sampled every 20 ms: its growth during a save is what "
        "copy-on-write copied.",
    ]


def _ratio_text(value: float | None) -> str:
    return NO_ANCHOR if value is None else markdown.times(value)


def rss_verdict(made: SystemFigures, anchor: SystemFigures | None) -> str:
    value = median_ratio(made.bytes_per_key, anchor.bytes_per_key if anchor else None)
    if value is None:
        return NO_ANCHOR
    met = value <= RSS_TARGET
    return f"{markdown.times_near(value, RSS_TARGET)}: **{'met' if met else 'missed'}**"


def restart_verdict(made: SystemFigures, anchor: SystemFigures | None) -> str:
    rdb = anchor.restart_s.get("rdb") if anchor else None
    parts = [
        f"{name} {markdown.times(median_ratio(made.restart_s.get(kind), rdb))}"
        for kind, name in (("log", "log replay"), ("snapshot", "from snapshot"))
        if median_ratio(made.restart_s.get(kind), rdb) is not None
    ]
    if not parts:
        return NO_ANCHOR
    return f"{', '.join(parts)} ({NO_TARGET})"


def latency_verdict(made: SystemFigures, anchor: SystemFigures | None) -> str:
    mine = _p99_pairs(made)
    if not mine:
        return "not measured"
    text = mine
    if anchor is not None and _p99_pairs(anchor):
        text += f"; Redis {_p99_pairs(anchor)}"
    return f"{text} ({NO_TARGET})"


def _p99_pairs(made: SystemFigures) -> str:
    parts = []
    for request in ("GET", "SET"):
        quiet, saving = p99(made, "quiet", request), p99(made, "saving", request)
        if quiet is not None and saving is not None:
            parts.append(
                f"{request} {markdown.millis(saving.median)} ms during BGSAVE vs "
                f"{markdown.millis(quiet.median)} ms without"
            )
    return ", ".join(parts)


def target_table(
    candidates: Sequence[SystemFigures], anchor: SystemFigures | None, labels: dict[str, str]
) -> list[str]:
    if not candidates:
        return ["No tandemkv system ran, so there is nothing to compare."]
    headers = ["Target", *(labels[c.system] for c in candidates)]
    rows = [
        [RSS_TARGET_TEXT, *(rss_verdict(c, anchor) for c in candidates)],
        ["Restart time vs Redis's RDB load", *(restart_verdict(c, anchor) for c in candidates)],
        ["GET/SET p99 during a snapshot", *(latency_verdict(c, anchor) for c in candidates)],
    ]
    return markdown.table(headers, rows, "l" * len(headers))


def summary_table(
    plan: Plan,
    candidates: Sequence[SystemFigures],
    anchor: SystemFigures | None,
    labels: dict[str, str],
) -> list[str]:
    if not candidates:
        return ["- Durability: no tandemkv system ran."]
    headers = [
        f"Durability, {plan.keys:,} keys",
        RSS_TARGET_TEXT,
        f"restart time vs Redis's RDB load ({NO_TARGET})",
        f"p99 during BGSAVE vs without ({NO_TARGET})",
    ]
    rows = [
        [
            labels[c.system],
            rss_verdict(c, anchor),
            restart_verdict(c, anchor).replace(f" ({NO_TARGET})", ""),
            latency_verdict(c, anchor).replace(f" ({NO_TARGET})", ""),
        ]
        for c in candidates
    ]
    return markdown.table(headers, rows, "l" * len(headers))


def _value(summary: Summary | None, digits: int = 1) -> str:
    return "-" if summary is None else f"{summary.median:,.{digits}f}"


def _range(summary: Summary | None) -> str:
    return "-" if summary is None else markdown.percent(summary.spread)


def memory_table(
    made: dict[str, SystemFigures],
    anchor: SystemFigures | None,
    labels: dict[str, str],
    keys: int,
) -> list[str]:
    headers = [
        "System",
        "RSS per key, bytes",
        "range",
        "x Redis",
        "RSS empty, MiB",
        "RSS loaded, MiB",
        "load, s",
        "keys/s",
        "RSS per key after restarting from the log / AOF",
        "... from the snapshot / RDB",
    ]
    base = anchor.bytes_per_key if anchor else None
    rows = [
        [
            labels[key],
            _value(f.bytes_per_key),
            _range(f.bytes_per_key),
            "-" if key == ANCHOR else _ratio_text(median_ratio(f.bytes_per_key, base)),
            _value(f.rss_empty_mib),
            _value(f.rss_loaded_mib),
            _value(f.load_s, 2),
            markdown.rate(keys / f.load_s.median) if f.load_s and f.load_s.median else "-",
            _value(_kind(f.restart_bytes_per_key, REPLAY_KINDS)),
            _value(_kind(f.restart_bytes_per_key, IMAGE_KINDS)),
        ]
        for key, f in made.items()
    ]
    return markdown.table(headers, rows) if rows else ["No system was measured."]


REPLAY_KINDS = ("log", "aof")
IMAGE_KINDS = ("snapshot", "rdb")
SAME_KIND = {"empty": "empty", "log": "aof", "snapshot": "rdb"}


def _kind(values: dict[str, Summary], kinds: Sequence[str]) -> Summary | None:
    return next((values[k] for k in kinds if k in values), None)


def restart_table(
    made: dict[str, SystemFigures],
    anchor: SystemFigures | None,
    labels: dict[str, str],
    contenders: Sequence[Contender],
) -> list[str]:
    headers = [
        "System",
        "restarting from",
        "median s",
        "range",
        "x Redis, same kind",
        "x Redis's RDB load",
    ]
    rows = []
    for contender in contenders:
        f = made.get(contender.key)
        if f is None:
            continue
        times = {"empty": f.empty_start_s, **f.restart_s}
        for kind in ("empty", contender.replay_kind, contender.image_kind):
            rows.append(_restart_row(labels[f.system], kind, times.get(kind), f, anchor))
    return markdown.table(headers, rows, "llrrrr") if rows else ["No system was measured."]


def _restart_row(
    label: str, kind: str, time: Summary | None, f: SystemFigures, anchor: SystemFigures | None
) -> list[str]:
    what = "an empty data directory" if kind == "empty" else KIND_TEXT[kind]
    same = rdb = "-"
    if f.system != ANCHOR:
        anchor_times = {"empty": anchor.empty_start_s, **anchor.restart_s} if anchor else {}
        same = _ratio_text(median_ratio(time, anchor_times.get(SAME_KIND.get(kind, ""))))
        if kind != "empty":
            rdb = _ratio_text(median_ratio(time, anchor_times.get("rdb")))
    return [label, what, _value(time, 3), _range(time), same, rdb]


def latency_table(made: dict[str, SystemFigures], labels: dict[str, str]) -> list[str]:
    headers = [
        "Request",
        "System",
        "requests, no snapshot / during",
        "p50 ms, no snapshot",
        "p99 ms, no snapshot",
        "range",
        "p50 ms, during BGSAVE",
        "p99 ms, during BGSAVE",
        "range",
        "max ms, during",
        "p99 during / without",
    ]
    rows = []
    for request in ("GET", "SET"):
        for key, f in made.items():
            quiet, saving = f.latency.get(("quiet", request)), f.latency.get(("saving", request))
            if quiet is None or saving is None:
                continue
            rows.append(
                [
                    request,
                    labels[key],
                    f"{markdown.rate(quiet.requests)} / {markdown.rate(saving.requests)}",
                    _ms(quiet.p50_ms),
                    _ms(quiet.p99_ms),
                    _range(quiet.p99_ms),
                    _ms(saving.p50_ms),
                    _ms(saving.p99_ms),
                    _range(saving.p99_ms),
                    _ms(saving.max_ms),
                    markdown.times(median_ratio(saving.p99_ms, quiet.p99_ms)),
                ]
            )
    return markdown.table(headers, rows, "ll" + "r" * 9) if rows else ["Not measured."]


def _ms(summary: Summary | None) -> str:
    return "-" if summary is None else markdown.millis(summary.median)


def snapshot_table(
    made: dict[str, SystemFigures], anchor: SystemFigures | None, labels: dict[str, str]
) -> list[str]:
    headers = [
        "System",
        "SAVE, s",
        "x Redis",
        "each BGSAVE, s",
        "range",
        "BGSAVE reply (fork), ms",
        "PSS before, MiB",
        "PSS peak, server + child, MiB",
        "growth",
    ]
    rows = []
    for key, f in made.items():
        base = anchor.save_s if anchor else None
        growth = f.pss_growth
        rows.append(
            [
                labels[key],
                _value(f.save_s, 2),
                "-" if key == ANCHOR else _ratio_text(median_ratio(f.save_s, base)),
                _value(f.bgsave_s, 2),
                _range(f.bgsave_s),
                _value(f.bgsave_reply_ms, 1),
                _value(f.pss_before_mib, 0),
                _value(f.pss_peak_mib, 0),
                "-" if growth is None else f"+{markdown.percent(growth)}",
            ]
        )
    return markdown.table(headers, rows) if rows else ["Not measured."]


def _failures(failed: dict[str, str]) -> list[str]:
    if not failed:
        return []
    return ["Not measured:", "", *(f"- {key}: {reason}" for key, reason in failed.items()), ""]


def _chart(
    ctx: Context,
    section: Section,
    made: dict[str, SystemFigures],
    labels: dict[str, str],
    contenders: Sequence[Contender],
) -> list[str]:
    reason = charts.unavailable_reason()
    if reason is not None:
        return [f"Chart not drawn: {reason}."]
    if not made:
        return []
    restart_groups = ("empty", "log / AOF", "snapshot / RDB")
    restarts: dict[str, list[Summary | None]] = {}
    for contender in contenders:
        f = made.get(contender.key)
        if f is not None:
            restarts[labels[f.system]] = [
                f.empty_start_s,
                f.restart_s.get(contender.replay_kind),
                f.restart_s.get(contender.image_kind),
            ]
    panels = [
        charts.Panel(
            "RSS per key",
            "bytes (lower is better)",
            ("loaded",),
            {labels[k]: [f.bytes_per_key] for k, f in made.items()},
        ),
        charts.Panel(
            "Restart to the first PONG", "seconds (lower is better)", restart_groups, restarts
        ),
    ]
    if any(f.latency for f in made.values()):
        groups = tuple(f"{request}\n{CHART_PHASE[phase]}" for phase, request in LATENCY_CELLS)
        panels.append(
            charts.Panel(
                "p99 latency, one client",
                "ms (lower is better)",
                groups,
                {
                    labels[k]: [p99(f, phase, req) for phase, req in LATENCY_CELLS]
                    for k, f in made.items()
                },
            )
        )
    file_name = "durability.png"
    title = "Durability: bars are the median round, whiskers the lowest and highest"
    charts.draw(ctx.img_dir / file_name, title, panels)
    section.charts.append(file_name)
    return [f"![durability: memory, restart, latency](img/{file_name})", ""]
