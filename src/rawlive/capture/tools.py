"""Protocol debugging tools over capture files: timeline, WAV extraction, shape diff.

The pure functions behind ``rawlive show``, ``rawlive wav`` and ``rawlive
diff`` live in their own modules; this module re-exports them under their
old names:

* :mod:`rawlive.capture.timeline`: rows, turns, latency and usage
  (:func:`analyze`, :func:`timeline`, :func:`summarize`);
* :mod:`rawlive.capture.timeline_text`: the text of ``rawlive show``
  (:func:`format_timeline`);
* :mod:`rawlive.capture.extract`: :func:`extract_wav`;
* :mod:`rawlive.capture.shape`: :func:`capture_shape`, :func:`diff_captures`,
  :func:`format_diff`.
"""

from __future__ import annotations

from rawlive.capture.extract import WavInfo, extract_wav
from rawlive.capture.shape import (
    CaptureDiff,
    CaptureShape,
    DiffEntry,
    capture_shape,
    diff_captures,
    format_diff,
)
from rawlive.capture.timeline import (
    UNDECODABLE,
    CaptureSummary,
    ConnectionSummary,
    RowKind,
    TimelineRow,
    TurnStats,
    analyze,
    summarize,
    timeline,
)
from rawlive.capture.timeline_text import format_timeline

__all__ = [
    "CaptureDiff",
    "CaptureShape",
    "CaptureSummary",
    "ConnectionSummary",
    "DiffEntry",
    "RowKind",
    "TimelineRow",
    "TurnStats",
    "UNDECODABLE",
    "WavInfo",
    "analyze",
    "capture_shape",
    "diff_captures",
    "extract_wav",
    "format_diff",
    "format_timeline",
    "summarize",
    "timeline",
]
