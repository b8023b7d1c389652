"""Bugs injected into the real node, to prove the simulator's checks catch them.

Each is a small patch of one production function, applied for one run (`--bug NAME`),
so a test can require that some seed in a bounded range fails with it. The patches
replace Python functions, so they need the pure build (TANDEMKV_PURE=1): a compiled
class cannot be patched.

    reply-before-ack     a write's reply is released at once, before the group has it
    no-read-fence        reads are answered without confirming this node is still primary
    ack-before-fsync     a node acknowledges appends it has not fsynced (fsync=always)
    no-rebuild           a deposed primary keeps the writes it executed but never committed
    apply-twice          a restarted node applies its logged entries on top of a keyspace
                         that already holds them
    promote-no-fence     PROMOTE FORCE does not remember the members it left behind, so
                         nothing tells them they were removed when they come back
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from tandemkv.node import applying, boot
from tandemkv.node.node import Node
from tandemkv.node.replicated_log import ClusterLog
from tandemkv.server import assemble


def _always_safe(self: ClusterLog, position: int) -> bool:
    return True


def _no_fence(self: ClusterLog) -> int | None:
    return None


def _start_without_fsync(original: Callable[[Node], None]) -> Callable[[Node], None]:
    def start(self: Node) -> None:
        original(self)
        self.fsync_always = False  # persist, then send and count at once

    return start


def _rebuild_nothing(store: Any, broker: Any, applied: int, keyspace_index: int) -> None:
    pass  # the keyspace keeps what it executed as primary


def _replay_and_forget(original: Callable[..., int]) -> Callable[..., int]:
    def catch_up(config: Any, store: Any, identity: Any, new_identity: bool) -> int:
        original(config, store, identity, new_identity)
        store.replay_log()
        return 0  # the node will apply the same entries again

    return catch_up


def _forget_deposed(self: Node, members: dict[int, str]) -> None:
    pass


BUGS = (
    "reply-before-ack",
    "no-read-fence",
    "ack-before-fsync",
    "no-rebuild",
    "apply-twice",
    "promote-no-fence",
)


@contextmanager
def injected(name: str | None) -> Iterator[None]:
    """Run with bug `name` in the node (None: as shipped)."""
    with ExitStack() as stack:
        if name == "reply-before-ack":
            stack.enter_context(mock.patch.object(ClusterLog, "is_safe", _always_safe))
        elif name == "no-read-fence":
            stack.enter_context(mock.patch.object(ClusterLog, "read_fence", _no_fence))
        elif name == "ack-before-fsync":
            start = _start_without_fsync(Node.start)
            stack.enter_context(mock.patch.object(Node, "start", start))
        elif name == "no-rebuild":
            stack.enter_context(mock.patch.object(applying, "rebuild_keyspace", _rebuild_nothing))
        elif name == "apply-twice":
            catch_up = _replay_and_forget(boot.catch_up_alone)
            stack.enter_context(mock.patch.object(assemble, "catch_up_alone", catch_up))
        elif name == "promote-no-fence":
            stack.enter_context(mock.patch.object(Node, "depose", _forget_deposed))
        elif name is not None:
            raise ValueError(f"unknown bug {name!r}; known: {', '.join(BUGS)}")
        yield
