"""The workload records what clients saw, with the right outcome for each operation."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from chaos.checks import check_registers, missing_writes
from chaos.harness import collection_problems
from chaos.nodes import NodeFactory
from chaos.proxy import Direction
from chaos.workload import Workload, WorkloadConfig
from helpers.resp import RawClient, encode_command
from tandemkv.testing.history import Status

pytestmark = pytest.mark.timeout(60)
FAST = WorkloadConfig(clients=3, keys=2, op_timeout=0.4, think_ms=(1, 5), backoff_ms=(10, 50))


class _RefusingHandler(socketserver.StreamRequestHandler):
    """Answers PING, says every key is absent, and refuses every SET with an error."""

    def handle(self) -> None:
        while True:
            header = self.rfile.readline()
            if not header:
                return
            args = [self._bulk() for _ in range(int(header[1:]))]
            name = args[0].upper()
            reply = (
                b"+PONG\r\n"
                if name == b"PING"
                else b"$-1\r\n"
                if name == b"GET"
                else (b"-ERR refused for the test\r\n")
            )
            self.wfile.write(reply)

    def _bulk(self) -> bytes:
        size = int(self.rfile.readline()[1:])
        return self.rfile.read(size + 2)[:-2]


@pytest.fixture
def refusing_server() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RefusingHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield str(host), int(port)
    finally:
        server.shutdown()
        server.server_close()


def test_error_replies_are_failures_and_a_refusing_server_checks_out(
    refusing_server: tuple[str, int],
) -> None:
    with RawClient(*refusing_server) as probe:  # the fake speaks enough RESP
        probe.send(encode_command("SET", "k", "v"))
        assert "refused" in probe.read_reply().text
    workload = Workload(lambda: refusing_server, FAST, seed=3).start()
    time.sleep(0.5)
    workload.stop()
    outcomes = workload.outcomes()
    assert outcomes["put:fail"] > 0 and outcomes["get:ok"] > 0, outcomes
    assert outcomes["push:fail"] > 0 and outcomes["hput:fail"] > 0, outcomes
    refused = {name for name in outcomes if name.endswith(":fail")}
    assert set(outcomes) - refused == {"get:ok"}, "no write can succeed, so no IFEQ either"
    assert workload.errors == [] and workload.anomalies == []
    ops = workload.history.ops
    assert check_registers(ops).ok, "refused writes have no effect on the model"
    assert collection_problems(ops) == []


def test_lost_replies_give_unknown_outcomes_and_the_writes_still_count(
    make_node: NodeFactory,
) -> None:
    node = make_node(("--fsync", "always"))
    assert node.proxy is not None
    workload = Workload(lambda: node.address, FAST, seed=9).start()
    time.sleep(0.4)
    node.proxy.drop(Direction.DOWN)
    time.sleep(1.0)
    node.proxy.heal()
    healed_at = time.monotonic()  # the workload's clock
    time.sleep(0.6)
    workload.stop()
    ops = workload.history.ops
    unknown = [op for op in ops if op.status is Status.INFO]
    assert unknown, workload.outcomes()
    assert all(op.ret is None for op in unknown)
    assert all(op.ret is not None and op.call <= op.ret for op in ops if op.status is Status.OK)
    written = [op.value for op in ops if op.value is not None]
    assert len(written) == len(set(written)), "every written value is unique"
    assert workload.ok_since(healed_at) > 0, "clients reconnect after the fault"
    assert check_registers(ops).ok and missing_writes(ops) == []
    assert collection_problems(ops) == []
    assert workload.errors == [] and workload.anomalies == []
