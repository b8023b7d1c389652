"""LATENCY: the pure recorder (the shell passes times and durations) and the command's
replies in Redis 7.0's shapes."""

from __future__ import annotations

from tandemkv.commands.latency import ELECTION, FORK, HISTORY_LEN, LatencyMonitor
from tandemkv.commands.settings import Settings
from tandemkv.protocol.types import SimpleString, Verbatim

from .harness import Client, World, err


def monitor(threshold: int) -> LatencyMonitor:
    return LatencyMonitor(Settings(latency_monitor_threshold=threshold))


def test_nothing_is_kept_while_the_threshold_is_zero() -> None:
    m = monitor(0)
    m.record(FORK, 1000, 500)
    assert m.latest() == [] and m.history(FORK) == []


def test_samples_below_the_threshold_are_dropped() -> None:
    m = monitor(10)
    m.record(FORK, 1000, 9)
    m.record(FORK, 1001, 10)
    assert m.history(FORK) == [[1001, 10]]


def test_one_sample_per_second_keeps_that_seconds_worst() -> None:
    m = monitor(1)
    m.record(FORK, 1000, 5)
    m.record(FORK, 1000, 20)
    m.record(FORK, 1000, 7)
    m.record(FORK, 1002, 3)
    assert m.history(FORK) == [[1000, 20], [1002, 3]]
    assert m.latest() == [[b"fork", 1002, 3, 20]]


def test_history_is_bounded_but_the_worst_is_remembered() -> None:
    m = monitor(1)
    m.record(ELECTION, 1, 900)
    for second in range(2, HISTORY_LEN + 10):
        m.record(ELECTION, second, 2)
    samples = m.history(ELECTION)
    assert len(samples) == HISTORY_LEN and [1, 900] not in samples
    assert m.latest()[0][3] == 900


def test_reset_counts_the_events_it_forgot() -> None:
    m = monitor(1)
    m.record(FORK, 1, 5)
    m.record(ELECTION, 1, 5)
    assert m.reset(["fork", "fork", "nosuch"]) == 1
    assert m.reset([]) == 1
    assert m.latest() == []


def test_threshold_changes_at_run_time(world: World, c: Client) -> None:
    world.engine.latency.record(FORK, 100, 50)
    assert c("LATENCY", "LATEST") == []
    assert c("CONFIG", "SET", "latency-monitor-threshold", "10") == "OK"
    world.engine.latency.record(FORK, 100, 50)
    assert c("LATENCY", "LATEST") == [[b"fork", 100, 50, 50]]
    assert c("LATENCY", "HISTORY", "fork") == [[100, 50]]
    doctor = c("LATENCY", "DOCTOR")
    assert isinstance(doctor, Verbatim) and b"fork: 1 latency spikes" in doctor.text
    assert c("LATENCY", "RESET", "fork") == 1
    assert c("LATENCY", "HISTORY", "fork") == []


def test_errors_and_help_as_redis(c: Client) -> None:
    assert c("LATENCY", "HISTORY") == err(
        "ERR wrong number of arguments for 'latency|history' command"
    )
    assert c("LATENCY", "LATEST", "x") == err(
        "ERR wrong number of arguments for 'latency|latest' command"
    )
    assert c("LATENCY", "FOO") == err("ERR unknown subcommand 'FOO'. Try LATENCY HELP.")
    assert c("LATENCY", "RESET") == 0
    lines = c("LATENCY", "HELP")
    assert isinstance(lines, list) and lines[0] == SimpleString(
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    )
