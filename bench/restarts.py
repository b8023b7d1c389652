"""Starting a server on a port chosen in advance and timing it from exec to its first PONG.

A restart is timed the same way for every system: the clock starts just before the process is
spawned and stops when PING on its port first answers PONG. tandemkv only listens once its
data is loaded; Redis listens at once but answers ``-LOADING`` until it is. Polling every few
milliseconds keeps the error of that clock far below the seconds being measured.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

from bench.procs import ProcessBook
from bench.servers import HOST, StartError, redis_pid

POLL_SECONDS = 0.005


@dataclass
class TimedServer:
    proc: Popen[bytes]
    port: int
    workdir: Path
    # From spawning the process to its first PONG.
    seconds: float

    @property
    def pid(self) -> int:
        return self.proc.pid


def start_timed(
    book: ProcessBook,
    command: Sequence[str],
    workdir: Path,
    port: int,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> TimedServer:
    """Spawn ``command`` (which must listen on ``port``) and wait for its first PONG."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    proc = book.spawn(command, cwd=workdir, log_stem="server", env=env)
    deadline = started + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartError(f"exited with status {proc.returncode}: {_tail(workdir)}")
        if _answers_pong(port):
            elapsed = time.monotonic() - started
            if redis_pid(port) != proc.pid:
                book.stop(proc)
                raise StartError(f"port {port} is answered by another process")
            return TimedServer(proc, port, workdir, elapsed)
        time.sleep(POLL_SECONDS)
    book.stop(proc)
    raise StartError(f"no PONG within {timeout:.0f} s: {_tail(workdir)}")


def _answers_pong(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=5) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _tail(workdir: Path, lines: int = 5) -> str:
    text = ""
    for name in ("server.err", "server.out"):
        path = workdir / name
        if path.exists():
            text += path.read_text(errors="replace")
    return " / ".join(text.strip().splitlines()[-lines:]) or "no output"
