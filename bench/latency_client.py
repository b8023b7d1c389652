"""One closed-loop client for latency: GET then SET of a random loaded key, one request in
flight, waiting for each reply by busy-polling (bench/resp.py says why).

    python3 -m bench.latency_client --port PORT --keys N --out FILE [--seconds S] [--seed 1]

Runs for --seconds, or with --seconds 0 until SIGTERM. Prints "ready" once connected and
writes FILE as JSON: for each GET+SET pair the CLOCK_MONOTONIC time the GET was sent
("start", comparable with other processes' time.monotonic()) and each request's round trip
("get", "set"), in seconds. A separate process, so that whatever the harness does meanwhile
(starting snapshots, reading /proc) never holds this client's interpreter.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bench.keyload import key_name
from bench.resp import BusyConnection


class _Stop:
    requested = False

    def request(self, _signum: int, _frame: FrameType | None) -> None:
        self.requested = True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", type=int, required=True)
    parser.add_argument("--value-size", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop.request)
    rng = random.Random(args.seed)
    value = b"w" * args.value_size
    starts: list[float] = []
    gets: list[float] = []
    sets: list[float] = []
    clock = time.monotonic
    with BusyConnection(args.port) as conn:
        print("ready", flush=True)
        deadline = clock() + args.seconds if args.seconds > 0 else float("inf")
        while not stop.requested and clock() < deadline:
            key = key_name(rng.randrange(args.keys))
            began = clock()
            conn.call("GET", key)
            middle = clock()
            conn.call("SET", key, value)
            ended = clock()
            starts.append(began)
            gets.append(middle - began)
            sets.append(ended - middle)
    args.out.write_text(json.dumps({"start": starts, "get": gets, "set": sets}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
