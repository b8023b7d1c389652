"""Typed storage errors, each with a message an operator can act on.

Hierarchy:

    StorageError
      DecodeError                 bytes that do not decode (pure codec / record layer)
        RecordTruncated             the buffer ends before the record does (maybe a torn write)
        RecordChecksumMismatch      the CRC32C does not match (damaged bytes)
        RecordLengthInvalid         a length field below the smallest possible record
        RecordLengthOverCap         a length field above the configured cap (never allocated)
        MutationDecodeError         a payload whose CRC matched but whose mutation is malformed
      CorruptLogError             damage in the log that recovery must not paper over
      CorruptSnapshotError        a snapshot that fails its checksum or structure checks
      CorruptHardStateError       the hard-state file fails its checksum
      LogIndexError               a read/write at an index the log does not hold
        LogCompactedError           ... because it was compacted into a snapshot
      LogFailedError              the log hit an I/O error and refuses further changes
      DataDirLockedError          another process holds the data directory
      DataDirUnusableError        the path cannot be a data directory (a file, read-only...)
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error raised by tandemkv.storage."""


class DecodeError(StorageError):
    """Bytes that cannot be decoded; `offset` is where in the buffer decoding failed."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


class RecordTruncated(DecodeError):
    """The buffer ends inside a record: more bytes are needed (or the tail was torn)."""


class RecordChecksumMismatch(DecodeError):
    """The record's CRC32C does not match its bytes."""


class RecordLengthInvalid(DecodeError):
    """The length field is smaller than any well-formed record."""


class RecordLengthOverCap(DecodeError):
    """The length field exceeds the cap; nothing was allocated for it."""


class MutationDecodeError(DecodeError):
    """A mutation payload is malformed (unknown version or tag, bad varint, trailing bytes)."""


class CorruptLogError(StorageError):
    """The log is damaged somewhere other than a torn tail; the node must not start on it."""

    def __init__(self, path: str, offset: int, detail: str) -> None:
        self.path = path
        self.offset = offset
        self.detail = detail
        super().__init__(
            f"log file {path} is corrupt at byte offset {offset}: {detail}. "
            "Valid data follows the damage, so this is not a torn write from a crash and "
            "tandemkv refuses to start rather than silently drop acknowledged writes. "
            "Options: (1) restore the data directory from a backup, or re-seed this node "
            "from a healthy replica; (2) accept the loss of everything from this point on "
            "by starting with --truncate-corrupt-log (the damaged bytes are kept in a "
            "*.damaged file next to the log)."
        )


class CorruptSnapshotError(StorageError):
    """A snapshot failed verification; nothing from it was handed over."""

    DEFAULT_ADVICE = (
        "The log before it has been compacted, so the node cannot rebuild its data alone. "
        "Restore the data directory from a backup, or remove the data directory and re-seed "
        "this node from a healthy replica."
    )

    def __init__(self, path: str, detail: str, advice: str = DEFAULT_ADVICE) -> None:
        self.path = path
        self.detail = detail
        super().__init__(f"snapshot file {path} is unusable: {detail}. {advice}")


class CorruptHardStateError(StorageError):
    """The hard-state file (term, vote, commit) failed verification."""

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"hard-state file {path} is unusable: {detail}. It records this node's vote; "
            "starting without it could let the node vote twice in one term. Restore it from "
            "a backup, or remove the data directory and re-seed this node from a healthy "
            "replica."
        )


class LogIndexError(StorageError):
    """An index past the end of the log, or an append that is not contiguous."""


class LogCompactedError(LogIndexError):
    """The entry asked for was compacted into a snapshot (the peer needs the snapshot)."""


class LogFailedError(StorageError):
    """The log saw an I/O error and accepts no more changes until the node restarts."""


class DataDirLockedError(StorageError):
    """Another process holds the data directory's lock."""

    def __init__(self, path: str, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        holder = f"process {pid}" if pid is not None else "another process (pid unknown)"
        super().__init__(
            f"data directory {path} is already in use by {holder}. Stop that process, "
            "or start this one with a different data directory."
        )


class DataDirUnusableError(StorageError):
    """The path cannot be used as a data directory; `reason` says why, in words."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"cannot use {path} as a data directory: {reason}")
