"""What a background snapshot costs clients: GET/SET latency with and without BGSAVE.

    python3 -m bench.snapshot_latency [--keys 1000000] [--seconds 5] [--fsync everysec] [--redis]

A thin front end to the durability suite's measurements (bench/durability.py and
bench/snapshot_probe.py): a tandemkv server (and Redis, with --redis) is loaded with --keys
keys, restarted, and one closed-loop client (one request in flight, GET then SET of a random
loaded key) runs for --seconds with no snapshot, then while BGSAVEs run back to back. Prints
the client's latency percentiles for both phases, how long each BGSAVE took, and the
proportional set size (PSS) of the server plus its forked child at the fullest moment of a
save against the server's alone before it: the memory copy-on-write copied. For medians over
repeats and the report, run the suite: python3 -m bench --suites durability

Needs Linux's /proc; run it from the repository root.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence

from bench.durability import Contender, Plan, redis_contender, run_alone, tandemkv_contender
from bench.snapshot_probe import Latencies, LatencyResult

MIB = 1024 * 1024


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--value-size", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--fsync", choices=("always", "everysec", "no"), default="everysec")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--redis", action="store_true", help="measure Redis too")
    args = parser.parse_args(argv)
    contenders = [tandemkv_contender("tandemkv", "tandemkv", (), args.fsync)]
    if args.redis:
        binary = shutil.which("redis-server")
        if binary is None:
            print("redis-server not found (apt-get install redis-server)", file=sys.stderr)
            return 1
        contenders.append(redis_contender(binary))
    plan = Plan(args.keys, args.value_size, args.seconds, settle_seconds=0.0, seed=args.seed)
    results, failed = run_alone(contenders, plan, 1)
    for key, reason in failed.items():
        print(f"{key}: {reason}", file=sys.stderr)
    for result in results:
        if result.latency is not None:
            print(_describe(_label(contenders, result.system), args.keys, result.latency))
    return 1 if failed else 0


def _label(contenders: Sequence[Contender], key: str) -> str:
    return next(c.label for c in contenders if c.key == key)


def _describe(label: str, keys: int, probe: LatencyResult) -> str:
    lines = [
        "",
        label,
        f"{'client latency':<22} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>9}",
        _row("GET, no snapshot", probe.quiet_get),
        _row("SET, no snapshot", probe.quiet_set),
        _row("GET, during BGSAVE", probe.saving_get),
        _row("SET, during BGSAVE", probe.saving_set),
    ]
    saves = probe.saves
    growth = saves.pss_peak - saves.pss_before
    lines += [
        f"BGSAVE: {len(saves.seconds)} saves of {keys:,} keys, {min(saves.seconds):.2f}-"
        f"{max(saves.seconds):.2f} s each; the BGSAVE command itself (the fork) answered in "
        f"{saves.reply_ms_max:.1f} ms at most",
        f"memory: server PSS {saves.pss_before / MIB:.0f} MiB before; server+child peak "
        f"{saves.pss_peak / MIB:.0f} MiB during a save (+{growth / MIB:.0f} MiB, "
        f"{100 * growth / max(1, saves.pss_before):.0f}%)",
    ]
    return "\n".join(lines)


def _row(name: str, cell: Latencies) -> str:
    if cell.p50_ms is None or cell.p99_ms is None or cell.max_ms is None:
        return f"{name:<22} {0:>8}"
    return (
        f"{name:<22} {cell.requests:>8} {cell.p50_ms:>8.3f} {cell.p99_ms:>8.3f} {cell.max_ms:>9.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
