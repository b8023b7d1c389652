"""The fault proxy, fault by fault, in front of a tiny echo server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from chaos.echo import EchoServer
from chaos.proxy import Direction, FaultProxy

pytestmark = pytest.mark.timeout(60)
SILENCE = 0.4  # how long "nothing arrives" is watched for


@pytest.fixture
def proxy(echo_server: EchoServer) -> Iterator[FaultProxy]:
    with FaultProxy(echo_server.address, seed=7) as running:
        yield running


def connect(proxy: FaultProxy, timeout: float = 3.0) -> socket.socket:
    sock = socket.create_connection(proxy.address, timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def receive(sock: socket.socket, size: int, timeout: float = 3.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def silent(sock: socket.socket, wait: float = SILENCE) -> bool:
    """True if nothing at all (no data, no FIN, no RST) arrives within ``wait``."""
    sock.settimeout(wait)
    try:
        sock.recv(1)
    except TimeoutError:
        return True
    except OSError:
        return False
    return False


def round_trip(proxy: FaultProxy, payload: bytes = b"ping") -> bytes:
    with connect(proxy) as sock:
        sock.sendall(payload)
        return receive(sock, len(payload))


def test_pass_forwards_both_ways_and_passes_a_half_close_on(
    proxy: FaultProxy, echo_server: EchoServer
) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"hello")
        assert receive(sock, 5) == b"hello"
        sock.shutdown(socket.SHUT_WR)
        assert echo_server.wait_ending("eof")
        assert receive(sock, 1) == b"", "the server's close must reach the client"
    assert proxy.stats.forwarded == {Direction.UP: 5, Direction.DOWN: 5}


def test_delay_holds_each_direction_for_its_delay(proxy: FaultProxy) -> None:
    proxy.delay(150)
    started = time.monotonic()
    assert round_trip(proxy) == b"ping"
    both_ways = time.monotonic() - started
    proxy.heal()
    proxy.delay(150, direction=Direction.UP)
    started = time.monotonic()
    assert round_trip(proxy) == b"ping"
    one_way = time.monotonic() - started
    assert 0.3 <= both_ways < 1.5
    assert 0.15 <= one_way < 0.3 + 0.5


def test_jitter_never_reorders_a_stream(proxy: FaultProxy) -> None:
    proxy.delay(30, jitter_ms=30)
    chunks = [b"%04d;" % n for n in range(60)]
    with connect(proxy) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
            time.sleep(0.002)
        assert receive(sock, 300, timeout=5) == b"".join(chunks)


def test_drop_up_blackholes_requests_and_the_damaged_connection_stays_dark(
    proxy: FaultProxy, echo_server: EchoServer
) -> None:
    with connect(proxy) as old:
        assert round_trip(proxy) == b"ping"
        proxy.drop(Direction.UP)
        old.sendall(b"lost")
        assert silent(old)
        proxy.heal()
        old.sendall(b"more")
        assert silent(old), "a stream with a hole must never be delivered"
        assert round_trip(proxy, b"new") == b"new", "a new connection sees the healed link"
    assert b"lost" not in echo_server.received() and b"more" not in echo_server.received()
    assert proxy.stats.dropped[Direction.UP] == 8


def test_drop_down_lets_requests_land_and_loses_the_replies(
    proxy: FaultProxy, echo_server: EchoServer
) -> None:
    proxy.drop(Direction.DOWN)
    with connect(proxy) as sock:
        sock.sendall(b"applied")
        assert echo_server.wait_received(len(b"applied"))
        assert silent(sock)
    assert proxy.stats.dropped[Direction.DOWN] == len(b"applied")


def test_reset_all_sends_an_rst_to_both_sides(proxy: FaultProxy, echo_server: EchoServer) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"hi")
        assert receive(sock, 2) == b"hi"
        assert proxy.reset_all() == 1
        with pytest.raises(ConnectionResetError):
            receive(sock, 1)
    assert echo_server.wait_ending("reset")
    assert proxy.open_connections() == 0


def test_reset_on_replies_resets_after_the_request_landed(
    proxy: FaultProxy, echo_server: EchoServer
) -> None:
    proxy.reset_on_traffic(Direction.DOWN)
    with connect(proxy) as sock:
        sock.sendall(b"write")
        with pytest.raises(ConnectionResetError):
            receive(sock, 5)
    assert echo_server.received() == b"write"


def test_reset_on_requests_resets_before_the_server_sees_anything(
    proxy: FaultProxy, echo_server: EchoServer
) -> None:
    proxy.reset_on_traffic(Direction.UP)
    with connect(proxy) as sock:
        sock.sendall(b"write")
        with pytest.raises(ConnectionResetError):
            receive(sock, 5)
    assert echo_server.wait_ending("reset")
    assert echo_server.received() == b""


def test_partition_blackholes_existing_and_new_connections_until_healed(
    proxy: FaultProxy, echo_server: EchoServer
) -> None:
    with connect(proxy) as before:
        before.sendall(b"a")
        assert receive(before, 1) == b"a"
        proxy.partition()
        accepted = echo_server.accepted
        with connect(proxy) as during:  # the handshake succeeds; nothing else does
            before.sendall(b"b")
            during.sendall(b"c")
            assert silent(before) and silent(during)
            proxy.heal()
            assert round_trip(proxy, b"after") == b"after"
            during.sendall(b"d")
            assert silent(during), "a connection made during the partition stays dark"
        assert echo_server.accepted == accepted + 1, "only the post-heal connection got through"
    assert echo_server.received() == b"aafter"


def test_retarget_sends_new_connections_to_the_new_address(
    proxy: FaultProxy, echo_server: EchoServer
) -> None:
    second = EchoServer().start()
    try:
        with connect(proxy) as old:
            old.sendall(b"first:")
            assert receive(old, 6) == b"first:"  # connected upstream before the switch
            proxy.retarget(second.address)
            assert round_trip(proxy, b"to-second") == b"to-second"
            old.sendall(b"again")
            assert receive(old, 5) == b"again"
        assert second.received() == b"to-second"
        assert echo_server.received() == b"first:again"
    finally:
        second.stop()


def test_an_unreachable_target_resets_the_client(proxy: FaultProxy) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # bound, never listening: refuses
        proxy.retarget(("127.0.0.1", closed_port))
        with pytest.raises(ConnectionResetError), connect(proxy) as sock:
            sock.sendall(b"x")
            receive(sock, 1)
    assert proxy.stats.upstream_failures == 1


def test_stop_closes_everything_and_frees_the_port(echo_server: EchoServer) -> None:
    proxy = FaultProxy(echo_server.address).start()
    sock = connect(proxy)
    sock.sendall(b"x")
    assert receive(sock, 1) == b"x"
    threads_before = {t.name for t in threading.enumerate()}
    assert proxy.name in threads_before
    proxy.stop()
    proxy.stop()  # idempotent
    try:
        assert receive(sock, 1) == b""
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    assert proxy.name not in {t.name for t in threading.enumerate()}
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(proxy.address, timeout=2).close()
