"""The pure-Python request decoder: multibulk and inline requests, Redis's rules and limits.

Behaviour follows Redis's processMultibulkBuffer / processInlineBuffer:

* A request starting with `*` is a multibulk; anything else is an inline line ended by \\n
  (a \\r before it is dropped) and split by `split_inline`.
* A header line (`*N`, `$N`) ends at the first \\r and Redis skips the byte after it without
  looking; likewise the two bytes after a bulk payload. We accept the same.
* Numbers are parsed like Redis's string2ll: digits, optional leading '-', no '+', no
  spaces, no leading zeros.
* `*0`, `*-1` (any count <= 0) and blank inline lines are consumed without a command.
* A line that is still unterminated after `max_inline_len` bytes is an error; Redis checks
  that after each read, we check it the same way whatever the chunking, so a given byte
  stream always decodes to the same result.
* One deliberate difference: Redis looks for line ends with strchr, so a NUL byte before
  the end of an inline or header line makes it wait for 64 KB more and then fail. We find
  the real line end (as Valkey does): a NUL in a header is an invalid length at once, and
  an inline line is cut at its first NUL by `split_inline`, as sdssplitargs would.

Buffering: the buffer is a `bytes` object while we parse (slicing it gives the argument
`bytes` in one copy) plus a read offset. Bytes arriving while part of a request is pending
go into a `bytearray` (amortised appends), and that is turned back into `bytes` only once
the pending part can complete: a bulk payload waits for its declared length, a line for its
terminator, and neither rescans what was already searched. Arguments already decoded are
kept aside, so what stays buffered is at most one unfinished element.
"""

from __future__ import annotations

from typing import Final

from tandemkv.protocol.decoder import ARGUMENT_OVERHEAD, DecoderLimits
from tandemkv.protocol.errors import (
    INVALID_BULK_LENGTH,
    INVALID_MULTIBULK_LENGTH,
    TOO_BIG_BULK_COUNT,
    TOO_BIG_INLINE,
    TOO_BIG_MBULK_COUNT,
    TOO_BIG_REQUEST,
    UNAUTHENTICATED_BULK_LENGTH,
    UNAUTHENTICATED_MULTIBULK_LENGTH,
    ProtocolError,
    expected_dollar,
)
from tandemkv.protocol.inline import split_inline

_STAR: Final = 42
_DOLLAR: Final = 36
_CR: Final = 13
_LF: Final = 10
# string2ll refuses strings of LONG_STR_SIZE (21) bytes or more, and anything beyond int64.
_MAX_NUMBER_LEN: Final = 20
_LLONG_MIN: Final = -(2**63)
# A bytearray buffer drops its consumed head once that is this long and at least half of it.
_COMPACT_AFTER: Final = 64 * 1024
# The fast path's bound on what a request of at most 9 arguments holds beyond its bytes.
_FAST_OVERHEAD: Final = 9 * ARGUMENT_OVERHEAD
# Byte -> its value as an ASCII digit, or -1.
_DIGIT_VALUES: Final = tuple(byte - 48 if 48 <= byte <= 57 else -1 for byte in range(256))


