"""Start and stop real server processes for integration tests.

The target is tandemkv by default. With ``TANDEMKV_TEST_TARGET=redis`` the same tests run
against a real ``redis-server`` configured like tandemkv (one database, no persistence),
which checks that the tests themselves express Redis behaviour correctly.

Every process started here lives in its own temp dir, listens on an ephemeral loopback
port and is stopped by pid: by the fixture's finalizer, and as a last resort at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers.resp import RawClient

TARGET_ENV = "TANDEMKV_TEST_TARGET"
TARGETS = ("tandemkv", "redis")
REPO_ROOT = Path(__file__).resolve().parents[2]
SRC_DIR = REPO_ROOT / "src"
READY_PATTERN = re.compile(r"^Ready to accept connections at (\S+):(\d+)$")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
# tandemkv reads settings from TANDEMKV_* variables; tests set them explicitly, never inherit.
ENV_PREFIX = "TANDEMKV_"
# ...but the build to run is the test run's own (tandemkv/build.py: TANDEMKV_PURE).
PASSED_ON = frozenset({"TANDEMKV_PURE"})

# Lines a healthy server never writes to stderr, whatever its clients did.
CRASH_MARKERS = (
    "Traceback (most recent call last)",
    "Exception in callback",
    "exception was never retrieved",
)

_live: dict[int, subprocess.Popen[bytes]] = {}


def current_target() -> str:
    target = os.environ.get(TARGET_ENV, "tandemkv").strip().lower() or "tandemkv"
    if target not in TARGETS:
        raise RuntimeError(f"{TARGET_ENV} must be one of {TARGETS}, not {target!r}")
    return target


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS just handed out and released; racy, so callers retry on collision."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tandemkv_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment with the repo's src first on PYTHONPATH, and the
    local server registry (server/registry.py) in a directory of this test session's,
    so test servers never show up to the user's own `tandemkv put`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX) or k in PASSED_ON}
    paths = [str(SRC_DIR), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["TANDEMKV_RUNTIME_DIR"] = _session_runtime_dir()
    env.update(extra or {})
    return env


_runtime_dir: list[str] = []


def _session_runtime_dir() -> str:
    if not _runtime_dir:
        path = tempfile.mkdtemp(prefix="tandemkv-test-runtime-")
        atexit.register(shutil.rmtree, path, True)
        _runtime_dir.append(path)
    return _runtime_dir[0]


def tandemkv_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tandemkv", *args]


def run_tandemkv(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 20.0,
    cwd: Path | None = None,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tandemkv ARGS`` to completion (killed if it outlives ``timeout``)."""
    return subprocess.run(
        tandemkv_command(*args),
        env=tandemkv_env(env),
        cwd=cwd or REPO_ROOT,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ServerStartError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerOptions:
    requirepass: str | None = None
    maxclients: int | None = None
    timeout: int | None = None
    protected_mode: str | None = None
    bind_host: str = "127.0.0.1"
    port: int = 0
    config_file: Path | None = None
    aclfile: Path | None = None  # both targets take --aclfile
    extra_args: tuple[str, ...] = ()
    # Extra environment for the server process (tandemkv reads TANDEMKV_* settings).
    env: tuple[tuple[str, str], ...] = ()
    # Soft RLIMIT_NOFILE the server starts with (None: inherit the test process's).
    nofile_soft_limit: int | None = None


@dataclass
class ServerProcess:
    target: str
    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path
    options: ServerOptions
    ready_line: str = ""
    host: str = field(default="127.0.0.1")

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def password(self) -> str | None:
        return self.options.requirepass

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stdout_text(self) -> str:
        return _read_text(self.workdir / "stdout.log")

    def stderr_text(self) -> str:
        return _read_text(self.workdir / "stderr.log")

    def crash_reports(self, since: int = 0) -> list[str]:
        """Stderr lines (from character offset ``since``) showing an internal error."""
        text = self.stderr_text()[since:]
        return [line for line in text.splitlines() if any(m in line for m in CRASH_MARKERS)]

    def client(self, protocol: int = 2, **kwargs: object) -> redis.Redis:
        kwargs.setdefault("password", self.password)
        kwargs.setdefault("socket_timeout", 15)
        # No silent retries: a dropped connection must fail the test, not be papered over.
        kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        return redis.Redis(host=self.host, port=self.port, protocol=protocol, **kwargs)  # type: ignore[arg-type]

    def raw(self, timeout: float = 10.0, auth: bool = True) -> RawClient:
        conn = RawClient(self.host, self.port, timeout=timeout)
        if auth and self.password is not None:
            reply = conn.call("AUTH", self.password)
            assert reply == "OK", reply
        return conn

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Signal the server by pid, wait, then SIGKILL; returns the exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)
            if self.wait_exit(timeout) is None:
                _kill(self.proc)
        _live.pop(self.proc.pid, None)
        return self.proc.wait()

    def describe(self) -> str:
        return (
            f"{self.target} pid={self.pid} port={self.port} rc={self.proc.poll()}\n"
            f"--- stdout ---\n{self.stdout_text()[-4000:]}\n"
            f"--- stderr ---\n{self.stderr_text()[-4000:]}"
        )


