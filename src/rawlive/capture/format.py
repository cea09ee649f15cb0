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

This module is pure: no asyncio and no websockets, only orjson and stdlib.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Literal, TypeAlias, cast

import orjson

from rawlive.errors import LiveError, LocalProtocolError
from rawlive.redact import redact_url

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
    "MAX_REDACTED_BYTES",
    "parse_redaction_marker",
    "read_capture",
    "read_capture_partial",
    "record_from_json",
    "redact_endpoint",
    "redaction_marker",
    "write_capture",
]

FORMAT_NAME = "rawlive-capture"
"""The value of ``format`` in every meta record."""

FORMAT_VERSION = 1
"""The newest capture version this module reads and the one it writes."""

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"
JSONObject: TypeAlias = "dict[str, JSONValue]"

Direction: TypeAlias = Literal["client", "server"]
"""Who sent a frame: ``"client"`` means client to server."""

FrameType: TypeAlias = Literal["text", "binary"]
"""The WebSocket opcode a message was sent with."""

ClosedBy: TypeAlias = Literal["client", "server"]
"""Who sent the first close frame (``None`` where used means nobody did)."""

_DIRECTIONS: frozenset[str] = frozenset(("client", "server"))
_FRAME_TYPES: frozenset[str] = frozenset(("text", "binary"))
_DROPPED_CODE = 1006
_MARKER = re.compile(r"<redacted (0|[1-9]\d{0,9}) bytes sha256=([0-9a-f]{64})>")

MAX_REDACTED_BYTES = 2**22
"""The most bytes one redaction marker may stand for (4 MiB, 87 s of 24 kHz
audio; the service sends chunks of a few kilobytes): a marker claiming more
is not a marker, and the tools give one frame at most this much silence in
all, so no capture can make them allocate more."""
_LINES_NAME = "<lines>"


