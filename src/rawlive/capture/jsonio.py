"""The one JSON boundary of the capture package for what is not a decoded message.

Frames are decoded into messages by the protocol codec
(:mod:`rawlive.protocol.codec`). Capture lines, the raw JSON value of a frame
that the tools walk (the shape diff, the viewer, the recorder's audio
redaction) and short JSON texts shown to people go through here, so there is
one place that knows orjson, and one rule for reading a wire key from raw
JSON in either spelling (:func:`spellings`, :func:`get_key`).
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from rawlive.protocol import snake

__all__ = [
    "JSONDecodeError",
    "dumps",
    "dumps_line",
    "dumps_pretty",
    "dumps_text",
    "get_key",
    "loads",
    "spellings",
]

JSONDecodeError = orjson.JSONDecodeError
"""What :func:`loads` raises for text that is not JSON (a ``ValueError``)."""


def loads(data: str | bytes | bytearray | memoryview) -> Any:
    """Parse JSON text; raise :data:`JSONDecodeError` when it is not JSON."""
    return orjson.loads(data)


def dumps(value: Any) -> bytes:
    """Return compact JSON as UTF-8 bytes; raise ``TypeError`` when ``value`` is not JSON."""
    return orjson.dumps(value)


def dumps_text(value: Any) -> str:
    """Return compact JSON as ``str``; raise ``TypeError`` when ``value`` is not JSON."""
    return orjson.dumps(value).decode("utf-8")


def dumps_pretty(value: Any) -> str:
    """Return JSON indented by two spaces, as ``str``."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")


def dumps_line(value: Any) -> bytes:
    """Return compact JSON with a trailing newline: one line of a JSON Lines file."""
    return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)


@functools.lru_cache(maxsize=256)
def spellings(key: str) -> tuple[str, ...]:
    """Return the spellings of a camelCase wire key the service accepts.

    ``"modelTurn"`` gives ``("modelTurn", "model_turn")``; a key without
    capitals (``"data"``) gives just itself.
    """
    other = snake(key)
    return (key,) if other == key else (key, other)


def get_key(node: Any, key: str) -> Any:
    """Return ``node[key]`` for a camelCase key, accepting its snake_case spelling too.

    ``None`` when ``node`` is not a JSON object or holds neither spelling.
    """
    if not isinstance(node, dict):
        return None
    for spelling in spellings(key):
        value = node.get(spelling)
        if value is not None:
            return value
    return None
