"""Running a node as a process: event loop choice, signals, startup errors, exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import resource
import signal
import sys
import time

from tandemkv import BUILD, __version__
from tandemkv.config import Config, ConfigError, parse_address
from tandemkv.node.boot import (
    BootError,
    catch_up_alone,
    has_identity,
    node_factory,
    prepare_identity,
)
from tandemkv.node.identity import IdentityError
from tandemkv.server import registry
from tandemkv.server.app import Server
from tandemkv.storage.errors import StorageError
from tandemkv.storage.store import Store

PROGRESS_EVERY_SECONDS = 2.0

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
    raise StartupError(
        f"refusing to listen on {listen}, which is reachable from other machines, without a "
        "password: set --requirepass (or requirepass in the config file), or pass "
        "--protected-mode no if the network is trusted"
    )


def raise_open_files_limit() -> None:
    """Lift the soft descriptor limit to the hard one so maxclients connections fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def describe_bind_error(config: Config, error: OSError) -> str:
    listen = config.listen
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
        raise StartupError(describe_bind_error(config, error)) from None
    except (UnicodeError, ValueError) as error:
        raise StartupError(f"cannot listen on {config.address}: {error}") from None
    except StorageError as error:  # writing a new group's membership, or a snapshot
        raise StartupError(str(error)) from None

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.request_shutdown)
    tune_garbage_collector()
    logging.getLogger("tandemkv.server").info("tandemkv %s, %s", __version__, BUILD.describe())
    if metrics:
        logging.getLogger("tandemkv.server").info("metrics at http://%s/metrics", metrics)
    print(f"Ready to accept connections at {address}", flush=True)
    registration = registry.register(address, config.db_path)
    try:
        await server.serve_until_stopped()
    finally:
        registry.unregister(registration)


def run_server(config: Config) -> int:
    """Run until SIGTERM/SIGINT/SHUTDOWN; 0 on a clean stop, 1 if it cannot start."""
    configure_logging()
    try:
        check_protected_mode(config)
        if config.parser == "hiredis":
            _require_hiredis()
        raise_open_files_limit()
        loop = new_event_loop(config.event_loop)
    except (StartupError, ConfigError) as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return 1
    try:
        store = open_store(config)
    except StorageError as error:
        loop.close()
        print(f"tandemkv: {error}", file=sys.stderr)
        return 1
    try:
        new_identity = not has_identity(config.db_path)
        identity = prepare_identity(config, store)
        applied = catch_up_alone(config, store, identity, new_identity)
        factory = node_factory(config, store, identity, new_identity, applied)
    except (BootError, IdentityError, StorageError, OSError) as error:
        loop.close()
        store.close()
        print(f"tandemkv: {error}", file=sys.stderr)
        return 1
    if not config.appendonly:
        print(
            "tandemkv: appendonly is off: writes are not logged, so only SAVE/BGSAVE "
            "snapshots survive a restart",
            file=sys.stderr,
        )
    server = Server(config, store, loop, node_factory=factory)
    try:
        loop.run_until_complete(_serve(server, config))
    except StartupError as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return 1
    finally:
        loop.close()
        store.close()
    if server.exit_code == 0:
        print("tandemkv: shut down cleanly", file=sys.stderr)
    return server.exit_code


def open_store(config: Config) -> Store:
    """Lock and recover the data directory, telling the operator what takes time.

    The log is not replayed here: which of it may be applied depends on the node's place
    in its group (node/boot.py: catch_up_alone).
    """
    progress = ReplayProgress()
    store = Store.open(
        config.db_path,
        truncate_corrupt=config.truncate_corrupt_log,
        progress=progress,
        replay=False,
    )
    store.snapshot_log_bytes = config.snapshot_log_bytes
    return store


def configure_logging() -> None:
    """Operator messages (log repairs, failed snapshots) as one plain line each on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("tandemkv: %(message)s"))
    root = logging.getLogger("tandemkv")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


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
        print(
            f"tandemkv: loading: {done}/{total} {unit} ({now - self._started:.0f}s)",
            file=sys.stderr,
            flush=True,
        )


def _require_hiredis() -> None:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        raise StartupError(
            "parser hiredis was asked for but hiredis is not installed "
            "(pip install 'tandemkv[fast]')"
        ) from None
