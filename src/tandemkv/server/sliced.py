"""Commands whose work a client chooses, run a slice per turn of the event loop.

A KEYS over a million keys is half a second of Python, and encoding its reply as much
again. Run in one go, it would hold every other client and, on a group's primary, the
heartbeats, long enough for the backups to elect another primary. Instead the command's
job (commands/session.py: SlicedJob) does a bounded slice per turn and the client waits on a
Pending, like a Redis client blocked in WAIT; then a long array reply is encoded in slices
too, for the session's protocol version, and handed over already encoded, in parts.

With a hard output limit (client-output-buffer-limit normal), a reply over it is not
encoded at all: the Pending is resolved with a ReplyOverLimit, and the connection drops the
client, as it does for a reply that was not sliced (SRANDMEMBER k -30000 on members of
64 KiB asks for 2 GB with a 60-byte request).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from tandemkv.commands.cluster_view import Pending
from tandemkv.commands.session import Session, SlicedJob, run_to_end
from tandemkv.protocol.encoder import SLICED_TYPES, encode_in_slices, reply_size
from tandemkv.protocol.types import ErrorReply

log = logging.getLogger("tandemkv.server")


@dataclass(frozen=True, slots=True)
class ReplyOverLimit:
    """What a sliced job answers instead of a reply of about `size` bytes, over the
    session's hard output limit: the connection drops the client (connection.py _drop)."""

    size: int
    limit: int


def over_limit(value: object, limit: int) -> ReplyOverLimit | None:
    """An array, set or map reply that would break the hard output `limit` (0: none) by
    itself, sized before it is encoded; None if it fits or is not one of those."""
    if not limit or type(value) not in SLICED_TYPES:
        return None
    size = reply_size(value)
    return ReplyOverLimit(size, limit) if size > limit else None


def _no_limit() -> int:
    return 0


class SlicedRunner:
    """Runs sliced jobs on the event loop, at most MAX_IN_FLIGHT at a time.

    Each job holds a snapshot of what it walks (a million keys: 8 MB of references), so
    beyond that many a job runs to its end at once instead, as in Redis: clients that send
    KEYS after KEYS are slowed down, and memory stays bounded."""

    MAX_IN_FLIGHT = 4

    def __init__(self, hard_limit: Callable[[], int] = _no_limit) -> None:
        """`hard_limit`: the normal clients' hard output limit now (0: none), read when a
        job starts, since CONFIG SET may change it."""
        self.in_flight = 0
        self.hard_limit = hard_limit

    def run(self, session: Session, job: SlicedJob) -> object:
        """Start `job` now; the reply, or a Pending resolved with it after the last slice."""
        if self.in_flight >= self.MAX_IN_FLIGHT:
            return run_to_end(job)
        pending = Pending()
        self.in_flight += 1
        limit = 0 if session.peer_id else self.hard_limit()  # peers are exempt
        _Slices(self, job, pending, session.resp == 3, limit).step()
        return pending

    def finish(self, pending: Pending, value: object) -> None:
        self.in_flight -= 1
        pending.resolve(value)


# The steps are bound methods of these objects, not closures that schedule themselves: a
# closure naming itself is a reference cycle, and it held the job's result, the encoded
# parts and the Pending with the whole reply. The server collects cycles rarely (run.py
# tunes the collector), so each KEYS over 100k keys left about 4 MiB behind.


class _Slices:
    """Runs a job a slice per loop turn, then has its reply encoded the same way."""

    def __init__(
        self, runner: SlicedRunner, job: SlicedJob, pending: Pending, resp3: bool, limit: int
    ) -> None:
        self.runner, self.job, self.pending, self.resp3 = runner, job, pending, resp3
        self.limit = limit
        self.encoding = False
        self.loop = asyncio.get_running_loop()

    def step(self) -> None:
        while True:
            try:
                next(self.job)
            except StopIteration as done:
                if self.encoding:
                    self.finish(done.value)
                    return
                over = over_limit(done.value, self.limit)
                if over is not None:
                    self.finish(over)  # before anything is encoded
                    return
                self.encoding = True
                self.job = encode_in_slices(done.value, self.resp3)
                continue  # its first slice in this turn: a short reply costs no turn
            except Exception:  # a bug in one command must not take the server down
                log.exception("a sliced command failed")
                self.finish(ErrorReply("ERR internal error running the command"))
                return
            self.loop.call_soon(self.step)
            return

    def finish(self, value: object) -> None:
        self.runner.finish(self.pending, value)