class CaptureFormatError(LiveError, ValueError):
    """A capture file, line or record breaks the capture format.

    Raised for bad JSON, a record without a required key, a key with the wrong
    type or value, and captures newer than this module understands.

    Attributes:
        message: what is wrong, without the location.
        filename: the file (or the name given for a list of lines) the record
            came from; ``None`` when a record was built or decoded in memory.
        lineno: the 1-based line number, or ``None``.
    """

    def __init__(
        self, message: str, *, filename: str | None = None, lineno: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.lineno = lineno

    def __str__(self) -> str:
        if self.lineno is not None:
            where = f"line {self.lineno}"
            if self.filename is not None:
                where = f"{self.filename}, {where}"
            return f"{where}: {self.message}"
        if self.filename is not None:
            return f"{self.filename}: {self.message}"
        return self.message


# -- field checks shared by from_json and __post_init__ ---------------------------------


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(
        type(value), "array" if isinstance(value, list) else "object"
    )


def _require(d: Mapping[str, JSONValue], key: str, kind: str) -> JSONValue:
    if key not in d:
        raise CaptureFormatError(f"{kind} record has no {key!r}")
    return d[key]


def _as_int(value: JSONValue, key: str, kind: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise CaptureFormatError(
            f"{kind} record: {key!r} must be an integer, got {_type_name(value)}"
        )
    return value


def _as_seconds(value: JSONValue, key: str, kind: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise CaptureFormatError(
            f"{kind} record: {key!r} must be a number of seconds, got {_type_name(value)}"
        )
    return float(value)


def _as_str(value: JSONValue, key: str, kind: str) -> str:
    if not isinstance(value, str):
        raise CaptureFormatError(
            f"{kind} record: {key!r} must be a string, got {_type_name(value)}"
        )
    return value


def _as_opt_str(value: JSONValue, key: str, kind: str) -> str | None:
    return None if value is None else _as_str(value, key, kind)


def _check_conn(conn: int, kind: str) -> None:
    if not isinstance(conn, int) or isinstance(conn, bool) or conn < 1:
        raise CaptureFormatError(f"{kind} record: 'conn' must be an integer >= 1, got {conn!r}")


def _check_t(t: float, kind: str) -> None:
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t) or t < 0:
        raise CaptureFormatError(f"{kind} record: 't' must be a finite number >= 0, got {t!r}")


def _check_extra(extra: Mapping[str, JSONValue], known: frozenset[str], kind: str) -> JSONObject:
    clash = sorted(k for k in extra if k in known or k == "kind")
    if clash:
        raise CaptureFormatError(f"{kind} record: extra keys shadow known keys: {clash}")
    for key in extra:
        if not isinstance(key, str):
            raise CaptureFormatError(f"{kind} record: extra keys must be strings, got {key!r}")
    return dict(extra)


def _unknown_keys(d: Mapping[str, JSONValue], known: frozenset[str]) -> JSONObject:
    return {k: v for k, v in d.items() if k not in known and k != "kind"}


def _check_kind(d: Mapping[str, JSONValue], kind: str) -> None:
    got = d.get("kind")
    if got != kind:
        raise CaptureFormatError(f"expected a {kind} record, got kind {got!r}")


def _b64decode_std(text: str) -> bytes:
    # Standard alphabet, padded: the format says so, and validate=True makes a
    # stray character an error instead of silently dropping it.
    return base64.b64decode(text, validate=True)


# -- records ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureMeta:
    """The first line of a capture: what the file is and where it came from.

    Attributes:
        version: the capture format version (only 1 exists).
        created: when the capture started, ISO 8601 UTC (``2026-11-24T18:00:00Z``).
        tool: what wrote it, e.g. ``"rawlive 0.1.0"``.
        source: free text provenance (where the traffic came from).
        note: free text remarks (what is verbatim, what is reconstructed).
        extra: keys this version does not know, kept and written back.

    Raises:
        CaptureFormatError: ``version`` is not 1..FORMAT_VERSION, or ``extra``
            shadows a known key.
    """

    KIND: ClassVar[str] = "meta"
    _KEYS: ClassVar[frozenset[str]] = frozenset(
        ("format", "version", "created", "tool", "source", "note")
    )

    version: int = FORMAT_VERSION
    created: str | None = None
    tool: str | None = None
    source: str | None = None
    note: str | None = None
    extra: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.version, int) or isinstance(self.version, bool):
            raise CaptureFormatError(
                f"meta record: 'version' must be an integer, got {self.version!r}"
            )
        if self.version > FORMAT_VERSION:
            raise CaptureFormatError(
                f"capture format version {self.version} is newer than this rawlive reads "
                f"(version {FORMAT_VERSION}); upgrade rawlive"
            )
        if self.version < 1:
            raise CaptureFormatError(f"meta record: 'version' must be >= 1, got {self.version}")
        object.__setattr__(self, "extra", _check_extra(self.extra, self._KEYS, self.KIND))

    def to_json(self) -> JSONObject:
        """Return the record as a JSON object, ``kind`` first, ``None`` fields left out."""
        out: JSONObject = {"kind": self.KIND, "format": FORMAT_NAME, "version": self.version}
        for key, value in (
            ("created", self.created),
            ("tool", self.tool),
            ("source", self.source),
            ("note", self.note),
        ):
            if value is not None:
                out[key] = value
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, JSONValue]) -> CaptureMeta:
        """Build a meta record from its JSON object.

        Args:
            d: the decoded line; ``kind`` must be ``"meta"``. A missing
                ``version`` means 1; a missing ``format`` is tolerated.

        Returns:
            The record, with unknown keys in ``extra``.

        Raises:
            CaptureFormatError: a known key has the wrong type, ``format`` is
                not ``"rawlive-capture"``, or the version is unsupported.
        """
        _check_kind(d, cls.KIND)
        fmt = d.get("format", FORMAT_NAME)
        if fmt != FORMAT_NAME:
            raise CaptureFormatError(f"not a rawlive capture: meta 'format' is {fmt!r}")
        return cls(
            version=_as_int(d.get("version", 1), "version", cls.KIND),
            created=_as_opt_str(d.get("created"), "created", cls.KIND),
            tool=_as_opt_str(d.get("tool"), "tool", cls.KIND),
            source=_as_opt_str(d.get("source"), "source", cls.KIND),
            note=_as_opt_str(d.get("note"), "note", cls.KIND),
            extra=_unknown_keys(d, cls._KEYS),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenRecord:
    """A WebSocket connection opened.

    Attributes:
        conn: the connection number within the capture, from 1 (a reconnect
            is the next number in the same file).
        t: seconds since the capture started.
        endpoint: the URL connected to; query values of ``key`` and
            ``access_token`` are ``REDACTED`` (the writer enforces it).
        model: the model named in ``setup``, ``models/...``, if known.
        extra: keys this version does not know, kept and written back.
    """

    KIND: ClassVar[str] = "open"
    _KEYS: ClassVar[frozenset[str]] = frozenset(("conn", "t", "endpoint", "model"))

    conn: int
    t: float
    endpoint: str
    model: str | None = None
    extra: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_conn(self.conn, self.KIND)
        _check_t(self.t, self.KIND)
        object.__setattr__(self, "extra", _check_extra(self.extra, self._KEYS, self.KIND))

    def to_json(self) -> JSONObject:
        """Return the record as a JSON object, ``kind`` first."""
        out: JSONObject = {"kind": self.KIND, "conn": self.conn, "t": self.t}
        out["endpoint"] = self.endpoint
        if self.model is not None:
            out["model"] = self.model
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, JSONValue]) -> OpenRecord:
        """Build an open record from its JSON object.

        Args:
            d: the decoded line; ``kind`` must be ``"open"``.

        Returns:
            The record, with unknown keys in ``extra``.

        Raises:
            CaptureFormatError: ``conn``, ``t`` or ``endpoint`` is missing, or
                a known key has the wrong type.
        """
        _check_kind(d, cls.KIND)
        k = cls.KIND
        return cls(
            conn=_as_int(_require(d, "conn", k), "conn", k),
            t=_as_seconds(_require(d, "t", k), "t", k),
            endpoint=_as_str(_require(d, "endpoint", k), "endpoint", k),
            model=_as_opt_str(d.get("model"), "model", k),
            extra=_unknown_keys(d, cls._KEYS),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameRecord:
    """One WebSocket message exactly as it was sent or received.

    Exactly one of ``data`` and ``data_b64`` is set. Text frames and binary
    frames that are valid UTF-8 (every Live API server frame) carry ``data``;
    a binary frame that is not valid UTF-8 carries ``data_b64``. Build frames
    from a payload with :meth:`from_payload` to get this right.

    Attributes:
        conn: the connection number the frame belongs to.
        t: seconds since the capture started.
        dir: who sent it: ``"client"`` (client to server) or ``"server"``.
        type: the WebSocket frame type, ``"text"`` or ``"binary"``.
        data: the frame as text (UTF-8 decoded for binary frames).
        data_b64: standard base64 of a binary frame that is not UTF-8.
        extra: keys this version does not know (e.g. ``source``), kept and
            written back.

    Raises:
        CaptureFormatError: a field has a value the format does not allow.
    """

    KIND: ClassVar[str] = "frame"
    _KEYS: ClassVar[frozenset[str]] = frozenset(("conn", "t", "dir", "type", "data", "data_b64"))

    conn: int
    t: float
    dir: Direction
    type: FrameType
    data: str | None = None
    data_b64: str | None = None
    extra: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        k = self.KIND
        _check_conn(self.conn, k)
        _check_t(self.t, k)
        if self.dir not in _DIRECTIONS:
            raise CaptureFormatError(
                f"frame record: 'dir' must be 'client' or 'server', got {self.dir!r}"
            )
        if self.type not in _FRAME_TYPES:
            raise CaptureFormatError(
                f"frame record: 'type' must be 'text' or 'binary', got {self.type!r}"
            )
        if (self.data is None) == (self.data_b64 is None):
            raise CaptureFormatError("frame record must have exactly one of 'data' and 'data_b64'")
        if self.data_b64 is not None:
            if self.type != "binary":
                raise CaptureFormatError("frame record: a text frame cannot carry 'data_b64'")
            try:
                _b64decode_std(self.data_b64)
            except (binascii.Error, ValueError) as exc:
                raise CaptureFormatError(
                    f"frame record: 'data_b64' is not standard base64: {exc}"
                ) from exc
        object.__setattr__(self, "extra", _check_extra(self.extra, self._KEYS, k))

    @classmethod
    def from_payload(
        cls,
        *,
        conn: int,
        t: float,
        dir: Direction,
        payload: str | bytes,
        extra: Mapping[str, JSONValue] | None = None,
    ) -> FrameRecord:
        """Build the record for a message as a WebSocket library hands it over.

        Args:
            conn: the connection number.
            t: seconds since the capture started.
            dir: who sent the message.
            payload: ``str`` for a text frame, ``bytes`` for a binary frame.
            extra: additional keys to store on the record.

        Returns:
            A record whose :attr:`payload` equals ``payload`` exactly.

        Raises:
            CaptureFormatError: ``payload`` is neither ``str`` nor ``bytes``.
        """
        extra_map: Mapping[str, JSONValue] = {} if extra is None else extra
        if isinstance(payload, str):
            return cls(conn=conn, t=t, dir=dir, type="text", data=payload, extra=extra_map)
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise CaptureFormatError(
                f"frame payload must be str or bytes, got {type(payload).__name__}"
            )
        raw = bytes(payload)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            b64 = base64.b64encode(raw).decode("ascii")
            return cls(conn=conn, t=t, dir=dir, type="binary", data_b64=b64, extra=extra_map)
        return cls(conn=conn, t=t, dir=dir, type="binary", data=text, extra=extra_map)

    @property
    def payload(self) -> str | bytes:
        """The message as it crossed the wire: ``str`` for text, ``bytes`` for binary."""
        if self.type == "text":
            return cast(str, self.data)
        if self.data is not None:
            return self.data.encode("utf-8")
        return _b64decode_std(cast(str, self.data_b64))

    @property
    def text(self) -> str:
        """The message as text (binary frames decoded as UTF-8).

        Raises:
            CaptureFormatError: a binary frame stored as ``data_b64`` is not UTF-8.
        """
        if self.data is not None:
            return self.data
        try:
            return _b64decode_std(cast(str, self.data_b64)).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CaptureFormatError(f"binary frame is not UTF-8 text: {exc}") from exc

    def to_json(self) -> JSONObject:
        """Return the record as a JSON object, ``kind`` first."""
        out: JSONObject = {"kind": self.KIND, "conn": self.conn, "t": self.t}
        out["dir"] = self.dir
        out["type"] = self.type
        if self.data is not None:
            out["data"] = self.data
        else:
            out["data_b64"] = self.data_b64
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, JSONValue]) -> FrameRecord:
        """Build a frame record from its JSON object.

        Args:
            d: the decoded line; ``kind`` must be ``"frame"``.

        Returns:
            The record, with unknown keys in ``extra``.

        Raises:
            CaptureFormatError: ``conn``, ``t``, ``dir`` or ``type`` is
                missing, neither or both of ``data``/``data_b64`` are present,
                or a known key has the wrong type or value.
        """
        _check_kind(d, cls.KIND)
        k = cls.KIND
        data = d.get("data")
        data_b64 = d.get("data_b64")
        return cls(
            conn=_as_int(_require(d, "conn", k), "conn", k),
            t=_as_seconds(_require(d, "t", k), "t", k),
            dir=cast(Direction, _as_str(_require(d, "dir", k), "dir", k)),
            type=cast(FrameType, _as_str(_require(d, "type", k), "type", k)),
            data=None if data is None else _as_str(data, "data", k),
            data_b64=None if data_b64 is None else _as_str(data_b64, "data_b64", k),
            extra=_unknown_keys(d, cls._KEYS),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseRecord:
    """A WebSocket connection closed, or dropped.

    Attributes:
        conn: the connection number.
        t: seconds since the capture started.
        by: who sent the first close frame: ``"server"``, ``"client"``, or
            ``None`` when no close frame was seen.
        code: the close code (1006 when the connection dropped).
        reason: the close reason, as received (at most 123 bytes on the wire).
        dropped: the TCP connection was lost without a close frame; then
            ``by`` is ``None`` and ``code`` is 1006.
        extra: keys this version does not know, kept and written back.

    Raises:
        CaptureFormatError: a field has a value the format does not allow.
    """

    KIND: ClassVar[str] = "close"
    _KEYS: ClassVar[frozenset[str]] = frozenset(("conn", "t", "by", "code", "reason", "dropped"))

    conn: int
    t: float
    by: ClosedBy | None
    code: int
    reason: str = ""
    dropped: bool = False
    extra: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        k = self.KIND
        _check_conn(self.conn, k)
        _check_t(self.t, k)
        if self.by is not None and self.by not in _DIRECTIONS:
            raise CaptureFormatError(
                f"close record: 'by' must be 'client', 'server' or null, got {self.by!r}"
            )
        if not isinstance(self.code, int) or isinstance(self.code, bool):
            raise CaptureFormatError(f"close record: 'code' must be an integer, got {self.code!r}")
        if not 1000 <= self.code <= 4999:
            raise CaptureFormatError(f"close record: 'code' must be 1000..4999, got {self.code}")
        if self.dropped and (self.by is not None or self.code != _DROPPED_CODE):
            raise CaptureFormatError(
                f"close record: a dropped connection has 'by' null and code {_DROPPED_CODE}"
            )
        object.__setattr__(self, "extra", _check_extra(self.extra, self._KEYS, k))

    def to_json(self) -> JSONObject:
        """Return the record as a JSON object, ``kind`` first; ``dropped`` only when true."""
        out: JSONObject = {"kind": self.KIND, "conn": self.conn, "t": self.t}
        out["by"] = self.by
        out["code"] = self.code
        out["reason"] = self.reason
        if self.dropped:
            out["dropped"] = True
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, JSONValue]) -> CloseRecord:
        """Build a close record from its JSON object.

        Args:
            d: the decoded line; ``kind`` must be ``"close"``. Missing ``by``
                means null, missing ``reason`` means empty, missing
                ``dropped`` means false.

        Returns:
            The record, with unknown keys in ``extra``.

        Raises:
            CaptureFormatError: ``conn``, ``t`` or ``code`` is missing, or a
                known key has the wrong type or value.
        """
        _check_kind(d, cls.KIND)
        k = cls.KIND
        dropped = d.get("dropped", False)
        if not isinstance(dropped, bool):
            raise CaptureFormatError(
                f"close record: 'dropped' must be a boolean, got {_type_name(dropped)}"
            )
        return cls(
            conn=_as_int(_require(d, "conn", k), "conn", k),
            t=_as_seconds(_require(d, "t", k), "t", k),
            by=cast("ClosedBy | None", _as_opt_str(d.get("by"), "by", k)),
            code=_as_int(_require(d, "code", k), "code", k),
            reason=_as_str(d.get("reason", ""), "reason", k),
            dropped=dropped,
            extra=_unknown_keys(d, cls._KEYS),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownRecord:
    """A record of a kind this version does not know, kept as it was read.

    Attributes:
        kind: the record's ``kind``.
        extra: every other key of the record, in file order.

    Raises:
        CaptureFormatError: ``kind`` is one this module knows (use that
            record class instead).
    """

    kind: str
    extra: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.kind in _KINDS or self.kind == CaptureMeta.KIND:
            raise CaptureFormatError(f"{self.kind!r} is a known record kind, not an unknown one")
        object.__setattr__(self, "extra", _check_extra(self.extra, frozenset(), self.kind))

    def to_json(self) -> JSONObject:
        """Return the record as a JSON object, ``kind`` first."""
        out: JSONObject = {"kind": self.kind}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, JSONValue]) -> UnknownRecord:
        """Keep a record of an unknown kind.

        Args:
            d: the decoded line; ``kind`` must be a string.

        Returns:
            The record, every key but ``kind`` in ``extra``.

        Raises:
            CaptureFormatError: ``kind`` is missing, not a string, or known.
        """
        kind = _as_str(_require(d, "kind", "capture"), "kind", "capture")
        return cls(kind=kind, extra=_unknown_keys(d, frozenset()))


