"""Errors raised by the RESP decoder."""

from __future__ import annotations


class ProtocolError(Exception):
    """The peer sent bytes that are not a valid request.

    The server answers ``-ERR Protocol error: <message>`` and closes that connection only.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def reply_text(self) -> str:
        return f"ERR Protocol error: {self.message}"


class ReplyProtocolError(ProtocolError):
    """The server sent bytes that are not a valid RESP2/RESP3 reply (client side)."""


# Redis's own texts for each request-decoding failure (networking.c), so clients that match
# on them see what Redis would have said. The server prefixes "ERR Protocol error: ".
TOO_BIG_INLINE = "too big inline request"
UNBALANCED_QUOTES = "unbalanced quotes in request"
TOO_BIG_MBULK_COUNT = "too big mbulk count string"
TOO_BIG_BULK_COUNT = "too big bulk count string"
INVALID_MULTIBULK_LENGTH = "invalid multibulk length"
UNAUTHENTICATED_MULTIBULK_LENGTH = "unauthenticated multibulk length"
INVALID_BULK_LENGTH = "invalid bulk length"
UNAUTHENTICATED_BULK_LENGTH = "unauthenticated bulk length"
# Ours: Redis closes such a client without a reply (and logs it).
TOO_BIG_REQUEST = "request larger than client-query-buffer-limit"


def expected_dollar(got: int) -> ProtocolError:
    """The error for a multibulk element that is not a bulk string; `got` is its first byte."""
    # Redis prints the raw byte, with CR and LF turned into spaces as in every error it
    # formats; surrogateescape keeps a non-ASCII byte intact through the encoder, which
    # writes error messages back out with the same error handler.
    char = " " if got in (10, 13) else bytes([got]).decode("utf-8", "surrogateescape")
    return ProtocolError(f"expected '$', got '{char}'")
