"""The replication core's exceptions that derive from built-in errors other than Exception.

Their own module, left out of the compiled build (tandemkv/build.py): mypyc compiles
subclasses of Exception but not of ValueError or AssertionError. They are imported into
the modules that raise them, where callers have always found them.
"""

from __future__ import annotations


class MessageDecodeError(ValueError):
    """The bytes are not an encoding of a message in this codec version."""


class ConfChangeError(ValueError):
    """The change does not make sense for the current membership."""


class LogInvariantError(AssertionError):
    """The core was asked to do something that would break Raft's guarantees."""
