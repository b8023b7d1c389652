"""One request to another node over a short-lived connection, for the rare calls a node
makes outside the replication stream: joining a group, inviting a node, asking a status."""

from __future__ import annotations

import asyncio
import ssl

from tandemkv.config import parse_address
from tandemkv.protocol.client_codec import NEED_MORE, ReplyDecoder, encode_command
from tandemkv.protocol.types import ErrorReply
from tandemkv.runtime import Runtime, open_connection


class RpcError(Exception):
    """The call failed: unreachable, timed out, or the node answered an error."""


async def call(
    runtime: Runtime,
    address: str,
    *commands: list[bytes | str | int],
    timeout: float = 2.0,
    tls: ssl.SSLContext | None = None,
) -> list[object]:
    """Send `commands` pipelined on one connection; return their replies in order.

    An error reply to any of them raises RpcError with the node's message. `tls`: dial
    with this context (tls-replication).
    """
    target = parse_address(address, allow_port_zero=False)
    try:
        exchange = _exchange(runtime, target.host, target.port, commands, tls)
        return await asyncio.wait_for(exchange, timeout)
    except (TimeoutError, OSError, EOFError) as error:
        reason = "timed out" if isinstance(error, TimeoutError) else str(error)
        if isinstance(error, ssl.SSLError):
            reason = f"TLS handshake failed: {error.reason or error}"
        raise RpcError(f"cannot reach {address}: {reason or type(error).__name__}") from None


async def _exchange(
    runtime: Runtime,
    host: str,
    port: int,
    commands: tuple[list[bytes | str | int], ...],
    tls: ssl.SSLContext | None,
) -> list[object]:
    reader, writer = await open_connection(runtime, host, port, tls)
    try:
        writer.write(b"".join(encode_command(command) for command in commands))
        decoder = ReplyDecoder()
        replies: list[object] = []
        while len(replies) < len(commands):
            reply = decoder.next_reply()
            if reply is NEED_MORE:
                data = await reader.read(65536)
                if not data:
                    raise EOFError("connection closed before the reply")
                decoder.feed(data)
                continue
            if isinstance(reply, ErrorReply):
                raise RpcError(reply.message)
            replies.append(reply)
        return replies
    finally:
        writer.close()
