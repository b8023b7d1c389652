"""Samples the servers under test: resident memory (peak) and whether each still runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers.cluster import Node
from helpers.servers import ServerProcess

SAMPLE_INTERVAL = 0.1


@dataclass(frozen=True)
class Target:
    """A server the fuzzer talks to: its address, and its process when we own it."""

    name: str
    host: str
    port: int
    pid: int | None = None
    alive: Callable[[], bool] | None = None
    stderr: Callable[[], str] | None = None  # everything it wrote to stderr so far

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def server_target(server: ServerProcess, name: str = "server") -> Target:
    return Target(name, server.host, server.port, server.pid, server.alive, server.stderr_text)


def node_target(node: Node) -> Target:
    process = node.process
    assert process is not None
    return Target(
        node.name, "127.0.0.1", node.port, process.pid, process.alive, process.stderr_text
    )


def rss_bytes(pid: int) -> int | None:
    """The process's resident set size, None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None  # a zombie has no VmRSS line


class ProcessMonitor:
    """A thread sampling every target's RSS and liveness until `stop`."""

    def __init__(self, targets: list[Target], on_death: Callable[[Target], None]) -> None:
        self.targets = {t.name: t for t in targets if t.pid is not None or t.alive is not None}
        self.peak_rss: dict[str, int] = {}
        self.first_rss: dict[str, int] = {}
        self.last_rss: dict[str, int] = {}
        self.dead: set[str] = set()
        self._on_death = on_death
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-monitor", daemon=True)

    def start(self) -> ProcessMonitor:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL):
            self._sample()

    def _sample(self) -> None:
        for name, target in self.targets.items():
            if name in self.dead:
                continue
            rss = rss_bytes(target.pid) if target.pid is not None else None
            if rss is not None:
                self.peak_rss[name] = max(self.peak_rss.get(name, 0), rss)
                self.first_rss.setdefault(name, rss)
                self.last_rss[name] = rss
            if target.alive is not None and not target.alive():
                self.dead.add(name)
                self._on_death(target)
