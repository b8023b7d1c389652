"""A whole fuzz run, start to verdict: the grammar from the server, the watchdog around
the run, and the checks afterwards.

After the clients stop, every target must still run, answer PING on a fresh connection
and have written no internal error to stderr; the watched server's longest stall and each
server's peak RSS must stay under their bounds (the numbers are explained where defined).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fuzz.grammar import fetch_grammar
from fuzz.keyspace import Collection, CollectionKeeper
from fuzz.monitor import Target
from fuzz.outcome import FuzzResult
from fuzz.runner import FuzzConfig, FuzzRun
from fuzz.watchdog import Watchdog
from helpers.resp import ConnectionClosed, RawClient
from helpers.servers import CRASH_MARKERS

MiB = 1024 * 1024

# The longest a PING may wait. Measured on the project's 2-core machine (Python 3.11,
# uvloop, hiredis): an idle server answers within 4 ms (median 0.16 ms); an idle server
# watched while another one is fuzzed, within 12 ms (what the load alone costs); a fuzzed
# server, 84-158 ms over six 30-45 s runs (p99 30-50 ms), the worst moments being deep
# MULTIs and pipelines of 1 MiB arguments; 195-236 ms while another session ran the whole
# suite on the same two cores (load average 3.4). 400 ms leaves room over that, while the
# stalls the fuzzer found stand far out: 1 s for a 512 KiB glob, 1 s for an EXEC of 200
# KEYS, 1.3 s for one amplified MGET, seconds for WATCH of 20,000 keys.
STALL_BOUND = 0.4
# The peak RSS a server may reach. Measured: 32 MiB idle; 215-245 MiB at the end of a
# 30-40 s default run: the shared keys' values (APPENDs of up to 1 MiB pile up), the 5,000
# keys giant requests write, deep MULTI queues, pipelines holding up to 16 MiB per client,
# and the log's encoded entries, kept in memory until the next snapshot (up to 64 MiB of
# log; the same run with --appendonly no peaks at 119 MiB). 512 MiB is twice that; a leak
# or an amplification (one MGET of a big key repeated: +1 GiB) goes well past it.
RSS_BOUND = 512 * MiB
# How often the loaded collections are checked and refilled (keyspace.CollectionKeeper).
KEEPER_PERIOD = 2.0


@dataclass(frozen=True)
class Bounds:
    stall: float = STALL_BOUND
    rss: int = RSS_BOUND


def run_fuzz(
    targets: list[Target],
    config: FuzzConfig,
    bounds: Bounds,
    watched: Target | None = None,
    kept: Sequence[Collection] = (),
) -> tuple[FuzzResult, list[str]]:
    """Fuzz `targets` with a watchdog on `watched` (the first target by default), keeping
    the `kept` collections (loaded beforehand) on the first target; the result and every
    reason to fail the run."""
    watched = watched or targets[0]
    with RawClient(targets[0].host, targets[0].port) as client:
        grammar = fetch_grammar(client, config.grammar)
    dog = Watchdog(watched.host, watched.port).start()
    try:
        with CollectionKeeper(targets[0], kept, KEEPER_PERIOD) as keeper:
            result = FuzzRun(targets, grammar, config).run()
    finally:
        stall = dog.stop()
    result.stall = stall
    result.refills = keeper.refills
    return result, problems(result, targets, bounds)


def problems(result: FuzzResult, targets: list[Target], bounds: Bounds) -> list[str]:
    found = [f"{len(result.failures)} client failure(s), listed below"] if result.failures else []
    for target in {target.name: target for target in targets}.values():
        found += _health(target)
        peak = result.peak_rss.get(target.name, 0)
        if peak > bounds.rss:
            found.append(
                f"{target.name}: peak RSS {peak // MiB} MiB over the bound {bounds.rss // MiB} MiB"
            )
    stall = result.stall
    if stall is not None and stall.longest > bounds.stall:
        found.append(
            f"the longest stall, {stall.longest * 1000:.0f} ms, is over the bound "
            f"{bounds.stall * 1000:.0f} ms"
        )
    if stall is not None and stall.error:
        found.append(f"the watchdog's connection failed: {stall.error}")
    return found


def _health(target: Target) -> list[str]:
    if target.alive is not None and not target.alive():
        return [f"{target.name} is not running"]
    found = []
    try:
        with RawClient(target.host, target.port, timeout=10) as fresh:
            reply: Any = fresh.call("PING")
        if reply != "PONG":
            found.append(f"{target.name} answered PING on a fresh connection with {reply!r}")
    except (OSError, ConnectionClosed) as error:
        found.append(f"{target.name} did not answer PING on a fresh connection: {error}")
    if target.stderr is not None:
        found += [
            f"{target.name} logged an internal error: {error}"
            for error in internal_errors(target.stderr())[:10]
        ]
    return found


def internal_errors(stderr: str) -> list[str]:
    """Each distinct internal error in a server's stderr, as "the exception, raised at the
    innermost frame" (or the marker line itself when no traceback follows it)."""
    errors: list[str] = []
    lines = stderr.splitlines()
    for n, line in enumerate(lines):
        if not any(marker in line for marker in CRASH_MARKERS):
            continue
        frame, end = "", n + 1
        while end < len(lines) and (lines[end].startswith(" ") or "Traceback" in lines[end]):
            if lines[end].lstrip().startswith("File "):
                frame = lines[end].strip()
            end += 1
        if "Traceback" in line and end < len(lines):
            error = f"{lines[end].strip()} ({frame})"
        else:
            error = line.strip()
        if error not in errors:
            errors.append(error)
    return errors
