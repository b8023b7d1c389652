"""maxmemory end to end, against tandemkv and (TANDEMKV_TEST_TARGET=redis) redis-server.

The limit is set with CONFIG SET so that both targets take the same path; the command-line
flags, the config file and a restart after evictions are tandemkv's own tests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from helpers.servers import ServerGroup, ServerProcess

MB = 1024 * 1024
VALUE = b"v" * 2000


def info(client: redis.Redis, section: str) -> dict[str, object]:
    return client.info(section)  # type: ignore[no-any-return]


def rss_of(server: ServerProcess) -> int:
    """The server's resident set, read by us (not by the server), in bytes."""
    with open(f"/proc/{server.pid}/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def write_values(client: redis.Redis, prefix: str, count: int, batch: int = 500) -> None:
    for start in range(0, count, batch):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(start + batch, count)):
            pipe.set(f"{prefix}:{i}", VALUE)
        pipe.execute()


@pytest.mark.timeout(300)
def test_allkeys_lru_keeps_rss_bounded_while_200mb_are_written(
    make_server: Callable[..., ServerProcess],
) -> None:
    """Pipelines of two commands: tandemkv keeps its last 8192 log entries decoded in
    memory (node/disk_storage.py), however large, so long pipelines of large values would
    measure that cache rather than the keyspace."""
    server = make_server()
    client = server.client()
    empty_rss = rss_of(server)
    assert client.config_set("maxmemory", "50mb") is True
    assert client.config_set("maxmemory-policy", "allkeys-lru") is True
    count = 200 * MB // len(VALUE)
    peak = 0
    for part in range(10):  # RSS sampled along the way, not only at the end
        write_values(client, f"key{part}", count // 10, batch=2)
        peak = max(peak, rss_of(server))
    memory, stats = info(client, "memory"), info(client, "stats")
    print(
        f"\nempty RSS {empty_rss / MB:.1f} MB, peak RSS {peak / MB:.1f} MB, "
        f"used_memory {int(memory['used_memory']) / MB:.1f} MB, "  # type: ignore[call-overload]
        f"keys {client.dbsize()} of {count}, evicted {stats['evicted_keys']}"
    )
    assert peak < 3 * 50 * MB + empty_rss
    assert int(stats["evicted_keys"]) > count // 2  # type: ignore[call-overload]
    assert client.dbsize() < count
    assert int(memory["used_memory"]) <= 50 * MB + 10 * len(VALUE)  # type: ignore[call-overload]
    # LRU: the last keys written are the ones kept.
    assert client.get(f"key9:{count // 10 - 1}") == VALUE
    client.close()


def test_noeviction_answers_oom_and_loses_nothing(
    make_server: Callable[..., ServerProcess],
) -> None:
    server = make_server()
    client = server.client()
    assert client.config_set("maxmemory", "4mb") is True
    written = 0
    refused = None
    while written < 20_000:
        try:
            client.set(f"k{written}", VALUE)
        except redis.ResponseError as error:
            refused = str(error)
            break
        written += 1
    assert refused == "command not allowed when used memory > 'maxmemory'."
    assert 0 < written < 20_000
    # Nothing already written was lost; reads and deletes work; writes that only shrink
    # memory too.
    assert client.dbsize() == written
    assert client.mget([f"k{i}" for i in range(written)]) == [VALUE] * written
    with pytest.raises(redis.ResponseError, match=r"maxmemory"):
        client.rpush("list", "x")
    assert client.expire("k0", 100) is True
    assert client.delete("k1") == 1
    assert info(client, "stats")["evicted_keys"] == 0
    client.close()


def test_info_memory_reports_the_limit_and_policy(
    make_server: Callable[..., ServerProcess],
) -> None:
    client = make_server().client()
    client.set("k", "v")
    client.config_set("maxmemory", "100mb")
    client.config_set("maxmemory-policy", "volatile-ttl")
    memory = info(client, "memory")
    assert memory["maxmemory"] == 100 * MB
    assert memory["maxmemory_human"] == "100.00M"
    assert memory["maxmemory_policy"] == "volatile-ttl"
    for field in ("used_memory", "used_memory_rss", "used_memory_peak"):
        assert isinstance(memory[field], int) and memory[field] > 0, field
    assert "evicted_keys" in info(client, "stats")
    client.close()


# ------------------------------------------------------------------ tandemkv's own


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


@pytest.mark.tandemkv_only("tandemkv's command-line flags and config file")
def test_flags_and_the_config_file_set_the_limit(servers: ServerGroup, tmp_path: Path) -> None:
    server = servers.start(
        tmp_path / "a", "--maxmemory", "10mb", "--maxmemory-policy", "allkeys-lfu"
    )
    client = server.client()
    assert client.config_get("maxmemory*") == {
        "maxmemory": str(10 * MB),
        "maxmemory-policy": "allkeys-lfu",
        "maxmemory-samples": "5",
    }
    client.close()
    config = tmp_path / "c.toml"
    config.write_text(
        'maxmemory = "2gb"\nmaxmemory-policy = "volatile-lru"\nmaxmemory-samples = 9\n'
    )
    server = servers.start(tmp_path / "b", "--config", str(config))
    client = server.client()
    assert client.config_get("maxmemory*") == {
        "maxmemory": str(2 * 1024 * MB),
        "maxmemory-policy": "volatile-lru",
        "maxmemory-samples": "9",
    }
    client.close()


@pytest.mark.tandemkv_only("tandemkv's log: evictions are logged deletes")
def test_evictions_survive_a_restart(servers: ServerGroup, tmp_path: Path) -> None:
    data = tmp_path / "db"
    server = servers.start(data, "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
    client = server.client()
    write_values(client, "k", 3000)
    evicted = int(info(client, "stats")["evicted_keys"])  # type: ignore[call-overload]
    assert evicted > 0
    kept = sorted(client.keys("*"))
    assert len(kept) == 3000 - evicted
    client.close()
    assert server.stop() == 0, server.describe()
    again = servers.start(data)  # no limit now: only the log decides what comes back
    client = again.client()
    deadline = time.monotonic() + 10
    while client.dbsize() != len(kept) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(client.keys("*")) == kept
    client.close()
