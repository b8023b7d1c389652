"""Memory per key and restart time at N keys, tandemkv against Redis loading an RDB file.

    python3 -m bench.restart_rss [--keys 1000000] [--value-size 32]

For each system: start empty, note its RSS, load --keys keys (key:000000001 -> 32-byte
values, pipelined MSETs), note its RSS again; (RSS after - RSS before) / keys is the memory
per key. Then restart it and time how long it takes until it serves again: tandemkv twice,
once replaying its log (no snapshot) and once from a snapshot (after SAVE); Redis once,
from the RDB file written by SAVE. Prints each figure and its ratio to Redis's.

Needs Linux's /proc and redis-server on PATH; run it from the repository root.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    from bench.snapshot_latency import Connection, Server, load, start_server
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.snapshot_latency import Connection, Server, load, start_server


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def serving(port: int, deadline: float) -> bool:
    """Whether the server answers PING (Redis answers LOADING while it loads)."""
    while time.monotonic() < deadline:
        try:
            conn = Connection(port)
            try:
                if conn.call("PING") == "PONG":
                    return True
            finally:
                conn.close()
        except (OSError, RuntimeError):  # refused, or -LOADING while Redis reads its RDB
            pass
        time.sleep(0.01)
    return False


def measure_tandemkv(workdir: Path, keys: int, value_size: int) -> dict[str, float]:
    workdir.mkdir(parents=True, exist_ok=True)
    server = start_server(workdir, "everysec")
    try:
        before = rss_kib(server.proc.pid)
        load(server.port, keys, value_size)
        per_key = (rss_kib(server.proc.pid) - before) * 1024 / keys
    finally:
        server.stop()
    replay = timed_restart(workdir)
    server = start_server(workdir, "everysec")
    conn = Connection(server.port)
    assert conn.call("SAVE") == "OK"
    conn.close()
    server.stop()
    snapshot = timed_restart(workdir)
    return {"bytes per key": per_key, "restart, log replay (s)": replay,
            "restart, from snapshot (s)": snapshot}


def timed_restart(workdir: Path) -> float:
    started = time.monotonic()
    server: Server = start_server(workdir, "everysec")  # returns once the ready line is out
    elapsed = time.monotonic() - started
    server.stop()
    return elapsed


def measure_redis(workdir: Path, keys: int, value_size: int, port: int) -> dict[str, float]:
    command = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
               "--dir", str(workdir)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert serving(port, time.monotonic() + 10), "redis-server did not start"
        before = rss_kib(proc.pid)
        load(port, keys, value_size)
        per_key = (rss_kib(proc.pid) - before) * 1024 / keys
        conn = Connection(port)
        assert conn.call("SAVE") == "OK"
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert serving(port, time.monotonic() + 120), "redis-server did not come back"
        elapsed = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    return {"bytes per key": per_key, "restart, from RDB (s)": elapsed}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--value-size", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        print("redis-server not found (apt-get install redis-server)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="tandemkv-restart-") as tmp:
        ours = measure_tandemkv(Path(tmp, "tkv"), args.keys, args.value_size)
        redis_dir = Path(tmp, "redis")
        redis_dir.mkdir()
        theirs = measure_redis(redis_dir, args.keys, args.value_size, free_port())
    base_rss, base_restart = theirs["bytes per key"], theirs["restart, from RDB (s)"]
    print(f"{args.keys} keys, {args.value_size}-byte values (pid {os.getpid()})")
    print(f"  Redis    bytes per key {base_rss:8.1f}   restart from RDB {base_restart:6.2f} s")
    print(f"  tandemkv bytes per key {ours['bytes per key']:8.1f}   "
          f"({ours['bytes per key'] / base_rss:.2f}x Redis)")
    for name in ("restart, log replay (s)", "restart, from snapshot (s)"):
        print(f"  tandemkv {name:28} {ours[name]:6.2f} s ({ours[name] / base_restart:.2f}x Redis)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
