"""A tiny threaded TCP echo server for the proxy's own tests.

It echoes every byte back and remembers what it saw: the bytes received and how each
connection ended ("eof" for a FIN, "reset" for an RST), so a test can tell whether the
proxy forwarded, held back, or reset.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable


class EchoServer:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._lock = threading.Lock()
        self._received = bytearray()
        self._endings: list[str] = []
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.accepted = 0

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> EchoServer:
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def received(self) -> bytes:
        with self._lock:
            return bytes(self._received)

    def endings(self) -> list[str]:
        with self._lock:
            return list(self._endings)

    def wait_received(self, size: int, timeout: float = 5.0) -> bool:
        """True once at least ``size`` bytes have arrived in all."""
        return _wait(lambda: len(self.received()) >= size, timeout)

    def wait_ending(self, ending: str, timeout: float = 5.0) -> bool:
        """True once some connection has ended this way ("eof" or "reset")."""
        return _wait(lambda: ending in self.endings(), timeout)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
                self.accepted += 1
            self._spawn(self._echo, conn)

    def _echo(self, conn: socket.socket) -> None:
        ending = "eof"
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except ConnectionResetError:
                    ending = "reset"
                    break
                except OSError:
                    ending = "error"
                    break
                if not data:
                    break
                with self._lock:
                    self._received += data
                with contextlib.suppress(OSError):
                    conn.sendall(data)
        with self._lock:
            self._endings.append(ending)


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
