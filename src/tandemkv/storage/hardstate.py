"""The Raft hard state (current term, vote, commit index), stored atomically in one small file.

Public API:

    HardState(term: int = 0, voted_for: NodeId | None = None, commit: int = 0)
    NodeId = int | str
    save_hard_state(fs, state) -> None     durable when it returns (temp + fsync + rename +
                                           directory fsync)
    load_hard_state(fs) -> HardState       HardState() if the node never saved one;
                                           CorruptHardStateError if the file is damaged
    encode_hard_state(state) -> bytes / decode_hard_state(data) -> HardState   (pure)
    HARD_STATE_FILE = "hardstate", HARD_STATE_TEMP_FILE = "hardstate.tmp"

File layout: b"TKVHS" | u8 version | term | vote | commit | u32 crc32c of all before it,
where term and commit are unsigned varints and the vote is a tag byte (0 none, 1 int,
2 utf-8 str) followed by a varint or a length-prefixed string.
"""

from __future__ import annotations

from dataclasses import dataclass

import google_crc32c

from tandemkv.storage.errors import CorruptHardStateError, DecodeError
from tandemkv.storage.fs import FileSystem, publish_file
from tandemkv.storage.wire import Reader, put_bytes, put_uvarint

HARD_STATE_FILE = "hardstate"
HARD_STATE_TEMP_FILE = "hardstate.tmp"
_MAGIC = b"TKVHS"
_VERSION = 1
_VOTE_NONE, _VOTE_INT, _VOTE_STR = 0, 1, 2

NodeId = int | str


@dataclass(frozen=True, slots=True)
class HardState:
    term: int = 0
    voted_for: NodeId | None = None
    commit: int = 0


def encode_hard_state(state: HardState) -> bytes:
    out = bytearray(_MAGIC)
    out.append(_VERSION)
    put_uvarint(out, state.term)
    if state.voted_for is None:
        out.append(_VOTE_NONE)
    elif isinstance(state.voted_for, int):
        out.append(_VOTE_INT)
        put_uvarint(out, state.voted_for)
    else:
        out.append(_VOTE_STR)
        put_bytes(out, state.voted_for.encode("utf-8"))
    put_uvarint(out, state.commit)
    out += google_crc32c.value(bytes(out)).to_bytes(4, "little")
    return bytes(out)


def decode_hard_state(data: bytes) -> HardState:
    """Raises DecodeError (with a reason) if `data` is not a valid hard-state file."""
    if len(data) < len(_MAGIC) + 5 or not data.startswith(_MAGIC):
        raise DecodeError("not a tandemkv hard-state file (bad magic or too short)")
    body, stored = data[:-4], int.from_bytes(data[-4:], "little")
    if google_crc32c.value(body) != stored:
        raise DecodeError("checksum mismatch")
    reader = Reader(body, len(_MAGIC))
    version = reader.u8()
    if version != _VERSION:
        raise DecodeError(f"unsupported hard-state version {version}")
    term = reader.uvarint()
    tag = reader.u8()
    voted_for: NodeId | None = None
    if tag == _VOTE_INT:
        voted_for = reader.uvarint()
    elif tag == _VOTE_STR:
        try:
            voted_for = reader.bytes_field().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("vote is not valid utf-8") from exc
    elif tag != _VOTE_NONE:
        raise DecodeError(f"unknown vote tag {tag}")
    commit = reader.uvarint()
    if not reader.at_end():
        raise DecodeError("trailing bytes")
    return HardState(term, voted_for, commit)


def save_hard_state(fs: FileSystem, state: HardState) -> None:
    fs.create(HARD_STATE_TEMP_FILE)
    fs.append(HARD_STATE_TEMP_FILE, encode_hard_state(state))
    publish_file(fs, HARD_STATE_TEMP_FILE, HARD_STATE_FILE)


def load_hard_state(fs: FileSystem) -> HardState:
    if not fs.exists(HARD_STATE_FILE):
        return HardState()
    try:
        return decode_hard_state(fs.read(HARD_STATE_FILE))
    except DecodeError as exc:
        raise CorruptHardStateError(fs.describe(HARD_STATE_FILE), str(exc)) from exc
