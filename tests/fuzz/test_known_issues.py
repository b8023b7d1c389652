"""Server bugs the fuzzer found, each reduced to the request that shows it. One not fixed
yet is marked xfail(strict=True): when the server is fixed the test passes, the suite
fails on XPASS, and the marker goes, with the entry in known_issues.py (or the cap in
grammar.py) that keeps the fuzzer away from the bug meanwhile. Fixed ones stay, so that
they stay fixed.

Each test measures with the same watchdog and the same bounds as a fuzz run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuzz.checks import STALL_BOUND
from fuzz.connection import PipelineClient
from fuzz.keyspace import Collection, load_collections, load_keys
from fuzz.monitor import ProcessMonitor, Target, rss_bytes, server_target
from fuzz.watchdog import StallReport, Watchdog
from helpers.resp import ConnectionClosed, encode_command
from helpers.servers import ServerGroup

MiB = 1024 * 1024


@pytest.fixture
def server(servers: ServerGroup, tmp_path: Path) -> Target:
    return server_target(servers.start(tmp_path / "data"))


@pytest.fixture
def client(server: Target) -> Iterator[PipelineClient]:
    conn = PipelineClient(server.host, server.port, timeout=120)
    try:
        yield conn
    finally:
        conn.close()


def watched(
    server: Target, send: list[bytes], client: PipelineClient, replies: int = 1
) -> tuple[StallReport, int]:
    """Send each chunk and read its `replies` under the watchdog: the stall report and how
    much the server's RSS grew (its peak over its RSS before)."""
    monitor = ProcessMonitor([server], lambda target: None).start()
    before = monitor.peak_rss[server.name]
    with Watchdog(server.host, server.port) as dog:
        for chunk in send:
            client.send(chunk)
            client.read_replies(replies)
        time.sleep(0.1)
    monitor.stop()
    return dog.stop(), monitor.peak_rss[server.name] - before


@pytest.mark.timeout(120)
def test_a_long_glob_pattern_neither_stalls_nor_grows_the_server(
    server: Target,
    client: PipelineClient,
) -> None:
    """Fixed since: plain patterns cost nothing to compile and long ones are not cached;
    patterns with wildcards are charged per token and refused past a budget."""
    plain = [b"%06d" % i + b"abcdefgh" * (64 * 1024) for i in range(4)]  # 512 KiB each
    wild = [b"%06d" % i + b"a?[bc]*" * (64 * 1024) for i in range(4)]
    requests = [encode_command("KEYS", p) for p in plain + wild]
    stall, grown = watched(server, requests, client)
    assert stall.longest < STALL_BOUND, stall.describe()
    assert grown < 16 * MiB, f"RSS grew by {grown // MiB} MiB for 8 KEYS patterns"


@pytest.mark.timeout(120)
def test_an_exec_of_keyspace_scans_does_not_stall_the_server(
    server: Target,
    client: PipelineClient,
) -> None:
    """Fixed since: inside EXEC, KEYS copies the keys in place and is matched in slices
    after the queue (commands/atomic_work.py)."""
    load_keys(server, 20_000)
    transaction = encode_command("MULTI") + encode_command("KEYS", "*") * 200
    stall, _grown = watched(server, [transaction + encode_command("EXEC")], client, 202)
    assert stall.longest < STALL_BOUND, f"EXEC of 200 KEYS: {stall.describe()}"


@pytest.mark.timeout(120)
def test_pipelined_keyspace_scans_do_not_stall_the_server(
    server: Target,
    client: PipelineClient,
) -> None:
    """The pipelined half of the issue above, fixed since (KEYS runs in slices): kept so
    that it stays fixed."""
    load_keys(server, 20_000)
    stall, _grown = watched(server, [encode_command("KEYS", "*") * 200], client, 200)
    assert stall.longest < STALL_BOUND, f"200 pipelined KEYS: {stall.describe()}"


@pytest.mark.timeout(120)
def test_a_pipeline_of_costly_commands_takes_turns_with_other_clients(
    server: Target,
    client: PipelineClient,
) -> None:
    """A connection ran every command of a chunk in one turn: 20 SCAN COUNT 100000 over
    100k keys held the loop ~800 ms, 2,000 RANDOMKEY (a walk to a random place) ~560 ms.
    Now a pipeline runs ~10 ms a turn (server/connection.py TURN_SECONDS)."""
    load_keys(server, 100_000)
    scans = encode_command("SCAN", "0", "MATCH", "none:*", "COUNT", "100000") * 40
    stall, _grown = watched(server, [scans], client, 40)
    assert stall.longest < STALL_BOUND, f"40 pipelined SCAN COUNT 100000: {stall.describe()}"
    stall, _grown = watched(server, [encode_command("RANDOMKEY") * 4000], client, 4000)
    assert stall.longest < STALL_BOUND, f"4,000 pipelined RANDOMKEY: {stall.describe()}"


