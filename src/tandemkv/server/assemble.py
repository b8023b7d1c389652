"""Building a server from its configuration, on a runtime: the one start-up path.

The process (server/run.py) and the cluster simulator (tandemkv.testing) both call
`assemble`: lock and recover the data directory, load or create the node's identity, replay
a sole voter's log, and hand the server the factory that builds its node once it listens.
What differs between them is only the runtime (tandemkv/runtime.py).
"""

from __future__ import annotations

from tandemkv.config import Config
from tandemkv.node.boot import catch_up_alone, has_identity, node_factory, prepare_identity
from tandemkv.runtime import Runtime
from tandemkv.server.app import Server
from tandemkv.storage.recovery import ProgressCallback
from tandemkv.storage.store import Store
from tandemkv.tls import ServerTLS


def open_store(config: Config, runtime: Runtime, progress: ProgressCallback | None) -> Store:
    """Lock and recover the data directory, telling `progress` what takes time.

    The log is not replayed here: which of it may be applied depends on the node's place
    in its group (node/boot.py: catch_up_alone).
    """
    store = Store.open(
        config.db_path,
        truncate_corrupt=config.truncate_corrupt_log,
        progress=progress,
        replay=False,
        datadir=runtime.open_datadir(config.db_path),
    )
    store.snapshot_log_bytes = config.snapshot_log_bytes
    return store


def assemble(
    config: Config,
    runtime: Runtime,
    tls: ServerTLS | None = None,
    progress: ProgressCallback | None = None,
) -> Server:
    """The server, not yet listening (`await server.start()`). Raises StorageError,
    BootError, IdentityError or OSError with a message for the operator; the data
    directory is released again when it does."""
    store = open_store(config, runtime, progress)
    try:
        new_identity = not has_identity(store.datadir.fs)
        identity = prepare_identity(config, store, runtime.entropy())
        applied = catch_up_alone(config, store, identity, new_identity)
        factory = node_factory(config, store, identity, new_identity, applied)
    except BaseException:
        store.close()
        raise
    return Server(config, store, runtime, node_factory=factory, tls=tls)
