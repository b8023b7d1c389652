"""Many concurrent clients, and the maxclients limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from helpers.resp import RawClient, RespError, encode_command
from helpers.servers import ServerProcess, raise_nofile_limit

CLIENTS = 1000
MAXCLIENTS_ERROR = RespError("ERR max number of clients reached")


async def read_simple_reply(reader: asyncio.StreamReader) -> bytes:
    """One reply of a flat type (+ - : $), as its payload bytes."""
    line = await reader.readline()
    if line.startswith(b"$"):
        length = int(line[1:])
        return b"" if length < 0 else (await reader.readexactly(length + 2))[:-2]
    return line[1:].rstrip(b"\r\n")


async def open_clients(
    port: int, count: int
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    return list(await asyncio.gather(*(connect() for _ in range(count))))


async def exercise(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int
) -> list[bytes]:
    replies = []
    for command in (
        ("SET", f"client:{index}", str(index)),
        ("INCR", "hits"),
        ("GET", f"client:{index}"),
        ("PING",),
    ):
        writer.write(encode_command(*command))
        await writer.drain()
        replies.append(await read_simple_reply(reader))
    return replies


@pytest.mark.timeout(120)
def test_thousand_concurrent_connections(make_server: Callable[..., ServerProcess]) -> None:
    if raise_nofile_limit(CLIENTS + 512) < CLIENTS + 64:
        pytest.skip(f"the hard RLIMIT_NOFILE here is below the {CLIENTS + 64} this test needs")
    # Start the server with a low soft fd limit: it has to raise its own.
    server = make_server(nofile_soft_limit=512)

    async def scenario() -> None:
        clients = await open_clients(server.port, CLIENTS)
        try:
            results = await asyncio.gather(
                *(exercise(reader, writer, i) for i, (reader, writer) in enumerate(clients))
            )
            for i, replies in enumerate(results):
                assert replies[0] == b"OK" and replies[2] == str(i).encode()
                assert replies[3] == b"PONG"
            assert sorted(int(replies[1]) for replies in results) == list(range(1, CLIENTS + 1))
            with server.raw() as probe:
                assert probe.call("GET", "hits") == str(CLIENTS).encode()
                listing = probe.call("CLIENT", "LIST")
                assert len(listing.strip().split(b"\n")) >= CLIENTS + 1
        finally:
            for _reader, writer in clients:
                writer.close()
            await asyncio.gather(*(w.wait_closed() for _r, w in clients), return_exceptions=True)

    asyncio.run(asyncio.wait_for(scenario(), timeout=100))
    with server.raw() as probe:
        assert probe.call("DBSIZE") == CLIENTS + 1
    assert server.alive()


def connect_when_a_slot_frees(server: ServerProcess, wait: float = 5.0) -> RawClient:
    """Closing a connection frees its slot asynchronously; retry briefly."""
    deadline = time.monotonic() + wait
    while True:
        conn = server.raw()
        reply = conn.call("PING")
        if reply == "PONG" or time.monotonic() > deadline:
            assert reply == "PONG", reply
            return conn
        conn.close()
        time.sleep(0.05)


def test_maxclients_refuses_the_extra_client(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server(maxclients=5)
    admitted = [server.raw() for _ in range(5)]
    try:
        for conn in admitted:
            assert conn.call("PING") == "PONG"
        with server.raw() as extra:
            assert extra.read_reply() == MAXCLIENTS_ERROR
            assert extra.is_closed_by_peer(wait=5)
        for conn in admitted:
            assert conn.call("PING") == "PONG"
        admitted.pop().close()
        admitted.append(connect_when_a_slot_frees(server))
        with server.raw() as extra:
            assert extra.read_reply() == MAXCLIENTS_ERROR
    finally:
        for conn in admitted:
            conn.close()


def test_clients_are_isolated(server: ServerProcess) -> None:
    with server.raw() as first, server.raw() as second:
        assert first.call("CLIENT", "SETNAME", "first") == "OK"
        assert second.call("CLIENT", "GETNAME") is None
        assert first.call("MULTI") == "OK"
        assert second.call("SET", "k", "v") == "OK"
        assert first.call("GET", "k") == "QUEUED"
        assert first.call("EXEC") == [b"v"]
        assert first.call("CLIENT", "ID") != second.call("CLIENT", "ID")
