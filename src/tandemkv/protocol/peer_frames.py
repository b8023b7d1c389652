"""The frame stream an authenticated peer link switches to after PEER STREAM: pure, sans-IO.

Each frame is a 4-byte little-endian payload length, then that many bytes. A non-empty
payload is one encoded replication message (opaque here); a zero length is a keep-alive:
the sending node's ping, and the receiving node's pong in answer.

    decoder = FrameDecoder()
    decoder.feed(data)
    payloads, pings = decoder.read_frames()

Why not RESP: REPLICATE commands cost the receiver a header parse and a scan of every
payload for the request decoder's safety checks; a length prefix costs one unpack.

Buffering, for the hot path: a chunk that holds whole frames is parsed in place (each
payload is one slice of it); only a trailing partial frame is kept, in a bytearray that
later chunks are appended to, and it is looked at again only once it holds the length the
frame needs. So every byte is copied a bounded number of times however the stream is cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from struct import Struct
from typing import Final

_LENGTH: Final = Struct("<I")
HEADER_BYTES: Final = _LENGTH.size
PING_FRAME: Final = b"\x00\x00\x00\x00"  # also the pong: a frame of length zero

# The largest payload accepted. A message is normally small: an append carries at most
# RaftConfig.max_msg_bytes (64 KiB) of entries and a snapshot chunk 16 KiB of data. But an
# append always carries at least one entry, and the largest entry is one request's or one
# transaction's writes, capped by client-query-buffer-limit (at most 1 GiB): storage's
# DEFAULT_MAX_BODY (1 GiB + 16 MiB) plus the message around it. A length beyond it can only
# be a corrupt or desynchronised stream, refused before any of its payload is held.
MAX_FRAME_BYTES: Final = (1024 + 32) * 1024 * 1024


class FrameTooLarge(ValueError):
    """A frame longer than the cap: announced by a peer, or asked of the encoder."""

    def __init__(self, length: int, cap: int) -> None:
        super().__init__(f"frame of {length} bytes exceeds the {cap}-byte cap")
        self.length = length
        self.cap = cap


def encode_frames(blobs: Iterable[bytes], cap: int = MAX_FRAME_BYTES) -> bytes:
    """Frame each blob; raises FrameTooLarge for one over `cap`, ValueError for an empty one
    (it would read as a keep-alive)."""
    pack = _LENGTH.pack
    parts: list[bytes] = []
    append = parts.append
    for blob in blobs:
        size = len(blob)
        if not 0 < size <= cap:
            if size:
                raise FrameTooLarge(size, cap)
            raise ValueError("an empty payload would read as a keep-alive frame")
        append(pack(size))
        append(blob)
    return b"".join(parts)


class FrameDecoder:
    """Splits a frame stream into payloads and keep-alives; see the module docstring.

    After raising FrameTooLarge the decoder ignores what it is fed and raises the same
    error on every later call: the stream cannot be resynchronised.
    """

    __slots__ = ("_buf", "_error", "_need", "_pos", "max_frame")

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self.max_frame = max_frame
        # A bytes buffer is parsed from _pos; a bytearray one (a frame pending across
        # feeds) always starts at the pending frame, with _pos 0.
        self._buf: bytes | bytearray = b""
        self._pos = 0
        # How long _buf must be before the frame at _pos can be complete.
        self._need = HEADER_BYTES
        self._error: FrameTooLarge | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes received and not returned yet (part of one frame, at most)."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes received from the peer (a bytearray or memoryview is copied)."""
        if not data or self._error is not None:
            return
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = 0
            self._need = HEADER_BYTES
        elif type(buf) is bytes:
            # A partial frame is pending: move it to a growable buffer, copying only it.
            with memoryview(buf) as view:
                grown = bytearray(view[pos:])
            grown += data
            self._buf = grown
            self._need -= pos
            self._pos = 0
        else:
            buf += data

    def read_frames(self) -> tuple[list[bytes], int]:
        """Every complete payload in order, and how many keep-alive frames came with them.

        Raises FrameTooLarge as soon as a header announces more than max_frame bytes.
        """
        if self._error is not None:
            raise self._error
        payloads: list[bytes] = []
        buf = self._buf
        if len(buf) < self._need:
            return payloads, 0
        if isinstance(buf, bytearray):
            buf = self._finish_pending(buf, payloads)
        return payloads, self._split(buf, payloads)

    def _finish_pending(self, buf: bytearray, payloads: list[bytes]) -> bytes:
        """The frame pending at the head of `buf` can now be read: take its payload straight
        out (it may be large) and return what follows as a bytes buffer to parse."""
        with memoryview(buf) as view:
            (length,) = _LENGTH.unpack_from(buf, 0)
            stop = HEADER_BYTES + length
            if 0 < length <= self.max_frame and stop <= len(buf):
                payloads.append(bytes(view[HEADER_BYTES:stop]))
                rest = bytes(view[stop:])
            else:  # only the header was pending: the general loop decides
                rest = bytes(buf)
        self._buf, self._pos = rest, 0
        return rest

    def _split(self, buf: bytes, payloads: list[bytes]) -> int:
        """Append the complete payloads in `buf` from _pos; the number of pings seen."""
        unpack = _LENGTH.unpack_from
        append = payloads.append
        cap = self.max_frame
        end = len(buf)
        pos = self._pos
        pings = 0
        need = pos + HEADER_BYTES
        while need <= end:
            (length,) = unpack(buf, pos)
            if not length:
                pings += 1
                pos = need
                need += HEADER_BYTES
                continue
            if length > cap:
                self._fail(FrameTooLarge(length, cap))
            stop = need + length
            if stop > end:
                need = stop
                break
            append(buf[need:stop])
            pos = stop
            need = stop + HEADER_BYTES
        if pos >= end:
            # Everything read: let go of the chunk (payload slices are copies).
            self._buf, self._pos, self._need = b"", 0, HEADER_BYTES
        else:
            self._pos, self._need = pos, need
        return pings

    def _fail(self, error: FrameTooLarge) -> None:
        self._error = error
        self._buf, self._pos = b"", 0
        raise error
