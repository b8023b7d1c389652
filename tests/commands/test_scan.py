"""SCAN cursors: every key once per scan, and bounded memory whatever clients send."""

from __future__ import annotations

from tandemkv.commands.scan import HELD_FLOOR, HELD_KEYSPACES, ScanCursors


def run_scan(cursors: ScanCursors, keys: list[bytes], count: int) -> list[bytes]:
    seen: list[bytes] = []
    cursor = 0
    while True:
        cursor, page = cursors.page(cursor, count, keys)
        seen += page
        if cursor == 0:
            return seen


def test_a_scan_returns_every_key_once_and_then_lets_go() -> None:
    cursors = ScanCursors()
    keys = [b"k%d" % i for i in range(1000)]
    assert run_scan(cursors, keys, 37) == keys
    assert cursors.held == 0


def test_small_keyspaces_keep_every_concurrent_scan() -> None:
    cursors = ScanCursors(max_open=64)
    keys = [b"k%d" % i for i in range(500)]
    started = [cursors.page(0, 10, keys)[0] for _ in range(64)]
    for cursor in started:
        seen = list(keys[:10])
        while cursor:
            cursor, page = cursors.page(cursor, 100, keys)
            seen += page
        assert seen == keys


def test_a_flood_of_scan_0_on_a_large_keyspace_holds_bounded_memory() -> None:
    """A hostile client repeating SCAN 0: without the bound, 64 full copies stay pinned."""
    cursors = ScanCursors(max_open=64)
    keys = [b"k%d" % i for i in range(200_000)]
    for _ in range(64):
        cursors.page(0, 10, keys)
        assert cursors.held <= HELD_KEYSPACES * len(keys) + HELD_FLOOR
    # The newest scans survive and still finish with every key.
    cursor, first = cursors.page(0, 10, keys)
    seen = list(first)
    while cursor:
        cursor, page = cursors.page(cursor, 50_000, keys)
        seen += page
    assert seen == keys
