"""Running a node as a process: event loop choice, signals, startup errors, exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import resource
import signal
import sys

from tandemkv.config import Config, ConfigError
from tandemkv.server.app import Server


class StartupError(Exception):
    """The server cannot start; the message is the one line the operator sees."""


def check_protected_mode(config: Config) -> None:
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
    try:
        address = await server.start()
    except OSError as error:
        raise StartupError(describe_bind_error(config, error)) from None
    except (UnicodeError, ValueError) as error:
        raise StartupError(f"cannot listen on {config.address}: {error}") from None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.request_shutdown)
    print(f"Ready to accept connections at {address}", flush=True)
    await server.serve_until_stopped()


def run_server(config: Config) -> int:
    """Run until SIGTERM/SIGINT/SHUTDOWN; 0 on a clean stop, 1 if it cannot start."""
    try:
        check_protected_mode(config)
        if config.parser == "hiredis":
            _require_hiredis()
        raise_open_files_limit()
        loop = new_event_loop(config.event_loop)
        server = Server(config)
    except (StartupError, ConfigError) as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return 1
    try:
        loop.run_until_complete(_serve(server, config))
    except StartupError as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return 1
    finally:
        loop.close()
    print("tandemkv: shut down cleanly", file=sys.stderr)
    return 0


def _require_hiredis() -> None:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        raise StartupError(
            "parser hiredis was asked for but hiredis is not installed "
            "(pip install 'tandemkv[fast]')"
        ) from None
