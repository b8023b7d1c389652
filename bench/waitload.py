"""SET then WAIT 1 0 for every write, over N connections at once: a write counts as done only
once at least one replica holds it, which is how a Redis user asks for what tandemkv's
majority acknowledgement gives.

    python3 -m bench.waitload --port PORT [--connections 50] [--seconds 3 | --requests N]

Each connection sends SET key value and WAIT 1 0 in one socket write and reads both replies
before its next write: one write in flight per connection, like redis-benchmark -c N without
-P. One process, asyncio (uvloop if installed). Prints one JSON line: writes, seconds, rps,
p50_ms, p99_ms (per SET+WAIT pair, from sending to the WAIT reply), errors. Stdlib only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
WAIT_ONE = b"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$1\r\n0\r\n"


def encode(*words: bytes) -> bytes:
    parts = [b"*%d\r\n" % len(words)]
    for word in words:
        parts.append(b"$%d\r\n%s\r\n" % (len(word), word))
    return b"".join(parts)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    def error(self, text: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or text


def reply_problem(set_reply: bytes, wait_reply: bytes) -> str | None:
    """Why a SET/WAIT reply pair does not show a write held by a replica (None: it does)."""
    if not set_reply.startswith(b"+OK"):
        return f"SET answered {set_reply.strip()!r}"
    if not wait_reply.startswith(b":"):
        return f"WAIT answered {wait_reply.strip()!r}"
    if int(wait_reply[1:]) < 1:
        return "WAIT 1 0 returned with no replica"
    return None


async def one_connection(
    port: int, index: int, quota: int, stop_at: float, value: bytes, tally: Tally
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    request = encode(b"SET", b"wait:%d" % index, value) + WAIT_ONE
    try:
        done = 0
        while done < quota and time.monotonic() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            set_reply = await reader.readline()
            wait_reply = await reader.readline()
            if not wait_reply:
                tally.error("the server closed the connection")
                return
            tally.latencies.append(time.perf_counter() - started)
            problem = reply_problem(set_reply, wait_reply)
            if problem is not None:
                tally.error(problem)
            done += 1
    finally:
        writer.close()


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


async def run(
    port: int, connections: int, requests: int, seconds: float, size: int
) -> dict[str, Any]:
    tally = Tally()
    quotas = [requests // connections + (i < requests % connections) for i in range(connections)]
    started = time.monotonic()
    stop_at = started + seconds
    value = b"x" * size
    await asyncio.gather(
        *(one_connection(port, i, quotas[i], stop_at, value, tally) for i in range(connections))
    )
    elapsed = time.monotonic() - started
    ordered = sorted(tally.latencies)
    writes = len(ordered)
    return {
        "writes": writes,
        "seconds": round(elapsed, 4),
        "rps": round(writes / elapsed, 2) if elapsed else 0.0,
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 3),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 3),
        "errors": tally.errors,
        "first_error": tally.first_error,
        "connections": connections,
    }


def run_loop(main: Coroutine[Any, Any, dict[str, Any]]) -> tuple[dict[str, Any], str]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main), "asyncio"
    return uvloop.run(main), "uvloop"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 -m bench.waitload", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0, help="stop after this long")
    parser.add_argument("--requests", type=int, default=0, help="or after this many writes")
    parser.add_argument("--value-size", type=int, default=3, help="bytes (redis-benchmark -d)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    requests = args.requests if args.requests > 0 else 2**62
    seconds = args.seconds if args.requests <= 0 else 3600.0
    result, loop = run_loop(run(args.port, args.connections, requests, seconds, args.value_size))
    print(json.dumps({**result, "loop": loop}), flush=True)
    return 0 if result["writes"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
