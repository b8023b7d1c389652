"""What a fuzz run found: failures, the slowest request, the counts, and the report.

A failure names the seed, the client and the exact requests that preceded it, so it can
be replayed two ways: the whole run (`TANDEMKV_FUZZ_SEED=N`, which repeats every client's
stream of requests, though not the threads' interleaving), or the one request alone,
pasted as a bytes literal into a RawClient.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from fuzz.grammar import Request
from fuzz.watchdog import StallReport

MiB = 1024 * 1024
_SHOWN_REQUESTS = 8


@dataclass(frozen=True)
class TimedRequest:
    """A request and how long its reply took (from the later of its send and the
    previous reply of its batch, to its own reply)."""

    seconds: float
    began: float  # time.monotonic()
    client: int
    target: str
    how: str  # the strategy that drew it
    literal: str  # the request as a bytes literal (not the request: it may be 1 MiB)
    # The rest of its batch, by command name. The server answers a pipelined chunk in one
    # write, so a heavy request later in the chunk delays this one's reply too.
    followed_by: str = ""

    def describe(self) -> str:
        text = (
            f"{self.seconds * 1000:.1f} ms on client {self.client} ({self.target}, "
            f"drawn by {self.how}): {self.literal}"
        )
        return text + (f", followed in its batch by {self.followed_by}" if self.followed_by else "")


def batch_outline(requests: Sequence[Request], limit: int = 8) -> str:
    """Command names of `requests`, runs of the same name counted: "MULTI, SET x3, ..."."""
    runs: list[tuple[bytes, int]] = []
    for request in requests:
        name = request.args[0].upper()
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1] + 1)
        else:
            runs.append((name, 1))
    shown = [
        name.decode("utf-8", "replace") + (f" x{n}" if n > 1 else "") for name, n in runs[:limit]
    ]
    if len(runs) > limit:
        shown.append(f"... {sum(n for _, n in runs[limit:])} more")
    return ", ".join(shown)


@dataclass(frozen=True)
class Failure:
    kind: str  # dropped, timeout, desync, server-died, internal-error, ...
    detail: str
    client: int
    target: str
    suspects: tuple[Request, ...]  # the requests whose replies never came, first first
    culprit: Request | None = None  # the one that reproduces the failure on its own

    def describe(self) -> str:
        lines = [f"{self.kind} on client {self.client} ({self.target}): {self.detail}"]
        if self.culprit is not None:
            lines.append(f"  reproduced alone by: {self.culprit.literal()}")
        if self.suspects:
            lines.append(f"  after sending {len(self.suspects)} request(s) still unanswered:")
            lines += [f"    {request.literal()}" for request in self.suspects[:_SHOWN_REQUESTS]]
            if len(self.suspects) > _SHOWN_REQUESTS:
                lines.append(f"    ... and {len(self.suspects) - _SHOWN_REQUESTS} more")
        return "\n".join(lines)


@dataclass
class FuzzResult:
    seed: int
    elapsed: float = 0.0
    requests: int = 0  # requests answered
    batches: int = 0
    error_replies: int = 0
    drawn: Counter[str] = field(default_factory=Counter)  # requests by strategy
    commands: Counter[bytes] = field(default_factory=Counter)  # requests by command name
    never_sent: list[str] = field(default_factory=list)  # non-rare commands never sent
    failures: list[Failure] = field(default_factory=list)
    slowest: TimedRequest | None = None
    slow: list[TimedRequest] = field(default_factory=list)  # every request over SLOW
    peak_rss: dict[str, int] = field(default_factory=dict)
    rss_span: dict[str, tuple[int, int]] = field(default_factory=dict)  # (first, last)
    stall: StallReport | None = None
    refills: int = 0  # loaded collections put back after the fuzzing destroyed them

    def in_flight_during_stall(self) -> list[TimedRequest]:
        """The slow requests in flight during the longest stall, likeliest cause first."""
        if self.stall is None:
            return []
        return self.in_flight(self.stall.longest_at, self.stall.longest)

    def in_flight(self, start: float, seconds: float) -> list[TimedRequest]:
        """The slow requests whose wait overlapped [start, start + seconds], likeliest
        cause first: those waiting from before it began until it ended, earliest first
        (requests sent during a stall are its victims)."""
        end = start + seconds
        overlapping = [t for t in self.slow if t.began < end and t.began + t.seconds > start]

        def likelihood(t: TimedRequest) -> tuple[bool, float]:
            spans = t.began <= start and t.began + t.seconds >= end
            return not spans, t.began

        return sorted(overlapping, key=likelihood)

    def summary(self) -> str:
        rss = ", ".join(
            f"{name} {size / MiB:.0f} MiB" + self._rss_span(name)
            for name, size in self.peak_rss.items()
        )
        drawn = " ".join(f"{how}={n}" for how, n in sorted(self.drawn.items()))
        lines = [
            f"fuzz seed {self.seed}: {self.requests} requests in {self.batches} batches in "
            f"{self.elapsed:.1f} s ({self.error_replies} error replies) [{drawn}]",
            f"peak RSS: {rss or 'not measured'}",
        ]
        if self.stall is not None:
            lines.append(self.stall.describe())
            overlapping = self.in_flight_during_stall()[:5]
            lines += [f"  in flight then: {timed.describe()}" for timed in overlapping]
            lines += [
                f"  then {rtt * 1000:.0f} ms, in flight: "
                + (", ".join(self._first_words(at, rtt)) or "nothing slow")
                for rtt, at in self.stall.top[1:8]
            ]
        if self.slowest is not None:
            lines.append(f"slowest request: {self.slowest.describe()}")
        by_command = self.slowest_by_command()[:12]
        if by_command:
            shown = ", ".join(f"{name} {seconds * 1000:.0f}" for name, seconds in by_command)
            lines.append(f"slowest reply per command (ms): {shown}")
        if self.refills:
            lines.append(f"loaded collections refilled {self.refills} times")
        return "\n".join(lines)

    def _first_words(self, start: float, seconds: float) -> list[str]:
        return [
            f"{t.literal[:60]} ({t.seconds * 1000:.0f} ms)"
            for t in self.in_flight(start, seconds)[:2]
        ]

    def slowest_by_command(self) -> list[tuple[str, float]]:
        """Each command's slowest reply among the slow ones kept, slowest first (a
        pipelined reply also waits for what its batch ran before it)."""
        worst: dict[str, float] = {}
        for timed in self.slow:
            name = timed.literal.split(",", 1)[0].strip("(b'\"").upper()
            worst[name] = max(worst.get(name, 0.0), timed.seconds)
        return sorted(worst.items(), key=lambda item: item[1], reverse=True)

    def _rss_span(self, name: str) -> str:
        if name not in self.rss_span:
            return ""
        first, last = self.rss_span[name]
        return f" (from {first / MiB:.0f} MiB at the start to {last / MiB:.0f} MiB at the end)"

    def report(self, problems: list[str], replay: str) -> str:
        return "\n".join(
            [
                f"fuzz run failed (seed {self.seed}):",
                *(f"- {problem}" for problem in problems),
                *(failure.describe() for failure in self.failures),
                self.summary(),
                f"replay the run: {replay}",
            ]
        )
