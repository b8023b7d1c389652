"""A server process behind its own fault proxy, with the process faults the nemesis uses.

Clients talk to the proxy's address, which stays the same when the server is killed and
restarted on the same data directory (on a new ephemeral port): the proxy is retargeted.
A cluster test will hold several of these, one per node.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

from chaos.proxy import Address, FaultProxy
from helpers.resp import RawClient
from helpers.servers import ServerGroup, ServerProcess, kill_process_group


class ChaosNode:
    def __init__(
        self,
        name: str,
        group: ServerGroup,
        db_path: Path,
        server_args: Sequence[str],
        seed: int,
    ) -> None:
        self.name = name
        self.group = group
        self.db_path = db_path
        self.server_args = tuple(server_args)
        self.seed = seed
        self.server: ServerProcess | None = None
        self.proxy: FaultProxy | None = None
        self.paused = False
        self.restarts = 0
        self.runs: list[ServerProcess] = []  # every server process started for this node

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ChaosNode:
        server = self._start_server()
        self.proxy = FaultProxy(_address(server), seed=self.seed, name=f"{self.name}-proxy")
        self.proxy.start()
        return self

    def close(self) -> int | None:
        """Stop the proxy and the server (SIGCONT first: a stopped process ignores TERM).

        Returns the exit code of a server that was still running when asked to stop."""
        self.resume()
        if self.proxy is not None:
            self.proxy.stop()
        if self.server is None:
            return None
        was_running = self.server.alive()
        code = self.server.stop()
        kill_process_group(self.server)
        return code if was_running else None

    @property
    def address(self) -> Address:
        """Where clients connect: the proxy."""
        assert self.proxy is not None
        return self.proxy.address

    def running(self) -> ServerProcess:
        assert self.server is not None
        return self.server

    def direct_client(self, timeout: float = 5.0) -> RawClient:
        """A connection that bypasses the proxy (final reads after the run)."""
        return self.running().raw(timeout=timeout)

    # ------------------------------------------------------------------ process faults

    def kill(self) -> None:
        """SIGKILL the server and anything it forked; the data directory stays."""
        server = self.running()
        self.paused = False
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGKILL)
        server.wait_exit()
        kill_process_group(server)

    def restart(self) -> None:
        """Start a new server on the same data directory and point the proxy at it."""
        server = self._start_server()
        self.restarts += 1
        assert self.proxy is not None
        self.proxy.retarget(_address(server))

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self._signal(signal.SIGCONT)
            self.paused = False

    def heal(self) -> None:
        """Undo every fault: resume, restart if dead, and let the proxy pass traffic."""
        self.resume()
        if not self.running().alive():
            self.restart()
        if self.proxy is not None:
            self.proxy.heal()

    def crash_reports(self) -> list[str]:
        """Internal-error lines any of this node's server runs wrote to stderr."""
        return [line for run in self.runs for line in run.crash_reports()]

    def _start_server(self) -> ServerProcess:
        self.server = self.group.start(self.db_path, *self.server_args)
        self.runs.append(self.server)
        return self.server

    def _signal(self, sig: int) -> None:
        server = self.running()
        if server.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, sig)


NodeFactory = Callable[[Sequence[str]], ChaosNode]  # server flags -> a started node


def _address(server: ServerProcess) -> Address:
    return server.host, server.port
