"""Pub/sub on the engine: confirmations, subscribed mode, delivery through the broker's sink,
PUBSUB introspection, the Publish mutation (logged, replayed as a no-op, delivered by a
backup applying it live but not when its log is history), and a model-based property test.

Replies are compared as the bytes a client would read, decoded back to values: several
confirmations of one command (SUBSCRIBE a b) arrive as one pre-encoded reply.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tandemkv.commands.session import Session
from tandemkv.node import applying
from tandemkv.protocol.encoder import encode_reply
from tandemkv.protocol.types import ErrorReply, Push
from tandemkv.replication import Entry
from tandemkv.storage.codec import decode_mutation, encode_mutation
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.mutation import Batch, Publish, SetValue
from tandemkv.storage.store import keyspace_items, load_items

from .harness import Client, World, arity_err, contents, replay

SUBSCRIBED_ONLY = (
    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
    "are allowed in this context"
)


@dataclass(frozen=True)
class Pushed:
    """A push frame as a RESP3 client reads it (RESP2 clients read a plain array)."""

    items: list[object]


def decode(data: bytes) -> list[object]:
    """Every reply in `data`: arrays as lists, push frames as Pushed, errors as ErrorReply."""
    values: list[object] = []
    pos = 0

    def read() -> object:
        nonlocal pos
        end = data.index(b"\r\n", pos)
        kind, rest = data[pos : pos + 1], data[pos + 1 : end]
        pos = end + 2
        if kind == b"$":
            if int(rest) < 0:
                return None
            value = data[pos : pos + int(rest)]
            pos += int(rest) + 2
            return value
        if kind == b":":
            return int(rest)
        if kind == b"_":
            return None
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return ErrorReply(rest.decode())
        if kind == b"%":  # a map (HELLO 3): its keys and values, flat
            return [read() for _ in range(2 * int(rest))]
        items = [read() for _ in range(int(rest))]
        return Pushed(items) if kind == b">" else items

    while pos < len(data):
        values.append(read())
    return values


class Sink:
    """The broker's delivery callback: what each session was sent, as its client reads it."""

    def __init__(self) -> None:
        self.sent: dict[int, list[object]] = {}

    def __call__(self, session: Session, message: Push) -> None:
        frames = decode(encode_reply(message, session.resp == 3))
        self.sent.setdefault(session.id, []).extend(frames)

    def take(self, client: Client) -> list[object]:
        return self.sent.pop(client.session.id, [])


@pytest.fixture
def sink(world: World) -> Sink:
    collected = Sink()
    world.engine.broker.sink = collected
    return collected


def call(client: Client, *args: object) -> list[object]:
    """The replies a client reads for one command."""
    reply = client(*args)  # type: ignore[arg-type]
    return decode(encode_reply(reply, client.session.resp == 3))


def resp3(world: World) -> Client:
    client = world.client()
    assert isinstance(client("HELLO", "3"), dict)
    return client


# ------------------------------------------------------------------ confirmations


def test_subscribe_confirms_each_channel_with_the_running_count(world: World) -> None:
    c = world.client()
    assert call(c, "SUBSCRIBE", "a", "b", "a") == [
        [b"subscribe", b"a", 1],
        [b"subscribe", b"b", 2],
        [b"subscribe", b"a", 2],
    ]
    assert call(c, "PSUBSCRIBE", "x*") == [[b"psubscribe", b"x*", 3]]
    # Without arguments: every channel in subscription order; patterns still count.
    assert call(c, "UNSUBSCRIBE") == [[b"unsubscribe", b"a", 2], [b"unsubscribe", b"b", 1]]
    assert call(c, "UNSUBSCRIBE") == [[b"unsubscribe", None, 1]]
    assert call(c, "PUNSUBSCRIBE", "nope", "x*") == [
        [b"punsubscribe", b"nope", 1],
        [b"punsubscribe", b"x*", 0],
    ]
    assert call(c, "PUNSUBSCRIBE") == [[b"punsubscribe", None, 0]]
    assert c("GET", "k") is None  # out of subscribed mode


