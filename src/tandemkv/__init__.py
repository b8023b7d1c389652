"""tandemkv: a durable, replicated key-value store that speaks the Redis protocol."""

__version__ = "0.1.0"

from tandemkv.embedded import EmbeddedStore, StoreError, open

__all__ = ["EmbeddedStore", "StoreError", "__version__", "open"]
