"""Record, read and replay Live API traffic.

The capture file format (JSON Lines, one record per line) is
:mod:`rawlive.capture.format` (the reader, and every public name of the
format), :mod:`~rawlive.capture.records`, :mod:`~rawlive.capture.writer` and
:mod:`~rawlive.capture.markers` (audio redaction markers); see
``docs/capture-format.md`` for the specification. The recorder
(:mod:`~rawlive.capture.recorder`), the replay server
(:mod:`~rawlive.capture.replay`, with :mod:`~rawlive.capture.replay_match`
and :mod:`~rawlive.capture.replay_connection`), the debugging tools
(:mod:`~rawlive.capture.timeline`, :mod:`~rawlive.capture.timeline_text`,
:mod:`~rawlive.capture.extract`, :mod:`~rawlive.capture.shape`, gathered in
:mod:`~rawlive.capture.tools`), the viewer (:mod:`~rawlive.capture.html`) and
the capture lint (:mod:`~rawlive.capture.lint`) are imported on first use, so
importing this package loads neither asyncio nor websockets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    read_capture_partial,
    record_from_json,
    redact_endpoint,
    redaction_marker,
    write_capture,
)

if TYPE_CHECKING:
    from rawlive.capture.recorder import Recorder
    from rawlive.capture.replay import (
        BackgroundReplayServer,
        FrameShape,
        ReplayServer,
        client_frame_shape,
        replay_server,
        serve_capture_forever,
    )

_LAZY = {
    **{
        name: "rawlive.capture.replay"
        for name in (
            "BackgroundReplayServer",
            "FrameShape",
            "ReplayServer",
            "client_frame_shape",
            "replay_server",
            "serve_capture_forever",
        )
    },
    "Recorder": "rawlive.capture.recorder",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rawlive.capture' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BackgroundReplayServer",
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
    "FrameShape",
    "FrameType",
    "JSONObject",
    "JSONValue",
    "OpenRecord",
    "Recorder",
    "ReplayServer",
    "UnknownRecord",
    "client_frame_shape",
    "iter_capture",
    "parse_redaction_marker",
    "read_capture",
    "read_capture_partial",
    "record_from_json",
    "redact_endpoint",
    "redaction_marker",
    "replay_server",
    "serve_capture_forever",
    "write_capture",
]
