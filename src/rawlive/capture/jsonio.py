"""The one JSON boundary of the capture package for what is not a frame.

Frames are decoded by the protocol codec (:mod:`rawlive.protocol.codec`).
Capture lines, the raw JSON value of a frame that the tools walk (the shape
diff, the viewer, the recorder's audio redaction) and short JSON texts shown
to people go through here, so there is one place that knows orjson.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["JSONDecodeError", "dumps", "dumps_line", "dumps_pretty", "dumps_text", "loads"]

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