def test_unsubscribing_while_not_subscribed_answers_with_a_null_channel(world: World) -> None:
    c = world.client()
    assert call(c, "UNSUBSCRIBE") == [[b"unsubscribe", None, 0]]
    assert call(c, "PUNSUBSCRIBE", "p") == [[b"punsubscribe", b"p", 0]]
    assert world.engine.broker.listeners == {}


def test_arity(world: World) -> None:
    c = world.client()
    assert c("SUBSCRIBE") == arity_err("subscribe")
    assert c("PSUBSCRIBE") == arity_err("psubscribe")
    assert c("PUBLISH", "ch") == arity_err("publish")
    assert c("PUBSUB") == arity_err("pubsub")


def test_resp3_confirmations_are_push_frames_with_a_resp3_null(world: World) -> None:
    c = resp3(world)
    assert call(c, "SUBSCRIBE", "a", "b") == [
        Pushed([b"subscribe", b"a", 1]),
        Pushed([b"subscribe", b"b", 2]),
    ]
    assert encode_reply(c("PUNSUBSCRIBE"), True) == b">3\r\n$12\r\npunsubscribe\r\n_\r\n:2\r\n"


# ------------------------------------------------------------------ subscribed mode


def test_resp2_subscribed_mode_allows_only_the_subscription_commands(world: World) -> None:
    c = world.client()
    c("SUBSCRIBE", "a")
    assert c("GET", "k") == ErrorReply(SUBSCRIBED_ONLY.format("get"))
    assert c("CLIENT", "LIST") == ErrorReply(SUBSCRIBED_ONLY.format("client|list"))
    assert c("PUBSUB", "NUMPAT") == ErrorReply(SUBSCRIBED_ONLY.format("pubsub|numpat"))
    assert c("MULTI") == ErrorReply(SUBSCRIBED_ONLY.format("multi"))
    assert c("HELLO", "3") == ErrorReply(SUBSCRIBED_ONLY.format("hello"))
    # Unknown commands and arity are checked first, as in Redis.
    assert c("CLIENT") == arity_err("client")
    assert c("PING", "a", "b") == arity_err("ping")
    assert c("PING") == [b"pong", b""]
    assert c("PING", "hi") == [b"pong", b"hi"]
    assert call(c, "SUBSCRIBE", "b") == [[b"subscribe", b"b", 2]]
    assert c("QUIT") == "OK"


def test_resp3_subscribers_run_any_command(world: World) -> None:
    c = resp3(world)
    c("SUBSCRIBE", "a")
    assert c("PING") == "PONG"
    assert c("SET", "k", "v") == "OK"
    assert c("GET", "k") == b"v"
    # Back to RESP2 with subscriptions: subscribed mode starts.
    c("HELLO", "2")
    assert c("GET", "k") == ErrorReply(SUBSCRIBED_ONLY.format("get"))


def test_reset_leaves_subscribed_mode(world: World, sink: Sink) -> None:
    c, other = world.client(), world.client()
    c("SUBSCRIBE", "a")
    c("PSUBSCRIBE", "*")
    assert c("RESET") == "RESET"
    assert c("GET", "k") is None
    assert other("PUBLISH", "a", "m") == 0
    assert sink.take(c) == []
    assert world.engine.broker.listeners == {}


def test_refused_commands_in_subscribed_mode_count_as_errors(world: World) -> None:
    c = world.client()
    c("SUBSCRIBE", "a")
    before = world.engine.stats.errors
    c("GET", "k")
    assert world.engine.stats.errors == before + 1


# ------------------------------------------------------------------ publishing


