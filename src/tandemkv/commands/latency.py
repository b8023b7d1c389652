"""LATENCY: spikes of slow server work (fsync, snapshot fork, election...), as Redis keeps them.

Pure: the shell measures and calls `LatencyMonitor.record(event, unix_seconds, ms)`; a sample
is kept only when latency-monitor-threshold is set and the duration reaches it. Each event
keeps its last 160 samples, one per second (a second's worst), and its all-time worst.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from tandemkv.commands.errors import CommandError, unknown_subcommand
from tandemkv.commands.server import help_lines, note_subcommand
from tandemkv.commands.settings import Settings
from tandemkv.commands.table import command
from tandemkv.protocol.types import Verbatim

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session

HISTORY_LEN = 160  # Redis's LATENCY_TS_LEN

# Events the shell records; the first four are Redis's names for the same work.
FORK = "fork"  # BGSAVE's fork
AOF_FSYNC_ALWAYS = "aof-fsync-always"  # an fsync a write's reply waits for
EXPIRE_CYCLE = "expire-cycle"  # one cron step of active expiry
EVICTION_CYCLE = "eviction-cycle"  # one cron step of eviction past maxmemory
AOF_FSYNC_EVERYSEC = "aof-fsync-everysec"  # ours: the background fsync of everysec
SNAPSHOT_WRITE = "snapshot-write"  # ours: a SAVE (or an appendonly switch) writing a snapshot
ELECTION = "election"  # ours: from losing sight of the primary to knowing the next one


class EventHistory:
    __slots__ = ("max_ms", "samples")

    def __init__(self) -> None:
        self.samples: deque[tuple[int, int]] = deque(maxlen=HISTORY_LEN)  # (unix s, ms)
        self.max_ms = 0


class LatencyMonitor:
    """The samples of every event; latency-monitor-threshold 0 keeps none (Redis's default)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events: dict[str, EventHistory] = {}

    def record(self, event: str, unix_seconds: int, ms: int) -> None:
        threshold = self.settings.latency_monitor_threshold
        if not threshold or ms < threshold:
            return
        history = self.events.get(event)
        if history is None:
            history = self.events[event] = EventHistory()
        samples = history.samples
        if samples and samples[-1][0] == unix_seconds:
            # One sample per second, its worst: a burst reads as one spike, as in Redis.
            if ms > samples[-1][1]:
                samples[-1] = (unix_seconds, ms)
        else:
            samples.append((unix_seconds, ms))
        history.max_ms = max(history.max_ms, ms)

    def reset(self, events: list[str]) -> int:
        """Forget `events` (all if empty); how many had samples."""
        if not events:
            count = len(self.events)
            self.events.clear()
            return count
        return sum(self.events.pop(name, None) is not None for name in dict.fromkeys(events))

    def latest(self) -> list[list[object]]:
        return [
            [name.encode(), h.samples[-1][0], h.samples[-1][1], h.max_ms]
            for name, h in self.events.items()
            if h.samples
        ]

    def history(self, event: str) -> list[list[int]]:
        found = self.events.get(event)
        return [] if found is None else [[t, ms] for t, ms in found.samples]

    def doctor(self) -> str:
        threshold = self.settings.latency_monitor_threshold
        if not threshold:
            return (
                "Latency monitoring is disabled. Enable it with CONFIG SET "
                "latency-monitor-threshold <milliseconds>.\n"
            )
        if not self.events:
            return "No latency spike was observed since the monitor was started or reset.\n"
        lines = [f"Latency spikes observed (threshold {threshold} ms):", ""]
        for number, (name, h) in enumerate(self.events.items(), 1):
            values = [ms for _, ms in h.samples]
            average = sum(values) // len(values)
            lines.append(
                f"{number}. {name}: {len(values)} latency spikes (average {average}ms). "
                f"Worst all time event {h.max_ms}ms. {_ADVICE.get(name, '')}".rstrip()
            )
        return "\n".join(lines) + "\n"


_ADVICE = {
    FORK: "A large keyspace makes fork slow; snapshot less often (save, snapshot-log-bytes).",
    AOF_FSYNC_ALWAYS: "The disk is slow to fsync; consider appendfsync everysec.",
    AOF_FSYNC_EVERYSEC: "The disk is slow to fsync; writes under always would wait as long.",
    SNAPSHOT_WRITE: "SAVE blocks every client; prefer BGSAVE.",
    ELECTION: "Check the network between members and election-ms (docs/operations.md).",
    EXPIRE_CYCLE: "Many keys expire at once; spread their TTLs.",
    EVICTION_CYCLE: "Writes outpace eviction; raise maxmemory or lower the write rate.",
}

_SUBCOMMANDS = ("latest", "history", "reset", "doctor", "help")


@command(
    "latency",
    -2,
    "admin loading",
    group="server",
    since="2.8.13",
    subcommands=_SUBCOMMANDS,
    summary="Latency spikes of server work (fsync, fork, election)",
    syntax="LATEST|HISTORY event|RESET [event ...]|DOCTOR|HELP",
)
def latency(e: Engine, s: Session, args: list[bytes]) -> object:
    sub = args[1].upper()
    note_subcommand(s, "latency", sub, _SUBCOMMANDS)
    monitor = e.latency
    if sub == b"RESET":
        return monitor.reset([a.decode("utf-8", "replace") for a in args[2:]])
    if sub == b"HISTORY":
        if len(args) != 3:
            raise CommandError("wrong number of arguments for 'latency|history' command")
        return monitor.history(args[2].decode("utf-8", "replace"))
    fixed = {b"LATEST": "latest", b"DOCTOR": "doctor", b"HELP": "help"}
    if sub in fixed and len(args) != 2:
        raise CommandError(f"wrong number of arguments for 'latency|{fixed[sub]}' command")
    if sub == b"LATEST":
        return monitor.latest()
    if sub == b"DOCTOR":
        return Verbatim("txt", monitor.doctor().encode())
    if sub == b"HELP":
        return help_lines(
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HELP",
            "    Prints this help.",
        )
    raise unknown_subcommand("latency", args[1])