class PythonRequestDecoder:
    """RESP request decoder in pure Python; see the module docstring for the rules."""

    __slots__ = (
        "_args",
        "_buf",
        "_bulk",
        "_error",
        "_held",
        "_pos",
        "_remaining",
        "_scanned",
        "_slow",
        "limits",
    )

    def __init__(self, limits: DecoderLimits | None = None) -> None:
        self.limits = limits if limits is not None else DecoderLimits()
        self._buf: bytes | bytearray = b""
        self._pos = 0
        # Index in _buf up to which the pending line was searched for its terminator.
        self._scanned = 0
        # A multibulk in progress: the arguments so far, how many are still to come, and
        # the declared length of the bulk whose payload is awaited (-1: its header is).
        self._args: list[bytes] = []
        self._remaining = 0
        self._bulk = -1
        # What the request in progress holds so far, as max_request_len counts it.
        self._held = 0
        self._error: ProtocolError | None = None
        # True whenever the fast path in next_command cannot apply (see _next_general).
        self._slow = False

    def set_limits(self, limits: DecoderLimits) -> None:
        self.limits = limits

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if not data or self._error is not None:
            return
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = self._scanned = 0
        elif isinstance(buf, bytearray):
            if pos >= _COMPACT_AFTER and pos * 2 >= len(buf):
                del buf[:pos]
                self._scanned = max(0, self._scanned - pos)
                self._pos = 0
            buf += data
        else:
            # Part of a request is pending: move it to a growable buffer (copying only it).
            with memoryview(buf) as view:
                grown = bytearray(view[pos:])
            grown += data
            self._buf = grown
            self._slow = True
            self._scanned = max(0, self._scanned - pos)
            self._pos = 0

    def take_unread(self) -> bytes:
        """The bytes fed but not decoded yet, which the decoder then forgets.

        For a connection that leaves RESP behind after a command (PEER STREAM): what the
        client pipelined after that command belongs to the next protocol. Only between
        requests: the arguments of a half-decoded one are no longer bytes to hand back.
        """
        if not self._at_request_boundary():
            raise ValueError("take_unread() in the middle of a request")
        with memoryview(self._buf) as view:
            unread = bytes(view[self._pos :])
        self._buf, self._pos, self._scanned, self._slow = b"", 0, 0, False
        return unread

    def _at_request_boundary(self) -> bool:
        """True when no request is half-decoded and no error is pending."""
        return not self._remaining and not self._args and self._error is None

    def next_command(self) -> list[bytes] | None:
        if self._slow:
            return self._next_general()
        # Fast path: an authenticated client's well-formed multibulk, wholly in a bytes
        # buffer, decoded with byte compares instead of find()/int() (each ~100 ns). Anything
        # else, including running off the end of the buffer, takes the general path, which
        # starts over from the same position.
        buf: bytes = self._buf  # type: ignore[assignment]  # not _slow: a bytes buffer
        pos = self._pos
        if pos >= len(buf) and self._error is None:
            return None  # all consumed: the usual second call after an unpipelined command
        limits = self.limits
        try:
            if buf[pos] != _STAR or buf[pos + 2] != _CR or not limits.authenticated:
                return self._next_general()
            count = buf[pos + 1] - 48
            if not 0 < count <= 9 or count > limits.max_multibulk_len:
                return self._next_general()
            bulk_cap = limits.max_bulk_len
            end = len(buf)
            p = pos + 4
            args: list[bytes] = []
            append = args.append
            digits = _DIGIT_VALUES
            for _ in range(count):
                length = digits[buf[p + 1]]
                if buf[p] != _DOLLAR or length < 0:
                    break
                q = p + 2
                if buf[q] != _CR:
                    if length == 0:
                        break
                    digit = digits[buf[q]]
                    while digit >= 0 and length <= bulk_cap:
                        length = length * 10 + digit
                        q += 1
                        digit = digits[buf[q]]
                    if buf[q] != _CR:
                        break
                stop = q + 2 + length
                if length > bulk_cap or stop + 2 > end:
                    break
                append(buf[q + 2 : stop])
                p = stop + 2
            else:
                if p - pos + _FAST_OVERHEAD > limits.max_request_len:
                    return self._next_general()  # near the cap: counted exactly there
                self._pos = p
                return args
        except IndexError:
            return self._next_general()
        return self._finish_multibulk(buf, p, count - len(args), args)

    def _finish_multibulk(
        self, buf: bytes, pos: int, count: int, args: list[bytes]
    ) -> list[bytes] | None:
        """Hand a multibulk the fast path could not finish to the general path."""
        held = sum(map(len, args)) + ARGUMENT_OVERHEAD * len(args)
        try:
            result = self._read_bulks(buf, pos, count, args, held)
        except ProtocolError as error:
            self._error = error
            self._slow = True
            raise
        if result is None:
            self._slow = True
        return result

    def _next_general(self) -> list[bytes] | None:
        if self._error is not None:
            raise self._error
        try:
            while True:
                if type(self._buf) is not bytes and not self._resume():
                    return None
                buf = self._buf
                assert isinstance(buf, bytes)
                if self._remaining or self._args:
                    args = self._continue_multibulk(buf)
                else:
                    pos = self._pos
                    if pos >= len(buf):
                        return None
                    if buf[pos] == _STAR:
                        args = self._multibulk(buf, pos)
                    else:
                        args = self._inline(buf, pos)
                if args is None or args:
                    return args
        except ProtocolError as error:
            self._error = error
            raise
        finally:
            self._slow = bool(
                type(self._buf) is not bytes
                or self._remaining
                or self._args
                or self._error is not None
            )

    # ------------------------------------------------------------------ multibulk

    def _multibulk(self, buf: bytes, pos: int) -> list[bytes] | None:
        limits = self.limits
        cap = limits.max_inline_len
        nl = buf.find(b"\r", pos, pos + cap + 1)
        if nl < 0 or nl + 1 >= len(buf):
            self._await_line(buf, pos, nl, TOO_BIG_MBULK_COUNT)
            return None
        if nl - pos == 2 and 48 <= buf[pos + 1] <= 57:
            count = buf[pos + 1] - 48
        else:
            count = _parse_count(buf[pos + 1 : nl])
        if count > limits.max_multibulk_len:
            raise ProtocolError(INVALID_MULTIBULK_LENGTH)
        if not limits.authenticated and count > limits.unauthenticated_max_multibulk_len:
            raise ProtocolError(UNAUTHENTICATED_MULTIBULK_LENGTH)
        if count <= 0:
            self._pos = nl + 2
            return []
        return self._read_bulks(buf, nl + 2, count, [], 0)

    def _continue_multibulk(self, buf: bytes) -> list[bytes] | None:
        pos, args = self._pos, self._args
        if self._bulk >= 0:
            stop = pos + self._bulk
            if stop + 2 > len(buf):
                return None
            args.append(buf[pos:stop])
            pos = stop + 2
            self._bulk = -1
            self._remaining -= 1
        remaining, held = self._remaining, self._held
        self._remaining = self._held = 0
        self._args = []
        if not remaining:
            self._pos = pos
            return args
        return self._read_bulks(buf, pos, remaining, args, held)

    def _read_bulks(
        self, buf: bytes, pos: int, count: int, args: list[bytes], held: int
    ) -> list[bytes] | None:
        """Read `count` bulk strings from `pos`; on running out of bytes, keep the state.

        `held`: what the request's arguments so far count against max_request_len (each
        bulk's declared length is checked before any of it is kept)."""
        limits = self.limits
        line_cap = limits.max_inline_len
        bulk_cap = limits.bulk_cap()
        request_cap = limits.max_request_len
        end = len(buf)
        append = args.append
        while count:
            nl = buf.find(b"\r", pos, pos + line_cap + 1)
            if nl < 0 or nl + 1 >= end:
                self._await_line(buf, pos, nl, TOO_BIG_BULK_COUNT)
                break
            if buf[pos] != _DOLLAR:
                raise expected_dollar(buf[pos])
            if nl - pos == 2 and 48 <= buf[pos + 1] <= 57:
                length = buf[pos + 1] - 48
            else:
                length = _parse_length(buf[pos + 1 : nl])
            if length > bulk_cap:
                raise _bulk_length_error(length, limits)
            held += length + ARGUMENT_OVERHEAD
            if held > request_cap:
                raise ProtocolError(TOO_BIG_REQUEST)
            start = nl + 2
            stop = start + length
            if stop + 2 > end:
                self._bulk = length
                pos = start
                break
            append(buf[start:stop])
            pos = stop + 2
            count -= 1
        self._pos = pos
        if count:
            self._args = args
            self._remaining = count
            self._held = held
            return None
        return args

    # ------------------------------------------------------------------ inline

    def _inline(self, buf: bytes, pos: int) -> list[bytes] | None:
        # A line may hold max_inline_len bytes, not counting its \r\n or \n.
        cap = self.limits.max_inline_len
        nl = buf.find(b"\n", max(pos, self._scanned), pos + cap + 2)
        if nl < 0:
            end = len(buf)
            unterminated = end - pos - (buf[end - 1] == _CR)
            if unterminated > cap:
                raise ProtocolError(TOO_BIG_INLINE)
            self._scanned = end
            return None
        stop = nl - 1 if nl > pos and buf[nl - 1] == _CR else nl
        if stop - pos > cap:
            raise ProtocolError(TOO_BIG_INLINE)
        self._pos = nl + 1
        return split_inline(buf[pos:stop])

    # ------------------------------------------------------------------ waiting for bytes

    def _await_line(self, buf: bytes, pos: int, found: int, too_big: str) -> None:
        """A header line starting at `pos` is incomplete: fail if already too long, else wait.

        `found` is where its terminator was found (a header's \\r may arrive without the
        byte after it), or -1.
        """
        end = len(buf)
        if found < 0:
            if end - pos > self.limits.max_inline_len:
                raise ProtocolError(too_big)
            self._scanned = end
        else:
            self._scanned = found
        self._pos = pos

    def _resume(self) -> bool:
        """Bytes arrived while a request was pending; True once parsing can move on.

        Until then the buffer stays a bytearray and nothing is copied or rescanned.
        """
        buf = self._buf
        if self._bulk >= 0:
            if len(buf) - self._pos < self._bulk + 2:
                return False
            self._take_pending_bulk()
        elif not self._line_may_be_done():
            return False
        pos = self._pos
        with memoryview(self._buf) as view:
            self._buf = bytes(view[pos:])
        self._scanned = max(0, self._scanned - pos)
        self._pos = 0
        return True

    def _take_pending_bulk(self) -> None:
        # Copy a large payload straight out of the bytearray instead of converting it first.
        # If it was the last argument, the command waits in _args for next_command.
        pos, stop = self._pos, self._pos + self._bulk
        with memoryview(self._buf) as view:
            self._args.append(bytes(view[pos:stop]))
        self._pos = stop + 2
        self._bulk = -1
        self._remaining -= 1

    def _line_may_be_done(self) -> bool:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            return False
        if len(buf) - pos > self.limits.max_inline_len:
            return True  # complete or too long: either way parsing decides now
        inline = not self._remaining and buf[pos] != _STAR
        terminator = b"\n" if inline else b"\r"
        at = buf.find(terminator, max(pos, self._scanned))
        if at < 0 or (not inline and at + 1 >= len(buf)):
            self._scanned = len(buf) if at < 0 else at
            return False
        return True


