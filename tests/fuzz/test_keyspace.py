"""The loaded collections: filled as described, put back when the fuzzing destroys them,
and counted in the data a server holds."""

from __future__ import annotations

import time
from pathlib import Path

from fuzz.keyspace import (
    ELEMENT_OVERHEAD,
    SMALL_COLLECTIONS,
    Collection,
    CollectionKeeper,
    held_bytes,
    load_collections,
)
from fuzz.monitor import server_target
from helpers.resp import RawClient
from helpers.servers import ServerGroup

LENGTH = {"hash": "HLEN", "list": "LLEN", "set": "SCARD", "zset": "ZCARD", "stream": "XLEN"}
MEDIUM = (Collection(b"m:zset", "zset", 2500), Collection(b"m:stream", "stream", 1500))


def test_collections_are_loaded_kept_and_counted(servers: ServerGroup, tmp_path: Path) -> None:
    server = server_target(servers.start(tmp_path / "data"))
    collections = SMALL_COLLECTIONS + MEDIUM
    load_collections(server, collections)
    with RawClient(server.host, server.port) as client:
        for c in collections:
            assert client.call("TYPE", c.key) == c.type
            assert client.call(LENGTH[c.type], c.key) == c.size
        assert client.call("ZSCORE", "m:zset", "v1007") == b"7"
        assert client.call("XRANGE", "m:stream", "7", "7") == [[b"7-0", [b"field", b"v6"]]]
        held = held_bytes(server)
        elements = sum(c.size * (2 if c.type in ("hash", "zset") else 1) for c in collections)
        assert held > elements * ELEMENT_OVERHEAD
        with CollectionKeeper(server, collections, period=0.05) as keeper:
            client.call("DEL", "m:zset")
            client.call("SET", "small:hash", "a string now")
            client.call("LTRIM", "small:list", 0, 1)
            deadline = time.monotonic() + 10
            while keeper.refills < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        assert keeper.refills == 3 and keeper.error is None
        for c in collections:
            assert client.call(LENGTH[c.type], c.key) == c.size
