"""A request decoder that lets hiredis's C reader build well-formed multibulk commands.

hiredis parses replies, not requests, so it is only trusted with the common case and every
result is checked; anything else goes to the pure-Python decoder, which owns the buffer:

* Inline commands, partial requests (including everything while a request is pending across
  feeds), unauthenticated connections (their caps and error texts are Redis's, not
  hiredis's) and any error are handled by `PythonRequestDecoder`, starting from the first
  byte of the request in question, so results and error texts are the same as the Python
  decoder's.
* hiredis is fed the buffer in windows of `WINDOW` bytes (its reader shifts its buffer after
  every reply, which is quadratic in the amount buffered) and never past a `*`, `~`, `>` or
  `|` followed by five digits: hiredis allocates the list for a declared count before any
  element arrives (a command of 10000 or more arguments is simply left to Python).
* Each command hiredis returns must be a list of bytes whose encoding is exactly the
  canonical one (`*N\\r\\n` then `$len\\r\\n...` per element): we check a `$` stands where
  each element must start, which pins down how many bytes the command took. A simple
  string, verbatim string or big number element (which hiredis also returns as bytes) fails
  that check, so the Python decoder rejects it with Redis's "expected '$'" error.
* A request still incomplete at the end of the buffer, or larger than a window, is handed
  to the Python decoder, which checks its headers against the limits at once, so a huge
  declared length is refused before its bytes are buffered, as with the Python decoder.

Behavioural differences from `PythonRequestDecoder`: none in what is decoded or raised
(tests run every case against both and fuzz them side by side). Resource use differs: up
to a window of bytes is held twice (hiredis keeps its own copy), and a malformed request
that nests an aggregate header with a count below 10000 inside a command makes hiredis
build that list before we reject the request.
"""

from __future__ import annotations

import re
from typing import Any, Final, cast

import hiredis

from tandemkv.protocol.decoder import ARGUMENT_OVERHEAD, DecoderLimits
from tandemkv.protocol.python_decoder import PythonRequestDecoder

WINDOW: Final = 16 * 1024
# Below this many unread bytes the Python decoder is faster than starting hiredis.
SMALL_BUFFER: Final = 512
_STAR: Final = 42
_DOLLAR: Final = 36
# A count of 10000 or more for an aggregate hiredis would preallocate as a list.
_BIG_ARRAY_COUNT: Final = re.compile(rb"\*[0-9]{5}")
_BIG_OTHER_COUNT: Final = re.compile(rb"[~>|][0-9]{5}")
# Far enough back to see a count whose digits straddle two windows.
_COUNT_OVERLAP: Final = 5
# Bytes a bulk string of each short length takes on the wire: "$<len>\r\n<data>\r\n".
_FRAMED_SIZES: Final = tuple(size + 5 + len(str(size)) for size in range(4096))