def growth_until_dropped(server: Target, client: PipelineClient, request: bytes) -> int:
    """Send `request`, which the server must answer by dropping the client (the hard
    output limit): how much the server's RSS grew meanwhile (its peak over before)."""
    monitor = ProcessMonitor([server], lambda target: None).start()
    before = monitor.peak_rss[server.name]
    client.send(request)
    with pytest.raises(ConnectionClosed):
        client.read_replies(1)
    time.sleep(0.1)
    monitor.stop()
    return monitor.peak_rss[server.name] - before


@pytest.mark.timeout(120)
def test_with_a_hard_output_limit_one_reply_cannot_exhaust_memory(
    server: Target, client: PipelineClient
) -> None:
    """MGET naming one 4 MiB key 32 times (a 1 KB request) makes a 128 MiB reply. Under
    Redis's default (client-output-buffer-limit normal 0 0 0, kept: docs/operations.md) it
    is built and sent; with a hard limit set, the client is dropped before the reply is
    built. Short arrays were not sized (only those over 64 items): this one grew RSS by
    ~200 MiB before the limit saw it."""
    assert client.call("CONFIG", "SET", "client-output-buffer-limit", "normal 64mb 0 0") == "OK"
    assert client.call("SET", "big", b"x" * (4 * MiB)) == "OK"
    grown = growth_until_dropped(server, client, encode_command("MGET", *(["big"] * 32)))
    assert grown < 64 * MiB, f"RSS grew by {grown // MiB} MiB for one MGET"


@pytest.mark.timeout(120)
def test_with_a_hard_output_limit_a_sliced_reply_cannot_exhaust_memory(
    server: Target, client: PipelineClient
) -> None:
    """SRANDMEMBER with a negative count repeats picks: -30000 on 8 members of 64 KiB asks
    for a 2 GB reply with a 60-byte request. Past random_picks.PICK_SLICE picks the reply is
    drawn and encoded in slices, a path that skipped the hard limit check: with "normal
    64mb 0 0", RSS went to 3.8 GB and the client waited 60 s. Now the sliced runner sizes
    the reply before encoding it, and the client is dropped as for the MGET above."""
    assert client.call("CONFIG", "SET", "client-output-buffer-limit", "normal 64mb 0 0") == "OK"
    members = [b"%d" % i + b"m" * (64 * 1024) for i in range(8)]
    assert client.call("SADD", "big", *members) == 8
    grown = growth_until_dropped(server, client, encode_command("SRANDMEMBER", "big", "-30000"))
    assert grown < 64 * MiB, f"RSS grew by {grown // MiB} MiB for one SRANDMEMBER"


def peak_rss(pid: int) -> int:
    """The process's peak resident set size so far (VmHWM): exact, where sampling VmRSS
    can miss a short peak."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


@pytest.mark.timeout(120)
def test_without_an_output_limit_a_sliced_reply_is_not_held_twice(
    server: Target, client: PipelineClient
) -> None:
    """Under Redis's default (no limit) a long reply is built whole, as Redis does, but it
    was held twice at its peak: its encoded parts, then their join (SRANDMEMBER k -30000
    on members of 64 KiB: 3.7 GB of RSS for a 1.9 GB reply). Now the parts are written as
    they are. 24,000 picks of 4 KiB members: a reply of 94 MiB."""
    members = [b"%d" % i + b"m" * (4 * 1024) for i in range(8)]
    assert client.call("SADD", "big", *members) == 8
    assert server.pid is not None
    before = rss_bytes(server.pid)
    assert before is not None and peak_rss(server.pid) < before + 16 * MiB
    client.send(encode_command("SRANDMEMBER", "big", "-24000"))
    [picks] = client.read_replies(1)
    assert len(picks) == 24_000 and set(picks) == set(members)
    reply = 24_000 * len(members[0])
    grown = peak_rss(server.pid) - before
    assert grown < 1.5 * reply, f"RSS peaked {grown // MiB} MiB over for a {reply // MiB} MiB reply"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("kind", "pick"),
    [
        ("set", ("SRANDMEMBER", "big:set", "-1000000")),
        ("zset", ("ZRANDMEMBER", "big:zset", "-1000000", "WITHSCORES")),
        ("hash", ("HRANDFIELD", "big:hash", "-1000000", "WITHVALUES")),
    ],
)
def test_a_repeating_random_pick_does_not_stall_the_server(
    server: Target, client: PipelineClient, kind: str, pick: tuple[str, ...]
) -> None:
    """A negative count repeats picks, so a short request asks for a reply as long as the
    count, whatever the key's size; args.MAX_RANDOM_REPLY refuses past 1,000,000, but a
    million picks from 100k members held the loop 1.9 s (SRANDMEMBER), 4.2 s (HRANDFIELD
    WITHVALUES) and 5.2 s (ZRANDMEMBER WITHSCORES) in the pure build on a loaded 2-core
    machine (Redis runs them in one go too, in C, in about 0.1 s). Fixed since: past
    random_picks.PICK_SLICE picks they are drawn a slice per loop turn, and the reply encoded in
    slices."""
    load_collections(server, [Collection(pick[1].encode(), kind, 20_000)])
    stall, _grown = watched(server, [encode_command(*pick)], client)
    assert stall.longest < STALL_BOUND, f"{' '.join(pick)}: {stall.describe()}"
