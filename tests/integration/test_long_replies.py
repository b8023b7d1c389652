"""Replies of more items than one encoding slice (SMEMBERS, HGETALL, LRANGE, ZRANGE of big
collections) are encoded across event-loop turns; they must read exactly as a one-piece
reply would, in RESP2 and RESP3, in order with the replies around them. (How long other
clients wait meanwhile is measured by `python3 -m bench.collections`.) Also runs against
real Redis."""

from __future__ import annotations

import pytest

from helpers.servers import ServerProcess
from tandemkv.protocol.encoder import ENCODE_SLICE

COUNT = ENCODE_SLICE * 2 + 7  # three slices, the last one short


@pytest.fixture
def filled(server: ServerProcess) -> ServerProcess:
    client = server.client()
    names = [b"m%d" % i for i in range(COUNT)]
    pipe = client.pipeline(transaction=False)
    for start in range(0, COUNT, 5_000):
        part = names[start : start + 5_000]
        pipe.sadd("set", *part)
        pipe.rpush("list", *part)
        pipe.hset("hash", mapping={name: b"v" + name for name in part})
        pipe.zadd("zset", {name: i + start for i, name in enumerate(part)})
    pipe.execute()
    client.close()
    return server


def test_long_replies_read_whole_in_both_protocols(filled: ServerProcess, protocol: int) -> None:
    client = filled.client(protocol=protocol)
    names = [b"m%d" % i for i in range(COUNT)]
    assert sorted(client.smembers("set")) == sorted(names)
    assert client.lrange("list", 0, -1) == names
    assert client.hgetall("hash") == {name: b"v" + name for name in names}
    assert client.zrange("zset", 0, -1) == names
    scored = client.zrange("zset", 0, -1, withscores=True)
    assert [member for member, _ in scored] == names and scored[-1][1] == COUNT - 1
    # A pipeline: the long reply and the short ones after it stay in order.
    pipe = client.pipeline(transaction=False)
    pipe.lrange("list", 0, -1).llen("list").hlen("hash")
    assert pipe.execute() == [names, COUNT, COUNT]
    client.close()