CaptureRecord: TypeAlias = OpenRecord | FrameRecord | CloseRecord | UnknownRecord
"""Any record after the meta line."""

_KINDS: dict[str, Callable[[Mapping[str, JSONValue]], CaptureRecord]] = {
    OpenRecord.KIND: OpenRecord.from_json,
    FrameRecord.KIND: FrameRecord.from_json,
    CloseRecord.KIND: CloseRecord.from_json,
}


def record_from_json(d: Mapping[str, JSONValue]) -> CaptureMeta | CaptureRecord:
    """Build the record a decoded capture line describes.

    Args:
        d: one decoded line.

    Returns:
        The meta, open, frame or close record; an :class:`UnknownRecord` for
        any other kind.

    Raises:
        CaptureFormatError: ``kind`` is missing or not a string, or a known
            record is malformed.
    """
    kind = d.get("kind")
    if not isinstance(kind, str):
        if "kind" not in d:
            raise CaptureFormatError("record has no 'kind'")
        raise CaptureFormatError(f"record 'kind' must be a string, got {_type_name(kind)}")
    if kind == CaptureMeta.KIND:
        return CaptureMeta.from_json(d)
    decode = _KINDS.get(kind)
    if decode is None:
        return UnknownRecord.from_json(d)
    return decode(d)