def _parse_count(digits: bytes) -> int:
    """A multibulk count as Redis's string2ll reads it; counts <= 0 are valid (no command)."""
    if digits[:1] == b"-":
        magnitude = digits[1:]
        if _is_canonical_natural(magnitude) and magnitude != b"0":
            value = -int(magnitude)
            if value >= _LLONG_MIN:
                return value
        raise ProtocolError(INVALID_MULTIBULK_LENGTH)
    if _is_canonical_natural(digits):
        return int(digits)
    raise ProtocolError(INVALID_MULTIBULK_LENGTH)


def _parse_length(digits: bytes) -> int:
    """A bulk length; anything but a canonical natural number is invalid (so is -1)."""
    if _is_canonical_natural(digits):
        return int(digits)
    raise ProtocolError(INVALID_BULK_LENGTH)


def _is_canonical_natural(digits: bytes) -> bool:
    # bytes.isdigit() is ASCII-only; int() alone would also take "+1", " 1" and "1_0".
    return (
        digits.isdigit()
        and (digits[0] != 48 or len(digits) == 1)
        and len(digits) <= _MAX_NUMBER_LEN
    )


def _bulk_length_error(length: int, limits: DecoderLimits) -> ProtocolError:
    if length > limits.max_bulk_len:
        return ProtocolError(INVALID_BULK_LENGTH)
    return ProtocolError(UNAUTHENTICATED_BULK_LENGTH)