def test_publish_delivers_message_and_pmessage_and_counts_every_subscription(
    world: World, sink: Sink
) -> None:
    a, b, publisher = world.client(), world.client(), world.client()
    a("SUBSCRIBE", "news.tech")
    a("PSUBSCRIBE", "news.*")  # the same client counts twice
    b("PSUBSCRIBE", "news.*", "*tech", "sport")
    assert publisher("PUBLISH", "news.tech", "hi") == 4
    assert sink.take(a) == [
        [b"message", b"news.tech", b"hi"],
        [b"pmessage", b"news.*", b"news.tech", b"hi"],
    ]
    assert sink.take(b) == [
        [b"pmessage", b"news.*", b"news.tech", b"hi"],
        [b"pmessage", b"*tech", b"news.tech", b"hi"],
    ]
    assert publisher("PUBLISH", "nobody", "x") == 0
    assert sink.sent == {}
    assert world.mutations() == [Publish(b"news.tech", b"hi"), Publish(b"nobody", b"x")]


def test_resp3_messages_are_push_frames_and_precede_the_publish_reply(
    world: World, sink: Sink
) -> None:
    c = resp3(world)
    c("SUBSCRIBE", "me")
    # The engine delivers when it applies the Publish, before the handler's reply returns:
    # the connection writes the push first, as Redis does.
    assert c("PUBLISH", "me", "hello") == 1
    assert sink.take(c) == [Pushed([b"message", b"me", b"hello"])]


def test_binary_channels_and_messages_pass_through(world: World, sink: Sink) -> None:
    c, publisher = world.client(), world.client()
    channel, message = b"\x00\xff\r\n", b"\r\n*1\r\n\x00"
    c("SUBSCRIBE", channel)
    assert publisher("PUBLISH", channel, message) == 1
    assert sink.take(c) == [[b"message", channel, message]]


def test_a_pattern_too_complex_is_refused_before_subscribing_to_anything(world: World) -> None:
    c = world.client()
    reply = c("PSUBSCRIBE", "ok*", "[a]" * 20_000)
    assert isinstance(reply, ErrorReply) and "too complex" in reply.message
    assert world.engine.broker.listeners == {}


def test_publish_inside_exec_is_logged_in_the_batch_and_delivered(world: World, sink: Sink) -> None:
    c, publisher = world.client(), world.client()
    c("SUBSCRIBE", "ch")
    publisher("MULTI")
    publisher("SET", "k", "v")
    publisher("PUBLISH", "ch", "m")
    assert publisher("EXEC") == ["OK", 1]
    assert sink.take(c) == [[b"message", b"ch", b"m"]]
    assert world.mutations() == [Batch((SetValue(b"k", b"v"), Publish(b"ch", b"m")))]


def test_subscribe_inside_exec_confirms_inside_the_exec_reply(world: World) -> None:
    c = world.client()
    c("MULTI")
    c("SUBSCRIBE", "a", "b")
    # Like Redis: the two confirmations sit where EXEC's one reply for SUBSCRIBE goes.
    assert call(c, "EXEC") == [[[b"subscribe", b"a", 1]], [b"subscribe", b"b", 2]]
    assert c("GET", "k") == ErrorReply(SUBSCRIBED_ONLY.format("get"))


def test_a_dropped_session_leaves_every_registry(world: World, sink: Sink) -> None:
    c, publisher = world.client(), world.client()
    c("SUBSCRIBE", "a", "b")
    c("PSUBSCRIBE", "a*")
    broker = world.engine.broker
    broker.drop(c.session)
    assert (broker.listeners, broker.channels, broker.patterns) == ({}, {}, {})
    assert publisher("PUBLISH", "a", "m") == 0
    assert sink.take(c) == []


# ------------------------------------------------------------------ PUBSUB


