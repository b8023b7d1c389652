"""Secrets kept out of SLOWLOG and MONITOR, as Redis 7 redacts them."""

from __future__ import annotations

REDACTED = b"(redacted)"
# CONFIG SET values that are secrets (Redis's sensitive configs).
_SECRET_SETTINGS = (b"requirepass", b"masterauth")


def redacted(args: list[bytes]) -> list[bytes]:
    """`args` with passwords replaced by "(redacted)": AUTH's arguments, HELLO's AUTH pair,
    every ACL SETUSER rule (and the user), CONFIG SET requirepass's value, MIGRATE's
    AUTH/AUTH2 arguments. Anything else comes back as it is."""
    name = args[0].lower()
    if name == b"auth":
        return [args[0]] + [REDACTED] * (len(args) - 1)
    sub = args[1].lower() if len(args) > 1 else b""
    if name == b"acl" and sub == b"setuser":
        return args[:2] + [REDACTED] * (len(args) - 2)
    hidden: set[int] = set()
    if name == b"hello":
        for at in range(2, len(args) - 2):
            if args[at].lower() == b"auth":
                hidden.update((at + 1, at + 2))
                break
    elif name == b"config" and sub == b"set":
        for at in range(2, len(args) - 1, 2):
            if args[at].lower() in _SECRET_SETTINGS:
                hidden.add(at + 1)
    elif name == b"migrate":
        for at in range(6, len(args)):
            word = args[at].lower()
            if word == b"auth":
                hidden.add(at + 1)
            elif word == b"auth2":
                hidden.update((at + 1, at + 2))
    if not hidden:
        return args
    return [REDACTED if at in hidden else arg for at, arg in enumerate(args)]
