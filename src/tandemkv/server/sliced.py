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

from tandemkv.commands.cluster_view import Pending
from tandemkv.commands.session import Session, SlicedJob
from tandemkv.protocol import encode_reply
from tandemkv.protocol.encoder import array_header
from tandemkv.protocol.types import Encoded, ErrorReply

# Items of a reply array encoded per turn: a few milliseconds.
ENCODE_SLICE = 20_000

log = logging.getLogger("tandemkv.server")


def run_sliced(session: Session, job: SlicedJob) -> Pending:
    """Start `job` now; the Pending resolves to its reply once the last slice is done."""
    pending = Pending()
    loop = asyncio.get_running_loop()

    def step() -> None:
        try:
            next(job)
        except StopIteration as done:
            _encode_in_slices(loop, pending, done.value, session.resp == 3)
            return
        except Exception:  # a bug in one command must not take the server down
            log.exception("a sliced command failed")
            pending.resolve(ErrorReply("ERR internal error running the command"))
            return
        loop.call_soon(step)

    step()
    return pending


def _encode_in_slices(
    loop: asyncio.AbstractEventLoop, pending: Pending, value: object, resp3: bool
) -> None:
    if type(value) is not list or len(value) <= ENCODE_SLICE:
        pending.resolve(value)
        return
    items: list[object] = value
    parts = [array_header(len(items))]

    def step(start: int) -> None:
        chunk = items[start : start + ENCODE_SLICE]
        parts.append(b"".join([encode_reply(item, resp3) for item in chunk]))
        if start + ENCODE_SLICE < len(items):
            loop.call_soon(step, start + ENCODE_SLICE)
        else:
            pending.resolve(Encoded(b"".join(parts)))

    step(0)
