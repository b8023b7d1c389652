"""SimNetwork and SimTransport: delivery in order after a latency, back-pressure, close,
abort and kill, and the host-pair faults (sever, cut, slow, reset, heal)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import pytest

from sim.world.recorder import Recorder
from tandemkv.runtime import open_connection
from tandemkv.storage.simfs import SimFileSystem
from tandemkv.testing.world import SimNetwork, SimProcess, SimRuntime, SimTransport, World

SERVER, CLIENT = "127.0.0.1", "127.0.0.2"
PORT = 6379


@dataclass
class Net:
    world: World
    network: SimNetwork
    server: SimProcess
    client: SimProcess
    accepted: list[Recorder] = field(default_factory=list)

    def dial(self, echo: bool = False) -> tuple[Recorder, asyncio.Task[SimTransport]]:
        recorder = Recorder(self.world, echo)
        connecting = self.network.connect(self.client, lambda: recorder, SERVER, PORT)
        return recorder, self.world.run(connecting, self.client)

    def connected(self) -> tuple[Recorder, SimTransport, Recorder]:
        recorder, task = self.dial()
        assert self.world.run_until(task.done, 1.0)
        return recorder, task.result(), self.accepted[-1]


def _net(seed: int = 1, echo: bool = False, **latency: float) -> Net:
    world = World(seed)
    network = SimNetwork(world, **latency)
    net = Net(world, network, world.spawn("server"), world.spawn("client"))
    network.place(net.client, CLIENT)

    def accept() -> Recorder:
        net.accepted.append(Recorder(world, echo))
        return net.accepted[-1]

    network.listen(net.server, accept, SERVER, PORT)
    return net


def test_an_echo_round_trip_takes_two_latencies() -> None:
    net = _net(echo=True)
    client, task = net.dial()
    net.world.run_until(task.done, 1.0)
    transport = task.result()
    [server] = net.accepted
    assert server.events[0][1] == "made" and client.events[0][1] == "made"
    assert server.events[0][0] <= client.events[0][0]  # the acceptor is connected first
    sent_at = net.world.now
    transport.write(b"hello")
    net.world.run_for(0.1)
    assert client.data == b"hello"
    round_trip = client.events[-1][0] - sent_at
    assert 2 * 0.0002 <= round_trip <= 2 * 0.002
    assert transport.get_extra_info("peername") == (SERVER, PORT)
    assert server.transport is not None
    assert server.transport.get_extra_info("peername") == transport.get_extra_info("sockname")
    assert transport.get_extra_info("socket") is None
    assert transport.get_extra_info("peercert") is None
    assert net.network.stats.bytes_delivered == 10


def test_bytes_arrive_in_write_order_under_widely_random_latency() -> None:
    net = _net(min_latency=0.001, max_latency=0.5)
    _, transport, server = net.connected()
    for i in range(200):
        transport.write(b"%d," % i)
    net.world.run_for(2.0)
    assert server.data == b"".join(b"%d," % i for i in range(200))
    times = [when for when, kind, _ in server.events if kind == "data"]
    assert times == sorted(times) and times[-1] - times[0] > 0.001


def test_asyncio_streams_work_over_the_runtime() -> None:
    net = _net(echo=True)
    runtime = SimRuntime(
        net.world, net.client, net.network, SimFileSystem(random.Random(1)), CLIENT
    )

    async def ask() -> bytes:
        reader, writer = await open_connection(runtime, SERVER, PORT)
        writer.write(b"ping\n")
        await writer.drain()
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return line

    task = net.world.run(ask(), net.client)
    assert net.world.run_until(task.done, 1.0)
    assert task.result() == b"ping\n"
    net.world.run_for(0.1)
    assert net.accepted[0].lost is None  # the server saw an orderly close
    assert net.world.errors() == []


def test_paused_reading_holds_bytes_and_back_pressure_reaches_the_writer() -> None:
    net = _net()
    client, transport, server = net.connected()
    assert server.transport is not None
    server.transport.pause_reading()
    assert not server.transport.is_reading()
    transport.write(b"x" * 60)
    transport.write(b"y" * 60)
    net.world.run_for(0.1)
    assert client.write_pauses == 0  # under the default 64 KiB
    transport.set_write_buffer_limits(high=100)
    assert transport.get_write_buffer_limits() == (25, 100)
    assert server.data == b""
    assert transport.get_write_buffer_size() == 120
    assert (client.write_pauses, client.write_resumes) == (1, 0)
    server.transport.resume_reading()
    net.world.run_for(0.1)
    assert server.data == b"x" * 60 + b"y" * 60
    assert transport.get_write_buffer_size() == 0
    assert (client.write_pauses, client.write_resumes) == (1, 1)


def test_close_delivers_what_was_written_then_an_orderly_end_to_both_sides() -> None:
    net = _net()
    client, transport, server = net.connected()
    transport.write(b"last words")
    transport.close()
    assert transport.is_closing()
    transport.write(b"too late")  # dropped, as asyncio ignores it
    net.world.run_for(0.1)
    assert server.data == b"last words"
    assert server.lost is None and client.lost is None
    assert [kind for _, kind, _ in server.events] == ["made", "data", "lost"]


def test_close_waits_for_bytes_held_by_a_paused_reader() -> None:
    net = _net()
    _, transport, server = net.connected()
    assert server.transport is not None
    server.transport.pause_reading()
    transport.write(b"held")
    transport.close()
    net.world.run_for(0.1)
    assert server.lost is False
    server.transport.resume_reading()
    net.world.run_for(0.1)
    assert server.data == b"held" and server.lost is None


def test_abort_loses_in_flight_bytes_and_resets_the_peer() -> None:
    net = _net()
    client, transport, server = net.connected()
    transport.write(b"never arrives")
    transport.abort()
    net.world.run_for(0.1)
    assert server.data == b""
    assert isinstance(server.lost, ConnectionResetError)
    assert client.lost is None


def test_killing_a_process_resets_its_connections_and_closes_its_listeners() -> None:
    net = _net()
    client, transport, _ = net.connected()
    net.world.kill(net.server)
    net.world.run_for(0.1)
    assert isinstance(client.lost, ConnectionResetError)
    assert transport.is_closing()
    _, task = net.dial()
    net.world.run_for(0.1)
    assert isinstance(task.exception(), ConnectionRefusedError)
    restarted = net.world.spawn("server")
    net.network.listen(restarted, lambda: Recorder(net.world), SERVER, PORT)  # port free
    _, task = net.dial()
    net.world.run_for(0.1)
    assert isinstance(task.result(), SimTransport)
    assert net.world.errors() == []


def test_nothing_listening_refuses_and_port_zero_picks_a_free_port() -> None:
    net = _net()
    _, task = net.dial()
    net.network.listeners[(SERVER, PORT)].close()
    net.world.run_for(0.1)
    assert isinstance(task.exception(), ConnectionRefusedError)
    other = net.world.spawn("other")
    _, first = net.network.listen(other, lambda: Recorder(net.world), SERVER, 0)
    _, second = net.network.listen(other, lambda: Recorder(net.world), SERVER, 0)
    assert first[0] == SERVER and first[1] != second[1]
    with pytest.raises(OSError, match="in use"):
        net.network.listen(other, lambda: Recorder(net.world), *first)


def test_sever_resets_open_connections_and_refuses_until_healed() -> None:
    net = _net()
    client, _, server = net.connected()
    net.network.sever(CLIENT, SERVER)
    net.world.run_for(0.1)
    assert isinstance(client.lost, ConnectionResetError)
    assert isinstance(server.lost, ConnectionResetError)
    _, task = net.dial()
    net.world.run_for(0.1)
    assert isinstance(task.exception(), ConnectionRefusedError)
    net.network.heal(SERVER, CLIENT)
    _, task = net.dial()
    net.world.run_for(0.1)
    assert isinstance(task.result(), SimTransport)


def test_cut_drops_one_direction_only_until_healed() -> None:
    net = _net()
    client, transport, server = net.connected()
    assert server.transport is not None
    net.network.cut(CLIENT, SERVER)
    transport.write(b"lost")
    server.transport.write(b"still flows")
    net.world.run_for(0.1)
    assert server.data == b"" and client.data == b"still flows"
    assert net.network.stats.bytes_dropped == 4
    assert not transport.is_closing()  # a stalled link, not a broken one
    net.network.heal_all()
    transport.write(b"back")
    net.world.run_for(0.1)
    assert server.data == b"back"


def test_slow_adds_latency_to_one_direction() -> None:
    net = _net(echo=True)
    client, transport, server = net.connected()
    net.network.slow(CLIENT, SERVER, 1.0)
    sent_at = net.world.now
    transport.write(b"slow")
    net.world.run_for(2.0)
    assert 1.0 < server.events[-1][0] - sent_at < 1.01
    assert 1.0 < client.events[-1][0] - sent_at < 1.01  # the way back is fast


def test_reset_breaks_open_connections_once() -> None:
    net = _net()
    client, _, server = net.connected()
    net.network.reset(SERVER, CLIENT)
    net.world.run_for(0.1)
    assert isinstance(client.lost, ConnectionResetError)
    assert isinstance(server.lost, ConnectionResetError)
    _, task = net.dial()
    net.world.run_for(0.1)
    assert isinstance(task.result(), SimTransport)
    assert net.network.stats.resets == 1


def test_a_connect_abandoned_by_its_timeout_is_reset_on_the_acceptor() -> None:
    net = _net()
    net.world.pause(net.server, 5.0)  # it cannot accept before then
    recorder = Recorder(net.world)

    async def hurried() -> None:
        connecting = net.network.connect(net.client, lambda: recorder, SERVER, PORT)
        await asyncio.wait_for(connecting, 1.0)

    task = net.world.run(hurried(), net.client)
    net.world.run_for(10.0)
    assert isinstance(task.exception(), TimeoutError)
    [server] = net.accepted
    assert isinstance(server.lost, ConnectionResetError)
    assert recorder.events == []
    assert net.world.errors() == []


def test_a_dial_to_a_process_killed_before_it_accepts_is_refused() -> None:
    net = _net()
    net.world.pause(net.server, 5.0)
    _, task = net.dial()
    net.world.run_for(1.0)
    assert not task.done()  # waiting on the paused acceptor
    net.world.kill(net.server)
    net.world.run_for(1.0)
    assert isinstance(task.exception(), ConnectionRefusedError)


def test_bytes_written_by_the_acceptor_on_connect_reach_the_dialer() -> None:
    net = _net()

    class Greeter(Recorder):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            assert self.transport is not None
            self.transport.write(b"-ERR max clients\r\n")
            self.transport.close()

    net.network.listeners[(SERVER, PORT)].close()
    net.network.listen(net.server, lambda: Greeter(net.world), SERVER, PORT)
    client, task = net.dial()
    net.world.run_for(0.1)
    assert client.data == b"-ERR max clients\r\n"
    assert client.lost is None and task.result().is_closing()


def test_a_dialer_killed_before_it_is_accepted_leaves_nothing_behind() -> None:
    net = _net()
    net.world.pause(net.server, 1.0)
    net.dial()
    net.world.run_for(0.1)
    net.world.kill(net.client)
    net.world.run_for(2.0)
    assert net.accepted == []
    assert net.world.errors() == []
