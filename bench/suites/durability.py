"""The durability suite: memory per key and restart time with 1M keys against Redis's RDB load
and RSS, and GET/SET p99 while a snapshot is written, beside p99 without one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict

from bench.durability import (
    Contender,
    Harness,
    Plan,
    redis_contender,
    run_rounds,
    tandemkv_contender,
)
from bench.servers import HOST, SYSTEMS
from bench.suites.base import Context, Section, Suite, display_command
from bench.suites.durability_report import render
from bench.suites.single import unavailable_reason

KEYS = 1_000_000
QUICK_KEYS = 20_000
VALUE_SIZE = 32
SETTLE = 0.5
QUICK_SETTLE = 0.1
QUICK_LATENCY_SECONDS = 0.5
# What the harness itself sends, for the commands list (it has no command line of its own).
CLIENT_NOTE = (
    "# from the harness itself (bench/keyload.py, bench/snapshot_probe.py): MSETs of 1000 "
    "pairs, 8 in flight; DBSIZE; SAVE; BGSAVE and INFO persistence during the latency client"
)


def run_durability(ctx: Context) -> Section:
    failed: dict[str, str] = {}
    contenders = choose(ctx, failed)
    plan = plan_for(ctx)
    harness = Harness(ctx.book, ctx.scratch, ctx.log, _recorder(ctx))
    if contenders:
        ctx.record_text(CLIENT_NOTE)
    results, dropped = run_rounds(harness, contenders, plan, ctx.options.repeats)
    failed.update(dropped)
    section = Section(SUITE.name, SUITE.title)
    render(ctx, section, plan, contenders, results, failed)
    section.raw = {
        "plan": asdict(plan),
        "systems": {c.key: c.label for c in contenders},
        "rounds": [asdict(result) for result in results],
        "failed": failed,
    }
    return section


def plan_for(ctx: Context) -> Plan:
    quick = ctx.options.quick
    return Plan(
        keys=QUICK_KEYS if quick else KEYS,
        value_size=VALUE_SIZE,
        latency_seconds=QUICK_LATENCY_SECONDS if quick else ctx.options.duration,
        settle_seconds=QUICK_SETTLE if quick else SETTLE,
    )


def choose(ctx: Context, failed: dict[str, str]) -> list[Contender]:
    """Redis, and one tandemkv: hiredis + uvloop if asked for and installed, else the python
    parser + asyncio (restart time and memory are the storage's, not the parser's)."""
    chosen: list[Contender] = []
    redis_tool = ctx.tools["redis-server"]
    if "redis" in ctx.options.systems:
        if redis_tool.usable and redis_tool.path is not None:
            chosen.append(redis_contender(redis_tool.path, "redis", SYSTEMS["redis"].label))
        else:
            failed["redis"] = redis_tool.describe()
    for key in ("tandemkv-fast", "tandemkv-py"):
        if key not in ctx.options.systems:
            continue
        spec = SYSTEMS[key]
        reason = unavailable_reason(ctx, spec)
        if reason is None:
            chosen.append(tandemkv_contender(key, spec.label, spec.server_args))
            break
        failed[key] = reason
    if "etcd" in ctx.options.systems:
        etcd = ctx.tools["etcd"]
        failed["etcd"] = etcd.describe() if not etcd.usable else "this suite does not drive etcd"
    for key, reason in failed.items():
        ctx.log(f"[durability] not measuring {key}: {reason}")
    return chosen


def _recorder(ctx: Context) -> Callable[[Sequence[str], int, str], None]:
    def record(command: Sequence[str], port: int, env_note: str) -> None:
        text = display_command(command, ctx.scratch, None)
        text = text.replace(f"{HOST}:{port}", f"{HOST}:$PORT")
        ctx.record_text(f"{env_note} {text}".strip())

    return record


SUITE = Suite(
    name="durability",
    title="Durability: restart time and RSS per key with 1M keys, against Redis RDB load",
    description="1M keys: RSS per key, restart from the log and from a snapshot (Redis: AOF, "
    "RDB), GET/SET p99 during BGSAVE, against Redis",
    run=run_durability,
)
