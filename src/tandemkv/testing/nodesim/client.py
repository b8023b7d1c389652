"""Simulated clients: real RESP over the simulated network, recorded as a History.

Each client is a process of its own in the world (so it outlives the nodes it talks to)
and runs one operation at a time, as a Redis client without pipelining does. It sends to
the node it believes is primary and moves to the next node on a refusal or a dropped
connection. An operation's outcome is what a real client could know:

- a reply: OK, with the reply as its output (an INCR on a non-integer is an OK error);
- an error the node gives before running anything (READONLY, LOADING...): FAIL, it had
  no effect;
- a dropped connection, a timeout or any other error: INFO, it may or may not have
  taken effect (the checker tries both).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from tandemkv.protocol.client_codec import NEED_MORE, ReplyDecoder, encode_command
from tandemkv.protocol.types import ErrorReply, SimpleString
from tandemkv.runtime import Runtime
from tandemkv.testing.history import AnyOutput, History, Operation, Output, Status, SubOp

# Errors a node answers without running the command: the write did not happen.
NOT_RUN = (
    "READONLY",
    "LOADING",
    "TRYAGAIN",
    "MASTERDOWN",
    "CLUSTERDOWN",
    "NOREPLICAS",
    "EXECABORT",
)
NOT_AN_INTEGER = "ERR value is not an integer or out of range"
REPLY_TIMEOUT = 1.0
# After a refusal or a lost answer: a real client backs off too, and every write of
# unknown outcome doubles what the checker may have to try.
BACKOFF = 0.1


class RespConnection(asyncio.Protocol):
    """One client connection: commands in, replies matched to them in order."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.decoder = ReplyDecoder()
        self.waiting: deque[asyncio.Future[object]] = deque()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.decoder.feed(data)
        while (reply := self.decoder.next_reply()) is not NEED_MORE:
            if self.waiting:
                future = self.waiting.popleft()
                if not future.done():
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(ConnectionResetError("connection lost"))

    def call(self, args: Sequence[bytes | str | int]) -> asyncio.Future[object]:
        assert self.transport is not None
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.lost:
            future.set_exception(ConnectionResetError("connection lost"))
            return future
        self.waiting.append(future)
        self.transport.write(encode_command(args))
        return future

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.close()


@dataclass(slots=True)
class Request:
    """One operation to send: the History's kind and arguments, and the commands (more
    than one for a MULTI/EXEC, whose steps are then given)."""

    kind: str
    key: str
    args: list[str]
    value: str | None = None
    expected: str | None = None
    steps: tuple[SubOp, ...] = ()
    commands: list[list[str]] = field(default_factory=list)


COUNTER = "counter"
# MULTI/EXEC on the counter: two increments and a read, all at one point in time.
TXN_STEPS = (SubOp("incr"), SubOp("incr"), SubOp("get"))
TXN_COMMANDS = [["MULTI"], ["INCR", COUNTER], ["INCR", COUNTER], ["GET", COUNTER], ["EXEC"]]


LIST = "pushed"


def draw_request(rng: random.Random, client: int, serial: int, keys: int) -> Request:
    if rng.random() < 0.15:
        # A list only ever pushed to: its pushes are logged as pushes, not as values.
        if rng.random() < 0.7:
            return Request("rpush", LIST, ["RPUSH", LIST, f"{client}.{serial}"])
        return Request("llen", LIST, ["LLEN", LIST])
    if rng.random() < 0.2:
        # A key only ever incremented: an increment applied twice or lost shows at once.
        roll = rng.random()
        if roll < 0.6:
            return Request("incr", COUNTER, ["INCR", COUNTER])
        if roll < 0.85:
            return Request("get", COUNTER, ["GET", COUNTER])
        return Request("txn", COUNTER, [], steps=TXN_STEPS, commands=TXN_COMMANDS)
    key = f"k{rng.randrange(keys)}"
    value = f"{client}.{serial}"
    roll = rng.random()
    if roll < 0.35:
        return Request("get", key, ["GET", key])
    if roll < 0.65:
        return Request("put", key, ["SET", key, value], value=value)
    if roll < 0.80:
        return Request("incr", key, ["INCR", key])
    if roll < 0.86:
        return Request("del", key, ["DEL", key])
    if roll < 0.94:
        return Request("set_ifeq", key, ["SET", key, value, "IFEQ", "?"], value=value)
    return Request("delifeq", key, ["DELIFEQ", key, "?"])


