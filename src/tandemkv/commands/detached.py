"""A host with no server around it, for the embedded store and pure tests.

Its own module, left out of the compiled build (tandemkv/build.py): the embedded store and
tests subclass it, and interpreted classes cannot subclass compiled ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from tandemkv.commands.cluster_view import ClusterView
from tandemkv.commands.errors import CommandError
from tandemkv.commands.session import Session, SlicedJob, run_to_end


class DetachedHost:
    """A host with no server around it: for the embedded store and pure tests."""

    def __init__(self) -> None:
        self.shutdown_requested = False
        self.killed: list[Session] = []

    def sessions(self) -> Iterable[Session]:
        return ()

    def kill(self, session: Session) -> None:
        self.killed.append(session)

    def server_info(self) -> dict[str, dict[str, object]]:
        return {}

    def request_shutdown(self) -> None:
        self.shutdown_requested = True

    def save(self, background: bool) -> object:
        raise CommandError("this store has no data directory to save to")

    def last_save_time(self) -> int:
        return 0

    def apply_settings(self, changes: dict[str, object]) -> str:
        return ""  # nothing runs that the settings steer

    def rewrite_config(self) -> object:
        raise CommandError("The server is running without a config file")

    def run_sliced(self, session: Session, job: SlicedJob) -> object:
        return run_to_end(job)

    def report_bug(self, command: str, error: Exception) -> None:
        raise error  # with no server log to write to, the caller sees it

    def random_bytes(self, size: int) -> bytes:
        # Pure code has no secure source; the shells that need one (server, embedded
        # store) override this.
        raise CommandError("no secure random source in this store")

    def read_acl_file(self) -> bytes | None:
        return None

    def write_acl_file(self, text: bytes) -> bool:
        return False

    @property
    def cluster(self) -> ClusterView | None:
        return None

    @property
    def can_block(self) -> bool:
        return False  # no event loop to wait on: BLPOP answers at once
