"""The `tandemkv` command line: argument parsing, and the one place a failure becomes one
line on stderr and an exit status (the table in EXIT_STATUSES, shown by --help)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tandemkv import BUILD, __version__
from tandemkv.client import AuthError, ClientError, NotRedisError, ServerError
from tandemkv.config import DEFAULT_ADDRESS, DEFAULT_DB_PATH, Config, ConfigError, load_config
from tandemkv.storage.errors import StorageError
from tandemkv.storage.syncer import FsyncPolicy

# Exit statuses a script can rely on; README.md has the same table.
EXIT_OK = 0
EXIT_NOT_FOUND = 1  # get/delete: no such key; server: could not start, or stopped on an error
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3  # connection failure: nothing answers, or no primary within the wait
EXIT_PROTOCOL = 4
EXIT_AUTH = 5
EXIT_DATA_DIR = 6
EXIT_SERVER_ERROR = 7
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

EXIT_STATUSES = (
    (EXIT_OK, "success"),
    (
        EXIT_NOT_FOUND,
        "get/delete: no such key; server: could not start (address in use, "
        "corrupt log...) or stopped on an error",
    ),
    (
        EXIT_USAGE,
        "usage error: a bad flag, argument, address or config file; an import/"
        "export file that cannot be read or written; an unsafe setting refused "
        "(protected mode); several servers to choose from",
    ),
    (
        EXIT_UNAVAILABLE,
        "connection failure: nothing answers at the address, the "
        "connection broke, TLS failed (an untrusted certificate, a TLS-only port "
        "without --tls), or the group had no primary within --wait-seconds",
    ),
    (EXIT_PROTOCOL, "protocol failure: what answered does not speak the Redis protocol"),
    (EXIT_AUTH, "authentication failure: a password is needed, or the one given is wrong"),
    (
        EXIT_DATA_DIR,
        "data-directory failure: missing (for get, delete, keys, export), a "
        "file, read-only, not permitted, or locked by a running server",
    ),
    (EXIT_SERVER_ERROR, "the server refused the command (an error reply, e.g. WRONGTYPE)"),
    (EXIT_INTERNAL, "internal error (a bug: TANDEMKV_DEBUG=1 shows the traceback)"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)

EXAMPLES = f"""\
examples:
  tandemkv server                                  a node on {DEFAULT_ADDRESS} ({DEFAULT_DB_PATH})
  tandemkv --config /etc/tandemkv.toml server      settings from a TOML file
  tandemkv put greeting hello                      OK
  tandemkv get greeting                            hello (exit 1 if there is no such key)
  tandemkv --server 10.0.0.5:7000 --password PW keys 'user:*'
  tandemkv --server 127.0.0.1:7001,127.0.0.1:7002 put k v   any member of a group
  tandemkv --db-path ./data export backup.json     a stopped node's directory, in-process
  tandemkv status                                  every member of the group
  tandemkv --server db1:6379 --tls --cacert ca.pem --cert me.pem --key me.key get k   TLS
"""


class Failure(Exception):
    """A failure the CLI reports as one line (the message) and an exit status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def exit_status_table() -> str:
    lines = ["exit status:"]
    lines += [f"  {code:<4} {meaning}" for code, meaning in EXIT_STATUSES]
    return "\n".join(lines)


