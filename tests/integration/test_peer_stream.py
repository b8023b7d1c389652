"""Peer links on a real node: PEER AUTH + PEER STREAM switch a connection to frames
(protocol/peer_frames.py); keep-alives are answered, an over-cap length closes only that
connection, and a group replicates over such links."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Callable

import pytest

from helpers.cluster import Cluster, Node, wait_for
from tandemkv.node.peers import KEEPALIVE_SECONDS, PeerLinks
from tandemkv.protocol import encode_command
from tandemkv.protocol.peer_frames import MAX_FRAME_BYTES, PING_FRAME, encode_frames
from tandemkv.runtime import OsRuntime

pytestmark = pytest.mark.tandemkv_only("cluster mode is tandemkv's own")

SECRET = "peer-stream-test-secret"
HANDSHAKE = encode_command([b"PEER", b"AUTH", SECRET, 99]) + encode_command([b"PEER", b"STREAM"])
BOTH_OK = b"+OK\r\n+OK\r\n"


@pytest.fixture
def primary(cluster: Cluster) -> Node:
    return cluster.start("a", "--role", "primary", "--cluster-secret", SECRET)


def connect(node: Node) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise AssertionError(f"connection closed after {data!r}")
        data += chunk
    return data


def test_a_streaming_peer_gets_a_pong_for_each_keep_alive(primary: Node) -> None:
    with connect(primary) as sock:
        # Pipelined: the keep-alive sent with the handshake is already a frame.
        sock.sendall(HANDSHAKE + PING_FRAME)
        assert receive_exactly(sock, len(BOTH_OK) + 4) == BOTH_OK + PING_FRAME
        sock.sendall(PING_FRAME * 3)
        assert receive_exactly(sock, 12) == PING_FRAME * 3
        # A message frame is handed to the node, which answers nothing on this link.
        sock.sendall(encode_frames([b"\xfenot a message"]) + PING_FRAME)
        assert receive_exactly(sock, 4) == PING_FRAME
    assert primary.client().ping()


def test_peer_stream_needs_peer_auth_on_a_real_node(primary: Node) -> None:
    with connect(primary) as sock:
        sock.sendall(encode_command([b"PEER", b"STREAM"]) + encode_command([b"PING"]))
        expected = b"-NOPERM PEER STREAM needs PEER AUTH with the cluster secret first\r\n"
        assert receive_exactly(sock, len(expected) + 7) == expected + b"+PONG\r\n"


def test_an_over_cap_length_closes_only_that_link(primary: Node) -> None:
    with primary.client() as bystander, connect(primary) as sock:
        assert bystander.ping()
        sock.sendall(HANDSHAKE)
        assert receive_exactly(sock, len(BOTH_OK)) == BOTH_OK
        sock.sendall(struct.pack("<I", MAX_FRAME_BYTES + 1))
        assert sock.recv(100) == b"", "the node closes the link without answering"
        assert bystander.ping()
        bystander.set("still", "writable")
        assert bystander.get("still") == b"writable"
    assert primary.process is not None
    wait_for(
        lambda: "closing the link from node 63" in primary.process.stderr_text() or None,
        5,
        primary.process.describe(),
    )


def test_a_group_replicates_over_frame_links(cluster: Cluster, primary: Node) -> None:
    backup = cluster.start(
        "b", "--role", "backup", "--primary", primary.address, "--cluster-secret", SECRET
    )
    primary.client().set("k", "v1")
    with backup.client() as c:
        assert c.execute_command("READONLY") is True
        wait_for(lambda: c.get("k") == b"v1" or None, 10, cluster.describe())
        # The primary's link to this backup switched to frames: it never sent REPLICATE.
        peers = [
            line
            for line in c.execute_command("CLIENT", "LIST").decode().splitlines()
            if " cmd=peer " in line
        ]
        assert peers, c.execute_command("CLIENT", "LIST")
        assert "cmd=replicate" not in c.execute_command("CLIENT", "LIST").decode()
    primary.client().set("k", "v2")
    with backup.client() as c:
        c.execute_command("READONLY")
        wait_for(lambda: c.get("k") == b"v2" or None, 10, cluster.describe())


def test_a_peer_link_shakes_hands_then_keeps_alive_with_frames(primary: Node) -> None:
    """PeerLink against a real node: queued messages go out once both +OKs arrive, and a
    keep-alive frame is answered (the node would close the link on a RESP PING now)."""

    async def scenario() -> tuple[bool, float, float, bool]:
        links = PeerLinks(77, lambda: SECRET, {}, OsRuntime(asyncio.get_running_loop()))
        try:
            links.send(1, primary.address, [b"\xfequeued before the link is up"])
            link = links._links[1]
            assert link.queued, "a message sent while connecting is kept"
            await _until(lambda: link.frames is not None and not link.queued)
            first = link.last_reply
            link.keep_alive(time.monotonic() + KEEPALIVE_SECONDS)
            await _until(lambda: link.last_reply > first)
            links.send(1, primary.address, [b"\xfea message frame"])
            link.keep_alive(time.monotonic() + 2 * KEEPALIVE_SECONDS)
            second = link.last_reply
            await _until(lambda: link.last_reply > second)
            up = link.transport is not None and not link.transport.is_closing()
            return link.frames is not None, first, link.last_reply, up and not link.complained
        finally:
            links.close()

    streaming, first, last, healthy = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert streaming and last > first and healthy


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)
