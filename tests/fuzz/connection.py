"""A RawClient that reads while it writes, so a big pipeline cannot deadlock.

A plain `sendall` of a long pipeline can block for ever: the server stops reading from a
client whose replies it cannot get rid of (its back-pressure, server/connection.py), and
the client does not read replies until it has sent everything. Here sending and reading
interleave: whatever replies arrive while the request is going out are buffered for
`read_reply`.
"""

from __future__ import annotations

import contextlib
import select
import time
from typing import Any

from helpers.resp import RawClient

_CHUNK = 256 * 1024


class PipelineClient(RawClient):
    def __init__(self, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.timeout = timeout

    def send(self, data: bytes) -> None:
        """Send all of `data`, buffering replies as they come; TimeoutError if the
        server neither takes bytes nor answers for `timeout` seconds."""
        view = memoryview(data)
        sent = 0
        self.sock.setblocking(False)
        try:
            while sent < len(view):
                readable, writable, _ = select.select([self.sock], [self.sock], [], self.timeout)
                if not readable and not writable:
                    raise TimeoutError(f"the server took no bytes for {self.timeout} s")
                if writable:
                    with contextlib.suppress(BlockingIOError):  # select saw room; a race
                        sent += self.sock.send(view[sent : sent + _CHUNK])
                if readable:
                    self._fill()
        finally:
            self.sock.settimeout(self.timeout)

    def _decode(self, kind: bytes, rest: bytes) -> Any:
        # A status line is any bytes but CR and LF; RawClient insists on UTF-8.
        if kind == b"+":
            return rest.decode("utf-8", "replace")
        return super()._decode(kind, rest)

    def buffered(self) -> int:
        """Bytes received and not yet decoded into a reply."""
        return len(self._buf) - self._pos

    def read_reply_timed(self) -> tuple[object, float]:
        """A reply and the monotonic time at which it was complete."""
        reply = self.read_reply()
        return reply, time.monotonic()
