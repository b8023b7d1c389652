"""Redis-style glob patterns (KEYS, SCAN MATCH): * ? [set] [^set] [a-z] and \\ escapes.

The work per key is bounded by len(key) x len(pattern), whatever the pattern. A glob that
was translated whole into one regular expression backtracks exponentially on patterns such
as `a*a*a*...b` (Redis's CVE-2022-36021 was the same bug in its own matcher), and one such
KEYS would stall the event loop. So a pattern is cut at its stars into segments that match
a fixed number of bytes each; every segment compiles to a regex with no quantifier and no
alternation, which cannot backtrack beyond its own length. Matching then anchors the first
segment at the start, the last at the end, and finds each middle one at its leftmost place
after the previous: for fixed-length segments, leftmost is never worse than any other
choice, so no earlier decision is ever revisited.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

ANY_BYTE = frozenset(range(256))

# One element of a segment: the set of byte values it accepts.
Element = frozenset[int]


@lru_cache(maxsize=256)
def compile_glob(pattern: bytes) -> Callable[[bytes], bool]:
    """A predicate telling whether a key matches `pattern`."""
    segments = _segments(pattern)
    if len(segments) == 1:
        whole = _regex(segments[0])
        return lambda key: whole.fullmatch(key) is not None
    if all(not segment for segment in segments):
        return lambda key: True
    return _starred(segments)


def _starred(segments: list[list[Element]]) -> Callable[[bytes], bool]:
    """A matcher for head*middle*...*tail, each part of fixed length."""
    head, tail = _regex(segments[0]), _regex(segments[-1])
    head_len, tail_len = len(segments[0]), len(segments[-1])
    middles = [_regex(segment) for segment in segments[1:-1] if segment]
    least = head_len + tail_len + sum(len(segment) for segment in segments[1:-1])

    def matches(key: bytes) -> bool:
        if len(key) < least or head.match(key) is None:
            return False
        end = len(key) - tail_len
        if tail.fullmatch(key, end) is None:
            return False
        pos = head_len
        for middle in middles:
            found = middle.search(key, pos, end)
            if found is None:
                return False
            pos = found.end()
        return True

    return matches


def _segments(pattern: bytes) -> list[list[Element]]:
    """The pattern cut at its stars: a list of segments, each a list of elements."""
    segments: list[list[Element]] = [[]]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == 0x2A:  # '*'
            segments.append([])
        elif ch == 0x3F:  # '?'
            segments[-1].append(ANY_BYTE)
        elif ch == 0x5B:  # '['
            element, i = _set(pattern, i + 1)
            segments[-1].append(element)
            continue
        else:
            if ch == 0x5C and i + 1 < n:  # '\\' escapes the next byte
                i += 1
            segments[-1].append(frozenset((pattern[i],)))
        i += 1
    return segments


def _set(pattern: bytes, i: int) -> tuple[Element, int]:
    """Parse a [...] set starting after '['; return its bytes and the index after ']'.

    As in Redis: `^` first negates, `\\` escapes one byte, `a-z` is a range whichever way
    round, "a-]" is a range ending at ']' (which then does not close the set), and a set
    left open runs to the end of the pattern.
    """
    n = len(pattern)
    negate = i < n and pattern[i] == 0x5E  # '^'
    if negate:
        i += 1
    members: set[int] = set()
    while i < n and pattern[i] != 0x5D:  # ']'
        if pattern[i] == 0x5C and i + 1 < n:
            i += 1
        if i + 2 < n and pattern[i + 1] == 0x2D:  # '-'
            low, high = sorted((pattern[i], pattern[i + 2]))
            members.update(range(low, high + 1))
            i += 3
            continue
        members.add(pattern[i])
        i += 1
    element = frozenset(members)
    return (ANY_BYTE - element if negate else element), i + 1


def _regex(segment: list[Element]) -> re.Pattern[bytes]:
    return re.compile(b"".join(_element_regex(element) for element in segment), re.DOTALL)


def _element_regex(element: Element) -> bytes:
    if element == ANY_BYTE:
        return b"."
    if not element:
        return b"[^\\x00-\\xff]"
    if len(element) == 1:
        return re.escape(bytes(element))
    return b"[" + b"".join(_ranges(sorted(element))) + b"]"


def _ranges(values: list[int]) -> list[bytes]:
    """Sorted byte values as regex class ranges written in \\xNN form (no escaping traps)."""
    out: list[bytes] = []
    start = prev = values[0]
    for value in [*values[1:], -1]:
        if value == prev + 1:
            prev = value
            continue
        out.append(b"\\x%02x" % start if start == prev else b"\\x%02x-\\x%02x" % (start, prev))
        start = prev = value
    return out
