"""CPU time and memory of a process, read from /proc (Linux)."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# /proc/<pid>/stat fields after the command name, counted from field 3 (state).
_UTIME_INDEX = 14 - 3
_STIME_INDEX = 15 - 3


@dataclass(frozen=True)
class CpuTimes:
    user: float
    system: float

    @property
    def total(self) -> float:
        return self.user + self.system

    def __sub__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(self.user - other.user, self.system - other.system)


def parse_cpu_times(stat_line: str) -> CpuTimes:
    """User and system seconds from one /proc/<pid>/stat line (all threads of the process)."""
    # The command name (field 2) is in parentheses and may itself hold spaces and ')'.
    fields = stat_line[stat_line.rindex(")") + 1 :].split()
    ticks_user, ticks_system = int(fields[_UTIME_INDEX]), int(fields[_STIME_INDEX])
    return CpuTimes(ticks_user / CLOCK_TICKS, ticks_system / CLOCK_TICKS)


def read_cpu_times(pid: int) -> CpuTimes:
    return parse_cpu_times(Path(f"/proc/{pid}/stat").read_text())


def read_rss_bytes(pid: int) -> int:
    resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return resident_pages * PAGE_SIZE


def parse_machine_busy_seconds(proc_stat: str) -> float:
    """CPU seconds all cores spent on anything but idling, from /proc/stat's first line."""
    fields = [int(value) for value in proc_stat.splitlines()[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    # guest and guest_nice (fields 9, 10) are already counted inside user and nice.
    return (sum(fields[:8]) - idle - iowait) / CLOCK_TICKS


def read_machine_busy_seconds() -> float:
    return parse_machine_busy_seconds(Path("/proc/stat").read_text())


def reaped_children_cpu_seconds() -> float:
    """CPU seconds of this process's children that have exited and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def read_pss_bytes(pid: int) -> int:
    """Proportional set size: a page shared with another process counts half (0 if gone).

    Summed over a server and its forked snapshot child, it grows by what copy-on-write copied.
    """
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [int(child) for child in text.split()]
