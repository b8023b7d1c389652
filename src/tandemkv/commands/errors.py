"""Typed command errors. Each maps to a Redis error reply with the same prefix and text,
so clients that match on error strings behave as they do against Redis."""

from __future__ import annotations

from tandemkv.protocol.types import ErrorReply


class CommandError(Exception):
    """An error reply: `prefix` is the Redis error code (ERR, WRONGTYPE, ...)."""

    prefix = "ERR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def reply(self) -> ErrorReply:
        return ErrorReply(f"{self.prefix} {self.message}")

    def with_prefix(self, prefix: str) -> CommandError:
        """The same message under another error code (e.g. NOAUTH for HELLO)."""
        self.prefix = prefix
        return self


class SyntaxErr(CommandError):
    def __init__(self) -> None:
        super().__init__("syntax error")


class WrongType(CommandError):
    prefix = "WRONGTYPE"

    def __init__(self) -> None:
        super().__init__("Operation against a key holding the wrong kind of value")


class NotInteger(CommandError):
    def __init__(self) -> None:
        super().__init__("value is not an integer or out of range")


class NotFloat(CommandError):
    def __init__(self) -> None:
        super().__init__("value is not a valid float")


class Overflow(CommandError):
    def __init__(self) -> None:
        super().__init__("increment or decrement would overflow")


class NoSuchKey(CommandError):
    def __init__(self) -> None:
        super().__init__("no such key")


class NoAuth(CommandError):
    prefix = "NOAUTH"

    def __init__(self) -> None:
        super().__init__("Authentication required.")


class WrongPass(CommandError):
    prefix = "WRONGPASS"

    def __init__(self) -> None:
        super().__init__("invalid username-password pair or user is disabled.")


class NoPerm(CommandError):
    prefix = "NOPERM"


class ReadOnly(CommandError):
    """A write (or a read without READONLY) sent to a node that is not the primary."""

    prefix = "READONLY"


class ExecAbort(CommandError):
    prefix = "EXECABORT"

    def __init__(self, message: str = "Transaction discarded because of previous errors.") -> None:
        super().__init__(message)


class NoProto(CommandError):
    prefix = "NOPROTO"

    def __init__(self) -> None:
        super().__init__("unsupported protocol version")


def wrong_arity(name: str) -> CommandError:
    return CommandError(f"wrong number of arguments for '{name}' command")


def unknown_command(args: list[bytes]) -> CommandError:
    name = _printable(args[0])
    rest = ""
    for arg in args[1:]:
        if len(rest) >= 128:
            break
        rest += f"'{_printable(arg, 128 - len(rest))}' "
    return CommandError(f"unknown command '{name}', with args beginning with: {rest}")


def unknown_subcommand(command: str, sub: bytes) -> CommandError:
    return CommandError(f"unknown subcommand '{_printable(sub)}'. Try {command.upper()} HELP.")


def _printable(raw: bytes, limit: int = 128) -> str:
    text = raw[:limit].decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else " " for ch in text)