class SharedServer:
    """One server per test module, restarted if an earlier test killed it."""

    def __init__(self, target: str, base: Path) -> None:
        self.target = target
        self.base = base
        self.generation = 0
        self.process = self._start()

    def _start(self) -> ServerProcess:
        self.generation += 1
        return start_server(self.target, self.base / f"gen{self.generation}")

    def ensure_running(self) -> ServerProcess:
        if not self.process.alive():
            self.process.stop()
            kill_process_group(self.process)
            self.process = self._start()
        return self.process


def start_server(target: str, workdir: Path, options: ServerOptions | None = None) -> ServerProcess:
    options = options or ServerOptions()
    workdir.mkdir(parents=True, exist_ok=True)
    if target == "redis":
        return _start_redis(workdir, options)
    return _start_tandemkv(workdir, options)


def tandemkv_server_args(workdir: Path, options: ServerOptions) -> list[str]:
    args = ["--db-path", str(workdir / "data"), "server"]
    args += ["--address", f"{options.bind_host}:{options.port}"]
    if options.requirepass is not None:
        args += ["--requirepass", options.requirepass]
    if options.maxclients is not None:
        args += ["--maxclients", str(options.maxclients)]
    if options.timeout is not None:
        args += ["--timeout", str(options.timeout)]
    if options.protected_mode is not None:
        args += ["--protected-mode", options.protected_mode]
    if options.config_file is not None:
        args += ["--config", str(options.config_file)]
    if options.aclfile is not None:
        args += ["--aclfile", str(options.aclfile)]
    return args + list(options.extra_args)


def _start_tandemkv(workdir: Path, options: ServerOptions) -> ServerProcess:
    cmd = tandemkv_command(*tandemkv_server_args(workdir, options))
    proc = _spawn(cmd, workdir, tandemkv_env(dict(options.env)), options.nofile_soft_limit)
    server = ServerProcess("tandemkv", proc, 0, workdir, options)
    if _await_ready_line(server):
        return server
    raise ServerStartError(f"tandemkv did not print its ready line:\n{server.describe()}")


