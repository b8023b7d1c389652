"""Replication groups under test: three tandemkv nodes, or Redis with two replicas (+ Sentinels).

Every member listens on a port picked before the group starts and keeps it for the group's life,
so a member restarted after a SIGKILL comes back at the address the others know. Members are
started through the harness's ProcessBook: stopped by pid however the run ends. Needs redis-py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.persistence import Persistence
from bench.procs import ProcessBook
from bench.servers import (
    HOST,
    START_TIMEOUT,
    RunningServer,
    StartError,
    SystemSpec,
    free_port,
    ping,
    redis_command,
    redis_pid,
    tandemkv_env,
)

FORM_TIMEOUT = 30.0
POLL = 0.05
PROBE_TIMEOUT = 0.5
START_ATTEMPTS = 3
T = TypeVar("T")


@dataclass
class Member:
    """One process of a group, restartable with the same command line, port and data."""

    name: str
    port: int
    home: Path
    command: list[str]
    env: dict[str, str] | None
    ready: Callable[[Member, float], bool]
    server: RunningServer | None = None
    starts: int = 0

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        if self.server is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.server.pid

    def alive(self) -> bool:
        return self.server is not None and self.server.alive()


@dataclass
class Group:
    spec: SystemSpec
    members: list[Member]
    # Redis Sentinels (tandemkv nodes answer the Sentinel queries themselves).
    sentinels: list[Member] = field(default_factory=list)
    service: str = "tandemkv"

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def label(self) -> str:
        return self.spec.label

    def pids(self) -> list[int]:
        """The data-holding members' pids: whose CPU a request costs."""
        return [member.pid for member in self.members]

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        answering = self.sentinels or self.members
        return [(HOST, member.port) for member in answering]

    def member_at(self, address: str) -> Member | None:
        return next((m for m in self.members if m.address == address), None)

    def all_processes(self) -> list[Member]:
        return [*self.members, *self.sentinels]

    def commands(self) -> list[list[str]]:
        return [member.command for member in self.all_processes()]


def client(port: int, timeout: float = PROBE_TIMEOUT, protocol: int = 2) -> redis.Redis:
    """A redis-py client that fails at once instead of retrying with back-off."""
    return redis.Redis(
        host=HOST,
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        protocol=protocol,
    )


def start_member(book: ProcessBook, member: Member, spec: SystemSpec) -> RunningServer:
    """Start (or restart) ``member`` in a fresh run directory; its data directory stays."""
    member.starts += 1
    run_dir = member.home / f"run{member.starts}"
    run_dir.mkdir(parents=True, exist_ok=True)
    proc = book.spawn(member.command, cwd=run_dir, log_stem="server", env=member.env)
    member.server = RunningServer(spec, proc, member.port, run_dir, member.command)
    if not member.ready(member, time.monotonic() + START_TIMEOUT):
        book.stop(proc)
        raise StartError(f"{spec.label} {member.name} did not start: {_tail(member)}")
    return member.server


def stop_group(book: ProcessBook, group: Group) -> None:
    """SIGTERM every member at once (a node takes a second or so to stop), then reap each."""
    processes = [m.server.proc for m in group.all_processes() if m.server is not None]
    for proc in processes:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
    for proc in processes:
        book.stop(proc)


def describe_failure(group: Group) -> str:
    return "; ".join(f"{m.name}: {_tail(m)}" for m in group.all_processes() if m.server)


def _tail(member: Member) -> str:
    if member.server is None:
        return "not started"
    state = "running" if member.server.alive() else f"exited {member.server.proc.returncode}"
    return f"{state}, {member.server.stderr_tail(3) or 'no stderr'}"


