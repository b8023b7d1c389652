"""The differential machinery: run a command script on a fresh engine and on a real
redis-server, and compare the replies exactly (see test_redis_parity.py for what is compared
and what is left out). Scripts of every command family import `check` and the fixtures.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tandemkv.commands.settings import Settings
from tandemkv.protocol.types import (
    BigNumber,
    ErrorReply,
    NullArray,
    SetReply,
    SimpleString,
    Verbatim,
)

from .harness import Arg, World

PASSWORD = "s3cret"
INT64_MAX = str(2**63 - 1)
INT64_MIN = str(-(2**63))
NEEDS_REDIS = "redis-server is not installed: engine replies not compared with real Redis"


@dataclass(frozen=True)
class Other:
    """A command sent by a second client of the same server."""

    args: tuple[Arg, ...]

    def __init__(self, *args: Arg) -> None:
        object.__setattr__(self, "args", args)


Step = tuple[Arg, ...] | Other


def start_reference(tmp: Path, password: str | None) -> Iterator[object]:
    if shutil.which("redis-server") is None:
        pytest.skip(NEEDS_REDIS)
    from helpers.servers import ServerOptions, start_server

    server = start_server("redis", tmp, ServerOptions(requirepass=password))
    try:
        yield server
    finally:
        server.stop()


def as_resp2(value: object, resp3: bool = False) -> object:
    """An engine reply as RawClient decodes the same reply sent over RESP2 (or, `resp3`,
    over RESP3, where doubles stay floats and maps and sets still decode to lists)."""
    from helpers.resp import RespError

    if isinstance(value, SimpleString):
        return str(value)
    if isinstance(value, ErrorReply):
        return RespError(value.message)
    if value is NullArray:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and not resp3:  # a double is a bulk string in RESP2
        return b"%.17g" % value
    if isinstance(value, list | tuple):
        return [as_resp2(v, resp3) for v in value]
    if isinstance(value, SetReply):
        return [as_resp2(v, resp3) for v in value.items]
    if isinstance(value, dict):
        return [as_resp2(x, resp3) for pair in value.items() for x in pair]
    if isinstance(value, Verbatim):
        return value.text
    if isinstance(value, BigNumber):
        return str(value.value).encode()
    return value


def comparable(args: tuple[Arg, ...], reply: object) -> object:
    """Order-free replies sorted, so only their contents are compared."""
    name = str(args[0]).upper() if not isinstance(args[0], bytes) else args[0].decode().upper()
    if name == "KEYS" and isinstance(reply, list):
        return sorted(reply)
    if name in _SCANS and isinstance(reply, list) and len(reply) == 2:
        return [reply[0], _order_free(name, reply[1])]
    if name in _ORDER_FREE and isinstance(reply, list):
        return _order_free(name, reply)
    return reply


# Replies in hash-table order, which differs between implementations: compared sorted
# (pairs kept together for the ones that return field, value pairs).
_SCANS = {"SCAN", "SSCAN", "HSCAN"}
_ORDER_FREE = {
    "SMEMBERS",
    "SUNION",
    "SINTER",
    "SDIFF",
    "SPOP",
    "SRANDMEMBER",
    "HKEYS",
    "HVALS",
    "HGETALL",
    "HRANDFIELD",
}
_PAIRED = {"HSCAN", "HGETALL"}


def _order_free(name: str, items: list[object]) -> list[object]:
    if name in _PAIRED:
        pairs = [(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        return [x for pair in sorted(pairs, key=repr) for x in pair]
    return sorted(items, key=repr)


def transcripts(server: object, script: list[Step], password: str | None) -> tuple[list, list]:
    from helpers.resp import RawClient

    host, port = server.host, server.port  # type: ignore[attr-defined]
    world = World(settings=Settings(requirepass=password or ""))
    mine, mine_other = world.client(), world.client()
    theirs, theirs_other = RawClient(host, port, timeout=5), RawClient(host, port, timeout=5)
    ours: list[object] = []
    real: list[object] = []
    try:
        with RawClient(host, port, timeout=5) as admin:
            if password:
                admin.call("AUTH", password)
            assert admin.call("FLUSHALL") == "OK"
        for step in script:
            other = isinstance(step, Other)
            args = step.args if isinstance(step, Other) else step
            world.engine.now_ms = int(time.time() * 1000)
            ours.append(comparable(args, as_resp2((mine_other if other else mine)(*args))))
            real.append(comparable(args, (theirs_other if other else theirs).call(*args)))
    finally:
        theirs.close()
        theirs_other.close()
    return ours, real


def check(server: object, script: list[Step], password: str | None = None) -> None:
    ours, real = transcripts(server, script, password)
    diffs = [(step, o, r) for step, o, r in zip(script, ours, real, strict=True) if o != r]
    assert not diffs, "\n".join(f"{s}: ours={o!r} redis={r!r}" for s, o, r in diffs)
