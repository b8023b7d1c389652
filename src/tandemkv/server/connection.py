"""One client connection: bytes in, the decoder, the engine, encoded replies out.

An asyncio.Protocol rather than streams: data_received runs every complete command in the
chunk back to back (pipelining) and writes all replies with one transport.write, which is
what keeps a Python server close to Redis on small commands.

Back-pressure: when the transport's buffer passes its high-water mark asyncio calls
pause_writing; we then stop reading and stop running buffered commands until it drains, so
a client that pipelines big GETs and never reads cannot make us buffer without bound.

Peer links: once a peer's PEER STREAM has been answered, the connection stops decoding RESP
and reads length-prefixed frames (protocol/peer_frames.py): the replication messages of a
chunk go to the node in one call, keep-alive frames are answered with one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast

from tandemkv.commands.cluster_view import Pending
from tandemkv.commands.commandstats import BUCKET_BOUNDS_NS, CommandStat
from tandemkv.commands.session import Session, SlicedJob
from tandemkv.commands.table import NO_REPLY
from tandemkv.commands.waiters import Logged, log_writes
from tandemkv.protocol import DecoderLimits, ProtocolError, encode_reply, make_request_decoder
from tandemkv.protocol.encoder import ENCODE_SLICE, SLICED_TYPES
from tandemkv.protocol.peer_frames import PING_FRAME, FrameDecoder, FrameTooLarge
from tandemkv.protocol.types import EncodedParts, ErrorReply, Push
from tandemkv.server.sliced import ReplyOverLimit, over_limit
from tandemkv.server.writelog import WriteLog

if TYPE_CHECKING:
    from tandemkv.server.app import Server

# Stop running buffered commands once this much output is waiting for the socket.
OUTPUT_SOFT_LIMIT: Final = 4 * 1024 * 1024
# A client's pipeline runs this long (seconds) per turn of the event loop; the rest waits
# for its next turn, so a pipeline of costly commands (SCAN COUNT 100000 after SCAN...)
# holds other clients, and a group's heartbeats, no longer than one of them plus this.
TURN_NS: Final = 10_000_000
# A slowlog threshold no command reaches (slowlog-log-slower-than -1).
NEVER_SLOW: Final = 2**62
# Durations under this go to the first histogram bucket (commands/commandstats.py).
QUICK_NS: Final = BUCKET_BOUNDS_NS[0]
# The entry a batch starts with, replaced before the first command is counted.
UNUSED_STAT: Final = CommandStat("")
# Stop reading from a client with this many batches waiting for the log.
MAX_HELD_BATCHES: Final = 64
# In a send of more than OUTPUT_SOFT_LIMIT bytes, a piece this big is written by itself,
# not joined with the others: copying it costs more than a write call.
WRITE_ALONE: Final = 64 * 1024

log: Final = logging.getLogger("tandemkv.server")
# A native static when compiled, not a lookup of `time` and then its attribute per read.
_perf_counter_ns: Final = time.perf_counter_ns


class ClientConnection(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.engine = server.engine
        # Only the seam's interface: the cluster mode swaps what is behind it.
        self.log: WriteLog = server.log
        self.runtime = server.runtime
        self.wall_ns: Callable[[], int] = server.runtime.wall_ns  # Unix ns (the runtime's)
        self.transport: asyncio.Transport | None = None
        self.session = Session(id=0)
        self.decoder = make_request_decoder(use_hiredis=server.use_hiredis)
        # Set once a peer's PEER STREAM is answered: from then on bytes are frames.
        self.frames: FrameDecoder | None = None
        self.writing_paused = False
        self.waiting_for_log = False
        # Set once a reply encoded in parts (a very long one) went into this connection's
        # output: only then does a send size its pieces before joining them (see _send).
        self.unjoined = False
        self.yielded = False  # its pipeline's turn is over; the rest runs in the next one
        self.closing = False
        self._over_soft_since: float | None = None  # client-output-buffer-limit's soft clock
        # Replies of batches whose writes the log has not made safe yet, oldest first. A
        # Pending (WAIT, a membership change) holds its reply and everything after it.
        self._held: list[tuple[int | Pending, list[bytes]]] = []
        # Pub/sub messages for this client not yet placed among its replies (see push).
        self._pushed: list[bytes] = []

    # ------------------------------------------------------------ asyncio hooks

    def connection_made(self, transport: object) -> None:
        # uvloop's transports implement the interface without subclassing asyncio's, and
        # the compiled build checks annotations and casts to a class at run time: so the
        # parameter is an object, and the cast to Any.
        self.transport = conn = cast(Any, transport)
        if not self.server.admit(self):
            return
        now = self.wall_ns() // 1_000_000
        session = self.session
        session.id = self.server.next_client_id()
        session.addr = _format_peer(conn.get_extra_info("peername"))
        session.laddr = _format_peer(conn.get_extra_info("sockname"))
        session.created_ms = session.last_active_ms = now
        settings = self.server.settings
        self.engine.acl.start(session)  # the default user; authenticated if nopass
        if self.server.tls is not None:
            # Verified, since the handshake would have failed otherwise; empty if none shown.
            session.tls_verified = bool(conn.get_extra_info("peercert"))
        self.decoder.set_limits(self._limits())
        # Stop producing replies at the output limit too, so that it is checked there.
        limit = settings.client_output_buffer_limit.normal
        marks = [OUTPUT_SOFT_LIMIT, *(size for size in (limit.hard, limit.soft) if size)]
        conn.set_write_buffer_limits(high=min(marks))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.forget(self)

    def data_received(self, data: bytes) -> None:
        self.server.stats.net_input_bytes += len(data)
        frames = self.frames
        if frames is not None:
            frames.feed(data)
        else:
            self.decoder.feed(data)
        if not (self.writing_paused or self.waiting_for_log or self.yielded):
            self.run_buffered()

    def pause_writing(self) -> None:
        self.writing_paused = True
        if self.transport is not None:
            self.transport.pause_reading()
        self.check_output_limit()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._over_soft_since = None
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()
            self.run_buffered()

    # ------------------------------------------------------------ the hot path

    def run_buffered(self) -> None:
        """Run every complete command in the decoder's buffer and send the replies."""
        if self.frames is not None:
            self._run_frames()
            return
        engine, session, decoder = self.engine, self.session, self.decoder
        if session.close_after_reply or session.killed:
            return  # QUIT or CLIENT KILL: nothing after it runs
        resp = session.resp
        authenticated = session.authenticated
        engine.now_ms = session.last_active_ms = self.wall_ns() // 1_000_000
        # With a hard output limit set, an array reply is sized before it is encoded.
        hard_limit = (
            0 if session.peer_id else self.server.settings.client_output_buffer_limit.normal.hard
        )
        # One clock read per command: the time since the previous read is the command's
        # duration (its parsing and its reply's encoding included) for INFO commandstats,
        # SLOWLOG and the metrics; the same reads bound the pipeline's turn.
        clock = _perf_counter_ns
        started = clock()
        turn_ends = started + TURN_NS
        slow = self.server.settings.slowlog_log_slower_than
        slow_ns = slow * 1000 if slow >= 0 else NEVER_SLOW
        # Under this, a duration only adds to its command's sum and quick count.
        quick_ns = slow_ns if slow_ns < QUICK_NS else QUICK_NS
        stats = engine.commandstats
        last_ran: str | None = None  # a pipeline mostly repeats one command:
        stat = UNUSED_STAT  # its entry is looked up once
        monitors = engine.monitors.sessions
        out: list[bytes] = []
        size = 0
        while not self.closing:
            try:
                args = decoder.next_command()
            except ProtocolError as error:
                out.append(encode_reply(ErrorReply(error.reply_text()), resp == 3))
                session.close_after_reply = True
                break
            if args is None:
                break
            reply = engine.execute(session, args)
            now = clock()
            ran = engine.ran
            if ran is not None:  # it ran (not refused, not queued in MULTI)
                took = now - started
                if ran is not last_ran:
                    stat = stats.stat(ran)
                    last_ran = ran
                if took < quick_ns:
                    stat.nanoseconds += took
                    stat.quick += 1
                else:
                    stat.record(took)
                    if took >= slow_ns:
                        self._log_slow(args, took)
                if monitors:
                    engine.monitors.feed(session, args)
            started = now
            if self._pushed:  # messages published before this reply (its own PUBLISH)
                out += self._pushed
                self._pushed = []
            # HELLO, AUTH, RESET, QUIT and CLIENT KILL change the session under us; HELLO 3
            # is itself answered in RESP3.
            resp = session.resp
            # Only a sliced job's reply (a Pending's value) may come encoded in parts, or
            # as over the hard limit: the checks for those stay off the common path.
            sliced = False
            if type(reply) is Pending:
                if not reply.done:
                    self._block_on(reply, out)
                    return
                reply, sliced = reply.value, True
            if type(reply) in SLICED_TYPES:
                over = over_limit(reply, hard_limit) if hard_limit else None
                if over is not None:
                    # MGET of the same big value many times: dropped before it is built.
                    self._drop_over_limit(over)
                    self._settle_batch(out)  # the batch's writes are logged all the same
                    return
                if len(reply) > ENCODE_SLICE:  # type: ignore[arg-type]
                    # HGETALL, LRANGE, SMEMBERS... of a big collection: encoding a million
                    # items in one go would hold every other client for a second or so.
                    reply = engine.host.run_sliced(session, _encoded_later(reply))
                    if type(reply) is Pending:
                        if not reply.done:
                            self._block_on(reply, out)
                            return
                        reply, sliced = reply.value, True
            if sliced and type(reply) is ReplyOverLimit:  # checked before encoding
                self._drop_over_limit(reply)
                self._settle_batch(out)
                return
            if sliced and type(reply) is EncodedParts:
                parts = reply.parts
                out += parts
                self.unjoined = True
                size += sum(map(len, parts))
            elif reply is not NO_REPLY:
                chunk = encode_reply(reply, resp == 3)
                out.append(chunk)
                size += len(chunk)
            if session.authenticated is not authenticated:
                authenticated = session.authenticated
                decoder.set_limits(self._limits())
            if session.close_after_reply or session.killed:
                break
            if session.peer_stream:
                # What the peer pipelined after PEER STREAM is already frames.
                self.frames = FrameDecoder()
                self.frames.feed(decoder.take_unread())
                break
            if size > OUTPUT_SOFT_LIMIT or now > turn_ends:
                # Replies of writes go out only once the log makes them safe, as at the end.
                if not self._settle_batch(out):
                    self._send(out)
                out, size = [], 0
                if self.writing_paused or self.waiting_for_log or self.closing:
                    return
                if clock() > turn_ends:
                    self._yield_turn()
                    return
        if not self._settle_batch(out):
            if out:
                self._send(out)
            if session.close_after_reply or session.killed:
                self.close()
                return
        if self.frames is not None:
            self._run_frames()

    def _log_slow(self, args: list[bytes], took_ns: int) -> None:
        session, settings = self.session, self.server.settings
        self.engine.slowlog.push(
            self.wall_ns() // 1_000_000_000,
            took_ns // 1000,
            args,
            session.addr,
            session.name,
            settings.slowlog_max_len,
        )

    def _yield_turn(self) -> None:
        """Let other clients run before the rest of this one's pipeline."""
        self.yielded = True
        if self.transport is not None:
            self.transport.pause_reading()
        self.runtime.loop.call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self.yielded = False
        if self.transport is None or self.closing or self.writing_paused or self.waiting_for_log:
            return  # what paused it resumes reading and runs the rest
        self.transport.resume_reading()
        self.run_buffered()

    def _run_frames(self) -> None:
        """Hand the complete replication frames to the node in one call; answer pings."""
        frames, session = self.frames, self.session
        assert frames is not None
        if self.closing or session.killed or self.writing_paused or self.waiting_for_log:
            return
        try:
            blobs, pings = frames.read_frames()
        except FrameTooLarge as error:
            log.warning(
                "closing the link from node %x: it sent a frame of %d bytes (the cap is %d)",
                session.peer_id,
                error.length,
                error.cap,
            )
            self.close()
            return
        if blobs or pings:
            session.last_active_ms = self.wall_ns() // 1_000_000
        if blobs:
            cluster = self.engine.host.cluster
            if cluster is not None:  # PEER AUTH, needed for PEER STREAM, needs one
                cluster.receive(session.peer_id, blobs)
        if pings:
            pongs = [PING_FRAME * pings]
            if self._held:  # the +OK of PEER STREAM may wait behind earlier writes
                self._hold(self._held[-1][0], pongs)
            else:
                self._send(pongs)

    def _settle_batch(self, out: list[bytes]) -> bool:
        """Log the batch's writes; True if its replies must wait (they are held)."""
        engine = self.engine
        reads, engine.read_ran = engine.read_ran, False
        if engine.pending:
            position = log_writes(engine, self.log)
            self.session.last_write_index = position
            if self._held or not self.log.is_safe(position):
                self._hold(position, out)
                return True
            return False
        if reads:
            # Cluster primary: a read is answered once its data is acknowledged and the
            # node was still primary after it ran (see node/replicated_log.py).
            fence = self.log.read_fence()
            if fence is not None and (self._held or not self.log.is_safe(fence)):
                self._hold(fence, out)
                return True
        if self._held:
            # Replies go out in order: these wait behind the writes before them.
            self._hold(self._held[-1][0], out)
            return True
        return False

    # ------------------------------------------------------------ helpers

    def _limits(self) -> DecoderLimits:
        settings = self.server.settings
        limits = DecoderLimits(
            max_bulk_len=settings.proto_max_bulk_len,
            max_request_len=settings.client_query_buffer_limit,
        )
        if not self.session.authenticated:
            return DecoderLimits.unauthenticated(limits)
        return limits

    def _block_on(self, pending: Pending, out: list[bytes]) -> None:
        """A command answered later (WAIT, BLPOP...): like a Redis blocked client, this
        connection runs nothing more until it is answered."""
        if not self._settle_batch(out) and out:
            self._send(out)
        self.waiting_for_log = True
        if pending.wait_ms is not None:
            # Reading goes on (what arrives is only buffered), so that a client that
            # hangs up stops waiting at once: otherwise it could still be served an
            # element nobody would receive.
            self._time_out_later(pending)
        elif self.transport is not None:
            self.transport.pause_reading()
        held: list[bytes] = []
        self._held.append((pending, held))
        resp3 = self.session.resp == 3

        def answer(value: object) -> None:
            if type(value) is Logged:
                # Served by another client's write: wait until the log has that write.
                self._held[:] = [
                    (value.position, h) if h is held else (p, h) for p, h in self._held
                ]
                value = value.reply
            if type(value) is ReplyOverLimit:
                self._drop_over_limit(value)
                return
            if type(value) is EncodedParts:
                held.extend(value.parts)  # not joined: see _send
                self.unjoined = True
            else:
                held.append(encode_reply(value, resp3))
            if self._held and self._held[0][1] is held:
                self._release()

        pending.on_done(answer)

    def _time_out_later(self, pending: Pending) -> None:
        if not pending.wait_ms:
            return
        session, waiters = self.session, self.engine.waiters
        timer = self.runtime.loop.call_later(pending.wait_ms / 1000, waiters.time_out, session)
        pending.on_done(lambda _: timer.cancel())

    def _is_safe(self, position: int | Pending) -> bool:
        if isinstance(position, Pending):
            return position.done
        return self.log.is_safe(position)

    def _when_safe(self, position: int | Pending) -> None:
        if isinstance(position, Pending):
            return  # its answer() callback releases it
        self.log.when_safe(position, self._release)

    def _hold(self, position: int | Pending, out: list[bytes]) -> None:
        """Keep a batch's replies until the log says `position` is safe."""
        self._held.append((position, out))
        if len(self._held) == 1:
            self._when_safe(position)
        elif len(self._held) >= MAX_HELD_BATCHES and self.transport is not None:
            # A client pipelining faster than the log commits: stop reading from it.
            self.waiting_for_log = True
            self.transport.pause_reading()

    def _release(self) -> None:
        """Send the held replies whose writes are now safe, in order."""
        held = self._held
        while held and self._is_safe(held[0][0]):
            self._send(held.pop(0)[1])
        if held:
            self._when_safe(held[0][0])
            return
        if self._close_if_asked():
            return
        if self.waiting_for_log:
            self.waiting_for_log = False
            if self.transport is not None and not self.closing:
                self.transport.resume_reading()
                if not self.writing_paused:
                    self.run_buffered()

    def _send(self, out: list[bytes]) -> None:
        transport = self.transport
        if not out or transport is None or transport.is_closing():
            return
        if len(out) > 1 and self.unjoined:  # maybe a long reply's parts: see _write_unjoined
            size = sum(map(len, out))
            self.server.stats.net_output_bytes += size
            if size <= OUTPUT_SOFT_LIMIT:
                transport.write(b"".join(out))
            else:
                _write_unjoined(transport, out)
        else:  # a reply, or a pipeline's replies: one write
            data = out[0] if len(out) == 1 else b"".join(out)
            self.server.stats.net_output_bytes += len(data)
            transport.write(data)
        if self.writing_paused:
            self.check_output_limit()

    # ------------------------------------------------------------ pub/sub

    def push(self, message: Push) -> None:
        """Queue a pub/sub message for this client (the broker's sink, via the server).

        Messages keep their place among replies, as Redis writes both to one buffer: one
        published by this client's own command (a RESP3 PUBLISH to itself) is taken by
        run_buffered before that command's reply; any other goes out on the next turn of
        the loop behind the replies produced so far, held ones included."""
        if self.closing:
            return
        if not self._pushed:
            self.runtime.loop.call_soon(self._flush_pushed)
        self._pushed.append(encode_reply(message, self.session.resp == 3))

    def push_line(self, line: bytes) -> None:
        """Queue an encoded MONITOR line, as push() queues a message."""
        if self.closing:
            return
        if not self._pushed:
            self.runtime.loop.call_soon(self._flush_pushed)
        self._pushed.append(line)

    def _flush_pushed(self) -> None:
        pushed = self._pushed
        if not pushed or self.closing:
            return
        self._pushed = []
        if self._held:
            self._held[-1][1].extend(pushed)  # after the replies that wait for the log
            return
        self._send(pushed)
        if not self.writing_paused:  # (_send checked it otherwise)
            self.check_output_limit()

    # ------------------------------------------------------------ output limits

    def check_output_limit(self) -> bool:
        """Close a client whose waiting replies break client-output-buffer-limit (its
        class: pubsub while it has subscriptions, as in Redis, normal otherwise): over the
        hard limit, or over the soft one for soft-seconds. Called when output backs up,
        when messages are sent, and by the server's cron."""
        transport = self.transport
        if transport is None or self.closing or self.session.peer_id:
            return False
        limits = self.server.settings.client_output_buffer_limit
        # A monitor is a stream of pushes like a subscriber: it takes the pubsub class's
        # limits (Redis counts it as normal, whose default is no limit at all).
        engine, session = self.engine, self.session
        pushed_to = session in engine.broker.listeners or session in engine.monitors.sessions
        limit = limits.pubsub if pushed_to else limits.normal
        waiting = transport.get_write_buffer_size()
        if limit.hard and waiting > limit.hard:
            return self._drop(
                f"{waiting} bytes of replies waiting, over the hard limit of {limit.hard}"
            )
        if not limit.soft or waiting <= limit.soft:
            self._over_soft_since = None
            return False
        now = self.runtime.monotonic()
        if self._over_soft_since is None:
            self._over_soft_since = now
        if now - self._over_soft_since < limit.soft_seconds:
            return False
        return self._drop(
            f"{waiting} bytes of replies waiting, over the soft limit of "
            f"{limit.soft} for {limit.soft_seconds} s"
        )

    def _drop_over_limit(self, over: ReplyOverLimit) -> bool:
        return self._drop(
            f"a reply of about {over.size} bytes, over the hard limit of {over.limit}"
        )

    def _drop(self, why: str) -> bool:
        session = self.session
        log.warning(
            "closing client id=%d addr=%s for client-output-buffer-limit: %s",
            session.id,
            session.addr,
            why,
        )
        self.closing = True
        if self.transport is not None:
            self.transport.abort()  # its waiting replies are freed, as Redis frees them
        return True

    def _close_if_asked(self) -> bool:
        if self.session.close_after_reply or self.session.killed:
            self.close()
            return True
        return False

    @property
    def has_held_replies(self) -> bool:
        return bool(self._held)

    @property
    def awaits_the_log(self) -> bool:
        """Replies wait for log positions (not only for a Pending the node will answer)."""
        return any(not isinstance(position, Pending) for position, _ in self._held)

    def close(self) -> None:
        """Close after the replies already written have been flushed."""
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def refuse(self, message: str) -> None:
        """Answer a connection we will not serve with one error, then close it."""
        assert self.transport is not None
        self.transport.write(encode_reply(ErrorReply(message), False))
        self.close()


def _write_unjoined(transport: Any, out: list[bytes]) -> None:
    """Write `out` without joining its big pieces: a long reply's parts (EncodedParts),
    joined, would be a second copy of the whole reply. uvloop keeps each written piece as
    it is (asyncio copies it into its buffer, but there is still no join). Runs of small
    replies between them are joined, as one write costs more than copying a few. (The
    transport is Any: uvloop's is not an asyncio.Transport to the compiled build.)"""
    small: list[bytes] = []
    for piece in out:
        if len(piece) < WRITE_ALONE:
            small.append(piece)
            continue
        if small:
            transport.write(b"".join(small))
            small = []
        if transport.is_closing():  # dropped by the output limit meanwhile
            return
        transport.write(piece)
    if small and not transport.is_closing():
        transport.write(b"".join(small))


def _encoded_later(reply: object) -> SlicedJob:
    """A job with no work left: the sliced runner only encodes its reply in slices."""
    return reply
    yield  # a generator, which the runner steps


def _format_peer(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer or "")
