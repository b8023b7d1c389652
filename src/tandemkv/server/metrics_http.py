"""The metrics endpoint: a tiny HTTP/1.x responder for GET /metrics on the event loop.

One request per connection (the answer says Connection: close), which is how Prometheus
scrapes fine. What a client can cost is bounded: a request head of at most 8 KiB, a few
seconds to send it, and a few connections at once; anything else is answered 400, 404,
405 or 503 and closed. The exposition is built by prometheus_client from the live server
state (server/metrics.py), on the loop's thread, so nothing races with the loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

from prometheus_client.exposition import generate_latest

from tandemkv.config import Address
from tandemkv.server.metrics import make_registry

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from tandemkv.server.app import Server

MAX_REQUEST_HEAD = 8192
REQUEST_SECONDS = 5.0
MAX_CONNECTIONS = 16
# What generate_latest writes: the classic text format, which every Prometheus reads
# (newer prometheus-client versions name a later one in CONTENT_TYPE_LATEST).
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

log = logging.getLogger("tandemkv.server")


class MetricsEndpoint:
    """Serves GET /metrics for `server` at an address, until closed."""

    def __init__(self, server: Server) -> None:
        self.registry: CollectorRegistry = make_registry(server)
        self.open: set[MetricsRequest] = set()
        self._listener: asyncio.base_events.Server | None = None
        self.address = ""

    async def start(self, host: str, port: int) -> str:
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(lambda: MetricsRequest(self), host, port)
        sock = self._listener.sockets[0].getsockname()
        self.address = str(Address(sock[0], sock[1]))
        return self.address

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def close(self) -> None:
        if self._listener is None:
            return
        self._listener.close()
        for request in list(self.open):
            request.close()
        await self._listener.wait_closed()


class MetricsRequest(asyncio.Protocol):
    def __init__(self, endpoint: MetricsEndpoint) -> None:
        self.endpoint = endpoint
        self.transport: Any = None
        self.head = b""
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: object) -> None:
        self.transport = cast(Any, transport)
        if len(self.endpoint.open) >= MAX_CONNECTIONS:
            self.respond(503, b"too many metrics connections\n")
            return
        self.endpoint.open.add(self)
        self.timer = asyncio.get_running_loop().call_later(REQUEST_SECONDS, self.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.endpoint.open.discard(self)
        if self.timer is not None:
            self.timer.cancel()

    def data_received(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > MAX_REQUEST_HEAD:
                self.respond(400, b"request head too large\n")
            return
        self.answer(self.head[:end].split(b"\r\n", 1)[0])

    def answer(self, request_line: bytes) -> None:
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            self.respond(400, b"bad request\n")
            return
        method, target = parts[0], parts[1].split(b"?", 1)[0]
        if target != b"/metrics":
            self.respond(404, b"not found: the metrics are at /metrics\n")
        elif method not in (b"GET", b"HEAD"):
            self.respond(405, b"method not allowed\n", b"Allow: GET, HEAD\r\n")
        else:
            try:
                body = self.endpoint.render()
            except Exception:  # a bug in the collector must not take the server down
                log.exception("the metrics collector failed")
                self.respond(500, b"the metrics collector failed; see the server log\n")
                return
            self.respond(
                200,
                body,
                b"Content-Type: " + CONTENT_TYPE + b"\r\n",
                send_body=method == b"GET",
            )

    def respond(
        self, code: int, body: bytes, headers: bytes = b"", *, send_body: bool = True
    ) -> None:
        reason = _REASONS[code]
        if not headers:
            headers = b"Content-Type: text/plain; charset=utf-8\r\n"
        head = b"HTTP/1.1 %d %s\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n" % (
            code,
            reason,
            headers,
            len(body),
        )
        self.transport.write(head + body if send_body else head)
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}
