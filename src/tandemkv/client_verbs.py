"""The CLI's client verbs (put, get, delete, keys) against a running server."""

from __future__ import annotations

import argparse
import os
import sys

from tandemkv.cli import EXIT_NOT_FOUND, EXIT_OK, EXIT_UNAVAILABLE, server_address
from tandemkv.client import Client, ClientError, ServerError


def run_client_verb(args: argparse.Namespace) -> int:
    address = server_address(args)
    password = args.password or os.environ.get("TANDEMKV_PASSWORD")
    try:
        with Client(address, password=password) as client:
            return _VERBS[args.verb](client, args)
    except ClientError as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except ServerError as error:
        print(f"tandemkv: server error: {error.message}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except ValueError as error:
        print(f"tandemkv: bad --server {address!r}: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE


def _print_bytes(value: bytes) -> None:
    sys.stdout.buffer.write(value + b"\n")
    sys.stdout.flush()


def _put(client: Client, args: argparse.Namespace) -> int:
    client.call("SET", args.key, args.value)
    print("OK")
    return EXIT_OK


def _get(client: Client, args: argparse.Namespace) -> int:
    value = client.call("GET", args.key)
    if value is None:
        print(f"tandemkv: key not found: {args.key}", file=sys.stderr)
        return EXIT_NOT_FOUND
    assert isinstance(value, bytes)
    _print_bytes(value)
    return EXIT_OK


def _delete(client: Client, args: argparse.Namespace) -> int:
    if client.call("DEL", args.key) == 0:
        print(f"tandemkv: key not found: {args.key}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print("OK")
    return EXIT_OK


def _keys(client: Client, args: argparse.Namespace) -> int:
    cursor: bytes = b"0"
    while True:
        reply = client.call("SCAN", cursor, "MATCH", args.pattern, "COUNT", 1000)
        assert isinstance(reply, list)
        cursor, batch = reply[0], reply[1]
        for key in batch:
            _print_bytes(key)
        if cursor == b"0":
            return EXIT_OK


_VERBS = {"put": _put, "get": _get, "delete": _delete, "keys": _keys}
