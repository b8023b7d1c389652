"""Starting each system under test on a free loopback port in its own temporary directory."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.paths import SRC_DIR
from bench.procs import ProcessBook

if TYPE_CHECKING:
    from bench.persistence import Persistence

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
_READY = re.compile(r"Ready to accept connections at (\S+):(\d+)\s*$", re.MULTILINE)
_ENV_PREFIX = "TANDEMKV_"


@dataclass(frozen=True)
class SystemSpec:
    key: str
    label: str
    family: str
    server_args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # e.g. TANDEMKV_PURE=1: the pure-Python build


SYSTEMS: dict[str, SystemSpec] = {
    spec.key: spec
    for spec in (
        SystemSpec("redis", "Redis", "redis"),
        SystemSpec(
            "tandemkv-py",
            "tandemkv (python parser + asyncio)",
            "tandemkv",
            ("--parser", "python", "--event-loop", "asyncio"),
        ),
        SystemSpec(
            "tandemkv-fast",
            "tandemkv (hiredis + uvloop)",
            "tandemkv",
            ("--parser", "hiredis", "--event-loop", "uvloop"),
        ),
        SystemSpec(
            "tandemkv-pure",
            "tandemkv, pure-Python build (hiredis + uvloop)",
            "tandemkv",
            ("--parser", "hiredis", "--event-loop", "uvloop"),
            (("TANDEMKV_PURE", "1"),),
        ),
        SystemSpec("etcd", "etcd", "etcd"),
    )
}
ALIASES = {"tandemkv": ("tandemkv-py", "tandemkv-fast")}


class StartError(Exception):
    """A system did not come up; the message says why, for the report."""


@dataclass
class RunningServer:
    spec: SystemSpec
    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path
    command: list[str]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_tail(self, lines: int = 5) -> str:
        path = self.workdir / "server.err"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.strip().splitlines()[-lines:])


def tandemkv_env(spec: SystemSpec | None = None) -> dict[str, str]:
    """This environment minus TANDEMKV_* settings (but the system's own, and the build
    asked for: TANDEMKV_PURE), with the repository's src/ first."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIX) or k == "TANDEMKV_PURE"
    }
    env.update(spec.env if spec is not None else ())
    paths = [str(SRC_DIR), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def tandemkv_command(
    spec: SystemSpec, workdir: Path, persistence: Persistence, prefix: Sequence[str] = ()
) -> list[str]:
    """``prefix`` goes between the interpreter and ``-m tandemkv`` (e.g. a profiler)."""
    extra = persistence.tandemkv_args or ()
    return [
        sys.executable,
        *prefix,
        "-m",
        "tandemkv",
        "--db-path",
        str(workdir / "data"),
        "server",
        "--address",
        f"{HOST}:0",
        *spec.server_args,
        *extra,
    ]


def start_tandemkv(
    book: ProcessBook,
    spec: SystemSpec,
    workdir: Path,
    persistence: Persistence,
    prefix: Sequence[str] = (),
) -> RunningServer:
    workdir.mkdir(parents=True, exist_ok=True)
    command = tandemkv_command(spec, workdir, persistence, prefix)
    proc = book.spawn(command, cwd=workdir, log_stem="server", env=tandemkv_env(spec))
    server = RunningServer(spec, proc, 0, workdir, command)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.alive():
        match = _READY.search((workdir / "server.out").read_text(errors="replace"))
        if match:
            server.port = int(match.group(2))
            if ping(server.port, deadline):
                return server
        time.sleep(0.05)
    book.stop(proc)
    raise StartError(f"{spec.label} did not start: {server.stderr_tail() or 'no ready line'}")


def redis_command(binary: str, port: int, workdir: Path, persistence: Persistence) -> list[str]:
    return redis_argv(binary, port, workdir, persistence.redis_args)


def redis_argv(binary: str, port: int, workdir: Path, settings: Sequence[str]) -> list[str]:
    """redis-server on loopback at `port`, in the foreground, with its files in `workdir`."""
    return [
        binary,
        "--port",
        str(port),
        "--bind",
        HOST,
        *settings,
        "--dir",
        str(workdir),
        "--daemonize",
        "no",
        "--logfile",
        "",
    ]


def start_redis(
    book: ProcessBook, spec: SystemSpec, workdir: Path, persistence: Persistence, binary: str
) -> RunningServer:
    workdir.mkdir(parents=True, exist_ok=True)
    reason = "no attempt"
    # A free port is only free until someone else takes it: try a few.
    for _attempt in range(5):
        port = free_port()
        command = redis_command(binary, port, workdir, persistence)
        proc = book.spawn(command, cwd=workdir, log_stem="server")
        server = RunningServer(spec, proc, port, workdir, command)
        if ping(port, time.monotonic() + START_TIMEOUT, server) and redis_pid(port) == proc.pid:
            return server
        reason = server.stderr_tail() or (workdir / "server.out").read_text(errors="replace")
        book.stop(proc)
    raise StartError(f"redis-server did not start: {reason.strip()[-500:]}")


def start_system(
    book: ProcessBook,
    spec: SystemSpec,
    workdir: Path,
    persistence: Persistence,
    redis_binary: str | None,
) -> RunningServer:
    if spec.family == "redis":
        if redis_binary is None:
            raise StartError("redis-server is not installed")
        return start_redis(book, spec, workdir, persistence, redis_binary)
    if spec.family == "tandemkv":
        return start_tandemkv(book, spec, workdir, persistence)
    raise StartError(f"{spec.label} cannot run this benchmark")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def ping(port: int, deadline: float, server: RunningServer | None = None) -> bool:
    """True once the server at ``port`` answers PING with PONG."""
    while time.monotonic() < deadline and (server is None or server.alive()):
        try:
            with socket.create_connection((HOST, port), timeout=2) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def redis_pid(port: int) -> int | None:
    """The pid the Redis at ``port`` reports: proves it is ours, not a neighbour's."""
    pattern = re.compile(rb"process_id:(\d+)\r\n")
    reply = b""
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            sock.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
            while (match := pattern.search(reply)) is None:
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                reply += chunk
    except OSError:
        return None
    return int(match.group(1))


def stop_server(book: ProcessBook, server: RunningServer) -> int:
    return book.stop(server.proc)
