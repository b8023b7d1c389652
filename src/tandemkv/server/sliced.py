"""Commands whose work a client chooses, run a slice per turn of the event loop.

A KEYS over a million keys is half a second of Python, and encoding its reply as much
again. Run in one go, it would hold every other client and, on a group's primary, the
heartbeats, long enough for the backups to elect another primary. Instead the command's
job (commands/session.py: SlicedJob) does a bounded slice per turn and the client waits on a
Pending, like a Redis client blocked in WAIT; then a long array reply is encoded in slices
too, for the session's protocol version, and handed over already encoded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tandemkv.commands.cluster_view import Pending
from tandemkv.commands.session import Session, SlicedJob, run_to_end
from tandemkv.protocol import encode_reply
from tandemkv.protocol.encoder import array_header
from tandemkv.protocol.types import Encoded, ErrorReply

# Items of a reply array encoded per turn: a few milliseconds.
ENCODE_SLICE = 20_000

log = logging.getLogger("tandemkv.server")


class SlicedRunner:
    """Runs sliced jobs on the event loop, at most MAX_IN_FLIGHT at a time.

    Each job holds a snapshot of what it walks (a million keys: 8 MB of references), so
    beyond that many a job runs to its end at once instead, as in Redis: clients that send
    KEYS after KEYS are slowed down, and memory stays bounded."""

    MAX_IN_FLIGHT = 4

    def __init__(self) -> None:
        self.in_flight = 0

    def run(self, session: Session, job: SlicedJob) -> object:
        """Start `job` now; the reply, or a Pending resolved with it after the last slice."""
        if self.in_flight >= self.MAX_IN_FLIGHT:
            return run_to_end(job)
        pending = Pending()
        loop = asyncio.get_running_loop()
        self.in_flight += 1

        def finish(value: object) -> None:
            self.in_flight -= 1
            pending.resolve(value)

        def step() -> None:
            try:
                next(job)
            except StopIteration as done:
                _encode_in_slices(loop, finish, done.value, session.resp == 3)
                return
            except Exception:  # a bug in one command must not take the server down
                log.exception("a sliced command failed")
                finish(ErrorReply("ERR internal error running the command"))
                return
            loop.call_soon(step)

        step()
        return pending


def _encode_in_slices(
    loop: asyncio.AbstractEventLoop, finish: Callable[[object], None], value: object,
    resp3: bool,
) -> None:
    if type(value) is not list or len(value) <= ENCODE_SLICE:
        finish(value)
        return
    items: list[object] = value
    parts = [array_header(len(items))]

    def step(start: int) -> None:
        chunk = items[start : start + ENCODE_SLICE]
        parts.append(b"".join([encode_reply(item, resp3) for item in chunk]))
        if start + ENCODE_SLICE < len(items):
            loop.call_soon(step, start + ENCODE_SLICE)
        else:
            finish(Encoded(b"".join(parts)))

    step(0)
