"""Running a node as a process: event loop choice, signals, startup errors, exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import resource
import signal
import sys
import time

from tandemkv import BUILD, __version__
from tandemkv.commands.acl import parse_acl_file
from tandemkv.commands.acl_model import RuleError, User
from tandemkv.config import Config, ConfigError, parse_address
from tandemkv.node.boot import BootError
from tandemkv.node.identity import IdentityError
from tandemkv.runtime import OsRuntime
from tandemkv.server import registry
from tandemkv.server.app import Server
from tandemkv.server.assemble import assemble
from tandemkv.server.logs import configure_logging
from tandemkv.storage.errors import StorageError
from tandemkv.tls import ServerTLS, TLSConfigError, check_settings

PROGRESS_EVERY_SECONDS = 2.0

log = logging.getLogger("tandemkv.server")

# CPython's default first-generation threshold (700 allocations) makes a busy server collect
# every few dozen requests, promoting each request's short-lived objects into older
# generations that are then scanned again. Measured on a 3-node group under
# redis-benchmark -c 50: about 6% more SETs per second and 3-5 us less CPU per write.
GC_THRESHOLDS = (20_000, 50, 50)


class StartupError(Exception):
    """The server cannot start; the message is the one line the operator sees."""


def check_protected_mode(config: Config) -> None:
    if config.metrics_address and config.protected_mode:
        metrics = parse_address(config.metrics_address)
        if not metrics.is_loopback:
            # The endpoint asks for no password (Prometheus scrapes without one), so
            # requirepass does not cover it: only the operator's word opens it.
            raise StartupError(
                f"refusing to serve metrics on {metrics}, which is reachable from other "
                "machines and has no password: pass --protected-mode no if the network "
                "is trusted (or keep --metrics-address on loopback)"
            )
    listen = config.listen
    if listen.is_loopback or config.requirepass or not config.protected_mode:
        return
    users = read_acl_file(config)
    default = next((u for u in users or () if u.name == b"default"), None)
    if default is not None and not (default.enabled and default.nopass):
        return  # the file gives the default user a password, or turns it off
    raise StartupError(
        f"refusing to listen on {listen}, which is reachable from other machines, without a "
        "password: set --requirepass (or requirepass in the config file, or a password for "
        "the default user in the aclfile), or pass "
        "--protected-mode no if the network is trusted"
    )


def read_acl_file(config: Config) -> list[User] | None:
    """The aclfile's users (None without one), checked before anything starts: a file that
    cannot be read or parsed stops the server with one line naming the file and line."""
    if not config.aclfile:
        return None
    if config.requirepass:
        raise StartupError(
            "aclfile and requirepass cannot be used together: give the default user's "
            "password in the ACL file instead (user default on >PASSWORD ~* &* +@all)"
        )
    try:
        with open(config.aclfile, "rb") as f:
            text = f.read()
    except OSError as error:
        raise StartupError(f"cannot read aclfile {config.aclfile}: {error.strerror}") from None
    try:
        return parse_acl_file(text)
    except RuleError as error:
        raise StartupError(f"aclfile {config.aclfile}: {error}") from None


def raise_open_files_limit() -> None:
    """Lift the soft descriptor limit to the hard one so maxclients connections fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def describe_bind_error(config: Config, error: OSError, where: str = "") -> str:
    listen = where or config.listen
    if error.errno == errno.EADDRINUSE:
        return f"cannot listen on {listen}: the address is already in use (another server?)"
    if error.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return f"cannot listen on {listen}: no such local address"
    if error.errno == errno.EACCES:
        return f"cannot listen on {listen}: permission denied (ports below 1024 need root)"
    reason = error.strerror or str(error)
    return f"cannot listen on {listen}: {reason}"


