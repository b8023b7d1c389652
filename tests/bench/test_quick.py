"""`python3 -m bench --quick` works end to end against tandemkv and cleans up after itself.

No timing is asserted: these machines are shared and the quick mode makes no claims.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from bench_runs import RUN_TIMEOUT, is_running, run_to_end, start_bench, stop

pytestmark = pytest.mark.skipif(
    shutil.which("redis-benchmark") is None,
    reason="redis-benchmark is not installed (apt-get install redis-tools)",
)


def test_quick_run_writes_a_report_with_tandemkv_rows(tmp_path: Path) -> None:
    proc = start_bench(tmp_path)
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        stop(proc)
    assert proc.returncode == 0, output
    report = (tmp_path / "report" / "benchmarks.md").read_text()
    for load in ("-c 50", "-c 50 -P 16", "-c 1"):
        for op in ("SET", "GET"):
            assert re.search(rf"^\| {re.escape(load)} \| {op} \| tandemkv ", report, re.M), (
                f"no tandemkv row for {load} {op}:\n{report}"
            )
    results = json.loads((tmp_path / "results" / "latest.json").read_text())
    started = results["started_pids"]
    assert started, "the harness recorded no processes"
    assert [pid for pid in started if is_running(pid)] == []


def test_interrupted_run_stops_its_servers_and_keeps_the_old_report(tmp_path: Path) -> None:
    report = tmp_path / "report" / "benchmarks.md"
    report.parent.mkdir()
    report.write_text("previous report\n")
    proc = start_bench(tmp_path)
    try:
        server_pid = wait_for_started_server(proc)
        os.kill(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 130, output
    assert not is_running(server_pid), output
    assert report.read_text() == "previous report\n"


def wait_for_started_server(proc: subprocess.Popen[str]) -> int:
    """Read the harness's log until it says it started a server; returns that pid."""
    assert proc.stdout is not None
    deadline = time.monotonic() + RUN_TIMEOUT
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"started .* pid (\d+) port \d+", line)
        if match:
            return int(match.group(1))
    pytest.fail("the harness never reported a started server:\n" + "".join(lines))


def test_quick_replicated_run_measures_both_tandemkv_groups(tmp_path: Path) -> None:
    report, raw = run_to_end(tmp_path, ("--suites", "replicated"))
    for ack in ("majority", "leader"):
        system = re.escape(f"tandemkv 3 nodes, --ack {ack}")
        for load in ("-c 50", "-c 50 -P 16"):
            for op in ("SET", "GET"):
                row = rf"^\| {re.escape(load)} \| {op} \| {system} \| [\d,]+ \|"
                assert re.search(row, report, re.M), f"no row for {ack} {load} {op}:\n{report}"
    assert re.search(
        r"^\| SET\+WAIT 1 0, 50 connections \| SET\+WAIT \| tandemkv 3 nodes, "
        r"--ack majority \| [\d,]+ \|",
        report,
        re.M,
    ), report
    assert raw["failed"] == {}
    samples = raw["samples"]
    # CPU is summed over the primary and both backups, so the backups' share shows up:
    # summed over the samples, since a quick sample's backups (compiled) may each spend
    # less than the 10 ms clock tick /proc counts in.
    sets = [s for s in samples if s["test"] == "SET" and s["workload"] == "c50-p16"]
    assert sets and all(s["user_s"] + s["system_s"] >= s["primary_s"] for s in sets), sets
    total = sum(s["user_s"] + s["system_s"] for s in sets)
    assert total > sum(s["primary_s"] for s in sets), sets


def test_quick_failover_run_kills_the_primary_and_reads_every_write_back(
    tmp_path: Path,
) -> None:
    report, raw = run_to_end(tmp_path, ("--suites", "failover"))
    [outcome] = raw["outcomes"]
    [kill] = outcome["rounds"]
    assert kill["failover_s"] is not None and kill["rejoin_s"] is not None, outcome
    assert kill["new_primary"] != kill["killed"], outcome
    assert outcome["acked"] > 0 and outcome["lost"] is not None, outcome
    lost = outcome["lost"]
    row = rf"^\| tandemkv 3 nodes, --ack majority \| 1/1 \| [\d.]+ \| [\d.]+ \| .* \| {lost} \|"
    assert re.search(row, report, re.M), report


def test_interrupted_failover_run_stops_every_node_it_started(tmp_path: Path) -> None:
    """SIGTERM mid-run, after a killed node was restarted: every node, old or new, stops."""
    proc = start_bench(tmp_path, ("--suites", "failover", "--kills", "3"))
    try:
        pids, lines = read_pids_until(proc, "kill 1:")
        os.kill(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 130, "".join(lines) + output
    assert len(pids) == 4, lines  # three nodes, then the restarted one
    assert [pid for pid in pids if is_running(pid)] == [], output


def read_pids_until(proc: subprocess.Popen[str], marker: str) -> tuple[list[int], list[str]]:
    """Every pid the harness's log names, up to the line holding ``marker``."""
    assert proc.stdout is not None
    deadline = time.monotonic() + RUN_TIMEOUT
    pids: list[int] = []
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        pids += [int(pid) for pid in re.findall(r"pid (\d+) port", line)]
        if marker in line:
            return pids, lines
    pytest.fail(f"the harness never logged {marker!r}:\n" + "".join(lines))
