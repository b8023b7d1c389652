"""Counting a server's system calls per request with strace, split by what each call targets."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

# "PID name(FD<target>, ..." as printed by strace -f -y; resumed halves of calls do not match.
_CALL = re.compile(r"^\d+\s+(?P<name>\w+)\((?:(?P<fd>\d+)<(?P<target>[^>]*)>)?")


def strace_command(binary: str, pid: int, output: Path) -> list[str]:
    """Trace every thread of ``pid`` (-f), naming each descriptor's target (-y), quietly."""
    return [binary, "-f", "-qq", "-y", "-o", str(output), "-p", str(pid)]


def target_kind(target: str | None) -> str:
    if not target:
        return ""
    if target.startswith(("socket:", "TCP", "UNIX")):
        return "socket"
    if target.startswith("anon_inode:"):
        return target.removeprefix("anon_inode:").strip("[]")
    if target.startswith("/proc/"):
        return "/proc"
    if target.startswith("pipe:"):
        return "pipe"
    return "file" if target.startswith("/") else target


def count_calls(trace: str) -> Counter[str]:
    """Calls by ``name (target kind)``, e.g. ``write (socket)``, ``write (file)``."""
    counts: Counter[str] = Counter()
    for line in trace.splitlines():
        match = _CALL.match(line)
        if match is None:
            continue
        kind = target_kind(match["target"])
        counts[f"{match['name']} ({kind})" if kind else match["name"]] += 1
    return counts
