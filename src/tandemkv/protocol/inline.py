"""Splitting an inline request line into arguments, exactly as Redis's `sdssplitargs` does.

Rules (Redis sds.c), which differ from shell quoting in small ways worth knowing:

* Blanks between arguments are C `isspace` bytes (space, \\t, \\n, \\v, \\f, \\r), but an
  unquoted argument ends only at space, \\t, \\n, \\r (so \\v and \\f can sit inside one).
* `"..."` understands \\n \\r \\t \\b \\a, `\\xHH` (two hex digits) and `\\<any>` for that byte.
* `'...'` understands only `\\'`.
* A quote may start in the middle of an argument (`a"b c"` is `ab c`), but a closing quote
  must be followed by a blank or the end of the line, otherwise the line is an error.
* The line is a C string to `sdssplitargs`: a NUL byte ends it.

One exception, for the seed's text protocol: in `PUT <key> <value>` the value was the rest
of the line, spaces included. So an inline PUT whose value part is more than one argument
(`PUT greeting hello world`), or is not valid quoting (`PUT k it's`), stores that part as
typed, without the blanks around it. A value part that is one argument keeps the rules
above (`PUT k "a b"` stores `a b`). Only inline lines: a multibulk PUT is SET, arguments
and all.
"""

from __future__ import annotations

import re

from tandemkv.protocol.errors import UNBALANCED_QUOTES, ProtocolError

_BLANKS = b" \t\n\x0b\x0c\r"
_C_ISSPACE = frozenset(_BLANKS)
_UNQUOTED_END = frozenset(b" \t\n\r")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_DQUOTE, _SQUOTE, _BACKSLASH, _X = ord('"'), ord("'"), ord("\\"), ord("x")

# Without these bytes, sdssplitargs and bytes.split() agree exactly.
_NEEDS_FULL_RULES = re.compile(rb"[\"'\x0b\x0c]")


def split_inline(line: bytes) -> list[bytes]:
    """Split one inline request line (without its line ending) into arguments.

    Raises ProtocolError("unbalanced quotes in request") as Redis does.
    """
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]
    if _PUT_LINE.match(line) is not None:
        return _split_put(line)
    if _NEEDS_FULL_RULES.search(line) is None:
        return line.split()
    return _split_quoted(line)


# A line whose first argument is PUT, unquoted (case-insensitive).
_PUT_LINE = re.compile(rb"[ \t\n\x0b\x0c\r]*[pP][uU][tT](?:[ \t\n\r]|$)")


def _split_put(line: bytes) -> list[bytes]:
    """PUT <key> <rest of the line>: see the module docstring."""
    args: list[bytes] = []
    i = _skip_blanks(line, 0)
    while len(args) < 2 and i < len(line):
        arg, i = _read_argument(line, i)
        args.append(arg)
        i = _skip_blanks(line, i)
    rest = line[i:].rstrip(_BLANKS)
    if not rest:
        return args
    try:
        value = _split_quoted(rest)
    except ProtocolError:
        value = []
    return args + (value if len(value) == 1 else [rest])


def _skip_blanks(line: bytes, i: int) -> int:
    while i < len(line) and line[i] in _C_ISSPACE:
        i += 1
    return i


def _split_quoted(line: bytes) -> list[bytes]:
    args: list[bytes] = []
    i = 0
    while True:
        i = _skip_blanks(line, i)
        if i >= len(line):
            return args
        arg, i = _read_argument(line, i)
        args.append(arg)


def _read_argument(line: bytes, i: int) -> tuple[bytes, int]:
    """Read the argument starting at `i`; return it and the index just past its end."""
    end = len(line)
    out = bytearray()
    while i < end:
        c = line[i]
        if c == _DQUOTE:
            i = _read_double_quoted(line, i + 1, out)
        elif c == _SQUOTE:
            i = _read_single_quoted(line, i + 1, out)
        elif c in _UNQUOTED_END:
            return bytes(out), i + 1
        else:
            out.append(c)
            i += 1
            continue
        # A closing quote ends the argument and must be followed by a blank or the end.
        if i < end and line[i] not in _C_ISSPACE:
            raise ProtocolError(UNBALANCED_QUOTES)
        return bytes(out), i + 1
    return bytes(out), i


def _read_double_quoted(line: bytes, i: int, out: bytearray) -> int:
    """Append the contents of a "..." section starting at `i`; return the index after it."""
    end = len(line)
    while i < end:
        c = line[i]
        if c == _DQUOTE:
            return i + 1
        if c == _BACKSLASH and i + 1 < end:
            nxt = line[i + 1]
            if nxt == _X and i + 3 < end and _is_hex_pair(line, i + 2):
                out.append(int(line[i + 2 : i + 4], 16))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    raise ProtocolError(UNBALANCED_QUOTES)


def _read_single_quoted(line: bytes, i: int, out: bytearray) -> int:
    """Append the contents of a '...' section starting at `i`; return the index after it."""
    end = len(line)
    while i < end:
        c = line[i]
        if c == _SQUOTE:
            return i + 1
        if c == _BACKSLASH and i + 1 < end and line[i + 1] == _SQUOTE:
            out.append(_SQUOTE)
            i += 2
            continue
        out.append(c)
        i += 1
    raise ProtocolError(UNBALANCED_QUOTES)


def _is_hex_pair(line: bytes, i: int) -> bool:
    return line[i] in _HEX_DIGITS and line[i + 1] in _HEX_DIGITS
