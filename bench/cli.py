"""Command-line parsing only: turns argv into Options and hands them to the runner."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.paths import DEFAULT_OUT_DIR, DEFAULT_RESULTS_DIR, REPORT_NAME
from bench.report import refresh_findings
from bench.runner import run
from bench.servers import ALIASES, SYSTEMS
from bench.suites import SUITES
from bench.suites.base import Options

PERSISTENCE_KEYS = ("off", "everysec", "always")
DEFAULT_SYSTEMS = ("redis", "tandemkv-py", "tandemkv-fast", "tandemkv-pure", "etcd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m bench",
        description="Benchmark tandemkv against Redis (and etcd) on this machine, interleaved, "
        "and write the report (docs/benchmarks.md, docs/img/).",
    )
    parser.add_argument(
        "--suites", default="all", help=f"comma-separated suites (default all): {', '.join(SUITES)}"
    )
    parser.add_argument(
        "--systems",
        default="all",
        help=f"comma-separated systems (default all): {', '.join([*SYSTEMS, *ALIASES])}",
    )
    parser.add_argument(
        "--persistence",
        default="all",
        help="comma-separated durability settings for the single suite (default all): "
        f"{', '.join(PERSISTENCE_KEYS)}",
    )
    parser.add_argument(
        "--repeats",
        type=_positive_int,
        default=None,
        help="runs per measurement, reported as median and range (default 3)",
    )
    parser.add_argument(
        "--duration",
        type=_positive_float,
        default=3.0,
        help="target seconds per measured run (default 3)",
    )
    parser.add_argument(
        "--kills",
        type=_positive_int,
        default=None,
        help="SIGKILLs of the primary in the failover suite (default 5; 1 with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 repeat, tiny fixed request counts, no timing claims",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help="where benchmarks.md and img/ go (default docs/)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_RESULTS_DIR,
        help="where the raw results (JSON) go (default bench/results/)",
    )
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument(
        "--refresh-findings",
        action="store_true",
        help="only copy bench/findings.md into the existing report (no measurements)",
    )
    return parser


def options_from(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str]
) -> Options:
    suites = _choose(parser, "--suites", args.suites, tuple(SUITES), {})
    systems = _choose(parser, "--systems", args.systems, DEFAULT_SYSTEMS, ALIASES)
    modes = _choose(parser, "--persistence", args.persistence, PERSISTENCE_KEYS, {})
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    kills = args.kills if args.kills is not None else (1 if args.quick else 5)
    return Options(
        suites=suites,
        systems=systems,
        persistence=modes,
        repeats=repeats,
        quick=args.quick,
        duration=args.duration,
        out_dir=args.out.resolve(),
        results_dir=args.results.resolve(),
        argv=tuple(argv),
        kills=kills,
    )


def _choose(
    parser: argparse.ArgumentParser,
    flag: str,
    text: str,
    everything: Sequence[str],
    aliases: Mapping[str, tuple[str, ...]],
) -> tuple[str, ...]:
    chosen: list[str] = []
    for name in filter(None, (part.strip() for part in text.split(","))):
        names = everything if name == "all" else aliases.get(name, (name,))
        for one in names:
            if one not in everything:
                parser.error(f"{flag}: unknown name {one!r} (choose from {', '.join(everything)})")
            chosen.append(one)
    # Keep the registry's order whatever order was typed.
    return tuple(name for name in everything if name in chosen)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def list_suites() -> str:
    return "\n".join(f"{suite.name:12} {suite.description}" for suite in SUITES.values())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        print(list_suites())
        return 0
    if args.refresh_findings:
        report = args.out.resolve() / REPORT_NAME
        if not report.exists() or not refresh_findings(report):
            parser.error(f"{report} has no findings section to refresh; run the profile suite")
        print(f"findings refreshed in {report}", file=sys.stderr)
        return 0
    return run(options_from(parser, args, argv))
