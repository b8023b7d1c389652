"""Pub/sub subscriptions: which sessions listen to which channels and patterns.

Pure, like the rest of the command layer: the broker only keeps the registry and hands
each message to `sink(session, push)`, which the shell installs (server/app.py writes it
to the session's connection; tests collect it). Messages are never stored: a session that
is not subscribed when a message is published never sees it, as in Redis.

Every structure is a dict used as an ordered set, so replies that list subscriptions
(UNSUBSCRIBE with no channel, PUBSUB CHANNELS) come in subscription order, and a session
is found or removed in constant time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from tandemkv.commands.glob import Matcher

# At run time, not only for type checking (see the note in commands/waiters.py).
from tandemkv.commands.session import Session
from tandemkv.protocol.types import Push
from tandemkv.storage.mutation import Batch, Mutation, Publish

Sink = Callable[["Session", Push], None]


def _discard(session: Session, message: Push) -> None:
    """The sink until a shell installs one: an engine with no connections."""


class Listener:
    """One session's subscriptions."""

    __slots__ = ("channels", "patterns")

    def __init__(self) -> None:
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}

    @property
    def count(self) -> int:
        """What subscription confirmations count: channels and patterns together."""
        return len(self.channels) + len(self.patterns)


class _Pattern:
    __slots__ = ("matches", "sessions")

    def __init__(self, matches: Matcher) -> None:
        self.matches = matches
        self.sessions: dict[Session, None] = {}


class Broker:
    __slots__ = ("channels", "delivered_through", "listeners", "patterns", "sink")

    def __init__(self) -> None:
        self.channels: dict[bytes, dict[Session, None]] = {}
        self.patterns: dict[bytes, _Pattern] = {}
        # Only sessions with at least one subscription: being here is being in
        # subscribed mode (the engine checks it on every command of such a session).
        self.listeners: dict[Session, Listener] = {}
        self.sink: Sink = _discard
        # The log index through which messages count as history (node/applying.py): a
        # node applying older entries again (after a restart) does not deliver them.
        self.delivered_through = 0

    # ---------------------------------------------------------------- subscriptions

    def subscriptions(self, session: Session) -> Listener | None:
        return self.listeners.get(session)

    def count(self, session: Session) -> int:
        listener = self.listeners.get(session)
        return 0 if listener is None else listener.count

    def subscribe(self, session: Session, channel: bytes) -> int:
        """Add a channel subscription (a repeat changes nothing); the session's count."""
        listener = self._listener(session)
        if channel not in listener.channels:
            listener.channels[channel] = None
            self.channels.setdefault(channel, {})[session] = None
        return listener.count

    def unsubscribe(self, session: Session, channel: bytes) -> int:
        listener = self.listeners.get(session)
        if listener is None:
            return 0
        if listener.channels.pop(channel, 0) is None:
            sessions = self.channels[channel]
            del sessions[session]
            if not sessions:
                del self.channels[channel]
        return self._settle(session, listener)

    def psubscribe(self, session: Session, pattern: bytes, matches: Matcher) -> int:
        """Add a pattern subscription; `matches` is the compiled pattern."""
        listener = self._listener(session)
        if pattern not in listener.patterns:
            listener.patterns[pattern] = None
            entry = self.patterns.get(pattern)
            if entry is None:
                entry = self.patterns[pattern] = _Pattern(matches)
            entry.sessions[session] = None
        return listener.count

    def punsubscribe(self, session: Session, pattern: bytes) -> int:
        listener = self.listeners.get(session)
        if listener is None:
            return 0
        if listener.patterns.pop(pattern, 0) is None:
            sessions = self.patterns[pattern].sessions
            del sessions[session]
            if not sessions:
                del self.patterns[pattern]
        return self._settle(session, listener)

    def drop(self, session: Session) -> None:
        """Forget every subscription of `session` (RESET, a closed connection)."""
        listener = self.listeners.get(session)
        if listener is None:
            return
        for channel in list(listener.channels):
            self.unsubscribe(session, channel)
        for pattern in list(listener.patterns):
            self.punsubscribe(session, pattern)

    def _listener(self, session: Session) -> Listener:
        listener = self.listeners.get(session)
        if listener is None:
            listener = self.listeners[session] = Listener()
        return listener

    def _settle(self, session: Session, listener: Listener) -> int:
        count = listener.count
        if not count:
            del self.listeners[session]  # out of subscribed mode
        return count

    # ---------------------------------------------------------------- publishing

    def receivers(self, channel: bytes) -> int:
        """How many deliveries a message to `channel` makes: one per channel subscriber
        and one per matching pattern subscription (a session may count more than once)."""
        count = len(self.channels.get(channel, ()))
        for entry in self.patterns.values():
            if entry.matches(channel):
                count += len(entry.sessions)
        return count

    def publish(self, channel: bytes, message: bytes) -> int:
        """Hand `message` to every subscriber, channel subscribers first; the deliveries."""
        sink, count = self.sink, 0
        sessions = self.channels.get(channel)
        if sessions:
            push = Push((b"message", channel, message))
            count = len(sessions)
            # A copy: a sink may close a connection (output limit), which unsubscribes it.
            for session in list(sessions):
                sink(session, push)
        for pattern, entry in list(self.patterns.items()):
            if entry.matches(channel):
                push = Push((b"pmessage", pattern, channel, message))
                count += len(entry.sessions)
                for session in list(entry.sessions):
                    sink(session, push)
        return count

    def deliver(self, mutation: Mutation) -> None:
        """Publish what an applied log entry carries (a backup following its primary)."""
        for item in _publishes(mutation):
            self.publish(item.channel, item.message)

    # ---------------------------------------------------------------- introspection

    def active_channels(self, matches: Matcher | None) -> list[bytes]:
        """Channels with at least one subscriber (PUBSUB CHANNELS), matching if given."""
        if matches is None:
            return list(self.channels)
        return [channel for channel in self.channels if matches(channel)]

    def numsub(self, channel: bytes) -> int:
        return len(self.channels.get(channel, ()))

    @property
    def numpat(self) -> int:
        """Distinct patterns with a subscriber, as Redis 7 counts them."""
        return len(self.patterns)


def _publishes(mutation: Mutation) -> Iterator[Publish]:
    if type(mutation) is Publish:
        yield mutation
    elif type(mutation) is Batch:
        for item in mutation.items:
            yield from _publishes(item)