def tune_garbage_collector() -> None:
    """Collect once, move everything alive now (the recovered keyspace, modules, config)
    out of the collector's sight, and collect less often from here on."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def new_event_loop(choice: str) -> asyncio.AbstractEventLoop:
    if choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise StartupError(
                    "event-loop uvloop was asked for but uvloop is not installed "
                    "(pip install 'tandemkv[fast]')"
                ) from None
        else:
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
    return asyncio.new_event_loop()


async def _serve(server: Server, config: Config) -> None:
    metrics = ""
    if config.metrics_address:
        try:
            metrics = await server.start_metrics()
        except (OSError, UnicodeError, ValueError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise StartupError(
                f"cannot serve metrics on {config.metrics_address}: {reason}"
            ) from None
    try:
        address = await server.start()
    except OSError as error:
        raise StartupError(describe_bind_error(config, error, server.binding)) from None
    except (UnicodeError, ValueError) as error:
        raise StartupError(f"cannot listen on {config.address}: {error}") from None
    except StorageError as error:  # writing a new group's membership, or a snapshot
        raise StartupError(str(error)) from None

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.request_shutdown)
    loop.add_signal_handler(signal.SIGHUP, server.reload_tls)
    tune_garbage_collector()
    log_start(server, config, address)
    if server.tls is not None:
        log.info("%s", _describe_tls(config, address, server.tls_port))
    if metrics:
        log.info("metrics at http://%s/metrics", metrics)
    print(f"Ready to accept connections at {address}", flush=True)
    registration = registry.register(address, config.db_path)
    try:
        await server.serve_until_stopped()
    finally:
        registry.unregister(registration)


def _describe_tls(config: Config, address: str, tls_port: int) -> str:
    where = [f"{address} (TLS only)"] if config.tls else []
    if tls_port:
        where.append(f"port {tls_port}")
    if config.tls_replication:
        peers = "peer links use TLS, with certificates checked"
    elif config.tls:
        peers = "peer links use TLS (tls-replication no: peers need no certificate)"
    else:
        peers = "peer links are plaintext"
    return (
        f"TLS on {' and '.join(where)}; client certificates: {config.tls_auth_clients}; "
        f"{peers}; SIGHUP reloads the certificates"
    )


def run_server(config: Config) -> int:
    """Run until SIGTERM/SIGINT/SHUTDOWN; 0 on a clean stop, 1 if it cannot start."""
    try:
        configure_logging(config.log_level, config.log_format, config.log_file)
    except (ValueError, OSError) as error:
        print(f"tandemkv: cannot open the log: {error}", file=sys.stderr)
        return 1
    tls: ServerTLS | None = None
    try:
        check_protected_mode(config)
        tls = check_settings(config)
        acl_seed = read_acl_file(config)
        if config.parser == "hiredis":
            _require_hiredis()
        raise_open_files_limit()
        loop = new_event_loop(config.event_loop)
    except (StartupError, ConfigError, TLSConfigError) as error:
        _cannot_start(config, error)
        return 1
    try:
        server = assemble(config, OsRuntime(loop), tls, ReplayProgress())
    except (BootError, IdentityError, StorageError, OSError) as error:
        loop.close()
        _cannot_start(config, error)
        return 1
    if not config.appendonly:
        log.warning(
            "appendonly is off: writes are not logged, so only SAVE/BGSAVE "
            "snapshots survive a restart"
        )
    server.acl_seed = acl_seed
    try:
        loop.run_until_complete(_serve(server, config))
    except StartupError as error:
        _cannot_start(config, error)
        return 1
    finally:
        loop.close()
        server.store.close()
    if server.exit_code == 0:
        log.info("shut down cleanly")
    return server.exit_code


def _cannot_start(config: Config, error: Exception) -> None:
    """The one line on stderr that tools and tests read; a log file gets it too."""
    print(f"tandemkv: {error}", file=sys.stderr)
    if config.log_file:
        log.error("cannot start: %s", error)


def log_start(server: Server, config: Config, address: str) -> None:
    """The start-up line: what runs, where, on which data, how durably, in which group."""
    node = server.node
    members = len(set(node.conf.voters) | set(node.conf.learners))
    place = config.role or ("primary" if node.sole_voter else "member")
    if not members:
        place = f"{place} joining"
    fields: dict[str, object] = {
        "version": __version__,
        "build": BUILD.describe(),
        "address": address,
        "advertise": node.advertise,
        "data_dir": server.store.path,
        "appendonly": "yes" if config.appendonly else "no",
        "fsync": config.fsync,
        "save": config.save or "none",
        "role": place,
        "group": node.group_name,
        "members": members,
        "node_id": f"{node.id:x}",
        "pid": os.getpid(),
    }
    log.info(
        "tandemkv %s (%s) at %s, data %s, appendonly %s, fsync %s, save %s; %s of group "
        "%s (%d member%s), node %s, pid %d",
        __version__,
        BUILD.describe(),
        address if node.advertise == address else f"{address} (advertised {node.advertise})",
        server.store.path,
        fields["appendonly"],
        config.fsync,
        fields["save"],
        place,
        node.group_name,
        members,
        "" if members == 1 else "s",
        fields["node_id"],
        fields["pid"],
        extra={"fields": fields},
    )


class ReplayProgress:
    """Prints a line every few seconds while a long log replay runs."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._last = self._started

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY_SECONDS:
            return
        self._last = now
        unit = "bytes scanned" if phase == "scan" else "entries replayed"
        log.info("loading: %d/%d %s (%.0fs)", done, total, unit, now - self._started)


def _require_hiredis() -> None:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        raise StartupError(
            "parser hiredis was asked for but hiredis is not installed "
            "(pip install 'tandemkv[fast]')"
        ) from None
