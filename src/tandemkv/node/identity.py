"""Who this node is in its group: its node id, the group's name and the cluster secret.

Kept in `cluster.json` in the data directory (mode 0600: it holds the secret), written
atomically. A data directory with this file belongs to a group, so restarting the node
with the same --db-path brings it back without any cluster flags.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, replace

IDENTITY_FILE = "cluster.json"


class IdentityError(Exception):
    """The identity file is unreadable or inconsistent with the flags given."""


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    node_id: int
    group_name: str
    secret: str  # "" until a joining node has been given it
    learner: bool = False  # joined with --learner: stays non-voting across restarts
    removed: bool = False  # removed from its group: must be wiped before reuse
    # (id, address) of the members a forced promotion on this node left behind: if one
    # of them comes back unwiped and speaks to us, it is told it was removed.
    deposed: tuple[tuple[int, str], ...] = ()

    def with_secret(self, secret: str) -> NodeIdentity:
        return replace(self, secret=secret)


def new_node_id() -> int:
    """A random id: no coordination needed, and a removed node's id is never reused."""
    return secrets.randbelow(2**53 - 1) + 1


def new_secret() -> str:
    return secrets.token_hex(32)


def load_identity(data_dir: str) -> NodeIdentity | None:
    path = os.path.join(data_dir, IDENTITY_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
        return NodeIdentity(
            int(raw["node_id"]),
            str(raw["group"]),
            str(raw["secret"]),
            bool(raw.get("learner")),
            bool(raw.get("removed")),
            tuple((int(member), str(address)) for member, address in raw.get("deposed", ())),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IdentityError(f"cannot read {path}: {error}") from None


def save_identity(data_dir: str, identity: NodeIdentity) -> None:
    path = os.path.join(data_dir, IDENTITY_FILE)
    tmp = path + ".tmp"
    body = json.dumps(
        {
            "node_id": identity.node_id,
            "group": identity.group_name,
            "secret": identity.secret,
            "learner": identity.learner,
            "removed": identity.removed,
            "deposed": [[member, address] for member, address in identity.deposed],
        }
    ).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
