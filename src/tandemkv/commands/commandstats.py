"""Per-command statistics: Redis's INFO commandstats and errorstats, and a latency
histogram per command for the metrics endpoint.

Pure: no clock here. The engine counts calls, rejections and failures as it runs commands;
the shell measures how long each one took and passes the duration to `record`.
"""

from __future__ import annotations

from bisect import bisect_left

# The histogram's upper bounds in nanoseconds (the metrics endpoint shows them in seconds).
# Most commands take a few microseconds, so the first buckets are narrow; the last bound
# catches a KEYS or a big SORT that held the loop.
BUCKET_BOUNDS_NS: tuple[int, ...] = (
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    50_000_000,
    100_000_000,
    1_000_000_000,
)
# Redis stops tracking new error codes past this many (its errorstats is bounded too).
MAX_ERROR_CODES = 128


class Timings:
    """A latency histogram with fixed buckets: counts and the sum.

    `quick` counts durations under the first bound that the shell added itself (two
    increments on the hot path: `nanoseconds` and `quick`); `record` places any other."""

    __slots__ = ("buckets", "nanoseconds", "quick")

    def __init__(self) -> None:
        self.nanoseconds = 0
        self.quick = 0
        # Non-cumulative counts per bucket; the last one is past every bound.
        self.buckets = [0] * (len(BUCKET_BOUNDS_NS) + 1)

    def record(self, nanoseconds: int) -> None:
        """One measured duration."""
        self.nanoseconds += nanoseconds
        self.buckets[bisect_left(BUCKET_BOUNDS_NS, nanoseconds)] += 1

    @property
    def timed(self) -> int:
        return self.quick + sum(self.buckets)

    def counts(self) -> list[int]:
        """Non-cumulative counts per bucket, the quick ones in the first."""
        counts = list(self.buckets)
        counts[0] += self.quick
        return counts


class CommandStat(Timings):
    """One command's counters (a subcommand such as config|get has its own, as in Redis).

    Its calls are the ones the shell timed, plus those run inside EXEC (`inner`), whose
    time counts in EXEC's."""

    __slots__ = ("failed", "inner", "name", "rejected")

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.inner = 0  # ran inside EXEC
        self.failed = 0  # ran and answered an error
        self.rejected = 0  # refused before running (arity, NOAUTH, OOM...)

    @property
    def calls(self) -> int:
        return self.timed + self.inner

    def info_line(self) -> str:
        usec = self.nanoseconds // 1000
        calls = self.calls
        per_call = usec / calls if calls else 0.0
        return (
            f"calls={calls},usec={usec},usec_per_call={per_call:.2f},"
            f"rejected_calls={self.rejected},failed_calls={self.failed}"
        )


class CommandStats:
    __slots__ = ("by_name", "errors")

    def __init__(self) -> None:
        self.by_name: dict[str, CommandStat] = {}
        self.errors: dict[str, int] = {}  # error code (ERR, WRONGTYPE...) -> replies

    def stat(self, name: str) -> CommandStat:
        found = self.by_name.get(name)
        if found is None:
            found = self.by_name[name] = CommandStat(name)
        return found

    def add_call(self, name: str, nanoseconds: int) -> None:
        """A call the shell timed (the connection inlines this on its hot path)."""
        self.stat(name).record(nanoseconds)

    def count_error(self, code: str) -> None:
        if code in self.errors:
            self.errors[code] += 1
        elif len(self.errors) < MAX_ERROR_CODES:
            self.errors[code] = 1

    def reset(self) -> None:
        """CONFIG RESETSTAT."""
        self.by_name.clear()
        self.errors.clear()

    def info(self) -> dict[str, object]:
        """INFO commandstats: commands that ran or were refused since the last reset."""
        return {
            f"cmdstat_{name}": stat.info_line()
            for name, stat in sorted(self.by_name.items())
            if stat.calls or stat.rejected
        }

    def error_info(self) -> dict[str, object]:
        """INFO errorstats."""
        return {f"errorstat_{code}": f"count={n}" for code, n in sorted(self.errors.items())}
