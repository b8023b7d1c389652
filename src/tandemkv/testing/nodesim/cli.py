"""The simulator's command line: run a range of seeds, replay one, minimise its faults.

    python3 -m tandemkv.testing.nodesim --seed 17                 replay seed 17
    python3 -m tandemkv.testing.nodesim --seeds 0-199 --nodes 3   a batch; stops at a failure
    python3 -m tandemkv.testing.nodesim --seed 17 --faults 0,3    only those drawn faults
    python3 -m tandemkv.testing.nodesim --seed 17 --minimise      the fewest faults that fail
    python3 -m tandemkv.testing.nodesim --seeds 0-99 --bug no-rebuild --expect-failure
                                 the first seed that catches an injected bug (bugs.py)
Exit status: 0 all passed (with --expect-failure: a seed failed), 1 otherwise, 2 bad
arguments.
"""

from __future__ import annotations

import argparse
import time

from tandemkv.testing.nodesim.bugs import BUGS
from tandemkv.testing.nodesim.run import Outcome, replay_command, run_seed


def minimise(seed: int, size: int, bug: str | None) -> tuple[list[int], Outcome]:
    """Drop faults one at a time while the run still fails: the indexes left, and that
    run. Each try is a full run, so this costs about as many runs as there are faults."""
    keep = list(range(len(run_seed(seed, size, bug=bug).faults)))
    failing = run_seed(seed, size, keep, bug=bug)
    for index in list(keep):
        trial = [i for i in keep if i != index]
        outcome = run_seed(seed, size, trial, bug=bug)
        if outcome.problems:
            keep, failing = trial, outcome
    return keep, failing


def _seeds(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tandemkv.testing.nodesim")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--seeds", type=_seeds, help="FIRST-LAST")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--faults", help="comma-separated indexes of the drawn faults")
    parser.add_argument("--minimise", action="store_true")
    parser.add_argument("--bug", choices=BUGS, help="inject a bug (needs TANDEMKV_PURE=1)")
    parser.add_argument("--expect-failure", action="store_true")
    args = parser.parse_args(argv)
    if (args.seed is None) == (args.seeds is None):
        parser.error("give --seed N or --seeds FIRST-LAST")
    if args.minimise:
        keep, outcome = minimise(args.seed, args.nodes, args.bug)
        print(outcome.report())
        print("replay:", replay_command(args.seed, args.nodes, keep, args.bug))
        return 1 if outcome.problems else 0
    only = [int(i) for i in args.faults.split(",")] if args.faults else None
    seeds = args.seeds if args.seeds is not None else range(args.seed, args.seed + 1)
    started = time.perf_counter()
    for tried, seed in enumerate(seeds, 1):
        outcome = run_seed(seed, args.nodes, only, bug=args.bug)
        print(outcome.report() if outcome.problems or args.seed is not None else f"seed {seed} ok")
        if outcome.problems:
            print("replay:", replay_command(seed, args.nodes, only, args.bug))
            if args.bug:
                print(f"{args.bug} caught by seed {seed} ({tried} seeds tried)")
            return 0 if args.expect_failure else 1
    spent = time.perf_counter() - started
    print(f"{len(seeds)} seeds passed in {spent:.1f}s ({len(seeds) / spent:.2f} seeds/s)")
    return 1 if args.expect_failure else 0
