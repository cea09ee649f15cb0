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

import rawlive.capture.records as _records
import rawlive.capture.writer as _writer
from rawlive.capture.format import (
    CaptureFormatError,
    iter_capture,
    parse_redaction_marker,
    read_capture,
    read_capture_partial,
    redaction_marker,
)
from rawlive.capture.records import *  # noqa: F403  (re-exported: see __all__)
from rawlive.capture.writer import *  # noqa: F403

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


# The lazy names and the reader, then the records and the writer.
__all__ = [
    "BackgroundReplayServer",
    "CaptureFormatError",
    "FrameShape",
    "Recorder",
    "ReplayServer",
    "client_frame_shape",
    "iter_capture",
    "parse_redaction_marker",
    "read_capture",
    "read_capture_partial",
    "redaction_marker",
    "replay_server",
    "serve_capture_forever",
]
__all__ += _records.__all__
__all__ += _writer.__all__
