"""The harness reads other programs' output: redis-benchmark CSV, /proc stat, py-spy stacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.loadgen import parse_csv, requests_for
from bench.markdown import times_near
from bench.procstat import CLOCK_TICKS, parse_cpu_times, parse_machine_busy_seconds
from bench.profiles import parse_pyspy_raw
from bench.report import FINDINGS_END, FINDINGS_START, findings_lines, refresh_findings
from bench.stats import summarize
from bench.suites.base import display_command

REDIS_7_CSV = (
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",'
    '"p99_latency_ms","max_latency_ms"\n'
    '"SET","20682.52","1.537","0.240","0.919","4.631","5.503","6.335"\n'
)


def test_redis_benchmark_csv_gives_rate_and_percentiles() -> None:
    [row] = parse_csv(REDIS_7_CSV)
    assert (row.test, row.rps, row.p50_ms, row.p99_ms) == ("SET", 20682.52, 0.919, 5.503)


def test_redis_benchmark_noise_lines_are_ignored() -> None:
    text = "WARNING: Could not fetch server CONFIG\n" + REDIS_7_CSV
    assert [row.test for row in parse_csv(text)] == ["SET"]


def test_csv_without_latency_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="unexpected redis-benchmark output"):
        parse_csv('"test","rps"\n"SET","1000.00"\n')


def test_proc_stat_cpu_times_survive_a_command_name_with_spaces_and_parens() -> None:
    fields = ["S"] + ["0"] * 10 + [str(3 * CLOCK_TICKS), str(CLOCK_TICKS)] + ["0"] * 30
    line = "1234 (python3 (x) y) " + " ".join(fields)
    times = parse_cpu_times(line)
    assert (times.user, times.system) == (3.0, 1.0)


def test_machine_busy_time_leaves_out_idle_and_iowait() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    line = "cpu  100 10 50 900 40 5 5 0 30 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
    assert parse_machine_busy_seconds(line) == 170 / CLOCK_TICKS


def test_request_counts_are_round_and_never_below_the_floor() -> None:
    assert requests_for(12_345.0, 3.0, 1_000) == 37_000
    assert requests_for(10.0, 3.0, 1_000) == 1_000


def test_a_ratio_just_under_its_target_does_not_print_as_the_target() -> None:
    assert times_near(0.8974, 0.9) == "0.897x"
    assert times_near(0.9, 0.9) == "0.90x"
    assert times_near(0.62, 0.9) == "0.62x"


def test_summary_reports_median_and_relative_range() -> None:
    summary = summarize([90.0, 100.0, 120.0])
    assert (summary.median, summary.low, summary.high) == (100.0, 90.0, 120.0)
    assert summary.spread == pytest.approx(0.3)


def test_pyspy_stacks_give_self_and_inclusive_shares() -> None:
    raw = (
        "main (tandemkv/cli.py:10);serve (tandemkv/server/app.py:20) 3\n"
        "main (tandemkv/cli.py:10);serve (tandemkv/server/app.py:20);"
        "encode (tandemkv/protocol/encoder.py:7) 1\n"
    )
    profile = parse_pyspy_raw(raw)
    assert profile.samples == 4
    assert [(c.name, c.where, c.share) for c in profile.hot_lines] == [
        ("serve", "tandemkv/server/app.py:20", 0.75),
        ("encode", "tandemkv/protocol/encoder.py:7", 0.25),
    ]
    inclusive = {c.name: c.share for c in profile.inclusive}
    assert inclusive == {"main": 1.0, "serve": 1.0, "encode": 0.25}
    assert [(c.name, c.share) for c in profile.areas] == [
        ("tandemkv.server", 0.75),
        ("tandemkv.protocol", 0.25),
    ]


def test_commands_are_shown_with_placeholders_for_run_time_values() -> None:
    scratch = Path("/tmp/tandemkv-bench-abc")
    command = [
        "/usr/bin/redis-server",
        "--port",
        "41234",
        "--dir",
        f"{scratch}/single/redis",
        "--save",
        "",
    ]
    shown = display_command(command, scratch, scratch / "single" / "redis")
    assert shown == "redis-server --port $PORT --dir $TMP --save ''"


def test_refreshing_findings_replaces_only_the_findings_block(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text(f"# Benchmarks\nfigures\n{FINDINGS_START}\nold note\n{FINDINGS_END}\nafter\n")
    assert refresh_findings(report)
    text = report.read_text()
    assert "old note" not in text
    assert "\n".join(findings_lines()) in text
    assert text.startswith("# Benchmarks\nfigures\n") and text.endswith(f"{FINDINGS_END}\nafter\n")


def test_a_report_without_a_findings_block_is_left_alone(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n")
    assert not refresh_findings(report)
    assert report.read_text() == "# Benchmarks\n"
