"""What a request decoder is, and the limits every request decoder enforces.

A request decoder turns the bytes a client sends into commands, one at a time:

    decoder.feed(data)
    while (args := decoder.next_command()) is not None:
        ...  # args[0] is the command name as sent (not case-folded)

It never touches a socket. `next_command` raises `ProtocolError` when the bytes cannot be a
request; the server then answers the error and closes the connection, so a decoder that has
raised need not be usable again (ours raise the same error on every later call).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Protocol

# Redis's defaults: proto-max-bulk-len, the multibulk count it accepts (INT_MAX; the argv
# array is not preallocated, so the count alone costs nothing), PROTO_INLINE_MAX_SIZE (also
# the longest header line it waits for), and the caps it applies before AUTH succeeds.
PROTO_MAX_BULK_LEN: Final = 512 * 1024 * 1024
PROTO_MAX_MULTIBULK_LEN: Final = 2**31 - 1
PROTO_INLINE_MAX_SIZE: Final = 64 * 1024
UNAUTHENTICATED_MAX_MULTIBULK_LEN: Final = 10
UNAUTHENTICATED_MAX_BULK_LEN: Final = 16 * 1024
# client-query-buffer-limit: what one request may hold in all. Redis checks its query
# buffer after reading and closes the client; we check the declared sizes before holding
# them, so a client cannot make us buffer a request that will be refused.
CLIENT_QUERY_BUFFER_LIMIT: Final = 1024 * 1024 * 1024
# What an argument costs us beyond its bytes (the bytes object and its list slot), counted
# so that millions of empty arguments cannot slip under the limit.
ARGUMENT_OVERHEAD: Final = 48


@dataclass(slots=True)
class DecoderLimits:
    """Size limits checked while decoding, before anything of the declared size is held.

    Decoders read these between commands, so the server may assign new limits (or change
    this object) at any time, e.g. lift the pre-AUTH caps once AUTH succeeds.

    With `authenticated` false the stricter `unauthenticated_*` caps also apply and exceeding
    them gives Redis's "unauthenticated multibulk/bulk length" errors; the general caps are
    checked first, as Redis does.
    """

    max_bulk_len: int = PROTO_MAX_BULK_LEN
    max_multibulk_len: int = PROTO_MAX_MULTIBULK_LEN
    max_inline_len: int = PROTO_INLINE_MAX_SIZE
    max_request_len: int = CLIENT_QUERY_BUFFER_LIMIT
    authenticated: bool = True
    unauthenticated_max_multibulk_len: int = UNAUTHENTICATED_MAX_MULTIBULK_LEN
    unauthenticated_max_bulk_len: int = UNAUTHENTICATED_MAX_BULK_LEN

    @classmethod
    def unauthenticated(cls, base: DecoderLimits | None = None) -> DecoderLimits:
        """The limits for a connection that has not authenticated yet (Redis's pre-AUTH caps)."""
        return replace(base if base is not None else cls(), authenticated=False)

    def bulk_cap(self) -> int:
        """The largest bulk string length currently accepted."""
        if self.authenticated:
            return self.max_bulk_len
        return min(self.max_bulk_len, self.unauthenticated_max_bulk_len)

    def multibulk_cap(self) -> int:
        """The largest element count currently accepted."""
        if self.authenticated:
            return self.max_multibulk_len
        return min(self.max_multibulk_len, self.unauthenticated_max_multibulk_len)


class RequestDecoder(Protocol):
    """Server-side RESP request decoder: multibulk (`*N\\r\\n$len\\r\\n...`) and inline lines."""

    limits: DecoderLimits

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes received from the client (a bytearray or memoryview is copied)."""
        ...

    def next_command(self) -> list[bytes] | None:
        """The next complete command, or None until more bytes arrive.

        Empty requests (blank inline lines, `*0`, `*-1`) are consumed and yield nothing.
        Raises ProtocolError for bytes that cannot be a request.
        """
        ...

    def set_limits(self, limits: DecoderLimits) -> None:
        """Use these limits from the next header decoded on (same as assigning `limits`)."""
        ...

    def take_unread(self) -> bytes:
        """Hand back the bytes fed but not decoded yet and forget them.

        For a connection that switches protocol after a command (PEER STREAM): bytes the
        client sent after it are the start of the new stream. Call it between requests,
        i.e. after `next_command` returned a command; raises ValueError mid-request.
        """
        ...

    @property
    def buffered_bytes(self) -> int:
        """Bytes waiting in the input buffer.

        Arguments of a partly received command that are already decoded are held aside
        and not counted; at most one unfinished element stays buffered.
        """
        ...
