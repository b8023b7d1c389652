"""Who this node is in its group: its node id, the group's name and the cluster secret.

Kept in `cluster.json` in the data directory (mode 0600: it holds the secret), written
atomically. A data directory with this file belongs to a group, so restarting the node
with the same --db-path brings it back without any cluster flags.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace

from tandemkv.storage.fs import FileSystem, publish_file

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


def new_node_id(entropy: random.Random) -> int:
    """A random id: no coordination needed, and a removed node's id is never reused.
    `entropy`: the runtime's (the OS's generator in production)."""
    return entropy.randrange(1, 2**53)


def new_secret(entropy: random.Random) -> str:
    return entropy.getrandbits(256).to_bytes(32, "big").hex()


def load_identity(fs: FileSystem) -> NodeIdentity | None:
    if not fs.exists(IDENTITY_FILE):
        return None
    where = fs.describe(IDENTITY_FILE)
    try:
        raw = json.loads(fs.read(IDENTITY_FILE))
        return NodeIdentity(
            int(raw["node_id"]),
            str(raw["group"]),
            str(raw["secret"]),
            bool(raw.get("learner")),
            bool(raw.get("removed")),
            tuple((int(member), str(address)) for member, address in raw.get("deposed", ())),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IdentityError(f"cannot read {where}: {error}") from None


def save_identity(fs: FileSystem, identity: NodeIdentity) -> None:
    """Replace the identity file durably; readable by its owner only (it holds the
    cluster secret)."""
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
    temp = IDENTITY_FILE + ".tmp"
    fs.create(temp, mode=0o600)
    fs.append(temp, body)
    publish_file(fs, temp, IDENTITY_FILE)
