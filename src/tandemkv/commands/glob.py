"""Redis-style glob patterns (KEYS, SCAN MATCH): * ? [set] [^set] [a-z] and \\ escapes.

Translated once into a compiled regular expression over bytes and cached, so matching many
keys costs one regex call each.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=256)
def compile_glob(pattern: bytes) -> Callable[[bytes], bool]:
    """A predicate telling whether a key matches `pattern`."""
    if pattern == b"*":
        return lambda key: True
    regex = re.compile(_translate(pattern), re.DOTALL)
    return lambda key: regex.fullmatch(key) is not None


def _translate(pattern: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i : i + 1]
        if ch == b"*":
            while i + 1 < n and pattern[i + 1 : i + 2] == b"*":
                i += 1
            out += b".*"
        elif ch == b"?":
            out += b"."
        elif ch == b"[":
            i = _translate_set(pattern, i + 1, out)
            continue
        elif ch == b"\\" and i + 1 < n:
            i += 1
            out += re.escape(pattern[i : i + 1])
        else:
            out += re.escape(ch)
        i += 1
    return bytes(out)


def _translate_set(pattern: bytes, i: int, out: bytearray) -> int:
    """Translate a [...] set starting after '['; return the index after its ']'."""
    n = len(pattern)
    negate = i < n and pattern[i : i + 1] == b"^"
    if negate:
        i += 1
    members = bytearray()
    while i < n and pattern[i : i + 1] != b"]":
        ch = pattern[i : i + 1]
        if ch == b"\\" and i + 1 < n:
            i += 1
            ch = pattern[i : i + 1]
        # As in Redis, "a-]" is a range ending at ']', which then does not close the set.
        if i + 2 < n and pattern[i + 1 : i + 2] == b"-":
            low, high = ch, pattern[i + 2 : i + 3]
            if low > high:
                low, high = high, low
            members += _class_escape(low) + b"-" + _class_escape(high)
            i += 3
            continue
        members += _class_escape(ch)
        i += 1
    if not members:
        out += b"[^\\s\\S]" if not negate else b"[\\s\\S]"
    else:
        out += b"[" + (b"^" if negate else b"") + bytes(members) + b"]"
    return i + 1


def _class_escape(ch: bytes) -> bytes:
    return b"\\" + ch if ch in (b"\\", b"]", b"[", b"^", b"-") else re.escape(ch)
