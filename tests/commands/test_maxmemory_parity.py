"""maxmemory against a real redis-server: the OOM texts, what still runs past the limit,
MULTI/EXEC under it, and CONFIG SET's answers for the three settings.

The limit is 1 byte, past which both servers are whatever they hold (Redis counts its own
heap, tandemkv its keyspace, so the scripts keep a key in it). Each script starts and ends
with the limit off: the reference server is shared by the module's scripts.
"""

from __future__ import annotations

import pytest

from .parity import Other, Step, check

OFF: list[Step] = [("CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction")]

SCRIPTS: dict[str, list[Step]] = {
    "denyoom_writes_answer_oom_the_rest_runs": [
        *OFF,
        ("SET", "a", "1"),
        ("RPUSH", "l", "x", "y"),
        ("CONFIG", "SET", "maxmemory", "1"),
        ("SET", "b", "2"),
        ("APPEND", "a", "x"),
        ("INCR", "a"),
        ("LPUSH", "l", "z"),
        ("SADD", "s", "m"),
        ("ZADD", "z", "1", "m"),
        ("HSET", "h", "f", "v"),
        ("XADD", "x", "*", "f", "v"),
        ("MSET", "c", "1", "d", "2"),
        ("COPY", "a", "e"),
        ("GET", "a"),
        ("LRANGE", "l", "0", "-1"),
        ("LPOP", "l"),
        ("EXPIRE", "a", "100"),
        ("TTL", "a"),
        ("DEL", "nosuch"),
        ("EXISTS", "b", "c", "e"),
        ("CONFIG", "GET", "maxmemory"),
        *OFF,
        ("SET", "b", "2"),
    ],
    "multi_past_the_limit": [
        *OFF,
        ("SET", "a", "1"),
        ("CONFIG", "SET", "maxmemory", "1"),
        ("MULTI",),
        ("GET", "a"),
        ("EXEC",),
        ("MULTI",),
        ("DISCARD",),
        *OFF,
        ("MULTI",),
        ("SET", "b", "2"),
        Other("CONFIG", "SET", "maxmemory", "1"),
        ("EXEC",),
        *OFF,
        ("MULTI",),
        ("GET", "a"),
        Other("CONFIG", "SET", "maxmemory", "1"),
        ("EXEC",),
        *OFF,
    ],
    "config_set_and_get": [
        *OFF,
        ("CONFIG", "SET", "maxmemory-policy", "bogus"),
        ("CONFIG", "SET", "maxmemory", "abc"),
        ("CONFIG", "SET", "maxmemory", "-1"),
        ("CONFIG", "SET", "maxmemory", "1.5mb"),
        ("CONFIG", "SET", "maxmemory-samples", "0"),
        ("CONFIG", "SET", "maxmemory-samples", "x"),
        ("CONFIG", "SET", "maxmemory", "10MB"),
        ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "SET", "maxmemory", "2gb", "maxmemory-policy", "ALLKEYS-LRU"),
        ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "GET", "maxmemory-policy"),
        ("CONFIG", "SET", "maxmemory", "1k"),
        ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "SET", "maxmemory-samples", "7"),
        ("CONFIG", "GET", "maxmemory-samples"),
        ("CONFIG", "SET", "maxmemory-samples", "5"),
        *OFF,
    ],
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_maxmemory_replies_like_redis(redis_server: object, name: str) -> None:
    check(redis_server, SCRIPTS[name])
