"""A fake replication group for the cluster harness's own tests: tiny RESP servers.

Every fake node answers PING, STATUS (RESP2 flat list, like tandemkv's), ROLE, READONLY
and GET / SET / SET IFEQ on one shared, locked dictionary, so the group as a whole is a
correct linearizable register store. Only the node the group calls primary accepts
commands; the others answer ``-READONLY ... primary is HOST:PORT``. ``fail_over`` moves
the primary (with a new term); a ``zombie`` keeps claiming to be primary in its old term
while refusing everything, as a primary cut off from its group might look to a client.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

Reply = bytes


def encode(value: Any) -> Reply:
    """RESP2 for the few shapes the fake answers with."""
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, bool):
        return b":1\r\n" if value else b":0\r\n"
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(encode(item) for item in value)
    raise TypeError(value)


class FakeGroup:
    def __init__(self, size: int = 3) -> None:
        self.lock = threading.Lock()
        self.data: dict[bytes, bytes] = {}
        self.primary = 0
        self.term = 1
        self.zombie: int | None = None
        self.servers = [_Server(self, n) for n in range(size)]
        self.threads = [
            threading.Thread(target=server.serve_forever, daemon=True) for server in self.servers
        ]
        self.writes_refused = 0

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [server.address for server in self.servers]

    def advertised(self, n: int) -> str:
        host, port = self.servers[n].address
        return f"{host}:{port}"

    def fail_over(self, to: int, leave_zombie: bool = False) -> None:
        with self.lock:
            self.zombie = self.primary if leave_zombie else None
            self.primary = to
            self.term += 1

    def start(self) -> FakeGroup:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    # ------------------------------------------------------------------ commands

    def execute(self, node: int, args: list[bytes]) -> Reply:
        name = args[0].upper()
        with self.lock:
            if name == b"PING":
                return b"+PONG\r\n"
            if name == b"READONLY":
                return b"+OK\r\n"
            if name == b"STATUS":
                return encode(self._status(node))
            if name == b"ROLE":
                return encode(self._role(node))
            if node != self.primary:
                self.writes_refused += name == b"SET"
                primary = self.advertised(self.primary).encode()
                return b"-READONLY this node is not the primary; primary is %s\r\n" % primary
            return self._data_command(name, args)

    def _data_command(self, name: bytes, args: list[bytes]) -> Reply:
        if name == b"GET":
            return encode(self.data.get(args[1]))
        if name == b"SET" and len(args) == 3:
            self.data[args[1]] = args[2]
            return b"+OK\r\n"
        if name == b"SET" and len(args) == 5 and args[3].upper() == b"IFEQ":
            if self.data.get(args[1]) != args[4]:
                return encode(None)
            self.data[args[1]] = args[2]
            return b"+OK\r\n"
        return b"-ERR unknown command\r\n"

    def _status(self, node: int) -> list[Any]:
        claims = node in (self.primary, self.zombie)
        term = self.term - 1 if node == self.zombie else self.term
        primary = "" if node == self.zombie else self.advertised(self.primary)
        members = [
            [
                "node_id",
                n + 1,
                "address",
                self.advertised(n),
                "role",
                "primary" if n == self.primary else "backup",
            ]
            for n in range(len(self.servers))
        ]
        return [
            "node_id",
            node + 1,
            "address",
            self.advertised(node),
            "role",
            "primary" if claims else "backup",
            "term",
            term,
            "leader_id",
            self.primary + 1,
            "primary",
            primary,
            "last_index",
            10,
            "commit_index",
            10,
            "applied_index",
            10,
            "ack_level",
            "majority",
            "members",
            members,
        ]

    def _role(self, node: int) -> list[Any]:
        if node in (self.primary, self.zombie):
            return ["master", 10, []]
        host, port = self.servers[self.primary].address
        return ["slave", host, port, "connected", 10]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        while True:
            header = self.rfile.readline()
            if not header:
                return
            args = [self._bulk() for _ in range(int(header[1:]))]
            self.wfile.write(self.server.group.execute(self.server.node, args))

    def _bulk(self) -> bytes:
        size = int(self.rfile.readline()[1:])
        return self.rfile.read(size + 2)[:-2]


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, group: FakeGroup, node: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.group = group
        self.node = node

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server_address[:2]
        return str(host), int(port)


@contextmanager
def fake_group(size: int = 3) -> Iterator[FakeGroup]:
    group = FakeGroup(size).start()
    try:
        yield group
    finally:
        group.stop()
