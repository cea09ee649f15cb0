"""The pure protocol layer: messages, codec and session state. No I/O here.

Nothing under ``rawlive.protocol`` imports asyncio or websockets.
"""

from __future__ import annotations

import rawlive.protocol.messages as _messages
from rawlive.protocol._schema import camel, json_type, snake
from rawlive.protocol.codec import (
    decode_client,
    decode_json,
    decode_server,
    encode,
    encode_json,
    to_wire,
)
from rawlive.protocol.messages import *  # noqa: F403  (the message types: see __all__)
from rawlive.protocol.messages import CLIENT_ENVELOPES, SERVER_ENVELOPES

# The envelope keys, the codec and naming functions, then every message type.
__all__ = [
    "CLIENT_ENVELOPES",
    "SERVER_ENVELOPES",
    "camel",
    "decode_client",
    "decode_json",
    "decode_server",
    "encode",
    "encode_json",
    "json_type",
    "snake",
    "to_wire",
]
__all__ += _messages.__all__
