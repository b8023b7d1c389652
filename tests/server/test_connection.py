"""How a connection writes a long reply's parts: in order, the big ones not joined."""

from __future__ import annotations

from tandemkv.server.connection import WRITE_ALONE, _write_unjoined


class RecordingTransport:
    """Records writes; closes itself after `close_after` of them (a dropped client)."""

    def __init__(self, close_after: int = 1_000) -> None:
        self.writes: list[bytes] = []
        self.close_after = close_after

    def write(self, data: bytes) -> None:
        assert not self.is_closing(), "a write after the transport closed"
        self.writes.append(data)

    def is_closing(self) -> bool:
        return len(self.writes) >= self.close_after


def test_big_pieces_are_written_as_they_are_and_small_runs_joined() -> None:
    big = [b"%d" % i * WRITE_ALONE for i in range(3)]
    out = [b"+OK\r\n", b":1\r\n", big[0], big[1], b"$1\r\na\r\n", big[2], b"+OK\r\n"]
    transport = RecordingTransport()
    _write_unjoined(transport, out)
    assert b"".join(transport.writes) == b"".join(out)
    assert transport.writes[1] is big[0] and transport.writes[2] is big[1]  # no copies
    assert transport.writes[4] is big[2]
    assert len(transport.writes) == 6


def test_writing_stops_once_the_client_is_dropped() -> None:
    """pause_writing may drop a client over its hard limit in the middle of the parts: a
    write to uvloop's closed transport would raise."""
    out = [b"x" * WRITE_ALONE] * 5 + [b"+OK\r\n"]
    transport = RecordingTransport(close_after=2)
    _write_unjoined(transport, out)
    assert len(transport.writes) == 2
