"""Memory per key and restart time at N keys, tandemkv against Redis, printed to the terminal.

    python3 -m bench.restart_rss [--keys 1000000] [--value-size 32] [--repeats 1]

A thin front end to the durability suite's measurements (bench/durability.py): each system is
loaded from empty ((RSS after - RSS before) / keys is the memory per key), then restarted from
its write log (tandemkv's log, Redis's AOF) and from its snapshot (Redis: the RDB file), each
restart timed from exec to the first PONG. For medians over repeats, the latency probe and the
report, run the suite: python3 -m bench --suites durability

Needs Linux's /proc and redis-server on PATH; run it from the repository root.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence

from bench.durability import Plan, redis_contender, run_alone, tandemkv_contender
from bench.stats import Summary
from bench.suites.durability_figures import SystemFigures, figures, median_ratio


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--value-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server not found (apt-get install redis-server)", file=sys.stderr)
        return 1
    plan = Plan(args.keys, args.value_size, 0.0, settle_seconds=0.5, latency=False)
    contenders = [redis_contender(binary), tandemkv_contender("tandemkv", "tandemkv", ())]
    results, failed = run_alone(contenders, plan, args.repeats)
    for key, reason in failed.items():
        print(f"{key}: {reason}", file=sys.stderr)
    if failed:
        return 1
    redis, ours = figures(results, "redis"), figures(results, "tandemkv")
    print(f"{args.keys:,} keys, {args.value_size}-byte values, median of {args.repeats}")
    print(
        f"  Redis    RSS per key {_value(redis.bytes_per_key, 'bytes')}; restart from its AOF "
        f"{_value(redis.restart_s.get('aof'), 's')}, from its RDB file "
        f"{_value(redis.restart_s.get('rdb'), 's')}"
    )
    print(
        f"  tandemkv RSS per key {_value(ours.bytes_per_key, 'bytes')} "
        f"({_times(ours.bytes_per_key, redis.bytes_per_key)} Redis)"
    )
    for kind, name in (("log", "from its log"), ("snapshot", "from its snapshot")):
        print(f"  tandemkv restart {name}: {_restart(ours, redis, kind)}")
    return 0


def _restart(ours: SystemFigures, redis: SystemFigures, kind: str) -> str:
    mine = ours.restart_s.get(kind)
    text = f"{_value(mine, 's')} ({_times(mine, redis.restart_s.get('rdb'))} Redis's RDB load"
    if kind == "log":
        text += f", {_times(mine, redis.restart_s.get('aof'))} its AOF replay"
    return text + ")"


def _value(summary: Summary | None, unit: str) -> str:
    return "-" if summary is None else f"{summary.median:.2f} {unit}"


def _times(mine: Summary | None, anchor: Summary | None) -> str:
    value = median_ratio(mine, anchor)
    return "-" if value is None else f"{value:.2f}x"


if __name__ == "__main__":
    sys.exit(main())
