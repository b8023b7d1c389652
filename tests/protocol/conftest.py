"""Every request-decoder test runs against both implementations."""

from __future__ import annotations

import pytest

from tandemkv.protocol import hiredis_available

from .decoding import MakeDecoder, hiredis_decoder, python_decoder

DECODERS = [
    pytest.param(python_decoder, id="python"),
    pytest.param(
        hiredis_decoder,
        id="hiredis",
        marks=pytest.mark.skipif(
            not hiredis_available(),
            reason="hiredis is not installed: HiredisRequestDecoder untested",
        ),
    ),
]


@pytest.fixture(params=DECODERS)
def make_decoder(request: pytest.FixtureRequest) -> MakeDecoder:
    factory: MakeDecoder = request.param
    return factory
