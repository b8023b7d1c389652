"""Pub/sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB.

The registry is the engine's Broker (commands/broker.py); messages reach connections
through the sink the shell installs there. Shapes follow Redis 7.0: each (un)subscription
is confirmed by its own reply, `[kind, channel, count]` where count is the session's
channels and patterns together; in RESP3 these and the messages are push frames.

PUBLISH is a write: it answers how many subscribers of this node get the message and
logs a Publish, which the engine delivers here when it applies it and every backup
delivers when it applies the entry (node/applying.py). So a message published on the
primary reaches subscribers on every member, and a backup refuses PUBLISH (READONLY):
publishers talk to the primary. The other commands run on any member.

RESP2 subscribed mode (a session with a subscription): `screen_subscribed` is what the
engine asks before running any command of such a session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.commands.errors import CommandError, unknown_subcommand
from tandemkv.commands.glob import Matcher, compile_glob
from tandemkv.commands.server import help_lines, note_subcommand
from tandemkv.commands.table import CommandSpec, Write, command
from tandemkv.protocol.encoder import encode_reply
from tandemkv.protocol.types import Encoded, Push
from tandemkv.storage.mutation import Publish

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session

# What a RESP2 client may send while subscribed, as Redis 7.0 allows (SSUBSCRIBE and
# SUNSUBSCRIBE are named for when sharded channels exist).
SUBSCRIBED_MODE_COMMANDS = frozenset(
    {
        "subscribe",
        "unsubscribe",
        "psubscribe",
        "punsubscribe",
        "ssubscribe",
        "sunsubscribe",
        "ping",
        "quit",
        "reset",
    }
)


def screen_subscribed(
    e: Engine, s: Session, spec: CommandSpec, args: list[bytes]
) -> CommandError | object | None:
    """For a session with subscriptions, before its command runs: a CommandError to refuse
    it with, a reply to answer in its place, or None to run it.

    RESET leaves subscribed mode (in either protocol); in RESP2 only the commands above
    run, and PING answers ["pong", message] as Redis does there."""
    name = spec.name
    if name == "reset":
        e.broker.drop(s)
        return None
    if s.resp != 2:
        return None
    if name == "ping":
        return [b"pong", args[1] if len(args) == 2 else b""] if len(args) <= 2 else None
    if name in SUBSCRIBED_MODE_COMMANDS:
        return None
    return CommandError(
        f"Can't execute '{_full_name(spec, args)}': only (P|S)SUBSCRIBE / "
        "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    )


def _full_name(spec: CommandSpec, args: list[bytes]) -> str:
    """Redis names a subcommand with its container: client|list."""
    if spec.subcommands and len(args) > 1:
        sub = args[1].decode("utf-8", "replace").lower()
        if sub in spec.subcommands:
            return f"{spec.name}|{sub}"
    return spec.name


def _replies(s: Session, pushes: list[Push]) -> object:
    """Several replies to one command (SUBSCRIBE a b confirms each channel): encoded
    back to back, as Redis writes them; inside EXEC they stay separate replies there too."""
    if len(pushes) == 1:
        return pushes[0]
    resp3 = s.resp == 3
    return Encoded(b"".join([encode_reply(push, resp3) for push in pushes]))


@command(
    "subscribe",
    -2,
    "pubsub noscript loading stale",
    group="pubsub",
    since="2.0.0",
    summary="Listen for messages published to the given channels",
    syntax="channel [channel ...]",
)
def subscribe(e: Engine, s: Session, args: list[bytes]) -> object:
    broker = e.broker
    return _replies(s, [Push((b"subscribe", ch, broker.subscribe(s, ch))) for ch in args[1:]])


@command(
    "unsubscribe",
    -1,
    "pubsub noscript loading stale",
    group="pubsub",
    since="2.0.0",
    summary="Stop listening for messages posted to the given channels",
    syntax="[channel [channel ...]]",
)
def unsubscribe(e: Engine, s: Session, args: list[bytes]) -> object:
    broker = e.broker
    channels = args[1:]
    if not channels:
        listener = broker.subscriptions(s)
        channels = list(listener.channels) if listener is not None else []
        if not channels:  # nothing to leave: one reply with a null channel
            return Push((b"unsubscribe", None, broker.count(s)))
    return _replies(s, [Push((b"unsubscribe", ch, broker.unsubscribe(s, ch))) for ch in channels])


@command(
    "psubscribe",
    -2,
    "pubsub noscript loading stale",
    group="pubsub",
    since="2.0.0",
    summary="Listen for messages published to channels matching the given patterns",
    syntax="pattern [pattern ...]",
)
def psubscribe(e: Engine, s: Session, args: list[bytes]) -> object:
    # Every pattern is compiled first, so one that is too complex refuses the command
    # before it subscribes to anything.
    matchers: list[Matcher] = [compile_glob(pattern) for pattern in args[1:]]
    broker = e.broker
    return _replies(
        s,
        [
            Push((b"psubscribe", pattern, broker.psubscribe(s, pattern, matches)))
            for pattern, matches in zip(args[1:], matchers, strict=True)
        ],
    )


@command(
    "punsubscribe",
    -1,
    "pubsub noscript loading stale",
    group="pubsub",
    since="2.0.0",
    summary="Stop listening for messages posted to channels matching the given patterns",
    syntax="[pattern [pattern ...]]",
)
def punsubscribe(e: Engine, s: Session, args: list[bytes]) -> object:
    broker = e.broker
    patterns = args[1:]
    if not patterns:
        listener = broker.subscriptions(s)
        patterns = list(listener.patterns) if listener is not None else []
        if not patterns:
            return Push((b"punsubscribe", None, broker.count(s)))
    return _replies(s, [Push((b"punsubscribe", p, broker.punsubscribe(s, p))) for p in patterns])


@command(
    "publish",
    3,
    "write pubsub loading stale fast",
    group="pubsub",
    since="2.0.0",
    summary="Post a message to a channel",
    syntax="channel message",
)
def publish(e: Engine, s: Session, args: list[bytes]) -> object:
    # The engine delivers it when it applies the Publish, right after this returns.
    return Write(e.broker.receivers(args[1]), Publish(args[1], args[2]))


_PUBSUB_SUBCOMMANDS = ("channels", "numsub", "numpat", "shardchannels", "shardnumsub", "help")
# Redis's arity of each subcommand, counting PUBSUB and the subcommand.
_PUBSUB_ARITY = {
    b"CHANNELS": -2,
    b"NUMSUB": -2,
    b"NUMPAT": 2,
    b"SHARDCHANNELS": -2,
    b"SHARDNUMSUB": -2,
    b"HELP": 2,
}


@command(
    "pubsub",
    -2,
    "",
    group="pubsub",
    since="2.8.0",
    subcommands=_PUBSUB_SUBCOMMANDS,
    summary="Inspect the pub/sub state: active channels, subscriber and pattern counts",
    syntax="CHANNELS [pattern]|NUMSUB [channel ...]|NUMPAT|SHARDCHANNELS [pattern]|"
    "SHARDNUMSUB [channel ...]|HELP",
)
def pubsub(e: Engine, s: Session, args: list[bytes]) -> object:
    sub = args[1].upper()
    note_subcommand(s, "pubsub", sub, _PUBSUB_SUBCOMMANDS)
    arity = _PUBSUB_ARITY.get(sub)
    if arity is None:
        raise unknown_subcommand("pubsub", args[1])
    if len(args) < -arity if arity < 0 else len(args) != arity:
        raise CommandError(f"wrong number of arguments for 'pubsub|{sub.decode().lower()}' command")
    broker = e.broker
    if sub in (b"CHANNELS", b"SHARDCHANNELS"):
        if len(args) > 3:
            name = args[1].decode("utf-8", "replace")
            raise CommandError(
                f"unknown subcommand or wrong number of arguments for '{name}'. Try PUBSUB HELP."
            )
        if sub == b"SHARDCHANNELS":
            return []  # no sharded channels (SSUBSCRIBE) here
        return broker.active_channels(compile_glob(args[2]) if len(args) == 3 else None)
    if sub in (b"NUMSUB", b"SHARDNUMSUB"):
        counts: list[object] = []
        for channel in args[2:]:
            counts += [channel, broker.numsub(channel) if sub == b"NUMSUB" else 0]
        return counts
    if sub == b"NUMPAT":
        return broker.numpat
    return help_lines(*PUBSUB_HELP)


PUBSUB_HELP = (
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
)
