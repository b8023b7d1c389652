"""Running `python3 -m bench` from a test: start it, stop it by pid, read what it wrote.

Shared by the smoke tests of the suites (test_quick.py, test_durability.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 90.0
SINGLE = ("--suites", "single", "--persistence", "off")


def bench_command(out: Path, results: Path, suite: Sequence[str] = SINGLE) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench",
        "--quick",
        "--systems",
        "tandemkv",
        *suite,
        "--out",
        str(out),
        "--results",
        str(results),
    ]


def start_bench(tmp_path: Path, suite: Sequence[str] = SINGLE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        bench_command(tmp_path / "report", tmp_path / "results", suite),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    """Stop the harness by pid; SIGTERM lets it stop the servers it started first."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def is_running(pid: int) -> bool:
    """True if ``pid`` is a live (non-zombie) process still running something we started."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat[stat.rindex(")") + 2]
    return state != "Z" and (b"tandemkv" in cmdline or b"redis" in cmdline)


def run_to_end(tmp_path: Path, suite: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Run the harness; the report's text and the raw results of its one section."""
    proc = start_bench(tmp_path, suite)
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        stop(proc)
    assert proc.returncode == 0, output
    results = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert results["started_pids"], "the harness recorded no processes"
    assert [pid for pid in results["started_pids"] if is_running(pid)] == [], output
    [section] = results["sections"]
    assert section["skipped"] is None, section
    return (tmp_path / "report" / "benchmarks.md").read_text(), section["raw"]