def test_pubsub_introspection(world: World) -> None:
    a, b, c = world.client(), world.client(), world.client()
    a("SUBSCRIBE", "c1", "c2")
    b("SUBSCRIBE", "c1")
    a("PSUBSCRIBE", "x*", "y*")
    b("PSUBSCRIBE", "x*")
    assert c("PUBSUB", "CHANNELS") == [b"c1", b"c2"]
    assert c("PUBSUB", "channels", "*2") == [b"c2"]
    assert c("PUBSUB", "NUMSUB", "c1", "c2", "c3") == [b"c1", 2, b"c2", 1, b"c3", 0]
    assert c("PUBSUB", "NUMSUB") == []
    assert c("PUBSUB", "NUMPAT") == 2  # distinct patterns, as Redis 7 counts
    assert c("PUBSUB", "SHARDCHANNELS") == []
    assert c("PUBSUB", "SHARDNUMSUB", "c1") == [b"c1", 0]
    b("UNSUBSCRIBE")
    assert c("PUBSUB", "NUMSUB", "c1") == [b"c1", 1]


def test_pubsub_errors(world: World) -> None:
    c = world.client()
    assert c("PUBSUB", "foo") == ErrorReply("ERR unknown subcommand 'foo'. Try PUBSUB HELP.")
    assert c("PUBSUB", "NUMPAT", "x") == arity_err("pubsub|numpat")
    assert c("PUBSUB", "HELP", "x") == arity_err("pubsub|help")
    assert c("PUBSUB", "channels", "a", "b") == ErrorReply(
        "ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP."
    )
    help_reply = c("PUBSUB", "HELP")
    assert isinstance(help_reply, list) and len(help_reply) == 14
    assert c.session.last_command == "pubsub|help"


# ------------------------------------------------------------------ the log


def test_publish_replays_as_a_no_op_through_the_codec_and_snapshots(world: World) -> None:
    c = world.client()
    c("SET", "k", "v")
    c("PUBLISH", "ch", "m")
    c("MULTI")
    c("PUBLISH", "ch", b"\x00" * 300)
    c("HSET", "h", "f", "v")
    c("EXEC")
    logged = world.mutations()
    decoded = [decode_mutation(encode_mutation(m)) for m in logged]
    assert decoded == logged
    assert contents(replay(decoded)) == world.state()
    loaded = Keyspace()
    load_items(loaded, keyspace_items(world.engine.keyspace))
    assert contents(loaded) == world.state()


def test_the_publish_encoding_is_tag_40() -> None:
    assert encode_mutation(Publish(b"c", b"m")) == bytes((1, 40, 1)) + b"c" + bytes((1,)) + b"m"


def entry(index: int, mutation: object) -> Entry:
    return Entry(term=1, index=index, data=encode_mutation(mutation))  # type: ignore[arg-type]


def apply_committed(world: World, entries: list[Entry], index: int, witness: bool = False) -> int:
    """node/applying.py as a node applies committed entries: the keyspace index after."""
    engine = world.engine
    return applying.apply_entries(engine.keyspace, engine.broker, entries, index, witness)


def test_a_backup_delivers_what_it_applies_live_but_not_history(world: World, sink: Sink) -> None:
    c = world.client()
    c("SUBSCRIBE", "ch")
    world.engine.broker.delivered_through = 2  # the log held 2 entries when it started
    entries = [
        entry(1, Publish(b"ch", b"old")),
        entry(2, Batch((SetValue(b"k", b"v"), Publish(b"ch", b"old too")))),
        entry(3, Publish(b"ch", b"new")),
        entry(4, Batch((SetValue(b"k", b"w"), Publish(b"ch", b"in a batch")))),
        entry(5, Publish(b"other", b"nobody listens")),
    ]
    index = apply_committed(world, entries, 0)
    assert sink.take(c) == [[b"message", b"ch", b"new"], [b"message", b"ch", b"in a batch"]]
    assert world.engine.keyspace.get(b"k", 0) == b"w"
    assert index == 5
    # Entries the node already executed (as primary) are skipped, messages included.
    assert apply_committed(world, [entry(5, Publish(b"ch", b"again"))], index) == 5
    assert sink.take(c) == []


