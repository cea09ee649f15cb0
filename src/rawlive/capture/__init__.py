"""Record, read and replay Live API traffic.

The capture file format (JSON Lines, one record per line) and its pure
reader and writer live in :mod:`rawlive.capture.format`; see
``docs/capture-format.md`` for the specification.
"""

from __future__ import annotations

from rawlive.capture.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    Capture,
    CaptureFormatError,
    CaptureMeta,
    CaptureRecord,
    CaptureWriter,
    ClosedBy,
    CloseRecord,
    Direction,
    FrameRecord,
    FrameType,
    JSONObject,
    JSONValue,
    OpenRecord,
    UnknownRecord,
    iter_capture,
    parse_redaction_marker,
    read_capture,
    record_from_json,
    redact_endpoint,
    redaction_marker,
    write_capture,
)

__all__ = [
    "Capture",
    "CaptureFormatError",
    "CaptureMeta",
    "CaptureRecord",
    "CaptureWriter",
    "CloseRecord",
    "ClosedBy",
    "Direction",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FrameRecord",
    "FrameType",
    "JSONObject",
    "JSONValue",
    "OpenRecord",
    "UnknownRecord",
    "iter_capture",
    "parse_redaction_marker",
    "read_capture",
    "record_from_json",
    "redact_endpoint",
    "redaction_marker",
    "write_capture",
]
