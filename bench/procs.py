"""Every process the harness starts, so that it stops exactly those, by pid, even on a signal."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType

STOP_TIMEOUT = 10.0
# SIGINT already raises KeyboardInterrupt; these two are turned into Interrupted.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_ALL_STOP_SIGNALS = {signal.SIGINT, *_STOP_SIGNALS}


class Interrupted(Exception):
    """A signal asked the harness to stop; raised so that every cleanup block runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold stop signals back, so a process is never started without being recorded."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _ALL_STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _unblock_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _ALL_STOP_SIGNALS)


class ProcessBook:
    """The processes this harness started and has not yet seen exit."""

    def __init__(self) -> None:
        self._live: dict[int, subprocess.Popen[bytes]] = {}
        self.started: list[int] = []

    def spawn(
        self, cmd: Sequence[str], *, cwd: Path, log_stem: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``cmd`` in its own session, stdout/stderr to ``cwd/log_stem.{out,err}``."""
        out_path, err_path = cwd / f"{log_stem}.out", cwd / f"{log_stem}.err"
        with open(out_path, "wb") as out, open(err_path, "wb") as err, signals_deferred():
            proc = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                # The mask is inherited across exec: the child must see stop signals again.
                preexec_fn=_unblock_stop_signals,
            )
            self._live[proc.pid] = proc
            self.started.append(proc.pid)
        return proc

    def wait(self, proc: subprocess.Popen[bytes], timeout: float) -> int:
        """Wait for a process expected to finish by itself; killed if it overruns."""
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc, signal.SIGKILL)
            raise
        self._live.pop(proc.pid, None)
        return code

    def stop(
        self,
        proc: subprocess.Popen[bytes],
        sig: int = signal.SIGTERM,
        timeout: float = STOP_TIMEOUT,
    ) -> int:
        """Signal the process by pid, wait, SIGKILL if it lingers; returns its exit code."""
        # poll() first: once a child is reaped its pid may belong to someone else.
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        self._live.pop(proc.pid, None)
        return proc.returncode

    def stop_all(self) -> None:
        with signals_deferred():
            for proc in reversed(list(self._live.values())):
                self.stop(proc)

    def live_pids(self) -> list[int]:
        return sorted(pid for pid, proc in self._live.items() if proc.poll() is None)


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def guarded(book: ProcessBook) -> Iterator[ProcessBook]:
    """Stop everything in ``book`` on the way out: normal exit, exception, signal or atexit."""
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in _STOP_SIGNALS}
    atexit.register(book.stop_all)
    try:
        yield book
    finally:
        book.stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        atexit.unregister(book.stop_all)
