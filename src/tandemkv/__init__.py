"""tandemkv: a durable, replicated key-value store that speaks the Redis protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# First: decides, before any other module loads, whether the compiled modules may (build.py).
from tandemkv.build import BUILD

__version__ = "0.1.0"

if TYPE_CHECKING:
    from tandemkv.embedded import EmbeddedStore, StoreError, open

__all__ = ["BUILD", "EmbeddedStore", "StoreError", "__version__", "open"]

_EMBEDDED = ("EmbeddedStore", "StoreError", "open")


def __getattr__(name: str) -> Any:
    # Loaded on first use (PEP 562): importing a pure package such as tandemkv.commands
    # must not drag in the embedded store and, through it, the node and the file system.
    if name in _EMBEDDED:
        from tandemkv import embedded

        return getattr(embedded, name)
    raise AttributeError(f"module 'tandemkv' has no attribute {name!r}")
