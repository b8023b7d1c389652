"""Feeding request decoders in chosen chunks and recording what comes out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tandemkv.protocol import DecoderLimits, ProtocolError, RequestDecoder, make_request_decoder

MakeDecoder = Callable[[DecoderLimits | None], RequestDecoder]


def python_decoder(limits: DecoderLimits | None = None) -> RequestDecoder:
    return make_request_decoder(limits, use_hiredis=False)


def hiredis_decoder(limits: DecoderLimits | None = None) -> RequestDecoder:
    return make_request_decoder(limits, use_hiredis=True)


@dataclass(frozen=True)
class Outcome:
    """Every command decoded, then the protocol error that stopped decoding (if any)."""

    commands: tuple[tuple[bytes, ...], ...]
    error: str | None = None


def ok(*commands: Iterable[bytes]) -> Outcome:
    return Outcome(tuple(tuple(c) for c in commands))


def failed(error: str, *commands: Iterable[bytes]) -> Outcome:
    return Outcome(tuple(tuple(c) for c in commands), error)


def decode(
    make: MakeDecoder, chunks: Iterable[bytes], limits: DecoderLimits | None = None
) -> Outcome:
    """Feed chunks one by one, draining commands after each, until done or an error."""
    decoder = make(limits)
    commands: list[tuple[bytes, ...]] = []
    try:
        for chunk in chunks:
            decoder.feed(chunk)
            while (command := decoder.next_command()) is not None:
                assert command, "an empty request must not come out as a command"
                assert all(type(arg) is bytes for arg in command), command
                commands.append(tuple(command))
    except ProtocolError as error:
        return Outcome(tuple(commands), error.message)
    return Outcome(tuple(commands))


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def two_chunk_splits(data: bytes, limit: int = 400) -> Iterator[list[bytes]]:
    """data split in two at every point (at `limit` evenly spread points if longer)."""
    step = max(1, len(data) // limit)
    for cut in range(1, len(data), step):
        yield [data[:cut], data[cut:]]


def chunkings(data: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """Whole, one byte at a time, and in two chunks at every split point."""
    yield "whole", [data]
    yield "bytewise", bytewise(data)
    for chunks in two_chunk_splits(data):
        yield f"split at {len(chunks[0])}", chunks