def _await_ready_line(server: ServerProcess) -> bool:
    """Wait for tandemkv's ready line and take the port from it; False (and the process
    killed) if it exits or stays silent past START_TIMEOUT."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for line in server.stdout_text().splitlines():
            match = READY_PATTERN.match(line.strip())
            if match:
                server.port = int(match.group(2))
                server.ready_line = line.strip()
                return True
        if server.proc.poll() is not None:
            break
        time.sleep(0.02)
    server.stop(signal.SIGKILL)
    return False


def _start_redis(workdir: Path, options: ServerOptions) -> ServerProcess:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerStartError("redis-server is not installed")
    last = ""
    for _attempt in range(5):
        port = options.port or free_port()
        proc = _spawn(
            _redis_args(binary, port, workdir, options),
            workdir,
            dict(os.environ),
            options.nofile_soft_limit,
        )
        server = ServerProcess("redis", proc, port, workdir, options)
        if _wait_redis_ping(server):
            server.ready_line = f"Ready to accept connections at 127.0.0.1:{port}"
            return server
        last = server.describe()
        server.stop(signal.SIGKILL)
    raise ServerStartError(f"redis-server did not start:\n{last}")


def _redis_args(binary: str, port: int, workdir: Path, options: ServerOptions) -> list[str]:
    args = [
        binary,
        "--port",
        str(port),
        "--bind",
        options.bind_host,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--databases",
        "1",
        "--daemonize",
        "no",
        "--logfile",
        "",
        # Redis buffers replies for slow readers without bound by default; tandemkv
        # applies back-pressure instead. Both keep the server's memory bounded.
        "--client-output-buffer-limit",
        "normal 64mb 16mb 10",
    ]
    if options.requirepass is not None:
        args += ["--requirepass", options.requirepass]
    if options.maxclients is not None:
        args += ["--maxclients", str(options.maxclients)]
    if options.timeout is not None:
        args += ["--timeout", str(options.timeout)]
    if options.protected_mode is not None:
        args += ["--protected-mode", options.protected_mode]
    if options.aclfile is not None:
        args += ["--aclfile", str(options.aclfile)]
    return args


def _wait_redis_ping(server: ServerProcess) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.alive():
        try:
            with RawClient(server.host, server.port, timeout=2) as conn:
                reply = conn.call("PING")
                if reply == "PONG" or "NOAUTH" in str(reply):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def _spawn(
    cmd: Sequence[str], workdir: Path, env: dict[str, str], nofile: int | None
) -> subprocess.Popen[bytes]:
    def lower_nofile() -> None:
        if nofile is not None:
            _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

    with open(workdir / "stdout.log", "wb") as out, open(workdir / "stderr.log", "wb") as err:
        proc = subprocess.Popen(
            list(cmd),
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            preexec_fn=lower_nofile if nofile is not None else None,
        )
    _live[proc.pid] = proc
    return proc


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=STOP_TIMEOUT)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_live.values()):
        if proc.poll() is None:
            _kill(proc)
    _live.clear()


def raise_nofile_limit(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted``; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


# ---------------------------------------------------------------------------------------------
# Servers on a data directory the test chooses, so it can stop, damage and restart them.


def start_tandemkv_on(
    db_path: Path,
    workdir: Path,
    *server_args: str,
    env: Mapping[str, str] | None = None,
) -> ServerProcess:
    """``tandemkv --db-path DB_PATH server --address 127.0.0.1:0 SERVER_ARGS`` with extra
    ``TANDEMKV_*`` settings from ``env``; its stdout/stderr go to files in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = ("--db-path", str(db_path), "server", "--address", "127.0.0.1:0", *server_args)
    proc = _spawn(tandemkv_command(*args), workdir, tandemkv_env(env), None)
    server = ServerProcess("tandemkv", proc, 0, workdir, ServerOptions(extra_args=server_args))
    if _await_ready_line(server):
        return server
    kill_process_group(server)
    raise ServerStartError(f"tandemkv did not print its ready line:\n{server.describe()}")


def kill_process_group(server: ServerProcess) -> None:
    """SIGKILL whatever is left in the server's session (a background-save child that
    outlived a SIGKILLed server, say); the server was started as the session's leader."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.pid, signal.SIGKILL)


class ServerGroup:
    """The servers one test starts on data directories of its choosing.

    Each run logs to its own sub-directory of ``base``. ``stop_all`` stops every one by pid
    (SIGTERM, then SIGKILL) and kills what is left in their sessions; call it from a
    fixture's teardown so it runs even when the test fails.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.started: list[ServerProcess] = []
        self._runs = 0

    def start(
        self, db_path: Path, *server_args: str, env: Mapping[str, str] | None = None
    ) -> ServerProcess:
        self._runs += 1
        server = start_tandemkv_on(db_path, self.base / f"run{self._runs}", *server_args, env=env)
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()
            kill_process_group(server)
