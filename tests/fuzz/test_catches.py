"""The fuzzer's checks fail when they must: a test that cannot fail is a defect.

A tiny RESP server (stub.py) stalls its event loop, dies, answers twice or never, on a
magic word. The watchdog must measure the stall and place it in time; the runner must
report the death, the desync and the missing reply with the seed and the request that
caused them, and find that request alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from fuzz.checks import Bounds, problems
from fuzz.grammar import Grammar, GrammarConfig
from fuzz.monitor import Target
from fuzz.outcome import FuzzResult
from fuzz.runner import FuzzConfig, FuzzRun
from fuzz.seed import replay_command
from fuzz.stub import StubServer
from fuzz.table import CommandShape
from fuzz.watchdog import Watchdog
from helpers.resp import RawClient

SEED = 1234


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer(stall_seconds=1.0).start()
    try:
        yield server
    finally:
        server.stop()


def stub_target(stub: StubServer) -> Target:
    return Target("stub", stub.host, stub.port, alive=lambda: stub.running)


def stub_grammar(magic: bytes) -> Grammar:
    """GET, SET and the magic word, which is drawn rarely so that ordinary requests
    come first."""
    shapes = [
        CommandShape(b"get", 2, frozenset({"readonly"}), 1, 1, 1),
        CommandShape(b"set", -3, frozenset({"write"}), 1, 1, 1),
        CommandShape(magic, 1, frozenset()),
    ]
    config = GrammarConfig(rare={magic: 0.02}, multi_chance=0.0, inline_chance=0.0)
    return Grammar(shapes, config)


def fuzz_stub(stub: StubServer, magic: bytes, reply_timeout: float = 5.0) -> FuzzResult:
    config = FuzzConfig(seed=SEED, duration=20, clients=2, reply_timeout=reply_timeout)
    return FuzzRun([stub_target(stub)], stub_grammar(magic), config).run()


def test_the_watchdog_measures_a_stall_and_the_check_fails_the_run(stub: StubServer) -> None:
    with Watchdog(stub.host, stub.port) as dog:
        time.sleep(0.2)
        with RawClient(stub.host, stub.port) as client:
            sent = time.monotonic()
            assert client.call("STALL") == "OK"
        time.sleep(0.1)
    report = dog.stop()
    assert 0.9 <= report.longest < 5, report.describe()
    # The longest wait overlaps the STALL: the watchdog says when, not only how long.
    assert report.longest_at < sent + 1.0 < report.longest_at + report.longest + 0.05
    found = problems(FuzzResult(seed=SEED, stall=report), [], Bounds(stall=0.25))
    assert any("longest stall" in problem for problem in found), found


def test_the_watchdog_reports_a_server_that_stops_answering(stub: StubServer) -> None:
    with Watchdog(stub.host, stub.port) as dog:
        time.sleep(0.1)
        with RawClient(stub.host, stub.port) as client:
            client.send(b"DIE\r\n")
        time.sleep(0.3)
    report = dog.stop()
    assert report.error is not None, report.describe()
    found = problems(FuzzResult(seed=SEED, stall=report), [], Bounds())
    assert any("watchdog's connection failed" in problem for problem in found), found


def test_the_runner_reports_a_server_death_with_the_seed_and_the_request(
    stub: StubServer,
) -> None:
    target = stub_target(stub)
    result = fuzz_stub(stub, b"die")
    found = problems(result, [target], Bounds())
    report = result.report(found, replay_command("test_x", SEED))
    kinds = {failure.kind for failure in result.failures}
    assert kinds & {"dropped", "server-died"}, report
    assert any(
        request.args[0].lower() == b"die"
        for failure in result.failures
        for request in failure.suspects
    ), report
    assert f"seed {SEED}" in report and f"TANDEMKV_FUZZ_SEED={SEED} " in report
    assert "b'die'" in report.lower() and "stub is not running" in report
    assert result.requests > 0  # ordinary requests went first


def test_the_runner_reports_a_desync_and_finds_the_request_alone(stub: StubServer) -> None:
    result = fuzz_stub(stub, b"twice")
    assert [failure.kind for failure in result.failures] == ["desync"], result.failures
    culprit = result.failures[0].culprit
    assert culprit is not None and culprit.args[0].lower() == b"twice", result.failures


def test_the_runner_reports_a_reply_that_never_comes(stub: StubServer) -> None:
    result = fuzz_stub(stub, b"hang", reply_timeout=1.0)
    # Both clients may meet a HANG before the first one's failure stops the other.
    assert {failure.kind for failure in result.failures} == {"timeout"}, result.failures
    failure = result.failures[0]
    assert failure.suspects[0].args[0].lower() == b"hang"
    assert failure.culprit is not None and failure.culprit.args[0].lower() == b"hang"
