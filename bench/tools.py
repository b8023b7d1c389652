"""The external programs the suites drive: where they are, which version, how to install them."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

# Debian/Ubuntu package names; the issue asks for Debian's packages.
INSTALL_HINTS = {
    "redis-server": "apt-get install redis-server",
    "redis-benchmark": "apt-get install redis-tools",
    "etcd": "apt-get install etcd-server",
    "etcdctl": "apt-get install etcd-client",
    "py-spy": "pip install py-spy",
    "strace": "apt-get install strace",
}
_VERSION_ARGS = {"etcdctl": ("version",)}
# Redis 7's redis-benchmark is the first to print latency percentiles in --csv.
_MIN_MAJOR = {"redis-server": 7, "redis-benchmark": 7, "etcd": 3, "etcdctl": 3}
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Tool:
    name: str
    path: str | None
    version: str | None
    problem: str | None

    @property
    def usable(self) -> bool:
        return self.problem is None

    @property
    def install_hint(self) -> str:
        return INSTALL_HINTS.get(self.name, f"install {self.name}")

    def describe(self) -> str:
        if self.problem is not None:
            return f"{self.problem} (install: `{self.install_hint}`)"
        return f"{self.version or 'unknown version'} at `{self.path}`"


def find_tool(name: str) -> Tool:
    path = shutil.which(name)
    if path is None:
        return Tool(name, None, None, f"{name} not found on PATH")
    version = _version_of(path, _VERSION_ARGS.get(name, ("--version",)))
    minimum = _MIN_MAJOR.get(name)
    if minimum is not None and version is not None and int(version.split(".")[0]) < minimum:
        return Tool(name, path, version, f"{name} {version} is too old (need {minimum}.x)")
    return Tool(name, path, version, None)


def find_tools() -> dict[str, Tool]:
    return {name: find_tool(name) for name in INSTALL_HINTS}


def _version_of(path: str, args: tuple[str, ...]) -> str | None:
    try:
        done = subprocess.run(
            [path, *args], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(done.stdout + done.stderr)
    return match.group(0) if match else None
