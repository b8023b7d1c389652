"""The fuzzed server's keyspace from outside: fill it with many keys before a long run,
and measure how much data it holds after one."""

from __future__ import annotations

from fuzz.connection import PipelineClient
from fuzz.monitor import Target
from helpers.resp import RespError, encode_command

PAIRS_PER_MSET = 1000
MSETS_PER_WRITE = 10
STRLENS_PER_WRITE = 5000


def load_keys(target: Target, count: int, prefix: bytes = b"load:") -> None:
    """Keys PREFIX0..PREFIX{count-1}, each holding a short value of its own."""
    with PipelineClient(target.host, target.port, timeout=60) as conn:
        commands = []
        for start in range(0, count, PAIRS_PER_MSET):
            args: list[bytes] = [b"MSET"]
            for i in range(start, min(start + PAIRS_PER_MSET, count)):
                args += [prefix + b"%d" % i, b"value-%d" % i]
            commands.append(encode_command(*args))
        for first in range(0, len(commands), MSETS_PER_WRITE):
            chunk = commands[first : first + MSETS_PER_WRITE]
            conn.send(b"".join(chunk))
            for reply in conn.read_replies(len(chunk)):
                if isinstance(reply, RespError) or reply != "OK":
                    raise AssertionError(f"loading keys: MSET answered {reply!r}")
        dbsize = conn.call("DBSIZE")
        if not isinstance(dbsize, int) or dbsize < count:
            raise AssertionError(f"loaded {count} keys, DBSIZE says {dbsize!r}")


def held_bytes(target: Target) -> int:
    """The bytes of every key and string value the server holds (SCAN, then STRLEN)."""
    with PipelineClient(target.host, target.port, timeout=120) as conn:
        keys: list[bytes] = []
        cursor = b"0"
        while True:
            cursor, page = conn.call("SCAN", cursor, "COUNT", "10000")
            keys += page
            if cursor == b"0":
                break
        total = sum(len(key) for key in keys)
        for first in range(0, len(keys), STRLENS_PER_WRITE):
            chunk = keys[first : first + STRLENS_PER_WRITE]
            conn.send(b"".join(encode_command("STRLEN", key) for key in chunk))
            total += sum(n for n in conn.read_replies(len(chunk)) if isinstance(n, int))
        return total
