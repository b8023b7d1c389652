"""The CLI's client verbs (put, get, delete, keys) against a running server."""

from __future__ import annotations

import argparse
import os
import sys

import tandemkv
from tandemkv.cli import EXIT_NOT_FOUND, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, server_address
from tandemkv.client import Client, ClientError, Executor, ServerError
from tandemkv.embedded import StoreError
from tandemkv.storage.errors import DataDirLockedError, StorageError


def run_client_verb(args: argparse.Namespace) -> int:
    try:
        target = connect(args)
    except (ClientError, DataDirError) as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except ServerError as error:
        print(f"tandemkv: server error: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    try:
        return _VERBS[args.verb](target, args)
    except ClientError as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (ServerError, StoreError) as error:
        print(f"tandemkv: server error: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        target.close()


class DataDirError(Exception):
    """The data directory asked for cannot be opened here."""


def connect(args: argparse.Namespace) -> Executor:
    """--server (or TANDEMKV_SERVER) means the network; else --db-path means in-process;
    with neither, the default server address."""
    server_given = args.server or os.environ.get("TANDEMKV_SERVER")
    if not server_given and args.db_path:
        try:
            return tandemkv.open(args.db_path)
        except DataDirLockedError as error:
            raise DataDirError(
                f"{error} A running server owns it: use --server HOST:PORT to talk to it."
            ) from None
        except StorageError as error:
            raise DataDirError(str(error)) from None
    address = server_address(args)
    password = args.password or os.environ.get("TANDEMKV_PASSWORD")
    try:
        return Client(address, password=password)
    except ValueError as error:
        raise ClientError(f"bad server address {address!r}: {error}") from None


def _print_bytes(value: bytes) -> None:
    sys.stdout.buffer.write(value + b"\n")
    sys.stdout.flush()


def _put(client: Executor, args: argparse.Namespace) -> int:
    client.execute("SET", args.key, args.value)
    print("OK")
    return EXIT_OK


def _get(client: Executor, args: argparse.Namespace) -> int:
    value = client.execute("GET", args.key)
    if value is None:
        print(f"tandemkv: key not found: {args.key}", file=sys.stderr)
        return EXIT_NOT_FOUND
    assert isinstance(value, bytes)
    _print_bytes(value)
    return EXIT_OK


def _delete(client: Executor, args: argparse.Namespace) -> int:
    if client.execute("DEL", args.key) == 0:
        print(f"tandemkv: key not found: {args.key}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print("OK")
    return EXIT_OK


def _keys(client: Executor, args: argparse.Namespace) -> int:
    cursor: bytes = b"0"
    while True:
        reply = client.execute("SCAN", cursor, "MATCH", args.pattern, "COUNT", 1000)
        assert isinstance(reply, list)
        cursor, batch = reply[0], reply[1]
        for key in batch:
            _print_bytes(key)
        if cursor == b"0":
            return EXIT_OK


def _import(client: Executor, args: argparse.Namespace) -> int:
    from tandemkv.jsonio import JsonImportError, import_json

    try:
        count = import_json(client, args.file, show_progress=sys.stderr.isatty())
    except JsonImportError as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"imported {count} keys from {args.file}")
    return EXIT_OK


def _export(client: Executor, args: argparse.Namespace) -> int:
    from tandemkv.jsonio import JsonExportError, export_json

    try:
        count = export_json(client, args.file, show_progress=sys.stderr.isatty())
    except JsonExportError as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"exported {count} keys to {args.file}")
    return EXIT_OK


_VERBS = {
    "put": _put, "get": _get, "delete": _delete, "keys": _keys,
    "import": _import, "export": _export,
}
