"""The command gate: which commands a node runs in each place of its group, and the
errors clients get for the rest (they are what redis clients and operators see)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from tandemkv.commands.engine import Engine
from tandemkv.commands.errors import CommandError
from tandemkv.commands.session import Session
from tandemkv.commands.table import lookup
from tandemkv.node.gate import CommandGate, MasterDown
from tandemkv.protocol.types import ErrorReply


@dataclass
class FakeConfig:
    replica_max_lag_ms: int = 1000


@dataclass
class FakeNode:
    """The attributes and methods of Node the gate reads."""

    writable: bool = False
    removed: bool = False
    is_leader: bool = False
    is_witness: bool = False
    transferring: bool = False
    silence_ms: int | None = 10
    config: FakeConfig = field(default_factory=FakeConfig)

    def primary_address(self) -> str:
        return "127.0.0.1:7001"

    def ms_since_leader_contact(self) -> int | None:
        return self.silence_ms


def ask(node: FakeNode, command: bytes, session: Session | None = None) -> CommandError | None:
    spec = lookup(command)
    assert spec is not None
    return CommandGate(node)(session or Session(id=1), spec)  # type: ignore[arg-type]


PRIMARY = FakeNode(writable=True, is_leader=True)
BACKUP = FakeNode()


@pytest.mark.parametrize("command", [b"set", b"get", b"ping", b"del", b"info"])
def test_a_primary_in_service_runs_everything(command: bytes) -> None:
    assert ask(PRIMARY, command) is None


def test_a_write_on_a_backup_names_the_primary() -> None:
    refusal = ask(BACKUP, b"set")
    assert refusal is not None
    assert refusal.reply().message.startswith(
        "READONLY You can't write against a read only replica. The primary is 127.0.0.1:7001"
    )


def test_a_read_on_a_backup_needs_readonly_and_a_recent_primary() -> None:
    plain = ask(BACKUP, b"get")
    assert plain is not None and "send READONLY first" in plain.reply().message
    stale_ok = Session(id=2)
    stale_ok.read_stale = True
    assert ask(BACKUP, b"get", stale_ok) is None
    silent = FakeNode(silence_ms=5000)
    refusal = ask(silent, b"get", stale_ok)
    assert isinstance(refusal, MasterDown)
    assert "5000 ms" in refusal.reply().message


def test_commands_that_touch_no_data_run_on_any_node() -> None:
    assert ask(BACKUP, b"ping") is None
    assert ask(FakeNode(is_witness=True), b"info") is None


def test_a_primary_handing_over_says_a_failover_is_in_progress() -> None:
    handing_over = FakeNode(is_leader=True, transferring=True)
    for command in (b"get", b"set"):
        refusal = ask(handing_over, command)
        assert refusal is not None
        assert "a failover is in progress" in refusal.reply().message


def test_a_primary_still_applying_its_log_asks_clients_to_retry() -> None:
    catching_up = FakeNode(is_leader=True)
    read, write = ask(catching_up, b"get"), ask(catching_up, b"set")
    assert read is not None and "just elected primary" in read.reply().message
    assert write is not None and "applying its log; retry" in write.reply().message


def test_a_witness_refuses_reads_and_points_to_the_primary() -> None:
    refusal = ask(FakeNode(is_witness=True), b"get")
    assert refusal is not None
    assert "witness" in refusal.reply().message and "127.0.0.1:7001" in refusal.reply().message


def test_a_removed_node_refuses_data_commands_even_if_it_thinks_it_is_writable() -> None:
    removed = FakeNode(writable=True, is_leader=True, removed=True)
    for command in (b"get", b"set"):
        refusal = ask(removed, command)
        assert refusal is not None and "removed from its group" in refusal.reply().message
    assert ask(removed, b"ping") is None


def test_the_engine_asks_the_gate_only_while_it_is_closed() -> None:
    """A primary in service opens the gate, and the engine then skips the call on every
    request; a closed gate is asked, and its refusal is the reply."""
    node = FakeNode()
    gate = CommandGate(node)  # type: ignore[arg-type]
    engine = Engine(random.Random(1))
    engine.gate = gate
    session = Session(id=1)
    refused = engine.execute(session, [b"SET", b"k", b"v"])
    assert isinstance(refused, ErrorReply) and refused.message.startswith("READONLY")
    gate.open = True  # what the node does once it is a primary in service
    assert engine.execute(session, [b"SET", b"k", b"v"]) == "OK"
    assert engine.read_ran
