"""RESP2/RESP3 and inline requests: pure, sans-IO decoders and encoders.

Server side: `make_request_decoder()` turns client bytes into commands (`feed` /
`next_command`), `encode_reply` / `encode_replies` turn reply values into bytes.
Client side: `encode_command` and `ReplyDecoder` (`feed` / `next_reply` -> value or
NEED_MORE). Reply values are described in `tandemkv.protocol.types`.
Peer links after PEER STREAM: `encode_frames` and `FrameDecoder` (`peer_frames`).
"""

from tandemkv.protocol.client_codec import NEED_MORE, ReplyDecoder, encode_command
from tandemkv.protocol.decoder import DecoderLimits, RequestDecoder
from tandemkv.protocol.encoder import encode_replies, encode_reply
from tandemkv.protocol.errors import ProtocolError, ReplyProtocolError
from tandemkv.protocol.factory import hiredis_available, make_request_decoder
from tandemkv.protocol.inline import split_inline
from tandemkv.protocol.peer_frames import FrameDecoder, FrameTooLarge, encode_frames
from tandemkv.protocol.python_decoder import PythonRequestDecoder
from tandemkv.protocol.types import (
    OK,
    PONG,
    QUEUED,
    BigNumber,
    ErrorReply,
    NullArray,
    NullArrayType,
    Push,
    SetReply,
    SimpleString,
    Verbatim,
)

__all__ = [
    "NEED_MORE",
    "OK",
    "PONG",
    "QUEUED",
    "BigNumber",
    "DecoderLimits",
    "ErrorReply",
    "FrameDecoder",
    "FrameTooLarge",
    "NullArray",
    "NullArrayType",
    "ProtocolError",
    "Push",
    "PythonRequestDecoder",
    "ReplyDecoder",
    "ReplyProtocolError",
    "RequestDecoder",
    "SetReply",
    "SimpleString",
    "Verbatim",
    "encode_command",
    "encode_frames",
    "encode_replies",
    "encode_reply",
    "hiredis_available",
    "make_request_decoder",
    "split_inline",
]
