"""Redis-style glob patterns (KEYS, SCAN MATCH): * ? [set] [^set] [a-z] and \\ escapes.

The work per key is bounded by len(key) x len(pattern), whatever the pattern. A glob that
was translated whole into one regular expression backtracks exponentially on patterns such
as `a*a*a*...b` (Redis's CVE-2022-36021 was the same bug in its own matcher), and one such
KEYS would stall the event loop. So a pattern is cut at its stars into segments that match
a fixed number of bytes each: a segment of plain bytes is matched with bytes.startswith /
endswith / find, any other compiles to a regex with no alternation and no variable
quantifier, which cannot backtrack beyond its own length. Matching then anchors the first
segment at the start, the last at the end, and finds each middle one at its leftmost place
after the previous: for fixed-length segments, leftmost is never worse than any other
choice, so no earlier decision is ever revisited.

Compiling costs time too (Python's regex compiler takes about a microsecond a byte, and the
pattern parser runs a loop per token), so a pattern's compile cost is bounded before any of
it is spent: every token (a run of plain bytes, of stars, of '?'; an escape; a set's bytes)
counts one, as does every byte that goes into a regex. Plain segments cost one however long
they are, so a key of any length can still be looked up by name; a pattern over the budget
is refused with an error instead of stalling the server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from tandemkv.commands.errors import CommandError

ANY_BYTE = frozenset(range(256))
MAX_PATTERN_COST = 16_384  # about 15 ms of compiling at worst
CACHED_PATTERN_BYTES = 1024  # longer patterns are compiled per call, not kept

# One element of a set: the byte values it accepts.
Element = frozenset[int]
Matcher = Callable[[bytes], bool]

_TOKEN = re.compile(rb"[^*?\[\\]+|\*+|\?+|\\.?|\[", re.DOTALL)
_STAR, _QUESTION, _BACKSLASH, _BRACKET = 0x2A, 0x3F, 0x5C, 0x5B


class PatternTooComplex(CommandError):
    def __init__(self) -> None:
        super().__init__(
            f"glob-style pattern too complex (more than {MAX_PATTERN_COST} wildcards, sets "
            "and bytes next to them)"
        )


def compile_glob(pattern: bytes) -> Matcher:
    """A predicate telling whether a key matches `pattern`; PatternTooComplex if over budget."""
    if len(pattern) <= CACHED_PATTERN_BYTES:
        return _cached(pattern)
    return _compile(pattern)


@lru_cache(maxsize=256)
def _cached(pattern: bytes) -> Matcher:
    return _compile(pattern)


def _compile(pattern: bytes) -> Matcher:
    segments = _Parser(pattern).segments()
    if len(segments) == 1:
        return segments[0].whole()
    if all(segment.length == 0 for segment in segments):
        return lambda key: True
    head, tail = segments[0], segments[-1]
    middles = [segment for segment in segments[1:-1] if segment.length]
    if not middles and head.plain and tail.plain:
        return _prefix_suffix(bytes(head.literal), bytes(tail.literal))
    return _starred(head, middles, tail)


def _prefix_suffix(prefix: bytes, suffix: bytes) -> Matcher:
    """`prefix*suffix`, the common case, with no regex at all."""
    least = len(prefix) + len(suffix)
    return lambda key: len(key) >= least and key.startswith(prefix) and key.endswith(suffix)


class _Segment:
    """Part of a pattern between stars: matches exactly `length` bytes."""

    def __init__(self) -> None:
        self.literal = bytearray()  # the bytes, while the segment is plain
        self.source: list[bytes] = []  # regex pieces, once it is not
        self.plain = True
        self.length = 0

    def add_literal(self, raw: bytes) -> None:
        if self.plain:
            self.literal += raw
        else:
            self.source.append(re.escape(raw))
        self.length += len(raw)

    def add_pattern(self, piece: bytes, length: int) -> None:
        if self.plain:
            self.plain = False
            self.source.append(re.escape(bytes(self.literal)))
        self.source.append(piece)
        self.length += length

    def regex_bytes(self) -> int:
        return 0 if self.plain else sum(len(piece) for piece in self.source)

    def regex(self) -> re.Pattern[bytes]:
        return re.compile(b"".join(self.source), re.DOTALL)

    def whole(self) -> Matcher:
        if self.plain:
            literal = bytes(self.literal)
            return lambda key: key == literal
        regex = self.regex()
        return lambda key: regex.fullmatch(key) is not None

    def finder(self) -> Callable[[bytes, int, int], int]:
        """find(key, start, end): where the leftmost match in key[start:end] ends, or -1."""
        if self.plain:
            literal, size = bytes(self.literal), self.length

            def find_plain(key: bytes, start: int, end: int) -> int:
                at = key.find(literal, start, end)
                return -1 if at < 0 else at + size

            return find_plain
        regex = self.regex()

        def find_regex(key: bytes, start: int, end: int) -> int:
            found = regex.search(key, start, end)
            return -1 if found is None else found.end()

        return find_regex


def _starred(head: _Segment, middles: list[_Segment], tail: _Segment) -> Matcher:
    """A matcher for head*middle*...*tail, each part of fixed length."""
    least = head.length + tail.length + sum(segment.length for segment in middles)
    head_len, tail_len = head.length, tail.length
    at_head = head.finder()
    at_tail = tail.finder()
    finders = [segment.finder() for segment in middles]

    def matches(key: bytes) -> bool:
        if len(key) < least:
            return False
        end = len(key) - tail_len
        if at_head(key, 0, head_len) < 0 or at_tail(key, end, len(key)) < 0:
            return False
        pos = head_len
        for find in finders:
            pos = find(key, pos, end)
            if pos < 0:
                return False
        return True

    return matches


class _Parser:
    """Cuts a pattern into segments, charging every token against MAX_PATTERN_COST."""

    def __init__(self, pattern: bytes) -> None:
        self.pattern = pattern
        self.cost = 0

    def charge(self, units: int) -> None:
        self.cost += units
        if self.cost > MAX_PATTERN_COST:
            raise PatternTooComplex()

    def segments(self) -> list[_Segment]:
        pattern, i, n = self.pattern, 0, len(self.pattern)
        segments = [_Segment()]
        while i < n:
            token = _TOKEN.match(pattern, i)
            assert token is not None  # some alternative matches any non-empty rest
            raw, first, i = token.group(), pattern[i], token.end()
            self.charge(1)
            if first == _STAR:
                segments.append(_Segment())
            elif first == _QUESTION:
                size = len(raw)
                segments[-1].add_pattern(b"." if size == 1 else b".{%d}" % size, size)
            elif first == _BACKSLASH:
                segments[-1].add_literal(raw[1:] or raw)  # a trailing '\' is itself
            elif first == _BRACKET:
                element, i = self.parse_set(i)
                segments[-1].add_pattern(_element_regex(element), 1)
            else:
                segments[-1].add_literal(raw)
        self.charge(sum(segment.regex_bytes() for segment in segments))
        return segments

    def parse_set(self, i: int) -> tuple[Element, int]:
        """Parse a [...] set starting after '['; return its bytes and the index after ']'.

        As in Redis: `^` first negates, `\\` escapes one byte, `a-z` is a range whichever way
        round, "a-]" is a range ending at ']' (which then does not close the set), and a set
        left open runs to the end of the pattern.
        """
        pattern, n = self.pattern, len(self.pattern)
        negate = i < n and pattern[i] == 0x5E  # '^'
        if negate:
            i += 1
        members: set[int] = set()
        while i < n and pattern[i] != 0x5D:  # ']'
            self.charge(1)
            if pattern[i] == _BACKSLASH and i + 1 < n:
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
