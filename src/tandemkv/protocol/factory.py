"""Choosing a request decoder: hiredis-backed when hiredis is installed, else pure Python."""

from __future__ import annotations

from functools import cache

from tandemkv.protocol.decoder import DecoderLimits, RequestDecoder
from tandemkv.protocol.python_decoder import PythonRequestDecoder


@cache
def hiredis_available() -> bool:
    """True if the optional hiredis package imports."""
    try:
        import hiredis  # noqa: F401
    except ImportError:
        return False
    return True


def make_request_decoder(
    limits: DecoderLimits | None = None, use_hiredis: bool | None = None
) -> RequestDecoder:
    """A new request decoder.

    use_hiredis: True requires hiredis (ImportError without it), False never uses it, and
    None uses it when it is installed. Both decoders give the same commands and errors.
    """
    if use_hiredis is None:
        use_hiredis = hiredis_available()
    if use_hiredis:
        from tandemkv.protocol.hiredis_decoder import HiredisRequestDecoder

        return HiredisRequestDecoder(limits)
    return PythonRequestDecoder(limits)
