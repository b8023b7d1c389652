"""JSON import and export of a whole keyspace, in the seed's file format.

    {"data": {"key": "value", ...}, "binary": {"<base64 key>": "<base64 value>", ...}}

`data` holds every pair whose key and value are both valid UTF-8, as JSON strings. A pair
where either side is not valid UTF-8 goes under `binary`, both sides in standard base64
(RFC 4648, with padding), so export followed by import gives back exactly the same bytes.
`binary` is optional on import: a file written by the seed has only `data`.

Not carried over: time-to-live, and keys holding anything but a string (hashes, lists,
sets, sorted sets, streams): the seed's format has no place for them, so export leaves them
out and names how many it left out (SAVE/BGSAVE snapshots keep everything). Export writes
values only, so imported keys never expire
(and importing over an existing key clears its expiry, as SET does). Export is not a
point-in-time snapshot of a live server: it pages through the keys with SCAN + MGET, so a
write made during the export may or may not be in the file. Use SAVE/BGSAVE (or copy a
stopped node's data directory) for an exact backup.

Import checks the whole file before writing anything: valid UTF-8 and JSON (an error names
its line, column and byte offset), a top-level object with a `data` object and nothing but
`data` and `binary`, string values only, valid base64 under `binary`, no key given twice.
Only then does it write, in MSET batches. Each batch is atomic, the whole import is not: if
the target fails part-way (server gone, disk error) the batches already written stay.

Export writes to a temporary file in the target's directory, fsyncs it, and renames it over
the target, so the target is never left half-written.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import importlib
import json
import os
import secrets
import sys
from collections.abc import Iterator
from typing import Protocol, cast

from tandemkv.client import Executor

DATA = "data"
BINARY = "binary"
IMPORT_BATCH = 1000
EXPORT_BATCH = 1000
_KNOWN_SECTIONS = (DATA, BINARY)
_SHOWN_KEY_CHARS = 60


class JsonImportError(Exception):
    """The file cannot be imported; nothing was written. The message says where and why."""


class JsonExportError(Exception):
    """The export file could not be written; the target file was left as it was."""


Pair = tuple[bytes, bytes]


# ------------------------------------------------------------------ import


def import_json(target: Executor, path: str, *, show_progress: bool) -> int:
    """Check the whole file at `path`, then write its pairs to `target`; the count written."""
    pairs = read_pairs(path)
    bar = _progress(show_progress, len(pairs), "import")
    try:
        for start in range(0, len(pairs), IMPORT_BATCH):
            batch = pairs[start : start + IMPORT_BATCH]
            args: list[bytes | str | int] = ["MSET"]
            for key, value in batch:
                args.append(key)
                args.append(value)
            target.execute(*args)
            bar.update(len(batch))
    finally:
        bar.close()
    return len(pairs)


def read_pairs(path: str) -> list[Pair]:
    """Every (key, value) the file holds, or JsonImportError naming the first problem."""
    document = _parse(path, _read(path))
    if not isinstance(document, dict):
        raise JsonImportError(
            f"{path}: expected a JSON object at the top level, found {_kind(document)}"
        )
    unknown = [name for name in document if name not in _KNOWN_SECTIONS]
    if unknown:
        names = ", ".join(_show(name) for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise JsonImportError(
            f"{path}: unknown top-level key{plural} {names} "
            f'(only "{DATA}" and "{BINARY}" are allowed)'
        )
    if DATA not in document:
        raise JsonImportError(f'{path}: no "{DATA}" object at the top level')
    pairs = _text_pairs(path, _section(path, document, DATA))
    if BINARY in document:
        pairs.extend(_binary_pairs(path, _section(path, document, BINARY)))
    _refuse_repeats(path, pairs)
    return pairs


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise JsonImportError(f"cannot read {path}: {error.strerror or error}") from None


def _parse(path: str, raw: bytes) -> object:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise JsonImportError(
            f"{path}: not valid UTF-8 at line {line} column {column} (byte {error.start})"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte order mark some editors write; JSON ignores it
    try:
        return json.loads(text, object_pairs_hook=_keep_repeats)
    except json.JSONDecodeError as error:
        offset = len(raw) - len(text.encode("utf-8")) + len(text[: error.pos].encode("utf-8"))
        raise JsonImportError(
            f"{path}: not valid JSON: {error.msg} at line {error.lineno} "
            f"column {error.colno} (byte {offset})"
        ) from None


class _Object(dict[str, object]):
    """A JSON object that remembers the first name given more than once."""

    repeated: str | None = None


def _keep_repeats(items: list[tuple[str, object]]) -> _Object:
    found = _Object(items)
    if len(found) != len(items):
        seen: set[str] = set()
        for name, _ in items:
            if name in seen:
                found.repeated = name
                break
            seen.add(name)
    return found


def _section(path: str, document: dict[str, object], name: str) -> dict[str, object]:
    section = document[name]
    if not isinstance(section, dict):
        raise JsonImportError(f'{path}: "{name}" must be a JSON object, found {_kind(section)}')
    if isinstance(section, _Object) and section.repeated is not None:
        raise JsonImportError(
            f'{path}: key {_show(section.repeated)} appears more than once in "{name}"'
        )
    return section


def _text_pairs(path: str, section: dict[str, object]) -> list[Pair]:
    pairs: list[Pair] = []
    for key, value in section.items():
        if type(value) is not str:
            raise JsonImportError(
                f'{path}: the value of key {_show(key)} in "{DATA}" must be a '
                f"string, found {_kind(value)}"
            )
        try:
            pairs.append((key.encode("utf-8"), value.encode("utf-8")))
        except UnicodeEncodeError:
            raise JsonImportError(
                f'{path}: key {_show(key)} in "{DATA}" (or its value) contains an unpaired '
                f'surrogate escape, which is not text; put such bytes under "{BINARY}"'
            ) from None
    return pairs


def _binary_pairs(path: str, section: dict[str, object]) -> Iterator[Pair]:
    for key, value in section.items():
        if type(value) is not str:
            raise JsonImportError(
                f'{path}: the value of key {_show(key)} in "{BINARY}" must '
                f"be a base64 string, found {_kind(value)}"
            )
        yield (
            _unbase64(path, key, f"the key {_show(key)}"),
            _unbase64(path, value, f"the value of key {_show(key)}"),
        )


def _unbase64(path: str, text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise JsonImportError(f'{path}: {what} in "{BINARY}" is not valid base64') from None


def _refuse_repeats(path: str, pairs: list[Pair]) -> None:
    """A key given twice (under both sections, or in two base64 spellings) would make the
    result depend on write order."""
    keys = {key for key, _ in pairs}
    if len(keys) == len(pairs):
        return
    seen: set[bytes] = set()
    for key, _ in pairs:
        if key in seen:
            shown = _show(key.decode("utf-8", "backslashreplace"))
            raise JsonImportError(
                f"{path}: key {shown} appears more than once (under both "
                f'"{DATA}" and "{BINARY}", or twice under "{BINARY}")'
            )
        seen.add(key)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _show(key: str) -> str:
    shown = json.dumps(key, ensure_ascii=False)
    if len(shown) > _SHOWN_KEY_CHARS:
        shown = shown[: _SHOWN_KEY_CHARS - 4] + '..."'
    return shown


# ------------------------------------------------------------------ export


def export_json(
    target: Executor,
    path: str,
    *,
    show_progress: bool,
    skipped: list[tuple[bytes, bytes]] | None = None,
) -> int:
    """Write every string key of `target` to `path` (atomically replaced); the count
    written. Keys of other types are left out, each added to `skipped` with its type.

    A problem with the file raises JsonExportError; one with the target (a lost server)
    propagates as the target raised it. Either way `path` is left as it was.
    """
    total = target.execute("DBSIZE")
    out = _AtomicFile(path)
    bar = _progress(show_progress, total if isinstance(total, int) else None, "export")
    try:
        count = _write_document(target, out, bar, skipped if skipped is not None else [])
        out.commit()
    finally:
        out.discard()
        bar.close()
    return count


def _write_document(
    target: Executor, out: _AtomicFile, bar: _Bar, skipped: list[tuple[bytes, bytes]]
) -> int:
    """Stream `data` batch by batch; `binary` pairs (rare) are held and written at the end."""
    out.write(b'{"' + DATA.encode() + b'": {')
    binary: dict[str, str] = {}
    count = 0
    first = True
    for batch in _pages(target, skipped):
        text: dict[str, str] = {}
        for key, value in batch:
            try:
                text[key.decode("utf-8")] = value.decode("utf-8")
            except UnicodeDecodeError:
                binary[_base64(key)] = _base64(value)
        if text:
            if not first:
                out.write(b", ")
            out.write(_members(text))
            first = False
        count += len(batch)
        bar.update(len(batch))
    out.write(b'}, "' + BINARY.encode() + b'": {' + _members(binary) + b"}}\n")
    return count


class _AtomicFile:
    """A temporary file next to `path` that becomes `path` only on commit()."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._directory = os.path.dirname(os.path.abspath(path))
        name = f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp"
        self._temp = os.path.join(self._directory, name)
        self._done = False
        with self._errors():
            # O_EXCL with the usual 0o666 (less the umask): an ordinary file, never a
            # file someone else prepared.
            fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        with self._errors():
            self._file.write(data)

    def commit(self) -> None:
        with self._errors():
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._temp, self.path)
        self._done = True
        _fsync_directory(self._directory)

    def discard(self) -> None:
        """Drop the temporary file unless commit() published it."""
        if self._done:
            return
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            os.remove(self._temp)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            reason = error.strerror or str(error)
            raise JsonExportError(f"cannot write {self.path}: {reason}") from None


