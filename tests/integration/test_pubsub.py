"""Pub/sub end to end with redis-py's PubSub and raw sockets, in RESP2 and RESP3: messages
and pattern messages, subscribed-mode errors, a publisher that is its own subscriber, a
subscriber that disconnects or stops reading (client-output-buffer-limit's pubsub class).
Everything but the restart test and the replicated-group tests (a subscriber on a backup,
redis-py following a FAILOVER) also runs against real Redis.

The server is shared by the module's tests: each test uses its own channel names.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.client import PubSub
from redis.sentinel import Sentinel

from helpers.cluster import Cluster
from helpers.resp import RawClient, RespError, encode_command
from helpers.servers import ServerGroup, ServerProcess

from .test_cluster import three_nodes

SUBSCRIBED_ONLY = (
    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
    "are allowed in this context"
)


def next_message(p: PubSub, timeout: float = 5.0) -> dict[str, object]:
    """The next message or confirmation (get_message returns None while none is in)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = p.get_message(timeout=0.1)
        if message is not None:
            return message  # type: ignore[no-any-return]
    raise AssertionError("no message within the timeout")


def wait_numsub(r: redis.Redis, channel: str, count: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if r.pubsub_numsub(channel) == [(channel.encode(), count)]:
            return
        time.sleep(0.01)
    raise AssertionError(f"{channel} never had {count} subscribers: {r.pubsub_numsub(channel)}")


def read_to_the_end(conn: RawClient, timeout: float = 10.0) -> bool:
    """Read what the server had sent; True if it then closed the connection."""
    deadline = time.monotonic() + timeout
    conn.sock.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            if not conn.sock.recv(1 << 20):
                return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
    return False


@pytest.fixture
def pubsub(r: redis.Redis) -> Iterator[PubSub]:
    p = r.pubsub()
    yield p
    p.close()


def test_a_subscriber_receives_what_is_published(r: redis.Redis, pubsub: PubSub) -> None:
    pubsub.subscribe("it.basic")
    assert next_message(pubsub) == {
        "type": "subscribe",
        "pattern": None,
        "channel": b"it.basic",
        "data": 1,
    }
    assert r.publish("it.basic", "hello") == 1
    assert r.publish("it.nobody", "lost") == 0
    assert next_message(pubsub) == {
        "type": "message",
        "pattern": None,
        "channel": b"it.basic",
        "data": b"hello",
    }
    assert pubsub.get_message(timeout=0.2) is None


def test_pattern_subscriptions_get_pmessages(r: redis.Redis, pubsub: PubSub) -> None:
    pubsub.psubscribe("it.pat.*")
    assert next_message(pubsub)["type"] == "psubscribe"
    assert r.publish("it.pat.one", "m1") == 1
    assert r.publish("it.other", "m2") == 0
    assert next_message(pubsub) == {
        "type": "pmessage",
        "pattern": b"it.pat.*",
        "channel": b"it.pat.one",
        "data": b"m1",
    }
    assert r.pubsub_numpat() >= 1
    pubsub.punsubscribe("it.pat.*")
    assert next_message(pubsub)["type"] == "punsubscribe"
    assert r.publish("it.pat.one", "m3") == 0


def test_listen_yields_messages_in_publish_order(r: redis.Redis, pubsub: PubSub) -> None:
    pubsub.subscribe("it.listen")
    for i in range(50):
        r.publish("it.listen", str(i))
    stream = pubsub.listen()
    assert next(stream)["type"] == "subscribe"
    assert [next(stream)["data"] for _ in range(50)] == [str(i).encode() for i in range(50)]


def test_handlers_run_from_get_message(r: redis.Redis, pubsub: PubSub) -> None:
    seen: list[bytes] = []
    pubsub.subscribe(**{"it.handler": lambda message: seen.append(message["data"])})
    next_message(pubsub)  # the confirmation (handlers only take messages)
    r.publish("it.handler", "x")
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        pubsub.get_message(timeout=0.1)
    assert seen == [b"x"]


def test_counts_every_subscription(r: redis.Redis, server: ServerProcess) -> None:
    with server.raw() as a, server.raw() as b:
        assert a.call("SUBSCRIBE", "it.count") == [b"subscribe", b"it.count", 1]
        a.send(encode_command("PSUBSCRIBE", "it.c*"))
        assert a.read_reply() == [b"psubscribe", b"it.c*", 2]
        b.send(encode_command("PSUBSCRIBE", "it.count"))
        assert b.read_reply() == [b"psubscribe", b"it.count", 1]
        assert r.publish("it.count", "m") == 3
        assert a.read_replies(2) == [
            [b"message", b"it.count", b"m"],
            [b"pmessage", b"it.c*", b"it.count", b"m"],
        ]
        assert b.read_reply() == [b"pmessage", b"it.count", b"it.count", b"m"]
        assert r.pubsub_numsub("it.count") == [(b"it.count", 1)]
        assert b"it.count" in r.pubsub_channels("it.*")


def test_resp2_subscribed_mode(server: ServerProcess) -> None:
    with server.raw() as c:
        assert c.call("SUBSCRIBE", "it.mode") == [b"subscribe", b"it.mode", 1]
        assert c.call("GET", "k") == RespError(SUBSCRIBED_ONLY.format("get"))
        assert c.call("CLIENT", "LIST") == RespError(SUBSCRIBED_ONLY.format("client|list"))
        assert c.call("PING") == [b"pong", b""]
        assert c.call("PING", "x") == [b"pong", b"x"]
        assert c.call("UNSUBSCRIBE") == [b"unsubscribe", b"it.mode", 0]
        assert c.call("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
        assert c.call("PING") == "PONG"  # out of subscribed mode
        c.call("SUBSCRIBE", "it.mode")
        assert c.call("RESET") == "RESET"
        assert c.call("GET", "it.mode.key") is None


def test_resp3_subscribers_get_push_frames_and_run_any_command(server: ServerProcess) -> None:
    with server.raw() as c, server.raw() as publisher:
        c.call("HELLO", "3")
        c.send(encode_command("SUBSCRIBE", "it.r3"))
        assert c.sock.recv(1 << 16) == b">3\r\n$9\r\nsubscribe\r\n$5\r\nit.r3\r\n:1\r\n"
        assert c.call("PING") == "PONG"
        assert c.call("SET", "it.r3.key", "v") == "OK"
        # To itself: the message is written before PUBLISH's own reply.
        c.send(encode_command("PUBLISH", "it.r3", "me"))
        expected = b">3\r\n$7\r\nmessage\r\n$5\r\nit.r3\r\n$2\r\nme\r\n:1\r\n"
        data = b""
        while len(data) < len(expected):
            data += c.sock.recv(1 << 16)
        assert data == expected
        # In a pipeline, behind the reply of a write before it (held until the log has it).
        c.send(encode_command("SET", "it.r3.key", "w") + encode_command("PUBLISH", "it.r3", "2"))
        expected = b"+OK\r\n>3\r\n$7\r\nmessage\r\n$5\r\nit.r3\r\n$1\r\n2\r\n:1\r\n"
        data = b""
        while len(data) < len(expected):
            data += c.sock.recv(1 << 16)
        assert data == expected
        assert publisher.call("PUBLISH", "it.r3", "other") == 1
        assert c.read_reply() == [b"message", b"it.r3", b"other"]
        assert c.call("GET", "it.r3.key") == b"w"


def test_a_subscriber_that_disconnects_is_forgotten(r: redis.Redis, server: ServerProcess) -> None:
    conn = server.raw()
    conn.call("SUBSCRIBE", "it.gone")
    conn.send(encode_command("PSUBSCRIBE", "it.gone.*"))
    conn.read_reply()
    wait_numsub(r, "it.gone", 1)
    conn.close()
    wait_numsub(r, "it.gone", 0)
    assert r.publish("it.gone", "m") == 0
    assert r.publish("it.gone.x", "m") == 0
    assert b"it.gone" not in r.pubsub_channels()


def test_a_subscriber_that_stops_reading_is_dropped_at_the_pubsub_limit(
    r: redis.Redis, server: ServerProcess
) -> None:
    original = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    r.config_set("client-output-buffer-limit", "pubsub 1mb 0 0")
    try:
        slow = server.raw()
        slow.call("SUBSCRIBE", "it.slow")
        chunk = "x" * (256 * 1024)
        deadline = time.monotonic() + 20
        # Loopback socket buffers hold some megabytes before the server's own fills.
        while r.pubsub_numsub("it.slow") != [(b"it.slow", 0)]:
            assert time.monotonic() < deadline, "the slow subscriber was never dropped"
            r.publish("it.slow", chunk)
        assert read_to_the_end(slow), "the dropped subscriber's connection stayed open"
        slow.close()
        # A normal client is not a pubsub client: the limit does not apply to it.
        assert len(r.mget(["it.slow.absent"] * 10)) == 10
    finally:
        r.config_set("client-output-buffer-limit", original)


def test_exec_publishes_and_subscribes(r: redis.Redis, pubsub: PubSub) -> None:
    pubsub.subscribe("it.exec")
    next_message(pubsub)
    with r.pipeline(transaction=True) as pipe:
        pipe.set("it.exec.key", "v")
        pipe.publish("it.exec", "in a transaction")
        assert pipe.execute() == [True, 1]
    assert next_message(pubsub)["data"] == b"in a transaction"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


@pytest.mark.tandemkv_only("tandemkv logs PUBLISH; a restart must not deliver it again")
def test_logged_messages_are_not_delivered_again_after_a_restart(
    servers: ServerGroup, tmp_path: Path
) -> None:
    first = servers.start(tmp_path / "db", "--fsync", "always")
    with first.client() as c:
        c.set("before", "1")
        assert c.publish("it.restart", "old news") == 0
    first.stop()
    restarted = servers.start(tmp_path / "db", "--fsync", "always")
    with restarted.client() as c:
        p = c.pubsub()
        p.subscribe("it.restart")
        assert next_message(p)["type"] == "subscribe"
        assert c.get("before") == b"1"
        assert c.publish("it.restart", "new") == 1
        assert next_message(p)["data"] == b"new"
        assert p.get_message(timeout=0.3) is None
        p.close()


# ------------------------------------------------------------------ replicated groups


@pytest.mark.tandemkv_only("cluster mode is tandemkv's own")
def test_a_subscriber_on_a_backup_receives_what_the_primary_publishes(cluster: Cluster) -> None:
    three_nodes(cluster)
    primary = cluster.primary()
    backups = [node for name, node in cluster.nodes.items() if name != primary.name]
    subscribers = []
    for backup in backups:  # no READONLY needed: subscribing reads no data
        p = backup.client().pubsub()
        p.subscribe("it.group")
        assert next_message(p)["type"] == "subscribe"
        p.psubscribe("it.gr*")
        assert next_message(p)["type"] == "psubscribe"
        subscribers.append(p)
    with primary.client() as c:
        assert c.publish("it.group", "to every member") == 0  # none on the primary itself
    for p in subscribers:
        assert next_message(p)["data"] == b"to every member"
        assert next_message(p)["pattern"] == b"it.gr*"
        assert p.get_message(timeout=0.2) is None  # delivered once
        p.close()
    with backups[0].client() as c, pytest.raises(redis.ReadOnlyError):
        c.publish("it.group", "publishers talk to the primary")


@pytest.mark.tandemkv_only("cluster mode is tandemkv's own")
def test_redis_py_pubsub_keeps_receiving_across_a_failover(cluster: Cluster) -> None:
    three_nodes(cluster)
    sentinel = Sentinel([("127.0.0.1", n.port) for n in cluster.nodes.values()], socket_timeout=1)
    master = sentinel.master_for("tandemkv", socket_timeout=1)
    p = master.pubsub()
    p.subscribe("it.failover")
    assert next_message(p)["type"] == "subscribe"
    old = cluster.primary()
    target = next(node for name, node in cluster.nodes.items() if name != old.name)
    with old.client() as c:
        assert c.execute_command("FAILOVER", "TO", "127.0.0.1", target.port) == b"OK"
    new = cluster.primary()
    assert new.name == target.name
    # Still connected to the old primary, now a backup: it delivers what the new one logs.
    with new.client() as c:
        c.publish("it.failover", "via the old primary")
    assert next_message(p)["data"] == b"via the old primary"
    # The old primary goes away: redis-py reconnects to the primary Sentinel names and
    # subscribes again; messages published meanwhile are lost, as with Redis.
    cluster.kill(old.name)
    received = None
    deadline = time.monotonic() + 20
    with new.client() as c:
        while received is None and time.monotonic() < deadline:
            c.publish("it.failover", "after the reconnect")
            try:
                message = p.get_message(timeout=0.2)
            except (redis.ConnectionError, redis.TimeoutError):
                continue  # what a retrying client does: the next call reconnects
            if message is not None and message["type"] == "message":
                received = message
    assert received is not None, cluster.describe()
    assert received["data"] == b"after the reconnect"
    assert p.connection is not None and p.connection.port == new.port
    p.close()
