"""A small synchronous client for the CLI and tests: one socket, RESP2, commands in order.

For applications, any Redis client works (redis-py, redis-cli); this one exists so the
command line needs nothing beyond the standard library.

Its errors say which of four things went wrong, since the CLI gives each its own exit
status: nothing answered (ConnectFailed), the connection broke (ClientError), something
answered that does not speak RESP (NotRedisError), or the server answered with an error
reply (ServerError; AuthError when it wants a password or refused the one given).
"""

from __future__ import annotations

import socket
from types import TracebackType
from typing import NamedTuple, Protocol

from tandemkv.config import parse_address
from tandemkv.protocol import NEED_MORE, ReplyDecoder, encode_command
from tandemkv.protocol.errors import ReplyProtocolError
from tandemkv.protocol.types import ErrorReply

# The first byte of every RESP2/RESP3 reply: anything else is another protocol (HTTP...).
REPLY_TYPE_BYTES = frozenset(b"+-:$*_,#!=(%~>|")
_SHOWN_BYTES = 40


class Executor(Protocol):
    """Something that runs commands: a running server (Client) or a data directory opened
    in this process (tandemkv.open), so the CLI's verbs work on either."""

    def execute(self, *args: bytes | str | int) -> object: ...

    def close(self) -> None: ...


class ClientError(Exception):
    """The server could not be reached or broke the connection."""


class ConnectFailed(ClientError):
    """Nothing accepted the connection: no command was sent, so any command may be retried."""


class NotRedisError(ClientError):
    """The peer answered with bytes that are not RESP: it is not a Redis-protocol server."""


class ServerError(Exception):
    """The server answered with an error reply."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthError(ServerError):
    """NOAUTH (a password is needed) or WRONGPASS (the one given is wrong)."""


def server_error(message: str) -> ServerError:
    if message.startswith(("NOAUTH", "WRONGPASS")):
        return AuthError(message)
    return ServerError(message)


class Credentials(NamedTuple):
    """An ACL user and its password (AUTH user password); a bare password is `default`'s."""

    user: str
    password: str


# What client verbs authenticate with: a password, a user and password, or nothing.
Auth = str | Credentials | None


class Client:
    def __init__(self, address: str, password: Auth = None, timeout: float = 10.0) -> None:
        target = parse_address(address, allow_port_zero=False)
        self.address = address
        try:
            self._sock = socket.create_connection((target.host, target.port), timeout=timeout)
        except OSError as error:
            raise ConnectFailed(f"cannot connect to {address}: {error.strerror or error}") from None
        self._decoder = ReplyDecoder()
        if password:
            try:
                if isinstance(password, Credentials):
                    self.call("AUTH", password.user, password.password)
                else:
                    self.call("AUTH", password)
            except BaseException:
                self.close()
                raise

    def call(self, *args: bytes | str | int) -> object:
        """Send one command and return its reply; an error reply raises ServerError."""
        try:
            self._sock.sendall(encode_command(args))
            reply = self._read_reply()
        except OSError as error:
            raise ClientError(f"connection to {self.address} failed: {error}") from None
        except ReplyProtocolError as error:
            raise self._not_redis(f"({error.message})") from None
        if isinstance(reply, ErrorReply):
            raise server_error(reply.message)
        return reply

    def execute(self, *args: bytes | str | int) -> object:
        """Like EmbeddedStore.execute, so code can drive either; errors raise ServerError."""
        return self.call(*args)

    def _read_reply(self) -> object:
        first = True
        while True:
            reply = self._decoder.next_reply()
            if reply is not NEED_MORE:
                return reply
            data = self._sock.recv(65536)
            if not data:
                raise ClientError(f"{self.address} closed the connection")
            if first and data[0] not in REPLY_TYPE_BYTES:
                # Fail now: a foreign protocol may never send the CRLF RESP waits for.
                raise self._not_redis(f"(it answered {data[:_SHOWN_BYTES]!r})")
            first = False
            self._decoder.feed(data)

    def _not_redis(self, detail: str) -> NotRedisError:
        return NotRedisError(
            f"{self.address} does not speak the Redis protocol {detail}: is --server the "
            "address of a tandemkv server?"
        )

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