def _members(section: dict[str, str]) -> bytes:
    """`"k": "v", ...` for a dict, encoded in one C-speed call (the braces cut off)."""
    if not section:
        return b""
    return json.dumps(section, ensure_ascii=False)[1:-1].encode("utf-8")


def _pages(target: Executor, skipped: list[tuple[bytes, bytes]]) -> Iterator[list[Pair]]:
    """Every live string key with its value, in batches; a key SCAN repeats is given once.
    A key MGET reads as None was deleted since SCAN saw it, or holds another type: those
    go to `skipped` with their type."""
    seen: set[bytes] = set()
    cursor: bytes = b"0"
    while True:
        reply = target.execute("SCAN", cursor, "COUNT", EXPORT_BATCH)
        assert isinstance(reply, list) and len(reply) == 2, reply
        cursor = reply[0]
        keys = [key for key in reply[1] if key not in seen]
        if keys:
            values = target.execute("MGET", *keys)
            assert isinstance(values, list) and len(values) == len(keys), values
            batch = [(k, v) for k, v in zip(keys, values, strict=True) if v is not None]
            for key, value in zip(keys, values, strict=True):
                if value is None:
                    kind = str(target.execute("TYPE", key)).encode()
                    if kind not in (b"none", b"string"):
                        skipped.append((key, kind))
            seen.update(keys)
            yield batch
        if cursor in (b"0", 0):
            return


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename still happened
    finally:
        os.close(fd)


# ------------------------------------------------------------------ progress


class _Bar(Protocol):
    def update(self, n: int) -> object: ...

    def close(self) -> None: ...


class _NoBar:
    def update(self, n: int) -> object:
        return None

    def close(self) -> None:
        return None


def _progress(show: bool, total: int | None, verb: str) -> _Bar:
    """A tqdm bar on stderr, or nothing. tqdm is imported only when a bar is shown (it
    ships no type information, hence the import by name)."""
    if not show:
        return _NoBar()
    tqdm = importlib.import_module("tqdm").tqdm
    return cast(
        _Bar,
        tqdm(
            total=total,
            unit=" keys",
            unit_scale=True,
            desc=verb,
            file=sys.stderr,
            leave=False,
            mininterval=0.2,
        ),
    )