# -- reading ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Capture:
    """A whole capture file in memory.

    Attributes:
        meta: the meta record, or ``None`` when the file has no meta line
            (then the version is 1).
        records: every other record in file order.
    """

    meta: CaptureMeta | None = None
    records: tuple[CaptureRecord, ...] = ()

    @property
    def version(self) -> int:
        """The capture format version (1 when there is no meta line)."""
        return 1 if self.meta is None else self.meta.version

    def frames(
        self, dir: Direction | None = None, conn: int | None = None
    ) -> tuple[FrameRecord, ...]:
        """Return the frame records in file order, optionally filtered.

        Args:
            dir: only frames sent by this side.
            conn: only frames of this connection.

        Returns:
            The matching frames.
        """
        return tuple(
            r
            for r in self.records
            if isinstance(r, FrameRecord)
            and (dir is None or r.dir == dir)
            and (conn is None or r.conn == conn)
        )

    def opens(self) -> tuple[OpenRecord, ...]:
        """Return the open records in file order."""
        return tuple(r for r in self.records if isinstance(r, OpenRecord))

    def closes(self) -> tuple[CloseRecord, ...]:
        """Return the close records in file order."""
        return tuple(r for r in self.records if isinstance(r, CloseRecord))

    def connections(self) -> tuple[int, ...]:
        """Return the connection numbers used by open, frame and close records.

        Returns:
            Each number once, in order of first appearance.
        """
        seen: dict[int, None] = {}
        for r in self.records:
            if isinstance(r, (OpenRecord, FrameRecord, CloseRecord)):
                seen.setdefault(r.conn, None)
        return tuple(seen)


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
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            # orjson's own position always says "line 1"; only the column helps.
            raise CaptureFormatError(
                f"not valid JSON: {exc.msg} (column {exc.colno})", filename=name, lineno=lineno
            ) from exc
        try:
            if not isinstance(obj, dict):
                raise CaptureFormatError(f"a record must be a JSON object, got {_type_name(obj)}")
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