class HiredisRequestDecoder:
    """RESP request decoder using hiredis for multibulk commands; see the module docstring."""

    __slots__ = ("_fed_to", "_python", "_reader")

    def __init__(self, limits: DecoderLimits | None = None) -> None:
        self._python = PythonRequestDecoder(limits)
        # When not None: fed exactly the Python decoder's buffer from its read offset up to
        # _fed_to, and holding whatever part of a request was not returned yet.
        self._reader: hiredis.Reader | None = None
        self._fed_to = 0

    @property
    def limits(self) -> DecoderLimits:
        return self._python.limits

    @limits.setter
    def limits(self, limits: DecoderLimits) -> None:
        self._python.limits = limits

    def set_limits(self, limits: DecoderLimits) -> None:
        self._python.limits = limits

    @property
    def buffered_bytes(self) -> int:
        return self._python.buffered_bytes

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        python = self._python
        fed_ahead = self._fed_to - python._pos
        python.feed(data)
        # The Python decoder may have moved its unread bytes to a new buffer.
        self._fed_to = python._pos + fed_ahead

    def take_unread(self) -> bytes:
        # The Python decoder's buffer holds everything hiredis was fed and did not return.
        self._reader = None
        self._fed_to = 0
        return self._python.take_unread()

    def next_command(self) -> list[bytes] | None:
        python = self._python
        if self._reader is None and len(python._buf) - python._pos < SMALL_BUFFER:
            # A few commands (the usual unpipelined request): setting up hiredis costs more
            # than the pure-Python path takes to decode them.
            return python.next_command()
        while True:
            reader = self._reader
            if reader is None:
                reader = self._start_reader()
                if reader is None:
                    return self._python.next_command()
            try:
                command = reader.gets()
            except Exception:
                # hiredis's own protocol errors, or it could not build the reply (e.g. an
                # unhashable map key): the Python decoder re-reads the request and decides.
                command = None
            if type(command) is list:
                # hiredis's items may be anything (a nested array, an int): the checks
                # below take a list of objects, which the compiled build does not check
                # as bytes on the way in.
                if self._accept_short(command) or self._accept(command):
                    return cast("list[bytes]", command)
            elif command is False and self._feed_window():
                continue
            self._reader = None
            return self._python.next_command()

    def _start_reader(self) -> hiredis.Reader | None:
        python = self._python
        buf, pos = python._buf, python._pos
        # A bytearray buffer means a request has been pending across feeds: Python's job.
        if (
            type(buf) is not bytes
            or pos >= len(buf)
            or buf[pos] != _STAR
            or not python._at_request_boundary()
            or not python.limits.authenticated
        ):
            return None
        self._reader = hiredis.Reader()
        self._fed_to = pos
        return self._reader

    def _feed_window(self) -> bool:
        """Give hiredis more of the buffer; False if the request must go to Python instead."""
        python = self._python
        buf, pos, start = python._buf, python._pos, self._fed_to
        if start >= len(buf) or start - pos >= WINDOW:
            return False
        stop = _safe_end(buf, max(pos, start - _COUNT_OVERLAP), min(len(buf), start + WINDOW))
        if stop <= start:
            return False
        assert self._reader is not None
        # hiredis reads any buffer; its stub only names str and bytes. (A cast to bytes
        # would be checked at run time in the compiled build, and fail on a bytearray.)
        self._reader.feed(cast(Any, buf), start, stop - start)
        self._fed_to = stop
        return True

    def _accept_short(self, command: list[object]) -> bool:
        """The common case of `_accept`, fast: under 10 arguments, each under 4 KB."""
        python = self._python
        buf, pos = python._buf, python._pos
        limits = python.limits
        count = len(command)
        if buf[pos] != _STAR or not 0 < count < 10 or not limits.authenticated:
            return False
        at = pos + 4
        sizes = _FRAMED_SIZES
        try:
            for arg in command:
                if type(arg) is not bytes or buf[at] != _DOLLAR:
                    return False
                at += sizes[len(arg)]
        except IndexError:  # a long argument
            return False
        # No argument is longer than the whole command.
        if (
            at - pos > limits.max_bulk_len
            or count > limits.max_multibulk_len
            or at - pos + ARGUMENT_OVERHEAD * count > limits.max_request_len
        ):
            return False
        python._pos = at
        return True

    def _accept(self, command: list[object]) -> bool:
        """Check `command` was encoded canonically and within limits; if so, consume it."""
        python = self._python
        buf, pos = python._buf, python._pos
        limits = python.limits
        if (
            buf[pos] != _STAR
            or not 0 < len(command) <= limits.max_multibulk_len
            or not limits.authenticated
        ):
            return False
        at = _canonical_end(buf, pos, command)
        if at < 0 or any(len(cast(bytes, arg)) > limits.max_bulk_len for arg in command):
            return False
        if at - pos + ARGUMENT_OVERHEAD * len(command) > limits.max_request_len:
            return False  # the Python decoder counts it exactly and refuses it
        python._pos = at
        return True


def _canonical_end(buf: bytes | bytearray, pos: int, command: list[object]) -> int:
    """Where `command` ends if encoded canonically at buf[pos:], else -1."""
    at = pos + 3 + len(str(len(command)))
    for arg in command:
        if type(arg) is not bytes or buf[at] != _DOLLAR:
            return -1
        size = len(arg)
        at += size + 5 + len(str(size))
    return at


def _safe_end(buf: bytes | bytearray, start: int, stop: int) -> int:
    """Where hiredis must stop in buf[start:stop]: the first large aggregate count, or stop."""
    found = _BIG_ARRAY_COUNT.search(buf, start, stop)
    if found is not None:
        stop = found.start()
    if any(buf.find(marker, start, stop) >= 0 for marker in (b"~", b">", b"|")):
        found = _BIG_OTHER_COUNT.search(buf, start, stop)
        if found is not None:
            stop = found.start()
    return stop
