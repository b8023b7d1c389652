"""A request decoder that lets hiredis's C reader build well-formed multibulk commands.

hiredis parses replies, not requests, so it is only trusted with the common case and every
result is checked; anything else goes to the pure-Python decoder, which owns the buffer:

* Inline commands, partial requests, unauthenticated connections (their caps and error texts
  are Redis's, not hiredis's) and any error are handled by `PythonRequestDecoder`, starting
  from the first byte of the request in question, so results and error texts are the same
  as the Python decoder's.
* hiredis is fed the buffer in windows of `WINDOW` bytes (its reader shifts its buffer after
  every reply, which is quadratic in the amount buffered) and never past a `*`, `~`, `>` or
  `|` followed by five digits: hiredis allocates the list for a declared count before any
  element arrives, and a request never needs a count that large in one window.
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
from typing import cast

import hiredis

from tandemkv.protocol.decoder import DecoderLimits
from tandemkv.protocol.python_decoder import PythonRequestDecoder

WINDOW = 16 * 1024
_STAR, _DOLLAR = 42, 36
# A count of 10000 or more for an aggregate hiredis would preallocate as a list.
_BIG_ARRAY_COUNT = re.compile(rb"\*[0-9]{5}")
_BIG_OTHER_COUNT = re.compile(rb"[~>|][0-9]{5}")
# Far enough back to see a count whose digits straddle two windows.
_COUNT_OVERLAP = 5


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

    def feed(self, data: bytes) -> None:
        python = self._python
        fed_ahead = self._fed_to - python._pos
        python.feed(data)
        # The Python decoder may have moved its unread bytes to a new buffer.
        self._fed_to = python._pos + fed_ahead

    def next_command(self) -> list[bytes] | None:
        python = self._python
        reader = self._reader
        while True:
            if reader is None:
                reader = self._start_reader()
                if reader is None:
                    return python.next_command()
            try:
                command = reader.gets()
            except Exception:
                # hiredis's own protocol errors, or it could not build the reply (e.g. an
                # unhashable map key): the Python decoder re-reads the request and decides.
                command = None
            if command is False and self._feed_window():
                continue
            if type(command) is list and self._accept(command):
                return command
            self._reader = reader = None
            return python.next_command()

    def _start_reader(self) -> hiredis.Reader | None:
        python = self._python
        buf, pos = python._buf, python._pos
        if (
            pos >= len(buf)
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
        # hiredis reads any buffer; its stub only names str and bytes.
        self._reader.feed(cast(bytes, buf), start, stop - start)
        self._fed_to = stop
        return True

    def _accept(self, command: list[bytes]) -> bool:
        """Check `command` was encoded canonically and within limits; if so, consume it."""
        python = self._python
        buf, pos = python._buf, python._pos
        limits = python.limits
        count = len(command)
        if not count or count > limits.max_multibulk_len or buf[pos] != _STAR:
            return False
        bulk_cap = limits.max_bulk_len
        at = pos + (4 if count < 10 else 3 + len(str(count)))
        for arg in command:
            if type(arg) is not bytes or buf[at] != _DOLLAR:
                return False
            size = len(arg)
            if size > bulk_cap:
                return False
            at += size + (6 if size < 10 else 7 if size < 100 else 5 + len(str(size)))
        python._pos = at
        return True


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