def wait_until(probe: Callable[[], T | None], timeout: float) -> T | None:
    """Poll ``probe`` (connection errors count as not yet) until it answers or time is up."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            value = probe()
            if value is not None:
                return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL)


def start_with_fresh_ports(
    book: ProcessBook, build: Callable[[int], Group], form: Callable[[Group], None]
) -> Group:
    """Ports are only free until someone else takes one: on failure, retry with new ones."""
    error = StartError("no attempt")
    for attempt in range(START_ATTEMPTS):
        group = build(attempt)
        try:
            for member in group.all_processes():
                start_member(book, member, group.spec)
            form(group)
            return group
        except StartError as failure:
            error = failure
            stop_group(book, group)
    raise error


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


# ------------------------------------------------------------------ tandemkv groups


def tandemkv_group(
    book: ProcessBook,
    spec: SystemSpec,
    home: Path,
    node_args: Sequence[str],
) -> Group:
    """n1 starts the group as primary, n2 and n3 join it; every node gets ``node_args``."""

    def build(attempt: int) -> Group:
        ports = distinct_free_ports(3)
        primary = f"{HOST}:{ports[0]}"
        members = []
        for index, port in enumerate(ports):
            name = f"n{index + 1}"
            role = (
                ("--role", "primary") if index == 0 else ("--role", "backup", "--primary", primary)
            )
            node_home = home / f"try{attempt}" / name
            command = [
                sys.executable,
                "-m",
                "tandemkv",
                "--db-path",
                str(node_home / "data"),
                "server",
                "--address",
                f"{HOST}:{port}",
                *spec.server_args,
                *role,
                *node_args,
            ]
            members.append(
                Member(name, port, node_home, command, tandemkv_env(spec), _tandemkv_ready)
            )
        return Group(spec, members)

    def form(group: Group) -> None:
        if wait_until(lambda: tandemkv_healthy(group), FORM_TIMEOUT) is None:
            raise StartError(f"{spec.label} did not form a group: {describe_failure(group)}")

    return start_with_fresh_ports(book, build, form)


def _tandemkv_ready(member: Member, deadline: float) -> bool:
    """Our process printed its ready line for our port (so no neighbour answers in its place)."""
    assert member.server is not None
    line = f"Ready to accept connections at {member.address}"
    out = member.server.workdir / "server.out"
    while time.monotonic() < deadline and member.server.alive():
        if line in out.read_text(errors="replace"):
            return ping(member.port, deadline, member.server)
        time.sleep(POLL)
    return False


def node_status(port: int) -> dict[bytes, object]:
    """STATUS of the tandemkv node at ``port`` (RESP3: a map)."""
    with client(port, protocol=3) as connection:
        reply = connection.execute_command("STATUS")
    if not isinstance(reply, dict):
        raise redis.ResponseError(f"STATUS answered {reply!r}")
    return reply


def healthy_tandemkv_status(status: Mapping[bytes, object], members: int, max_lag: int) -> bool:
    """A primary's STATUS shows ``members`` members: itself and healthy, caught-up backups."""
    if status.get(b"role") != b"primary":
        return False
    listed = status.get(b"members")
    if not isinstance(listed, list) or len(listed) != members:
        return False
    backups = [m for m in listed if isinstance(m, dict) and m.get(b"role") == b"backup"]
    return len(backups) == members - 1 and all(
        m.get(b"healthy") == 1 and isinstance(m.get(b"lag"), int) and 0 <= m[b"lag"] <= max_lag
        for m in backups
    )


def tandemkv_primary(group: Group) -> Member | None:
    """The live member that says it is primary, or None during an election."""
    for member in group.members:
        if not member.alive():
            continue
        with contextlib.suppress(redis.RedisError, OSError):
            if node_status(member.port).get(b"role") == b"primary":
                return member
    return None


def tandemkv_healthy(group: Group, max_lag: int = 50) -> Member | None:
    """The primary, once it has every other member as a healthy backup at most ``max_lag``
    entries behind; None before."""
    primary = tandemkv_primary(group)
    if primary is None:
        return None
    status = node_status(primary.port)
    return primary if healthy_tandemkv_status(status, len(group.members), max_lag) else None


# ------------------------------------------------------------------ Redis groups