def test_a_witness_delivers_nothing(world: World, sink: Sink) -> None:
    c = world.client()
    c("SUBSCRIBE", "ch")
    assert apply_committed(world, [entry(1, Publish(b"ch", b"m"))], 0, witness=True) == 1
    assert sink.take(c) == []


# ------------------------------------------------------------------ the gate


@dataclass
class BackupNode:
    writable: bool = False
    removed: bool = False
    is_leader: bool = False
    is_witness: bool = False
    transferring: bool = False

    def primary_address(self) -> str:
        return "127.0.0.1:7001"


@pytest.mark.parametrize("removed", [False, True])
def test_a_backup_subscribes_but_refuses_publish(removed: bool) -> None:
    from tandemkv.node.gate import CommandGate

    world = World()
    gate = CommandGate(BackupNode(removed=removed))  # type: ignore[arg-type]
    world.engine.gate = gate
    c = world.client()
    assert call(c, "SUBSCRIBE", "a") == [[b"subscribe", b"a", 1]]
    assert call(c, "PSUBSCRIBE", "a*") == [[b"psubscribe", b"a*", 2]]
    c("RESET")
    assert c("PUBSUB", "NUMPAT") == 0
    refusal = c("PUBLISH", "a", "m")
    assert isinstance(refusal, ErrorReply) and refusal.message.startswith("READONLY")
    assert world.mutations() == []


# ------------------------------------------------------------------ model


CHANNELS = ["a", "b", "ab", "ba", "aa"]
PATTERNS = ["a*", "*b", "?a", "*", "b", "a?"]


class PubSubModel(RuleBasedStateMachine):
    """Sessions subscribing, unsubscribing and publishing, against sets of names and
    fnmatch (the channel and pattern alphabet holds no glob set syntax)."""

    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.sink = Sink()
        self.world.engine.broker.sink = self.sink
        self.clients = [self.world.client() for _ in range(3)]
        self.channels: list[set[str]] = [set() for _ in self.clients]
        self.patterns: list[set[str]] = [set() for _ in self.clients]

    def count(self, i: int) -> int:
        return len(self.channels[i]) + len(self.patterns[i])

    @rule(i=st.integers(0, 2), names=st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3))
    def subscribe(self, i: int, names: list[str]) -> None:
        expected = []
        for name in names:
            self.channels[i].add(name)
            expected.append([b"subscribe", name.encode(), self.count(i)])
        assert call(self.clients[i], "SUBSCRIBE", *names) == expected

    @rule(i=st.integers(0, 2), names=st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3))
    def psubscribe(self, i: int, names: list[str]) -> None:
        expected = []
        for name in names:
            self.patterns[i].add(name)
            expected.append([b"psubscribe", name.encode(), self.count(i)])
        assert call(self.clients[i], "PSUBSCRIBE", *names) == expected

    @rule(i=st.integers(0, 2), names=st.lists(st.sampled_from(CHANNELS), max_size=3))
    def unsubscribe(self, i: int, names: list[str]) -> None:
        replies = call(self.clients[i], "UNSUBSCRIBE", *names)
        if not names and not self.channels[i]:
            assert replies == [[b"unsubscribe", None, self.count(i)]]
            return
        if not names:
            assert sorted(r[1] for r in replies) == sorted(n.encode() for n in self.channels[i])  # type: ignore[index]
            names = [r[1].decode() for r in replies]  # type: ignore[index]
        expected = []
        for name in names:
            self.channels[i].discard(name)
            expected.append([b"unsubscribe", name.encode(), self.count(i)])
        assert replies == expected

    @rule(i=st.integers(0, 2), names=st.lists(st.sampled_from(PATTERNS), max_size=3))
    def punsubscribe(self, i: int, names: list[str]) -> None:
        replies = call(self.clients[i], "PUNSUBSCRIBE", *names)
        if not names and not self.patterns[i]:
            assert replies == [[b"punsubscribe", None, self.count(i)]]
            return
        if not names:
            names = [r[1].decode() for r in replies]  # type: ignore[index]
            assert sorted(names) == sorted(self.patterns[i])
        expected = []
        for name in names:
            self.patterns[i].discard(name)
            expected.append([b"punsubscribe", name.encode(), self.count(i)])
        assert replies == expected

    @rule(i=st.integers(0, 2))
    def reset(self, i: int) -> None:
        assert self.clients[i]("RESET") == "RESET"
        self.channels[i].clear()
        self.patterns[i].clear()

    @rule(channel=st.sampled_from(CHANNELS), message=st.binary(max_size=4))
    def publish(self, channel: str, message: bytes) -> None:
        publisher = self.world.client()  # not subscribed: RESP2 PUBLISH is allowed
        expected: dict[int, list[object]] = {}
        for i, client in enumerate(self.clients):
            got: list[object] = []
            if channel in self.channels[i]:
                got.append([b"message", channel.encode(), message])
            for pattern in sorted(self.patterns[i]):
                if fnmatch.fnmatchcase(channel, pattern):
                    got.append([b"pmessage", pattern.encode(), channel.encode(), message])
            if got:
                expected[client.session.id] = got
        count = sum(len(v) for v in expected.values())
        assert publisher("PUBLISH", channel, message) == count
        key = repr
        assert {k: sorted(v, key=key) for k, v in self.sink.sent.items()} == {
            k: sorted(v, key=key) for k, v in expected.items()
        }
        self.sink.sent.clear()

    @invariant()
    def introspection_agrees(self) -> None:
        admin = self.world.client()
        active = set().union(*self.channels)
        assert sorted(admin("PUBSUB", "CHANNELS")) == sorted(n.encode() for n in active)  # type: ignore[arg-type]
        assert admin("PUBSUB", "NUMPAT") == len(set().union(*self.patterns))
        numsub = admin("PUBSUB", "NUMSUB", *CHANNELS)
        assert numsub == [
            x for n in CHANNELS for x in (n.encode(), sum(n in s for s in self.channels))
        ]
        for i, client in enumerate(self.clients):
            subscribed = bool(self.count(i))
            assert (client.session in self.world.engine.broker.listeners) == subscribed
            refused = client("ECHO", "x")
            assert isinstance(refused, ErrorReply) == subscribed


