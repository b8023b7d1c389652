"""HSCAN, SSCAN and ZSCAN: one cursor walk over a collection's elements.

A small collection (up to SMALL elements, what Redis keeps as a listpack) is returned whole
with cursor 0, as Redis does. A larger one is walked like SCAN walks the keyspace: the
first call takes a list of the element references (no copies) into the engine's cursor
pool (commands/scan.py) and later calls page through it, so an element present for the
whole walk is returned once and none is returned after it was removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tandemkv.commands.args import parse_int
from tandemkv.commands.errors import CommandError, SyntaxErr
from tandemkv.commands.glob import compile_glob

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine

SMALL = 128
# Elements one call examines at most (SCAN's cap, for the same reason: a bounded turn).
MAX_COUNT = 100_000


@dataclass(slots=True)
class ScanArgs:
    cursor: int
    pattern: bytes
    count: int


def parse_scan_args(args: list[bytes]) -> ScanArgs:
    """`cursor [MATCH pattern] [COUNT count]` from args[2] on (args[1] is the key)."""
    raw = args[2]
    if not raw.isdigit() or int(raw) > 2**64 - 1:
        raise CommandError("invalid cursor")
    pattern, count = b"*", 10
    i = 3
    while i < len(args):
        word = args[i].upper()
        if i + 1 >= len(args):
            raise SyntaxErr()
        if word == b"MATCH":
            pattern = args[i + 1]
        elif word == b"COUNT":
            count = parse_int(args[i + 1])
            if count < 1:
                raise SyntaxErr()
        else:
            raise SyntaxErr()
        i += 2
    return ScanArgs(int(raw), pattern, min(count, MAX_COUNT))


def scan_elements(
    e: Engine,
    scan: ScanArgs,
    size: int,
    elements: Iterable[bytes],
    present: Callable[[bytes], bool],
) -> tuple[bytes, list[bytes]]:
    """The cursor to continue with and the elements (names: fields or members) of this
    page that match and are still `present`. `elements` is iterated only for a new walk."""
    matches = compile_glob(scan.pattern)
    if size <= SMALL and not e.scans.continues(scan.cursor):
        return b"0", [name for name in elements if matches(name)]
    cursor, page = e.scans.page(scan.cursor, scan.count, elements)
    return str(cursor).encode(), [name for name in page if present(name) and matches(name)]