def redis_group(
    book: ProcessBook,
    spec: SystemSpec,
    home: Path,
    binary: str,
    setting: Persistence,
    sentinel_settings: Mapping[str, str] | None = None,
) -> Group:
    """A primary and two ``--replicaof`` replicas; with ``sentinel_settings``, three Sentinels
    watching them as service "bench" (each setting becomes ``sentinel NAME bench VALUE``)."""

    def build(attempt: int) -> Group:
        ports = distinct_free_ports(6 if sentinel_settings is not None else 3)
        base = home / f"try{attempt}"
        members = []
        for index, port in enumerate(ports[:3]):
            name = f"r{index + 1}"
            command = redis_command(binary, port, base / name / "data", setting)
            if index:
                command += ["--replicaof", HOST, str(ports[0])]
            (base / name / "data").mkdir(parents=True, exist_ok=True)
            members.append(Member(name, port, base / name, command, None, _redis_ready))
        sentinels = []
        if sentinel_settings is not None:
            for index, port in enumerate(ports[3:]):
                name = f"s{index + 1}"
                config = write_sentinel_config(base / name, port, ports[0], sentinel_settings)
                command = [binary, str(config), "--sentinel"]
                sentinels.append(Member(name, port, base / name, command, None, _sentinel_ready))
        return Group(spec, members, sentinels, service=SENTINEL_SERVICE)

    def form(group: Group) -> None:
        if wait_until(lambda: redis_healthy(group), FORM_TIMEOUT) is None:
            raise StartError(f"{spec.label} did not form: {describe_failure(group)}")

    return start_with_fresh_ports(book, build, form)


SENTINEL_SERVICE = "bench"


def write_sentinel_config(
    home: Path, port: int, primary_port: int, settings: Mapping[str, str]
) -> Path:
    """Sentinel rewrites its configuration file as it learns: it must be its own, writable."""
    home.mkdir(parents=True, exist_ok=True)
    lines = [
        f"port {port}",
        f"bind {HOST}",
        "daemonize no",
        'logfile ""',
        f"dir {home}",
        f"sentinel monitor {SENTINEL_SERVICE} {HOST} {primary_port} 2",
        *(f"sentinel {name} {SENTINEL_SERVICE} {value}" for name, value in settings.items()),
    ]
    path = home / "sentinel.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


def _redis_ready(member: Member, deadline: float) -> bool:
    assert member.server is not None
    return ping(member.port, deadline, member.server) and redis_pid(member.port) == member.pid


def _sentinel_ready(member: Member, deadline: float) -> bool:
    assert member.server is not None
    return ping(member.port, deadline, member.server)


def online_replicas(info: Mapping[str, object]) -> int:
    """Replicas a Redis primary's INFO replication lists as online (redis-py parses it)."""
    if info.get("role") != "master":
        return 0
    return sum(
        1
        for name, value in info.items()
        if name.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
    )


def redis_primary(group: Group) -> Member | None:
    """With Sentinels: the member every Sentinel names; without, the member that says master."""
    if group.sentinels:
        named = set()
        for sentinel in group.sentinels:
            with client(sentinel.port) as connection:
                host, port = connection.sentinel_get_master_addr_by_name(group.service)
            named.add(f"{host if isinstance(host, str) else host.decode()}:{port}")
        return group.member_at(named.pop()) if len(named) == 1 else None
    for member in group.members:
        if member.alive():
            with client(member.port) as connection:
                if connection.info("replication").get("role") == "master":
                    return member
    return None


def redis_healthy(group: Group) -> Member | None:
    """The primary, once both other members replicate from it (and the Sentinels agree on it
    and see each other); None before."""
    primary = redis_primary(group)
    if primary is None or not primary.alive():
        return None
    with client(primary.port) as connection:
        if online_replicas(connection.info("replication")) != len(group.members) - 1:
            return None
    for sentinel in group.sentinels:
        with client(sentinel.port) as connection:
            state = connection.sentinel_master(group.service)
        if int(state.get("num-other-sentinels", 0)) < len(group.sentinels) - 1:
            return None
    return primary


def healthy_primary(group: Group) -> Member | None:
    return tandemkv_healthy(group) if group.spec.family == "tandemkv" else redis_healthy(group)


def current_primary(group: Group) -> Member | None:
    return tandemkv_primary(group) if group.spec.family == "tandemkv" else redis_primary(group)