def outcome(request: Request, reply: object) -> tuple[str, AnyOutput]:
    """("ok" | "fail" | "info", output) for a reply to `request`."""
    if request.kind == "txn":
        return _txn_outcome(request, reply)
    if isinstance(reply, ErrorReply):
        message = reply.message
        if message.split(" ", 1)[0] in NOT_RUN:
            return "fail", None
        if request.kind == "incr" and message == NOT_AN_INTEGER:
            return "ok", message
        return "info", None
    kind = request.kind
    if kind == "get":
        return "ok", None if reply is None else _text(reply)
    if kind == "put":
        return ("ok", None) if reply == SimpleString("OK") else ("info", None)
    if kind in ("incr", "rpush", "llen"):
        return ("ok", str(reply)) if isinstance(reply, int) else ("info", None)
    if kind == "del":
        return "ok", None
    if kind == "set_ifeq":
        return "ok", reply == SimpleString("OK")
    if kind == "delifeq":
        return ("ok", reply == 1) if isinstance(reply, int) else ("info", None)
    return "info", None


def _txn_outcome(request: Request, reply: object) -> tuple[str, AnyOutput]:
    """EXEC's reply: the steps' replies; an error (EXECABORT, READONLY at MULTI...) means
    the transaction did not run."""
    if isinstance(reply, ErrorReply):
        return ("fail", None) if reply.message.split(" ", 1)[0] in NOT_RUN else ("info", None)
    if not isinstance(reply, list) or len(reply) != len(request.steps):
        return "info", None
    outputs: list[Output] = []
    for step, item in zip(request.steps, reply, strict=True):
        if isinstance(item, ErrorReply):
            outputs.append(item.message)
        elif step.kind == "incr":
            outputs.append(str(item))
        else:
            outputs.append(None if item is None else _text(item))
    return "ok", outputs