PubSubModel.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_pubsub_matches_the_model = PubSubModel.TestCase


def test_client_list_shows_subscriptions_and_blocked_clients() -> None:
    from tandemkv.commands.detached import DetachedHost

    class Host(DetachedHost):
        def __init__(self) -> None:
            super().__init__()
            self.all: list[object] = []

        def sessions(self):  # type: ignore[no-untyped-def]
            return self.all

        @property
        def can_block(self) -> bool:
            return True

    host = Host()
    world = World(host=host)
    subscriber, waiter, other = world.client(), world.client(), world.client()
    host.all = [subscriber.session, waiter.session, other.session]
    subscriber("SUBSCRIBE", "a", "b")
    subscriber("PSUBSCRIBE", "c*")
    waiter("BLPOP", "q", 0)
    lines = str(other("CLIENT", "LIST").text.decode()).splitlines()  # type: ignore[attr-defined]
    fields = [dict(f.split("=", 1) for f in line.split()) for line in lines]
    assert [(f["flags"], f["sub"], f["psub"], f["ssub"]) for f in fields] == [
        ("P", "2", "1", "0"),
        ("b", "0", "0", "0"),
        ("N", "0", "0", "0"),
    ]
    listed = other("CLIENT", "LIST", "TYPE", "pubsub").text.decode()  # type: ignore[attr-defined]
    assert [line.split()[0] for line in listed.splitlines()] == [f"id={subscriber.session.id}"]
    normal = other("CLIENT", "LIST", "TYPE", "normal").text.decode()  # type: ignore[attr-defined]
    assert len(normal.splitlines()) == 2
