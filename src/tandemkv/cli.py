"""The `tandemkv` command line: argument parsing only; the work happens elsewhere."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tandemkv import BUILD, __version__
from tandemkv.config import DEFAULT_ADDRESS, DEFAULT_DB_PATH, ConfigError, load_config
from tandemkv.storage.syncer import FsyncPolicy

# Exit codes a script can rely on.
EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options accepted before or after the verb: `--server X get k` or `get --server X k`."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--db-path",
        metavar="DIR",
        default=default,
        help=f"data directory (default {DEFAULT_DB_PATH}; env TANDEMKV_DB_PATH)",
    )
    parser.add_argument(
        "--server",
        metavar="HOST:PORT",
        default=default,
        help="server for client verbs (env TANDEMKV_SERVER; default "
        f"{DEFAULT_ADDRESS}, or the one server or group running on this "
        "machine if none is there)",
    )
    parser.add_argument(
        "--password",
        metavar="PASSWORD",
        default=default,
        help="password for client verbs (env TANDEMKV_PASSWORD)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tandemkv",
        description="A durable, replicated key-value store that speaks the Redis protocol.",
    )
    parser.add_argument(
        "--version", action="version", version=f"tandemkv {__version__}, {BUILD.describe()}"
    )
    _global_options(parser, suppress=False)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    server = verbs.add_parser(
        "server",
        help="run a node",
        description="Run a tandemkv node until SIGTERM, SIGINT or SHUTDOWN.",
    )
    _global_options(server, suppress=True)
    server.add_argument(
        "--address",
        metavar="HOST:PORT",
        help=f"where to listen (default {DEFAULT_ADDRESS}; port 0 picks a free one)",
    )
    server.add_argument(
        "--config",
        dest="config_file",
        metavar="FILE.toml",
        help="TOML file of settings (flags and TANDEMKV_* env override it)",
    )
    server.add_argument("--requirepass", metavar="PASSWORD", help="require AUTH with this password")
    server.add_argument(
        "--protected-mode",
        choices=("yes", "no"),
        help="refuse a non-loopback address without a password (default yes)",
    )
    server.add_argument(
        "--maxclients",
        type=int,
        metavar="N",
        help="most client connections at once (default 10000)",
    )
    server.add_argument(
        "--timeout",
        type=int,
        metavar="SECONDS",
        help="close clients idle this long (default 0: never)",
    )
    server.add_argument(
        "--fsync",
        choices=tuple(FsyncPolicy),
        help="when the log is fsynced: before each reply (always), about once "
        "a second (everysec, the default), or when the OS likes (no)",
    )
    server.add_argument(
        "--appendonly",
        choices=("yes", "no"),
        help="log every write (default yes); with no, only SAVE/BGSAVE "
        "snapshots persist data and later writes are lost on restart",
    )
    server.add_argument(
        "--truncate-corrupt-log",
        action="store_true",
        default=None,
        help="start even though the log is corrupt mid-file, dropping "
        "everything from the damage on (a copy is kept)",
    )
    server.add_argument(
        "--parser",
        choices=("auto", "python", "hiredis"),
        help="request parser (default auto: hiredis if installed)",
    )
    server.add_argument(
        "--event-loop",
        choices=("auto", "asyncio", "uvloop"),
        help="event loop (default auto: uvloop if installed)",
    )
    cluster = server.add_argument_group(
        "cluster mode",
        "primary-backup replication with automatic failover "
        "(docs/operations.md); a restarted member needs none of these",
    )
    cluster.add_argument(
        "--role",
        choices=("primary", "backup", "witness"),
        help="primary: start a new group; backup or witness: join the group of --primary",
    )
    cluster.add_argument(
        "--primary",
        metavar="HOST:PORT",
        help="a member of the group to join (any member: it redirects)",
    )
    cluster.add_argument(
        "--learner",
        action="store_true",
        default=None,
        help="join as a backup that never votes or becomes primary",
    )
    cluster.add_argument(
        "--advertise",
        metavar="HOST:PORT",
        help="the address other nodes and clients use (default --address)",
    )
    cluster.add_argument(
        "--cluster-secret",
        metavar="SECRET",
        help="shared by all nodes; required unless all are on loopback "
        "(env TANDEMKV_CLUSTER_SECRET)",
    )
    cluster.add_argument(
        "--group-name", metavar="NAME", help="the name Sentinel clients ask for (default tandemkv)"
    )
    cluster.add_argument(
        "--ack",
        choices=("majority", "leader"),
        help="reply to a write once a majority stored it (default; "
        "survives failover) or once the primary did (faster, may lose it)",
    )
    cluster.add_argument(
        "--read-mode",
        choices=("index", "lease"),
        help="how the primary confirms reads: a heartbeat round (default) "
        "or a time lease (faster; assumes bounded clock drift)",
    )
    cluster.add_argument(
        "--heartbeat-ms", type=int, metavar="MS", help="primary heartbeat interval (default 100)"
    )
    cluster.add_argument(
        "--election-ms",
        type=int,
        metavar="MS",
        help="silence before a backup stands for election, randomised up "
        "to twice this (default 400)",
    )
    cluster.add_argument(
        "--replica-max-lag-ms",
        type=int,
        metavar="MS",
        help="READONLY reads on a backup fail after this long without "
        "hearing from a primary (default 10000)",
    )
    cluster.add_argument(
        "--backup-scheduling",
        choices=("batch", "normal"),
        help="CPU scheduling while not primary (Linux): batch keeps a backup "
        "woken by the primary from preempting it on a shared machine "
        "(default batch)",
    )
    cluster.add_argument(
        "--peer-route",
        action="append",
        metavar="ADDR=VIA",
        help="dial VIA to reach the peer that advertises ADDR (repeatable)",
    )

    put = verbs.add_parser("put", help="store a value", description="Set KEY to VALUE.")
    _global_options(put, suppress=True)
    put.add_argument("key")
    put.add_argument("value")

    get = verbs.add_parser(
        "get",
        help="print a value",
        description="Print KEY's value; exit 1 if the key does not exist.",
    )
    _global_options(get, suppress=True)
    get.add_argument("key")

    delete = verbs.add_parser(
        "delete", help="remove a key", description="Remove KEY; exit 1 if it did not exist."
    )
    _global_options(delete, suppress=True)
    delete.add_argument("key")

    keys = verbs.add_parser(
        "keys",
        help="list keys",
        description="Print the keys matching PATTERN (default *), one a line.",
    )
    _global_options(keys, suppress=True)
    keys.add_argument("pattern", nargs="?", default="*")

    load = verbs.add_parser(
        "import",
        help="load keys from a JSON file",
        description='Load {"data": {"key": "value", ...}} (the seed\'s format) into the '
        "store. The whole file is checked first: on any error nothing is written.",
    )
    _global_options(load, suppress=True)
    load.add_argument("file", metavar="FILE.json")

    dump = verbs.add_parser(
        "export",
        help="write every key to a JSON file",
        description='Write {"data": {"key": "value", ...}} (the seed\'s format). Keys or '
        'values that are not UTF-8 go, base64-encoded, under a separate "binary" object '
        "that import reads back.",
    )
    _global_options(dump, suppress=True)
    dump.add_argument("file", metavar="FILE.json")
    _cluster_verbs(verbs)
    return parser


def _cluster_verbs(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add = verbs.add_parser(
        "add-backup",
        help="add a node to a group",
        description="Ask the group's primary to add the node at --backup, which must be running "
        "(tandemkv server --role backup). Prints OK once it is a member that votes (with "
        "--learner: once it is a member).",
    )
    _global_options(add, suppress=True)
    add.add_argument(
        "--primary",
        metavar="HOST:PORT",
        help="the primary, or any member: it redirects (default: as --server)",
    )
    add.add_argument("--backup", metavar="HOST:PORT", required=True, help="the node to add")
    add.add_argument(
        "--witness", action="store_true", help="add it as a witness: votes, stores no values"
    )
    add.add_argument(
        "--learner", action="store_true", help="add it as a learner: stores values, never votes"
    )

    remove = verbs.add_parser(
        "remove-node",
        help="remove a member from its group",
        description="Remove NODE (a node id or HOST:PORT, as `tandemkv status` lists them) "
        "from the group of --server; the command goes to the primary.",
    )
    _global_options(remove, suppress=True)
    remove.add_argument("node", metavar="NODE")

    failover = verbs.add_parser(
        "failover",
        help="hand the primary role to a backup",
        description="Make a caught-up backup the primary (the most caught-up one unless --to "
        "names it), then print the new primary's HOST:PORT.",
    )
    _global_options(failover, suppress=True)
    failover.add_argument("--to", metavar="HOST:PORT", help="the backup to hand over to")

    promote = verbs.add_parser(
        "promote",
        help="make a node the only voter of a group that lost its majority",
        description="Force the node at --server to become the primary and only voter of its "
        "group. Writes the lost majority acknowledged that this node lacks are lost, and "
        "every other member must be wiped before it rejoins. Asks for confirmation.",
    )
    _global_options(promote, suppress=True)
    promote.add_argument(
        "--force",
        action="store_true",
        help="required: say that you accept the loss described above",
    )
    promote.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    status = verbs.add_parser(
        "status",
        help="show every member of the group",
        description="Show every member of --server's group: id, address, role, term, log "
        "indexes, lag, health and last contact. Works from any member.",
    )
    _global_options(status, suppress=True)
    status.add_argument("--json", action="store_true", help="print the data as JSON")


CLUSTER_VERBS = ("add-backup", "remove-node", "failover", "promote", "status")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verb == "server":
        return _run_server(args)
    if args.verb in CLUSTER_VERBS:
        from tandemkv.cluster_verbs import run_cluster_verb

        return run_cluster_verb(args)
    from tandemkv.client_verbs import run_client_verb

    return run_client_verb(args)


def _run_server(args: argparse.Namespace) -> int:
    from tandemkv.server.run import run_server

    flags = {
        "db_path": args.db_path,
        "address": args.address,
        "config_file": args.config_file,
        "requirepass": args.requirepass,
        "protected_mode": args.protected_mode,
        "maxclients": args.maxclients,
        "timeout": args.timeout,
        "parser": args.parser,
        "event_loop": args.event_loop,
        "fsync": args.fsync,
        "appendonly": args.appendonly,
        "truncate_corrupt_log": args.truncate_corrupt_log,
        "role": args.role,
        "primary": args.primary,
        "learner": args.learner,
        "advertise": args.advertise,
        "cluster_secret": args.cluster_secret,
        "group_name": args.group_name,
        "ack": args.ack,
        "read_mode": args.read_mode,
        "heartbeat_ms": args.heartbeat_ms,
        "election_ms": args.election_ms,
        "replica_max_lag_ms": args.replica_max_lag_ms,
        "backup_scheduling": args.backup_scheduling,
        "peer_routes": ",".join(args.peer_route) if args.peer_route else None,
    }
    try:
        config = load_config(flags)
    except ConfigError as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return EXIT_USAGE
    return run_server(config)


if __name__ == "__main__":
    sys.exit(main())
