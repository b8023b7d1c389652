"""Groups of real tandemkv cluster nodes for end-to-end tests.

Each node listens on a port chosen once (a restarted node must come back at the address
its group knows), lives in its own directory under the test's temp dir, and is stopped
by pid in `stop_all`, which the fixture calls even when the test fails.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers.servers import (
    ServerOptions,
    ServerProcess,
    ServerStartError,
    _await_ready_line,
    _spawn,
    free_port,
    kill_process_group,
    tandemkv_command,
    tandemkv_env,
)

T = TypeVar("T")
# Fast failure detection keeps the tests short; the defaults are 100 ms / 400 ms.
TIMING = ("--heartbeat-ms", "50", "--election-ms", "300")


@dataclass
class Node:
    name: str
    port: int
    data: Path
    args: tuple[str, ...]
    process: ServerProcess | None = None
    runs: int = 0
    # redis-py options every client of this node gets (ssl=True... for a TLS group).
    client_options: dict[str, object] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, **kwargs: object) -> redis.Redis:
        kwargs = {**self.client_options, **kwargs}
        kwargs.setdefault("socket_timeout", 10)
        kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        return redis.Redis(port=self.port, **kwargs)  # type: ignore[arg-type]

    def status(self) -> dict[bytes, object]:
        with self.client(protocol=3, socket_timeout=2) as c:
            reply = c.execute_command("STATUS")
        assert isinstance(reply, dict), reply
        return reply

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


@dataclass
class Cluster:
    base: Path
    nodes: dict[str, Node] = field(default_factory=dict)

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Node:
        """Start (or restart, with the same port and data) node `name`."""
        node = self.nodes.get(name)
        if node is None:
            node = Node(name, free_port(), self.base / name / "data", (*TIMING, *args))
            self.nodes[name] = node
        node.runs += 1
        workdir = self.base / name / f"run{node.runs}"
        workdir.mkdir(parents=True, exist_ok=True)
        cmd = tandemkv_command(
            "--db-path", str(node.data), "server", "--address", node.address, *node.args
        )
        proc = _spawn(cmd, workdir, tandemkv_env(env), None)
        server = ServerProcess("tandemkv", proc, 0, workdir, ServerOptions())
        node.process = server
        if not _await_ready_line(server):
            kill_process_group(server)
            raise ServerStartError(f"{name} did not start:\n{server.describe()}")
        return node

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        node = self.nodes[name]
        assert node.process is not None
        node.process.stop(sig)
        kill_process_group(node.process)

    def stop_all(self) -> None:
        for node in self.nodes.values():
            if node.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    import os

                    os.kill(node.process.pid, signal.SIGCONT)
                node.process.stop()
                kill_process_group(node.process)

    def describe(self) -> str:
        return "\n".join(
            node.process.describe() for node in self.nodes.values() if node.process is not None
        )

    def primary(self, timeout: float = 10.0, among: list[str] | None = None) -> Node:
        """The node that says it is primary and can take writes, once there is one."""

        def find() -> Node | None:
            for name in among or list(self.nodes):
                node = self.nodes[name]
                if node.process is None or not node.process.alive():
                    continue
                with contextlib.suppress(redis.RedisError, OSError, AssertionError):
                    if node.status()[b"role"] == b"primary":
                        node.client().set("__probe__", "1")
                        return node
            return None

        return wait_for(find, timeout, f"no writable primary:\n{self.describe()}")

    def start_three(self, *extra: str, timeout: float = 20.0) -> Node:
        """Nodes a (primary), b and c (backups), each started with `extra`; returns a once
        it counts three voters (a joining backup is a learner until it has caught up)."""
        a = self.start("a", "--role", "primary", *extra)
        for name in ("b", "c"):
            self.start(name, "--role", "backup", "--primary", a.address, *extra)
        wait_for(lambda: voters(a) == 3 or None, timeout, self.describe())
        return a

    def converged(self, names: list[str], timeout: float = 10.0) -> None:
        """Wait until the nodes report the same applied index as the commit index."""

        def same() -> bool | None:
            seen = set()
            for name in names:
                st = self.nodes[name].status()
                seen.add((st[b"commit_index"], st[b"applied_index"]))
            return True if len(seen) == 1 else None

        wait_for(same, timeout, f"nodes did not converge:\n{self.describe()}")


def voters(node: Node) -> int:
    """How many voting members (primary, backups, witnesses) `node`'s STATUS lists."""
    members = node.status()[b"members"]
    assert isinstance(members, list)
    return sum(1 for m in members if m[b"role"] in (b"primary", b"backup", b"witness"))


def wait_for(probe: Callable[[], T | None], timeout: float, message: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            value = probe()
            if value is not None:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)
