"""The capture file format: records, a tolerant reader and a crash-safe writer.

A capture is a JSON Lines file (UTF-8, one JSON object per line) holding every
WebSocket message of one or more Live API connections exactly as it crossed
the wire. ``docs/capture-format.md`` is the specification; this module is its
reference implementation. Every line is one record, told apart by ``"kind"``::

    meta    first line: format name, version, when and by what it was written
    open    a connection opened: conn number, endpoint (secrets redacted), model
    frame   one WebSocket message: who sent it, text/binary, the exact payload
    close   a connection closed: by whom, code, reason; or it dropped
    (other) kept as UnknownRecord, so newer files survive older readers

Theory of operation: the reader is tolerant in the ways that keep files
forward compatible (unknown kinds and unknown keys are kept in ``extra`` and
written back unchanged; a missing meta line means version 1) and strict about
everything it does understand (a known key with the wrong type is an error
naming the file and line). The writer flushes after every line, so a crash
leaves every earlier record on disk, and creates the file readable by its
owner only, because conversations are private.

This module is the reader and the public face of the format: the records
live in :mod:`rawlive.capture.records`, the writer in
:mod:`rawlive.capture.writer` and the redaction markers in
:mod:`rawlive.capture.markers`; every name is re-exported here. Pure: no
asyncio and no websockets.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import cast

import rawlive.capture.records as _records
import rawlive.capture.writer as _writer
from rawlive.capture.jsonio import JSONDecodeError, loads
from rawlive.capture.markers import MAX_REDACTED_BYTES, parse_redaction_marker, redaction_marker
from rawlive.capture.records import *  # noqa: F403  (re-exported: see __all__)
from rawlive.capture.records import (
    Capture,
    CaptureMeta,
    CaptureRecord,
    JSONObject,
    record_from_json,
)
from rawlive.capture.writer import *  # noqa: F403
from rawlive.errors import CaptureFormatError
from rawlive.protocol import json_type

# The public names of the format: the reader here, the markers' text, and
# every name of the records and the writer.
__all__ = [
    "MAX_REDACTED_BYTES",
    "CaptureFormatError",
    "iter_capture",
    "parse_redaction_marker",
    "read_capture",
    "read_capture_partial",
    "redaction_marker",
]
__all__ += _records.__all__
__all__ += _writer.__all__

_LINES_NAME = "<lines>"


# -- reading ----------------------------------------------------------------------------


def iter_capture(
    source: str | os.PathLike[str] | Iterable[str | bytes], *, name: str | None = None
) -> Iterator[CaptureMeta | CaptureRecord]:
    """Read a capture one record at a time.

    A meta record, if the file has one, comes first; blank lines are skipped.

    Args:
        source: a path (``str`` or path-like), or an iterable of lines
            (``str`` or ``bytes``, with or without line endings).
        name: what to call the source in errors; defaults to the path, or
            ``"<lines>"``.

    Returns:
        An iterator of records in file order.

    Raises:
        CaptureFormatError: a line is not a JSON object, a record is
            malformed, a meta record is not on the first line, or the capture
            version is newer than this module reads. The error names the file
            and the line number.
        OSError: the file cannot be opened or read.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        with open(path, "rb") as fh:
            yield from _iter_lines(fh, name if name is not None else path)
    else:
        yield from _iter_lines(source, name if name is not None else _LINES_NAME)


def _iter_lines(lines: Iterable[str | bytes], name: str) -> Iterator[CaptureMeta | CaptureRecord]:
    first = True
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except JSONDecodeError as exc:
            # orjson's own position always says "line 1"; only the column helps.
            raise CaptureFormatError(
                f"not valid JSON: {exc.msg} (column {exc.colno})", filename=name, lineno=lineno
            ) from exc
        try:
            if not isinstance(obj, dict):
                raise CaptureFormatError(f"a record must be a JSON object, got {json_type(obj)}")
            record = record_from_json(cast(JSONObject, obj))
            if isinstance(record, CaptureMeta) and not first:
                raise CaptureFormatError("a meta record is allowed only on the first line")
        except CaptureFormatError as exc:
            raise CaptureFormatError(exc.message, filename=name, lineno=lineno) from exc
        first = False
        yield record


def read_capture(
    source: str | os.PathLike[str] | Iterable[str | bytes], *, name: str | None = None
) -> Capture:
    """Read a whole capture into memory.

    Args:
        source: a path (``str`` or path-like), or an iterable of lines
            (``str`` or ``bytes``).
        name: what to call the source in errors; defaults to the path, or
            ``"<lines>"``.

    Returns:
        The capture; ``meta`` is ``None`` when the file has no meta line.

    Raises:
        CaptureFormatError: as :func:`iter_capture`.
        OSError: the file cannot be opened or read.
    """
    meta: CaptureMeta | None = None
    records: list[CaptureRecord] = []
    for record in iter_capture(source, name=name):
        if isinstance(record, CaptureMeta):
            meta = record
        else:
            records.append(record)
    return Capture(meta=meta, records=tuple(records))


def read_capture_partial(
    source: str | os.PathLike[str] | Iterable[str | bytes], *, name: str | None = None
) -> tuple[Capture, CaptureFormatError | None]:
    """Read a capture up to its first malformed line (a file cut by a crash).

    Args:
        source: as :func:`read_capture`.
        name: as :func:`read_capture`.

    Returns:
        The records before the first malformed line, and the error for that
        line (``None`` when the whole file is well formed).

    Raises:
        OSError: the file cannot be opened or read.
    """
    meta: CaptureMeta | None = None
    records: list[CaptureRecord] = []
    error: CaptureFormatError | None = None
    try:
        for record in iter_capture(source, name=name):
            if isinstance(record, CaptureMeta):
                meta = record
            else:
                records.append(record)
    except CaptureFormatError as exc:
        error = exc
    return Capture(meta=meta, records=tuple(records)), error
