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
import ssl
from types import TracebackType
from typing import NamedTuple, Protocol

from tandemkv.config import parse_address
from tandemkv.protocol import NEED_MORE, ReplyDecoder, encode_command
from tandemkv.protocol.errors import ReplyProtocolError
from tandemkv.protocol.types import ErrorReply

# What a tandemkv TLS-only port answers a plaintext client (server/tls_listener.py).
TLS_ONLY_REPLY = "ERR this port accepts TLS connections only"
# The context every Client dials with unless given one: the CLI sets it once from --tls,
# --cacert... so that each connection a verb opens (probes, redirects, every member's
# STATUS) uses it without threading it through each call.
_default_tls: ssl.SSLContext | None = None
_server_name = ""
# Alerts a server sends about the client certificate it got (or did not).
_CERTIFICATE_ALERTS = frozenset(
    (
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "TLSV1_ALERT_UNKNOWN_CA",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    )
)


def use_tls(context: ssl.SSLContext | None, server_name: str = "") -> None:
    """Make every later Client dial with `context` (None: plaintext); `server_name`: the
    SNI to send (default: the host dialled)."""
    global _default_tls, _server_name
    _default_tls, _server_name = context, server_name


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
    def __init__(
        self,
        address: str,
        password: Auth = None,
        timeout: float = 10.0,
        tls: ssl.SSLContext | bool | None = True,
    ) -> None:
        """`tls`: a context, None for plaintext, True for the one use_tls set."""
        target = parse_address(address, allow_port_zero=False)
        self.address = address
        self._tls = _default_tls if tls is True else tls or None
        try:
            self._sock = socket.create_connection((target.host, target.port), timeout=timeout)
        except OSError as error:
            raise ConnectFailed(f"cannot connect to {address}: {error.strerror or error}") from None
        if self._tls is not None:
            self._sock = self._handshake(self._tls, self._sock, _server_name or target.host)
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

    def _handshake(self, context: ssl.SSLContext, sock: socket.socket, name: str) -> socket.socket:
        try:
            return context.wrap_socket(sock, server_hostname=name)
        except ssl.SSLCertVerificationError as error:
            sock.close()
            raise ConnectFailed(
                f"cannot connect to {self.address}: TLS certificate verification failed "
                f"({error.verify_message}): is --cacert the CA that signed its certificate?"
            ) from None
        except ssl.SSLError as error:
            sock.close()
            if error.reason in _CERTIFICATE_ALERTS:
                raise ConnectFailed(self._tls_failure(error)) from None
            raise ConnectFailed(
                f"cannot connect to {self.address}: the TLS handshake failed "
                f"({error.reason or error}): is it a TLS port?"
            ) from None
        except OSError as error:
            sock.close()
            raise ConnectFailed(
                f"cannot connect to {self.address}: the connection broke during the TLS "
                f"handshake ({error.strerror or error}): is it a TLS port?"
            ) from None

    def call(self, *args: bytes | str | int) -> object:
        """Send one command and return its reply; an error reply raises ServerError."""
        try:
            self._sock.sendall(encode_command(args))
            reply = self._read_reply()
        except ssl.SSLError as error:
            raise ClientError(self._tls_failure(error)) from None
        except OSError as error:
            raise ClientError(f"connection to {self.address} failed: {error}") from None
        except ReplyProtocolError as error:
            raise self._not_redis(f"({error.message})") from None
        if isinstance(reply, ErrorReply):
            if reply.message.startswith(TLS_ONLY_REPLY):
                raise ConnectFailed(
                    f"{self.address} accepts TLS connections only: pass --tls (with --cacert "
                    "CA.pem, and --cert/--key if it asks for client certificates)"
                )
            raise server_error(reply.message)
        return reply

    def _tls_failure(self, error: ssl.SSLError) -> str:
        if error.reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED":
            return (
                f"{self.address} refused the TLS connection: it requires a client "
                "certificate (pass --cert and --key)"
            )
        if error.reason in _CERTIFICATE_ALERTS:
            return (
                f"{self.address} refused our client certificate ({error.reason}): is "
                "--cert signed by the CA the server trusts?"
            )
        return f"TLS connection to {self.address} failed: {error.reason or error}"

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
                raise ClientError(f"{self.address} closed the connection{self._hint(first)}")
            if first and data[0] not in REPLY_TYPE_BYTES:
                # Fail now: a foreign protocol may never send the CRLF RESP waits for.
                raise self._not_redis(f"(it answered {data[:_SHOWN_BYTES]!r})")
            first = False
            self._decoder.feed(data)

    def _hint(self, first: bool) -> str:
        if self._tls is None:
            return " (if it requires TLS, pass --tls)"
        if first:
            # TLS 1.3: the server checks our certificate after our side of the handshake
            # is done, and closes if it wants one it did not get (or does not trust).
            return (
                " after the TLS handshake: it may require a client certificate (pass --cert "
                "and --key, signed by a CA it trusts)"
            )
        return ""

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