def _retrieved(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()


def _text(reply: object) -> str:
    return reply.decode() if isinstance(reply, bytes) else str(reply)


class Client:
    """One simulated client process running requests until told to stop."""

    def __init__(
        self,
        number: int,
        runtime: Runtime,
        nodes: list[tuple[str, int]],
        history: History,
        rng: random.Random,
        keys: int,
        served_by: dict[int, int] | None = None,
    ) -> None:
        """`served_by`: filled with operation id -> index of the node it was sent to."""
        self.served_by = served_by if served_by is not None else {}
        self.number = number
        self.runtime = runtime
        self.nodes = nodes
        self.history = history
        self.rng = rng
        self.keys = keys
        self.target = 0
        self.connection: RespConnection | None = None
        self.serial = 0
        self.stopping = False
        self.last_value: dict[str, str | None] = {}  # what this client last read per key
        # READONLY reads on any node (stale by design, so outside the history): (key, value).
        self.stale_reads: list[tuple[str, str | None]] = []
        self.anomalies: list[str] = []  # replies no correct node gives

    async def run(self) -> None:
        while not self.stopping:
            self.serial += 1
            request = draw_request(self.rng, self.number, self.serial, self.keys)
            if request.kind in ("set_ifeq", "delifeq"):
                # Compare with what this client read last: often right, sometimes stale.
                # An absent key never matches; "none" is a value no client writes.
                expected = self.last_value.get(request.key) or "none"
                request.expected = expected
                request.args[-1] = expected
            op = await self.perform(request)
            if op.status is Status.OK and request.kind == "put" and self.rng.random() < 0.1:
                await self._wait_for_replicas()
            if self.rng.random() < 0.05:
                await self._stale_read(f"k{self.rng.randrange(self.keys)}")
            await asyncio.sleep(self.rng.uniform(0, 0.01))

    async def perform(self, request: Request) -> Operation:
        runtime = self.runtime
        op = self.history.invoke(
            self.number,
            request.kind,
            request.key,
            runtime.monotonic(),
            request.value,
            request.expected,
            steps=request.steps,
        )
        self.served_by[op.id] = self.target
        try:
            connection = await self._connected()
        except (OSError, TimeoutError):
            History.fail(op, runtime.monotonic())  # never sent
            self._move_on()
            await asyncio.sleep(BACKOFF)
            return op
        try:
            reply = await asyncio.wait_for(self._send(connection, request), REPLY_TIMEOUT)
        except (OSError, TimeoutError):
            # Sent, and the answer lost: it may or may not have happened.
            self.history.info(op)
            self._move_on()
            await asyncio.sleep(BACKOFF)
            return op
        verdict, output = outcome(request, reply)
        if verdict == "ok":
            History.ok(op, output, runtime.monotonic())
            if request.kind == "get":
                self.last_value[request.key] = output if isinstance(output, str) else None
        elif verdict == "fail":
            History.fail(op, runtime.monotonic())
            self._move_on()
        else:
            self.history.info(op)
            self._move_on()
            await asyncio.sleep(BACKOFF)
        return op

    async def _send(self, connection: RespConnection, request: Request) -> object:
        """The reply to the request: its one command's, or a transaction's EXEC's (the
        commands go out together, as a pipelining client sends them)."""
        if not request.commands:
            return await connection.call(request.args)
        replies = [connection.call(command) for command in request.commands]
        for reply in replies:
            reply.add_done_callback(_retrieved)  # those not awaited below, if one fails
        for reply in replies[:-1]:
            answer = await reply
            if isinstance(answer, ErrorReply) and answer.message.split(" ", 1)[0] in NOT_RUN:
                return answer  # refused at MULTI or a queued command: nothing ran
        return await replies[-1]

    async def _wait_for_replicas(self) -> None:
        """WAIT after a write: the number of backups that have it, never more than exist."""
        connection = self.connection
        if connection is None or connection.lost:
            return
        try:
            reply = await asyncio.wait_for(connection.call(["WAIT", "1", "50"]), REPLY_TIMEOUT)
        except (OSError, TimeoutError):
            return
        if isinstance(reply, ErrorReply):
            return  # this node stopped being primary meanwhile
        if not isinstance(reply, int) or not 0 <= reply < len(self.nodes):
            self.anomalies.append(f"WAIT 1 50 answered {reply!r}")

    async def _stale_read(self, key: str) -> None:
        """READONLY then GET on any node, on a connection of its own."""
        host, port = self.nodes[self.rng.randrange(len(self.nodes))]
        reader = RespConnection()
        try:
            await asyncio.wait_for(self.runtime.connect(lambda: reader, host, port, None), 1.0)
            replies = [reader.call(["READONLY"]), reader.call(["GET", key])]
            for reply in replies:
                reply.add_done_callback(_retrieved)
            value = await asyncio.wait_for(replies[1], REPLY_TIMEOUT)
        except (OSError, TimeoutError):
            return
        finally:
            reader.close()
        if not isinstance(value, ErrorReply):
            self.stale_reads.append((key, None if value is None else _text(value)))

    async def _connected(self) -> RespConnection:
        connection = self.connection
        if connection is not None and not connection.lost:
            return connection
        host, port = self.nodes[self.target]
        fresh = RespConnection()
        await asyncio.wait_for(self.runtime.connect(lambda: fresh, host, port, None), 1.0)
        self.connection = fresh
        return fresh

    def _move_on(self) -> None:
        """Try another node next time: this one refused or stopped answering."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        self.target = (self.target + 1) % len(self.nodes)
