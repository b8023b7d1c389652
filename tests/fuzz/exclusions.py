"""What the fuzzer never sends, and what it sends only rarely.

The rule is by flag, so a command added later with Redis's flags is handled without an
edit here; the few names below are what the flags cannot say. Each entry says why it is
out: a command that ends the run or changes the server's administration is not a hostile
request the server must survive, it is an operator's decision.

Kept in on purpose: AUTH and HELLO (no password is configured and CONFIG SET is out, so
neither can lock a client out); RESET; the node-to-node REPLICATE and HEARTBEAT, which an
ordinary client must be refused (NOPERM), exactly what a hostile client will try.
"""

from __future__ import annotations

from collections.abc import Sequence

from fuzz.table import CommandShape

# Flags (as COMMAND INFO reports them) whose commands are never drawn.
EXCLUDED_FLAGS: dict[str, str] = {
    # SHUTDOWN ends the run; SAVE blocks the server by design, as in Redis; ADD_BACKUP,
    # REMOVE_NODE, FAILOVER and PROMOTE change the group (Redis's DEBUG, MONITOR,
    # REPLICAOF and SYNC carry this flag too). See ADMIN_ALLOWED for the exceptions.
    "admin": "operator commands",
}

# Commands flagged admin that are safe to hammer.
ADMIN_ALLOWED: dict[bytes, str] = {
    b"config": "GET, RESETSTAT, REWRITE and HELP only report or refuse (SET is out below)",
    b"sentinel": "only reports where the primary is",
    b"bgsave": "snapshots in a forked child; drawn rarely (RARE)",
    b"slowlog": "reports (or forgets) the slow commands of the run",
    b"latency": "reports (or forgets) the latency samples of the run",
}

EXCLUDED_NAMES: dict[bytes, str] = {
    b"quit": "closes the connection by design; the runner would count a dropped connection",
    # PEER JOIN adds a member to the group (a group of one that gains an unreachable voter
    # loses its majority) and PEER STREAM switches the connection to binary frames.
    b"peer": "node-to-node handshakes that change the membership or the framing",
    # Subscribing turns the connection into a push stream: one request, no end of replies,
    # so nothing after it could be matched to its reply (and RESP2 refuses most commands
    # then). Unsubscribing answers once per channel named: several replies to one request.
    # By name, not by Redis's `pubsub` flag: that flag is on PUBLISH and PUBSUB too, which
    # answer once and are fuzzed, and tandemkv's COMMAND INFO does not report it.
    b"subscribe": "turns the connection into a push stream",
    b"psubscribe": "turns the connection into a push stream",
    b"ssubscribe": "turns the connection into a push stream",
    b"unsubscribe": "one reply per channel named",
    b"punsubscribe": "one reply per pattern named",
    b"sunsubscribe": "one reply per channel named",
}

# "command|subcommand": the rest of the command is fuzzed.
EXCLUDED_SUBCOMMANDS: dict[bytes, str] = {
    b"client|kill": "closes other clients' connections, the watchdog's included",
    b"client|pause": "stops every client by design",
    # A password locks every client out, `timeout` closes idle connections, `maxclients`
    # refuses new ones, `proto-max-bulk-len` changes what is a valid request.
    b"config|set": "changes the server's limits",
    # Users are the operator's: a random rule on `default` (resetpass, off, -@all) locks
    # out every client, the watchdog's included. The reporting subcommands are fuzzed.
    b"acl|setuser": "changes who may connect and what they may run",
    b"acl|deluser": "changes who may connect",
    b"acl|load": "replaces the users (refused without an aclfile, but not always)",
}

# Left out of the "clean" deep MULTIs (grammar.py), whose EXEC must run every queued
# request; commands flagged no_multi are left out by their flag. Ordinary MULTIs and
# pipelines still send them.
NOT_QUEUEABLE: dict[bytes, str] = {
    b"multi": "refused inside a transaction, which then aborts",
    b"exec": "ends the transaction early",
    b"discard": "ends the transaction early",
    b"reset": "ends the transaction early",
    b"heartbeat": "refused to clients (NOPERM; no flag says so), which aborts the EXEC",
}

# Relative weights below 1: commands drawn rarely. They wipe or copy the whole keyspace,
# which is allowed but would, drawn as often as GET, leave nothing else to fuzz against.
RARE: dict[bytes, float] = {
    b"flushall": 0.01,
    b"flushdb": 0.01,
    b"bgsave": 0.02,
}


def excluded_command(shape: CommandShape) -> bool:
    if shape.name in EXCLUDED_NAMES:
        return True
    return any(flag in EXCLUDED_FLAGS for flag in shape.flags) and (shape.name not in ADMIN_ALLOWED)


def excluded_request(args: Sequence[bytes], shapes: dict[bytes, CommandShape]) -> bool:
    """Whether a drawn request must not be sent (checked on every request, whatever drew
    it, so option words picked at random cannot spell an excluded subcommand)."""
    name = args[0].lower()
    shape = shapes.get(name)
    if shape is None or excluded_command(shape):
        return shape is not None
    return len(args) > 1 and name + b"|" + args[1].lower() in EXCLUDED_SUBCOMMANDS