# -- writing ----------------------------------------------------------------------------


def redact_endpoint(url: str) -> str:
    """Return ``url`` with secret query values and the user part redacted.

    The same rule as everywhere else: :func:`rawlive.redact.redact_url`.

    Args:
        url: a WebSocket URL, possibly carrying an API key or ephemeral token.

    Returns:
        The same URL with each secret replaced by ``REDACTED``.
    """
    return redact_url(url)


def redaction_marker(raw: bytes) -> str:
    """Return the text that replaces a redacted base64 ``data`` value.

    Args:
        raw: the decoded bytes being redacted (e.g. PCM audio).

    Returns:
        ``"<redacted N bytes sha256=HEX>"``, which is never valid base64.
    """
    return f"<redacted {len(raw)} bytes sha256={hashlib.sha256(raw).hexdigest()}>"


def parse_redaction_marker(text: str) -> tuple[int, str] | None:
    """Recognise a value written by :func:`redaction_marker`.

    Args:
        text: a ``data`` value from a frame.

    Returns:
        ``(nbytes, sha256_hex)`` for a marker, ``None`` for anything else,
        including a marker that claims more than :data:`MAX_REDACTED_BYTES`.
    """
    if len(text) > 120:
        return None
    m = _MARKER.fullmatch(text)
    if m is None:
        return None
    nbytes = int(m.group(1))
    if nbytes > MAX_REDACTED_BYTES:
        return None
    return nbytes, m.group(2)


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
        return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError as exc:
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
            raise LocalProtocolError(f"capture writer for {self.path} is closed")
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
            LocalProtocolError: the writer is closed.
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
            t: seconds since the capture started; defaults to :meth:`elapsed`.
            extra: additional keys for the record.

        Returns:
            The record written.

        Raises:
            CaptureFormatError: an argument is invalid.
            LocalProtocolError: the writer is closed.
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
            t: seconds since the capture started; defaults to :meth:`elapsed`.
            extra: additional keys for the record.

        Returns:
            The record written (with the redacted endpoint).

        Raises:
            CaptureFormatError: an argument is invalid.
            LocalProtocolError: the writer is closed.
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
            t: seconds since the capture started; defaults to :meth:`elapsed`.
            extra: additional keys for the record.

        Returns:
            The record written.

        Raises:
            CaptureFormatError: an argument is invalid.
            LocalProtocolError: the writer is closed.
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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
