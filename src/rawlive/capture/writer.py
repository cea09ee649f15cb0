"""The capture writer: one flushed line per record, owner-only file.

The writer flushes after every line, so a crash leaves every earlier record
on disk, and creates the file readable by its owner only, because
conversations are private. Endpoints pass through
:func:`rawlive.redact.redact_url` before they reach the file.

This module is pure: no asyncio and no websockets.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from rawlive.capture.jsonio import dumps_line
from rawlive.capture.records import (
    Capture,
    CaptureMeta,
    CaptureRecord,
    ClosedBy,
    CloseRecord,
    Direction,
    FrameRecord,
    JSONObject,
    JSONValue,
    OpenRecord,
    UnknownRecord,
)
from rawlive.errors import CaptureFormatError, WriterClosedError
from rawlive.redact import redact_url

__all__ = ["CaptureWriter", "redact_endpoint", "write_capture"]


def redact_endpoint(url: str) -> str:
    """Return ``url`` with secret query values and the user part redacted.

    The same rule as everywhere else: :func:`rawlive.redact.redact_url`.

    Args:
        url: a WebSocket URL, possibly carrying an API key or ephemeral token.

    Returns:
        The same URL with each secret replaced by ``REDACTED``.
    """
    return redact_url(url)


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _default_tool() -> str:
    # The parent package is imported before this module, so this never
    # triggers an import (and never a cycle); it may lack __version__ while
    # the package is being built.
    version = getattr(sys.modules.get("rawlive"), "__version__", None)
    return f"rawlive {version}" if isinstance(version, str) else "rawlive"


def _encode(obj: JSONObject) -> bytes:
    try:
        return dumps_line(obj)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise CaptureFormatError(f"record cannot be written as JSON: {exc}") from exc


class CaptureWriter:
    """Write a capture file, one flushed line per record.

    The file is created (or truncated) with mode 0o600 and the meta line is
    written at once. Every :meth:`write` reaches the operating system before
    it returns, so a crash keeps every earlier record. After use, you must
    call :meth:`close` (or use the writer as a context manager).

    Example::

        with CaptureWriter("session.jsonl", source="my test") as cw:
            cw.open_conn(1, url, "models/gemini-2.0-flash-live-001")
            cw.frame(1, "client", setup_json)
            cw.frame(1, "server", b'{"setupComplete":{}}')
            cw.close_conn(1, 1000, "", "client")

    :meth:`frame`, :meth:`open_conn` and :meth:`close_conn` each build one
    record, write it and return it. Each also takes ``t``, the seconds since
    the capture started (default: :meth:`elapsed`), and ``extra``, additional
    keys for the record; each raises :class:`CaptureFormatError` for an
    invalid argument and :class:`WriterClosedError` once the writer is closed.
    """

    path: Path
    meta: CaptureMeta

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        source: str | None = None,
        note: str | None = None,
        created: str | None = None,
        tool: str | None = None,
        extra: Mapping[str, JSONValue] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the file and write its meta line.

        Args:
            path: the file to create; an existing file is truncated.
            source: provenance of the traffic (free text).
            note: remarks on the capture (free text).
            created: ISO 8601 UTC start time; defaults to now.
            tool: what wrote the file; defaults to ``"rawlive <version>"``.
            extra: additional meta keys.
            clock: monotonic seconds; default times are ``clock()`` minus its
                value when the writer was created.

        Raises:
            CaptureFormatError: ``extra`` shadows a known meta key.
            OSError: the file cannot be created.
        """
        meta = CaptureMeta(
            created=created if created is not None else _utc_now(),
            tool=tool if tool is not None else _default_tool(),
            source=source,
            note=note,
            extra={} if extra is None else extra,
        )
        self._start(path, meta, clock)

    @classmethod
    def with_meta(
        cls,
        path: str | os.PathLike[str],
        meta: CaptureMeta,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> CaptureWriter:
        """Create the file and write ``meta`` unchanged as its first line.

        Use this to copy or rewrite a capture without touching its provenance.

        Args:
            path: the file to create; an existing file is truncated.
            meta: the meta record to write.
            clock: as for the constructor.

        Returns:
            The open writer.

        Raises:
            OSError: the file cannot be created.
        """
        self = cls.__new__(cls)
        self._start(path, meta, clock)
        return self

    def _start(
        self, path: str | os.PathLike[str], meta: CaptureMeta, clock: Callable[[], float]
    ) -> None:
        self.path = Path(path)
        self.meta = meta
        self._clock = clock
        self._t0 = clock()
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.path, flags, 0o600)
        try:
            # The mode argument of os.open is filtered by the umask and ignored
            # for an existing file; force owner-only either way.
            if sys.platform != "win32":
                os.fchmod(fd, 0o600)
            else:  # pragma: no cover
                os.chmod(self.path, 0o600)
            self._file = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        self._closed = False
        self._emit(meta.to_json())

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def elapsed(self) -> float:
        """Return the seconds since the writer was created, rounded to microseconds."""
        return round(max(0.0, self._clock() - self._t0), 6)

    def _emit(self, obj: JSONObject) -> None:
        if self._closed:
            raise WriterClosedError(f"capture writer for {self.path} is closed")
        line = _encode(obj)
        self._file.write(line)
        self._file.flush()

    def write(self, record: CaptureRecord) -> None:
        """Append one record and flush it to the operating system.

        An :class:`OpenRecord`'s endpoint is passed through
        :func:`redact_endpoint` first, so keys and tokens never reach disk.

        Args:
            record: any record but meta (the meta line is already written).

        Raises:
            CaptureFormatError: ``record`` is a meta record, not a record, or
                holds something JSON cannot represent.
            WriterClosedError: the writer is closed.
            OSError: the write failed.
        """
        if isinstance(record, OpenRecord):
            record = replace(record, endpoint=redact_endpoint(record.endpoint))
        elif not isinstance(record, (FrameRecord, CloseRecord, UnknownRecord)):
            raise CaptureFormatError(f"cannot write a {type(record).__name__} as a capture record")
        self._emit(record.to_json())

    def frame(
        self,
        conn: int,
        dir: Direction,
        payload: str | bytes,
        t: float | None = None,
        *,
        extra: Mapping[str, JSONValue] | None = None,
    ) -> FrameRecord:
        """Record one WebSocket message.

        Args:
            conn: the connection number.
            dir: who sent it.
            payload: ``str`` for a text frame, ``bytes`` for a binary one.
        """
        record = FrameRecord.from_payload(
            conn=conn, t=self.elapsed() if t is None else t, dir=dir, payload=payload, extra=extra
        )
        self.write(record)
        return record

    def open_conn(
        self,
        conn: int,
        endpoint: str,
        model: str | None,
        t: float | None = None,
        *,
        extra: Mapping[str, JSONValue] | None = None,
    ) -> OpenRecord:
        """Record that a connection opened.

        Args:
            conn: the connection number (1 for the first, then 2, ...).
            endpoint: the URL; key and token query values are redacted.
            model: the model the setup names, if known.

        Returns:
            The record written, with the endpoint redacted.
        """
        record = OpenRecord(
            conn=conn,
            t=self.elapsed() if t is None else t,
            endpoint=redact_endpoint(endpoint),
            model=model,
            extra={} if extra is None else extra,
        )
        self.write(record)
        return record

    def close_conn(
        self,
        conn: int,
        code: int,
        reason: str,
        by: ClosedBy | None,
        dropped: bool = False,
        t: float | None = None,
        *,
        extra: Mapping[str, JSONValue] | None = None,
    ) -> CloseRecord:
        """Record that a connection closed.

        Args:
            conn: the connection number.
            code: the close code (1006 for a dropped connection).
            reason: the close reason.
            by: who sent the first close frame, or ``None``.
            dropped: the connection was lost without a close frame.
        """
        record = CloseRecord(
            conn=conn,
            t=self.elapsed() if t is None else t,
            by=by,
            code=code,
            reason=reason,
            dropped=dropped,
            extra={} if extra is None else extra,
        )
        self.write(record)
        return record

    def close(self) -> None:
        """Close the file. Calling it again does nothing."""
        if not self._closed:
            self._closed = True
            self._file.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_capture(path: str | os.PathLike[str], capture: Capture) -> None:
    """Write a whole capture to ``path``, losslessly.

    Reading the result gives a :class:`Capture` equal to ``capture``, except
    that a capture without meta gets a minimal meta line (version 1).

    Args:
        path: the file to create; an existing file is truncated.
        capture: the capture to write.

    Raises:
        CaptureFormatError: a record holds something JSON cannot represent.
        OSError: the file cannot be written.
    """
    with CaptureWriter.with_meta(path, capture.meta or CaptureMeta()) as writer:
        for record in capture.records:
            writer.write(record)
