"""The stall watchdog: a PING every few milliseconds on a connection of its own, and the
longest time the server took to answer one.

tandemkv serves every client from one event loop, so a request that holds the loop (a
KEYS that backtracks, an EXEC of thousands of commands, a huge allocation) delays every
other client's PONG by as long. The longest PING round trip is therefore the longest
time the server stopped serving; the run fails if it exceeds its bound.

It runs in a separate process, not a thread: in the fuzzing process, client threads that
decode large replies hold the GIL, and a thread's PING would measure them, not the
server. Times are CLOCK_MONOTONIC, which every process on the machine shares, so a stall
can be matched with the requests the fuzzing clients had in flight at that moment.

    PYTHONPATH=src:tests python3 -m fuzz.watchdog HOST PORT SECONDS   # measure a baseline
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

PING = b"*1\r\n$4\r\nPING\r\n"
PONG = b"+PONG\r\n"
INTERVAL = 0.005  # seconds between two PINGs (from one send to the next)
TOP = 20  # how many of the longest waits the report keeps
_POLL = 0.25  # how often a PING still unanswered checks whether the run is over
_START_TIMEOUT = 20.0
_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class StallReport:
    """What the watchdog saw. Times are seconds; `longest_at` is monotonic time."""

    pings: int
    longest: float
    longest_at: float  # when the PING that waited longest was sent (time.monotonic())
    longest_wall: float  # the same moment as Unix time, for logs
    median: float
    p99: float
    error: str | None = None  # the connection failed: the server died or closed it
    top: tuple[tuple[float, float], ...] = ()  # the longest waits: (seconds, monotonic time)

    def describe(self) -> str:
        wall = time.strftime("%H:%M:%S", time.gmtime(self.longest_wall))
        text = (
            f"longest stall {self.longest * 1000:.1f} ms at {wall} UTC "
            f"(ping round trip median {self.median * 1000:.2f} ms, "
            f"p99 {self.p99 * 1000:.2f} ms, {self.pings} pings)"
        )
        others = ", ".join(f"{rtt * 1000:.0f}" for rtt, _at in self.top[1:6])
        text += f"; next longest: {others} ms" if others else ""
        return text + (f"; watchdog connection failed: {self.error}" if self.error else "")


class Watchdog:
    """Start it before the load, stop it after; `stop` returns the report."""

    def __init__(self, host: str, port: int, interval: float = INTERVAL) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=watch,
            args=(host, port, interval, self._stop, send),
            name="stall-watchdog",
            daemon=True,
        )
        self.report: StallReport | None = None

    def __enter__(self) -> Watchdog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Watchdog:
        self._process.start()
        if not self._receive.poll(_START_TIMEOUT):
            self._end_process()
            raise RuntimeError("the watchdog got no PONG within its start timeout")
        try:
            started = self._receive.recv()
        except EOFError:
            started = "the watchdog process exited before its first PONG"
        if started != "ready":
            self._end_process()
            raise RuntimeError(f"the watchdog could not start: {started}")
        return self

    def stop(self) -> StallReport:
        if self.report is not None:
            return self.report
        self._stop.set()
        report: object = None
        if self._receive.poll(_STOP_TIMEOUT):
            with contextlib.suppress(EOFError):  # it exited without a report
                report = self._receive.recv()
        self._end_process()
        if not isinstance(report, StallReport):
            raise RuntimeError(f"the watchdog sent no report: {report!r}")
        self.report = report
        return report

    def _end_process(self) -> None:
        """Join the child; if it does not end, terminate then kill it by pid."""
        self._process.join(_STOP_TIMEOUT)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(_STOP_TIMEOUT)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def watch(host: str, port: int, interval: float, stop: Event, out: Connection) -> None:
    """The child process: PING until `stop` is set, then send a StallReport."""
    try:
        sock = socket.create_connection((host, port), timeout=_START_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _ping_once(sock, stop)
    except OSError as failed:
        out.send(f"{type(failed).__name__}: {failed}")
        return
    out.send("ready")
    tally = _Tally()
    with sock:
        while not stop.is_set() and tally.error is None:
            sent, wall = time.monotonic(), time.time()
            try:
                rtt = _ping_once(sock, stop)
            except (OSError, ValueError) as failure:
                tally.error = f"{type(failure).__name__}: {failure}"
                rtt = time.monotonic() - sent
            tally.add(rtt, sent, wall)
            time.sleep(max(0.0, sent + interval - time.monotonic()))
    out.send(tally.report())


class _Tally:
    """Every round trip, the longest one and when, the TOP longest, and a failure."""

    def __init__(self) -> None:
        self.rtts: list[float] = []
        self.longest = (0.0, time.monotonic(), time.time())
        self.top: list[tuple[float, float]] = []  # a min-heap
        self.error: str | None = None

    def add(self, rtt: float, sent: float, wall: float) -> None:
        self.rtts.append(rtt)
        if rtt > self.longest[0]:
            self.longest = (rtt, sent, wall)
        if len(self.top) < TOP:
            heapq.heappush(self.top, (rtt, sent))
        elif rtt > self.top[0][0]:
            heapq.heapreplace(self.top, (rtt, sent))

    def report(self) -> StallReport:
        ordered = sorted(self.rtts) or [0.0]
        return StallReport(
            pings=len(self.rtts),
            longest=self.longest[0],
            longest_at=self.longest[1],
            longest_wall=self.longest[2],
            median=statistics.median(ordered),
            p99=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            error=self.error,
            top=tuple(sorted(self.top, reverse=True)),
        )


def _ping_once(sock: socket.socket, stop: Event) -> float:
    """One PING's round trip; if `stop` is set while it waits, the time waited so far."""
    sent = time.monotonic()
    sock.sendall(PING)
    sock.settimeout(_POLL)
    received = b""
    while len(received) < len(PONG):
        try:
            chunk = sock.recv(64)
        except TimeoutError:
            if stop.is_set():
                return time.monotonic() - sent  # still stalled when the run ended
            continue
        if not chunk:
            raise ConnectionError("the server closed the watchdog's connection")
        received += chunk
    if received != PONG:
        raise ValueError(f"unexpected reply to PING: {received!r}")
    return time.monotonic() - sent


def main(argv: list[str]) -> int:
    host, port, seconds = argv[0], int(argv[1]), float(argv[2])
    with Watchdog(host, port) as dog:
        time.sleep(seconds)
    print(dog.stop().describe())
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