def _global_options(parser: argparse.ArgumentParser, suppress: bool, client: bool) -> None:
    """Options accepted before or after the verb: `--server X get k` or `get --server X k`.
    Only client and cluster verbs take the client options (--server, --password...)."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--db-path",
        metavar="DIR",
        default=default,
        help=f"data directory (default {DEFAULT_DB_PATH}; env TANDEMKV_DB_PATH)"
        + (
            "; client verbs open it in-process, cluster verbs ask the server using it"
            if client
            else ""
        ),
    )
    parser.add_argument(
        "--config",
        dest="config_file",
        metavar="FILE.toml",
        default=default,
        help="TOML file of settings (flags and TANDEMKV_* env override it)"
        + ("; client verbs take the server's address and password from it" if client else ""),
    )
    if not client:
        return
    parser.add_argument(
        "--server",
        metavar="HOST:PORT[,HOST:PORT...]",
        default=default,
        help="server for client verbs, or several members of one group (env "
        f"TANDEMKV_SERVER; default {DEFAULT_ADDRESS}, or the one server or group running "
        "on this machine if none is there)",
    )
    parser.add_argument(
        "--password",
        metavar="PASSWORD",
        default=default,
        help="password for client verbs (env TANDEMKV_PASSWORD)",
    )
    parser.add_argument(
        "--user",
        metavar="NAME",
        default=default,
        help="ACL user for client verbs, with --password (env TANDEMKV_USER; default: default)",
    )
    parser.add_argument(
        "--wait-seconds",
        type=float,
        metavar="S",
        default=default,
        help="during a failover, retry for up to S seconds and follow the new primary "
        "(default 5; 0: fail at once)",
    )
    _client_tls_options(parser, default)


def _client_tls_options(parser: argparse.ArgumentParser, default: object) -> None:
    """redis-cli's names; the server's certificate is verified against the CA (not its
    host name, as redis-cli)."""
    parser.add_argument("--tls", action="store_true", default=default, help="connect with TLS")
    parser.add_argument(
        "--cacert",
        dest="tls_cacert",
        metavar="FILE",
        default=default,
        help="CA certificate(s) to verify the server with (default: the system's)",
    )
    parser.add_argument(
        "--cacertdir",
        dest="tls_cacertdir",
        metavar="DIR",
        default=default,
        help="a directory of CA certificates",
    )
    parser.add_argument(
        "--cert",
        dest="tls_cert",
        metavar="FILE",
        default=default,
        help="client certificate, if the server asks",
    )
    parser.add_argument(
        "--key", dest="tls_key", metavar="FILE", default=default, help="the --cert's private key"
    )
    parser.add_argument(
        "--sni",
        dest="tls_sni",
        metavar="NAME",
        default=default,
        help="server name to send (default: the host)",
    )
    parser.add_argument(
        "--insecure",
        dest="tls_insecure",
        action="store_true",
        default=default,
        help="do not verify the server's certificate (testing only)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tandemkv",
        description="A durable, replicated key-value store that speaks the Redis protocol.",
        epilog=EXAMPLES + "\n" + exit_status_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"tandemkv {__version__}, {BUILD.describe()}"
    )
    _global_options(parser, suppress=False, client=True)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    server = verbs.add_parser(
        "server",
        help="run a node",
        description="Run a tandemkv node until SIGTERM, SIGINT or SHUTDOWN.",
    )
    _global_options(server, suppress=True, client=False)
    server.add_argument(
        "--address",
        metavar="HOST:PORT",
        help=f"where to listen (default {DEFAULT_ADDRESS}; port 0 picks a free one)",
    )
    server.add_argument("--requirepass", metavar="PASSWORD", help="require AUTH with this password")
    server.add_argument(
        "--aclfile",
        metavar="FILE",
        help="Redis ACL file (`user NAME rules...` lines): the users of a new group, and "
        "what ACL LOAD and ACL SAVE read and write",
    )
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
        "--maxmemory",
        metavar="BYTES",
        help="memory limit for the data, as 104857600 or 100mb (default 0: none)",
    )
    server.add_argument(
        "--maxmemory-policy",
        metavar="POLICY",
        help="past the limit: noeviction (default: writes fail with OOM), allkeys-lru, "
        "volatile-lru, allkeys-lfu, volatile-lfu, allkeys-random, volatile-random, volatile-ttl",
    )
    server.add_argument(
        "--maxmemory-samples",
        type=int,
        metavar="N",
        help="keys sampled per eviction (default 5)",
    )
    server.add_argument(
        "--slowlog-log-slower-than",
        type=int,
        metavar="MICROSECONDS",
        help="SLOWLOG keeps commands at least this long (default 10000; 0: all, -1: none)",
    )
    server.add_argument(
        "--slowlog-max-len",
        type=int,
        metavar="N",
        help="SLOWLOG entries kept (default 128)",
    )
    server.add_argument(
        "--metrics-address",
        metavar="HOST:PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (default: off; a "
        "non-loopback HOST follows protected mode, see docs/operations.md)",
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
        "--save",
        metavar="'SECONDS CHANGES ...'",
        help="snapshot points as Redis writes them: a background snapshot once CHANGES "
        "writes happened within SECONDS (default '': only when the log has grown)",
    )
    server.add_argument(
        "--log-level",
        metavar="LEVEL",
        help="debug, verbose, notice (default), warning (Redis's names), or info, error",
    )
    server.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log lines as text (default) or one JSON object per line",
    )
    server.add_argument(
        "--log-file",
        metavar="PATH",
        help="append the log to this file (default: stderr)",
    )
    server.add_argument(
        "--latency-monitor-threshold",
        type=int,
        metavar="MS",
        help="LATENCY keeps spikes of server work at least this long (default 0: none)",
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
    _server_tls_options(server)
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
    _global_options(put, suppress=True, client=True)
    put.add_argument("key")
    put.add_argument("value")

    get = verbs.add_parser(
        "get",
        help="print a value",
        description="Print KEY's value; exit 1 if the key does not exist.",
    )
    _global_options(get, suppress=True, client=True)
    get.add_argument("key")

    delete = verbs.add_parser(
        "delete", help="remove a key", description="Remove KEY; exit 1 if it did not exist."
    )
    _global_options(delete, suppress=True, client=True)
    delete.add_argument("key")

    keys = verbs.add_parser(
        "keys",
        help="list keys",
        description="Print the keys matching PATTERN (default *), one a line.",
    )
    _global_options(keys, suppress=True, client=True)
    keys.add_argument("pattern", nargs="?", default="*")

    load = verbs.add_parser(
        "import",
        help="load keys from a JSON file",
        description='Load {"data": {"key": "value", ...}} (the seed\'s format) into the '
        "store. The whole file is checked first: on any error nothing is written.",
    )
    _global_options(load, suppress=True, client=True)
    load.add_argument("file", metavar="FILE.json")

    dump = verbs.add_parser(
        "export",
        help="write every key to a JSON file",
        description='Write {"data": {"key": "value", ...}} (the seed\'s format). Keys or '
        'values that are not UTF-8 go, base64-encoded, under a separate "binary" object '
        "that import reads back.",
    )
    _global_options(dump, suppress=True, client=True)
    dump.add_argument("file", metavar="FILE.json")
    _cluster_verbs(verbs)
    return parser


def _server_tls_options(server: argparse.ArgumentParser) -> None:
    tls = server.add_argument_group(
        "TLS", 'Redis\'s tls-* settings (docs/operations.md "TLS"); SIGHUP reloads the files'
    )
    tls.add_argument(
        "--tls",
        dest="server_tls",
        choices=("yes", "no"),
        help="the main --address speaks only TLS (default no)",
    )
    tls.add_argument(
        "--tls-port", type=int, metavar="PORT", help="an extra TLS listener (default 0: none)"
    )
    tls.add_argument("--tls-cert-file", metavar="FILE", help="the server's certificate (PEM)")
    tls.add_argument("--tls-key-file", metavar="FILE", help="its private key (PEM)")
    tls.add_argument(
        "--tls-ca-cert-file", metavar="FILE", help="CA that client and peer certificates need"
    )
    tls.add_argument("--tls-ca-cert-dir", metavar="DIR", help="a directory of CA certificates")
    tls.add_argument(
        "--tls-auth-clients",
        choices=("yes", "no", "optional"),
        help="client certificates: required (yes, the default), not asked (no), or "
        "verified if shown (optional)",
    )
    tls.add_argument(
        "--tls-replication",
        choices=("yes", "no"),
        help="peer links use TLS, both nodes showing certificates from the CA (default no)",
    )


def _cluster_verbs(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add = verbs.add_parser(
        "add-backup",
        help="add a node to a group",
        description="Ask the group's primary to add the node at --backup, which must be running "
        "(tandemkv server --role backup). Prints OK once it is a member that votes (with "
        "--learner: once it is a member).",
    )
    _global_options(add, suppress=True, client=True)
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
    _global_options(remove, suppress=True, client=True)
    remove.add_argument("node", metavar="NODE")

    failover = verbs.add_parser(
        "failover",
        help="hand the primary role to a backup",
        description="Make a caught-up backup the primary (the most caught-up one unless --to "
        "names it), then print the new primary's HOST:PORT.",
    )
    _global_options(failover, suppress=True, client=True)
    failover.add_argument("--to", metavar="HOST:PORT", help="the backup to hand over to")

    promote = verbs.add_parser(
        "promote",
        help="make a node the only voter of a group that lost its majority",
        description="Force the node at --server to become the primary and only voter of its "
        "group. Writes the lost majority acknowledged that this node lacks are lost, and "
        "every other member must be wiped before it rejoins. Asks for confirmation.",
    )
    _global_options(promote, suppress=True, client=True)
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
    _global_options(status, suppress=True, client=True)
    status.add_argument("--json", action="store_true", help="print the data as JSON")


CLUSTER_VERBS = ("add-backup", "remove-node", "failover", "promote", "status")
DEFAULT_WAIT_SECONDS = 5.0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return _dispatch(args)
    except Failure as failure:
        return _report(failure.status, failure.message)
    except KeyboardInterrupt:
        return _report(EXIT_INTERRUPTED, "interrupted")
    except BrokenPipeError:
        # `tandemkv keys | head`: the reader left; say nothing, as other tools do.
        _silence_stdout()
        return EXIT_OK
    except Exception as error:  # the promise is one line, never a traceback
        known = classify(error)
        if known is not None:
            return _report(*known)
        if os.environ.get("TANDEMKV_DEBUG"):
            raise
        return _report(
            EXIT_INTERNAL,
            f"internal error: {type(error).__name__}: {error} (a bug: please report it; "
            "TANDEMKV_DEBUG=1 shows the traceback)",
        )


def _dispatch(args: argparse.Namespace) -> int:
    if args.verb == "server":
        return _run_server(args)
    if getattr(args, "wait_seconds", None) is None:
        args.wait_seconds = DEFAULT_WAIT_SECONDS
    elif args.wait_seconds < 0:
        raise Failure(EXIT_USAGE, "--wait-seconds must be 0 or more")
    _set_up_tls(args)
    if args.verb in CLUSTER_VERBS:
        from tandemkv.cluster_verbs import run_cluster_verb

        return run_cluster_verb(args)
    from tandemkv.client_verbs import run_client_verb

    return run_client_verb(args)


_TLS_OPTIONS = ("cacert", "cacertdir", "cert", "key", "sni", "insecure")


def _tls_option(args: argparse.Namespace, name: str) -> object:
    return getattr(args, f"tls_{name}", None)


def _set_up_tls(args: argparse.Namespace) -> None:
    """--tls: every connection this verb opens uses TLS (client.use_tls)."""
    given = [name for name in _TLS_OPTIONS if _tls_option(args, name)]
    if not getattr(args, "tls", None):
        if given:
            raise Failure(EXIT_USAGE, f"--{given[0]} needs --tls")
        return
    from tandemkv.client import use_tls
    from tandemkv.tls import client_context

    context = client_context(
        args.tls_cacert or "",
        args.tls_cacertdir or "",
        args.tls_cert or "",
        args.tls_key or "",
        bool(args.tls_insecure),
    )
    use_tls(context, args.tls_sni or "")


def classify(error: BaseException) -> tuple[int, str] | None:
    """The exit status and line for an error any verb may meet; None if it is unexpected."""
    if isinstance(error, Failure):
        return error.status, error.message
    if isinstance(error, AuthError):
        return EXIT_AUTH, auth_advice(error.message)
    if isinstance(error, ServerError):
        return EXIT_SERVER_ERROR, f"server error: {error.message}"
    if isinstance(error, NotRedisError):
        return EXIT_PROTOCOL, str(error)
    if isinstance(error, ClientError):
        return EXIT_UNAVAILABLE, str(error)
    if isinstance(error, StorageError):
        return EXIT_DATA_DIR, str(error)
    if isinstance(error, ConfigError):
        return EXIT_USAGE, str(error)
    from tandemkv.tls import TLSConfigError

    if isinstance(error, TLSConfigError):
        return EXIT_USAGE, str(error)
    return None


def auth_advice(message: str) -> str:
    if message.startswith("NOAUTH"):
        return (
            f"{message} The server needs a password: pass --password PASSWORD "
            "(or set TANDEMKV_PASSWORD)"
        )
    return f"{message} Check --password (or TANDEMKV_PASSWORD)"


def _report(status: int, message: str) -> int:
    print(f"tandemkv: {message}", file=sys.stderr, flush=True)
    return status


def _silence_stdout() -> None:
    # Python flushes stdout at exit and would complain about the closed pipe again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _run_server(args: argparse.Namespace) -> int:
    from tandemkv.server.run import run_server

    config = _server_config(args)
    _check_before_start(config)
    return run_server(config)


def _check_before_start(config: Config) -> None:
    """The start-up refusals that have their own exit status (server/run.py exits 1 for
    every failure): an unsafe address is a usage error, a data directory that cannot be
    used a data-directory failure."""
    from tandemkv.server.run import StartupError, check_protected_mode, read_acl_file
    from tandemkv.storage.datadir import DataDir

    try:
        read_acl_file(config)
        check_protected_mode(config)
    except StartupError as error:
        raise Failure(EXIT_USAGE, str(error)) from None
    DataDir.open(config.db_path).close()  # StorageError: EXIT_DATA_DIR, through classify


def _server_config(args: argparse.Namespace) -> Config:
    if (
        args.server is not None
        or args.password is not None
        or args.user is not None
        or args.wait_seconds is not None
    ):
        raise Failure(
            EXIT_USAGE,
            "--server, --user, --password and --wait-seconds are for client verbs; a server "
            "takes --address and --requirepass (or --aclfile)",
        )
    client_tls = [name for name in _TLS_OPTIONS if _tls_option(args, name)]
    if getattr(args, "tls", None):
        client_tls.insert(0, "tls")
    if client_tls:
        raise Failure(
            EXIT_USAGE,
            f"--{client_tls[0]} before the verb is a client option; a server takes "
            "server --tls yes, --tls-port, --tls-cert-file...",
        )
    flags = {
        "db_path": args.db_path,
        "address": args.address,
        "config_file": args.config_file,
        "requirepass": args.requirepass,
        "aclfile": args.aclfile,
        "protected_mode": args.protected_mode,
        "maxclients": args.maxclients,
        "timeout": args.timeout,
        "maxmemory": args.maxmemory,
        "maxmemory_policy": args.maxmemory_policy,
        "maxmemory_samples": args.maxmemory_samples,
        "slowlog_log_slower_than": args.slowlog_log_slower_than,
        "slowlog_max_len": args.slowlog_max_len,
        "metrics_address": args.metrics_address,
        "parser": args.parser,
        "event_loop": args.event_loop,
        "fsync": args.fsync,
        "appendonly": args.appendonly,
        "save": args.save,
        "log_level": args.log_level,
        "log_format": args.log_format,
        "log_file": args.log_file,
        "latency_monitor_threshold": args.latency_monitor_threshold,
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
        "tls": args.server_tls,
        "tls_port": args.tls_port,
        "tls_cert_file": args.tls_cert_file,
        "tls_key_file": args.tls_key_file,
        "tls_ca_cert_file": args.tls_ca_cert_file,
        "tls_ca_cert_dir": args.tls_ca_cert_dir,
        "tls_auth_clients": args.tls_auth_clients,
        "tls_replication": args.tls_replication,
    }
    return load_config(flags)  # ConfigError: EXIT_USAGE, through classify


if __name__ == "__main__":
    sys.exit(main())
