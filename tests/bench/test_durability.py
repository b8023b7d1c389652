"""The durability suite: a --quick run measures every step against tandemkv and cleans up; the
report states the RSS target's verdict and the restart ratios from the rounds' figures.

No timing is asserted: these machines are shared and the quick mode makes no claims.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from bench.durability import RoundResult
from bench.snapshot_probe import Latencies, LatencyResult, SaveFigures
from bench.suites.durability_figures import figures
from bench.suites.durability_report import (
    NO_ANCHOR,
    restart_verdict,
    rss_verdict,
    target_table,
)
from bench_runs import RUN_TIMEOUT, is_running, run_to_end, start_bench, stop

DURABILITY = ("--suites", "durability")
NUMBER = r"[\d,]+\.\d+"


def test_quick_durability_run_measures_memory_restarts_and_latency(tmp_path: Path) -> None:
    report, raw = run_to_end(tmp_path, DURABILITY)
    assert raw["failed"] == {}
    [result] = raw["rounds"]
    keys = raw["plan"]["keys"]
    assert result["keys"] == keys
    assert result["rss_loaded"] > result["rss_empty"] > 0
    assert set(result["restart_s"]) == {"log", "snapshot"}
    assert all(seconds > 0 for seconds in result["restart_s"].values())
    latency = result["latency"]
    for cell in ("quiet_get", "quiet_set", "saving_get", "saving_set"):
        assert latency[cell]["requests"] > 0, latency
    assert latency["saves"]["seconds"], latency
    label = re.escape(raw["systems"][result["system"]])
    assert re.search(rf"^\| {label} \| {NUMBER} \| 0% \| n/a", report, re.M), report
    for restart in ("an empty data directory", "its log \\(replay\\)", "its snapshot"):
        assert re.search(rf"^\| {label} \| {restart} \| {NUMBER} \|", report, re.M), report
    for request in ("GET", "SET"):
        assert re.search(rf"^\| {request} \| {label} \| [\d,]+ / [\d,]+ \|", report, re.M), report
    assert "TANDEMKV_SNAPSHOT_LOG_BYTES=" in report  # the exact command, with its environment


def test_interrupted_durability_run_stops_its_server(tmp_path: Path) -> None:
    proc = start_bench(tmp_path, DURABILITY)
    try:
        assert proc.stdout is not None
        pid = None
        for line in proc.stdout:
            match = re.search(r"started .* pid (\d+) port \d+", line)
            if match:
                pid = int(match.group(1))
                break
        assert pid is not None, "the harness never reported a started server"
        os.kill(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        stop(proc)
    assert proc.returncode == 130, output
    assert not is_running(pid), output


def probe(get_p99: float, set_p99: float) -> LatencyResult:
    quiet = Latencies(1000, 0.05, 0.1, 1.0)
    return LatencyResult(
        quiet,
        quiet,
        Latencies(500, 0.05, get_p99, 9.0),
        Latencies(500, 0.05, set_p99, 9.0),
        SaveFigures([1.0], 2.0, 100 * 2**20, 150 * 2**20),
    )


def round_of(system: str, index: int, per_key: float, restarts: dict[str, float]) -> RoundResult:
    keys = 1000
    empty = 10_000_000
    return RoundResult(
        system,
        index,
        empty_start_s=0.1,
        load_s=1.0,
        rss_empty=empty,
        rss_loaded=empty + int(per_key * keys),
        keys=keys,
        save_s=0.5,
        restart_s=restarts,
        latency=probe(3.0, 4.0),
    )


def test_rss_per_key_is_the_median_growth_per_key_and_its_verdict_follows_the_2x_target() -> None:
    rounds = [
        round_of("redis", 0, 100.0, {"aof": 1.0, "rdb": 1.0}),
        round_of("redis", 1, 110.0, {"aof": 1.2, "rdb": 1.1}),
        round_of("redis", 2, 120.0, {"aof": 1.1, "rdb": 0.9}),
        round_of("tkv", 0, 150.0, {"log": 4.0, "snapshot": 5.0}),
        round_of("tkv", 1, 300.0, {"log": 4.4, "snapshot": 5.5}),
        round_of("tkv", 2, 225.0, {"log": 4.2, "snapshot": 6.6}),
    ]
    redis, tkv = figures(rounds, "redis"), figures(rounds, "tkv")
    assert tkv.bytes_per_key is not None and tkv.bytes_per_key.median == 225.0
    assert tkv.bytes_per_key.spread == (300.0 - 150.0) / 225.0
    assert rss_verdict(tkv, redis) == "2.05x: **missed**"  # 225 / 110
    assert restart_verdict(tkv, redis) == (
        "log replay 4.20x, from snapshot 5.50x (no target set)"  # over the RDB median, 1.0
    )
    leaner = figures([round_of("tkv", 0, 219.0, {"log": 4.0})], "tkv")
    assert rss_verdict(leaner, redis) == "1.99x: **met**"


def test_without_redis_the_targets_say_there_is_nothing_to_compare_with() -> None:
    tkv = figures([round_of("tkv", 0, 150.0, {"log": 4.0, "snapshot": 5.0})], "tkv")
    assert rss_verdict(tkv, None) == NO_ANCHOR
    assert restart_verdict(tkv, None) == NO_ANCHOR
    table = "\n".join(target_table([tkv], None, {"tkv": "tandemkv"}))
    assert "GET 3.000 ms during BGSAVE vs 0.100 ms without" in table
    assert "**met**" not in table and "**missed**" not in table
