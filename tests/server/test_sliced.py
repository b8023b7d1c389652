"""Sliced commands on the event loop: other work runs between slices, long replies are
encoded in slices to the same bytes, a reply over the hard output limit is not encoded at
all, and a failing job answers an error."""

from __future__ import annotations

import asyncio
import gc

import pytest

from tandemkv.commands.cluster_view import Pending
from tandemkv.commands.session import Session, SlicedJob
from tandemkv.protocol import encode_reply
from tandemkv.protocol.encoder import ENCODE_SLICE
from tandemkv.protocol.types import EncodedParts, ErrorReply
from tandemkv.server.sliced import ReplyOverLimit, SlicedRunner

MiB = 1024 * 1024


def counting_job(slices: int, log: list[str], value: object) -> SlicedJob:
    for i in range(slices):
        log.append(f"slice {i}")
        yield
    return value


def test_other_callbacks_run_between_slices() -> None:
    log: list[str] = []

    async def scenario() -> object:
        loop = asyncio.get_running_loop()
        pending = SlicedRunner().run(Session(id=1), counting_job(3, log, b"done"))
        assert isinstance(pending, Pending)
        loop.call_soon(log.append, "another client")
        while not pending.done:
            await asyncio.sleep(0)
        return pending.value

    assert asyncio.run(scenario()) == b"done"
    assert log.index("another client") < log.index("slice 2")


def test_a_long_array_reply_is_encoded_in_slices_to_the_same_bytes() -> None:
    items: list[object] = [b"k%d" % i for i in range(2 * ENCODE_SLICE + 3)]
    items[5] = None  # a null encodes differently in RESP2 and RESP3

    for resp in (2, 3):
        session = Session(id=1)
        session.resp = resp

        async def scenario(session: Session = session) -> object:
            pending = SlicedRunner().run(session, counting_job(1, [], list(items)))
            assert isinstance(pending, Pending)
            while not pending.done:
                await asyncio.sleep(0)
            return pending.value

        reply = asyncio.run(scenario())
        assert isinstance(reply, EncodedParts)
        assert b"".join(reply.parts) == encode_reply(items, resp == 3)
        assert encode_reply(reply, resp == 3) == b"".join(reply.parts)


def finished(runner: SlicedRunner, session: Session, job: SlicedJob) -> object:
    """The value `runner` resolves the job's Pending with."""

    async def scenario() -> object:
        pending = runner.run(session, job)
        assert isinstance(pending, Pending)
        while not pending.done:
            await asyncio.sleep(0)
        return pending.value

    return asyncio.run(scenario())


def test_a_reply_over_the_hard_limit_is_not_encoded() -> None:
    """Regression: SRANDMEMBER k -30000 on 8 members of 64 KiB (a 2 GB reply) was encoded
    whole by the runner, past a 64 MB hard limit: 3.8 GB of RSS. Now the runner answers
    the size instead, and the connection drops the client."""
    member = b"m" * (64 * 1024)
    picks: list[object] = [member] * 30_000
    reply = finished(SlicedRunner(lambda: 64 * MiB), Session(id=1), counting_job(2, [], picks))
    assert reply == ReplyOverLimit(30_000 * len(member), 64 * MiB)


def test_a_reply_under_the_hard_limit_and_a_peers_are_encoded() -> None:
    picks: list[object] = [b"m" * 1024] * 30_000  # 30 MB
    under = finished(SlicedRunner(lambda: 64 * MiB), Session(id=1), counting_job(1, [], picks))
    assert isinstance(under, EncodedParts)
    peer = Session(id=2)
    peer.peer_id = 7  # links between nodes are exempt, as in the connection
    exempt = finished(SlicedRunner(lambda: MiB), peer, counting_job(1, [], picks))
    assert isinstance(exempt, EncodedParts)
    assert b"".join(exempt.parts) == encode_reply(picks, False)


def test_a_short_reply_of_big_items_is_encoded_in_slices() -> None:
    """Fewer items than ENCODE_SLICE, but 64 MiB: encoded in parts of a few MiB, not left
    for the connection to encode in one go."""
    picks: list[object] = [b"%c" % (97 + i % 8) * MiB for i in range(64)]
    reply = finished(SlicedRunner(), Session(id=1), counting_job(1, [], picks))
    assert isinstance(reply, EncodedParts) and len(reply.parts) > 8
    assert b"".join(reply.parts) == encode_reply(picks, False)


def test_a_short_reply_is_left_to_the_connection() -> None:
    async def scenario() -> object:
        pending = SlicedRunner().run(Session(id=1), counting_job(0, [], [b"a", b"b"]))
        assert isinstance(pending, Pending) and pending.done  # no slice to wait for
        return pending.value

    assert asyncio.run(scenario()) == [b"a", b"b"]


def test_a_failing_job_answers_an_error_and_the_loop_goes_on() -> None:
    def broken() -> SlicedJob:
        yield
        raise RuntimeError("bug")

    async def scenario() -> object:
        pending = SlicedRunner().run(Session(id=1), broken())
        assert isinstance(pending, Pending)
        while not pending.done:
            await asyncio.sleep(0)
        return pending.value

    reply = asyncio.run(scenario())
    assert isinstance(reply, ErrorReply) and reply.message.startswith("ERR internal error")


def test_beyond_the_jobs_in_flight_a_job_runs_to_its_end_at_once() -> None:
    """Each job holds a snapshot: a client sending KEYS after KEYS gets Redis's behaviour
    (answered at once, the loop held) instead of more snapshots in memory."""

    async def scenario() -> None:
        runner = SlicedRunner()
        started = [
            runner.run(Session(id=i), counting_job(2, [], i)) for i in range(runner.MAX_IN_FLIGHT)
        ]
        assert all(isinstance(p, Pending) and not p.done for p in started)
        assert runner.run(Session(id=99), counting_job(2, [], "now")) == "now"
        while not all(isinstance(p, Pending) and p.done for p in started):
            await asyncio.sleep(0)
        assert runner.in_flight == 0
        assert isinstance(runner.run(Session(id=100), counting_job(2, [], 1)), Pending)

    asyncio.run(scenario())


@pytest.mark.parametrize("length", [3, ENCODE_SLICE + 1], ids=["short", "encoded"])
def test_a_finished_job_leaves_no_cycle_holding_its_reply(length: int) -> None:
    """Regression (the fuzzer's long run): each step closure scheduled itself, a reference
    cycle holding the job's result, the encoded parts and, through `finish`, the Pending
    with the whole reply. The server collects cycles rarely (run.py's GC tuning), so each
    KEYS over 100k keys left about 4 MiB behind: 2.7 GiB after 300."""
    box = {"reply": [b"k%d" % i for i in range(length)]}

    async def scenario() -> None:
        pending = SlicedRunner().run(Session(id=1), counting_job(2, [], box["reply"]))
        assert isinstance(pending, Pending)
        while not pending.done:
            await asyncio.sleep(0)

    gc.collect()
    gc.disable()  # as good as the server's rare full collections
    try:
        asyncio.run(scenario())
        holders = gc.get_referrers(box["reply"])
        assert holders == [box], f"the finished job's reply is still held by {holders!r:.300}"
    finally:
        gc.enable()
