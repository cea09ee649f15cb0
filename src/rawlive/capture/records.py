"""The records of a capture file: meta, open, frame, close and unknown.

Each record is a frozen dataclass with ``to_json()``/``from_json()``; the
field checks are shared by ``from_json`` and ``__post_init__``, so a record
built in memory is held to the same rules as one read from a file
(``docs/capture-format.md`` is the specification). Reading files is
:mod:`rawlive.capture.format`, writing them :mod:`rawlive.capture.writer`.

This module is pure: no asyncio and no websockets.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal, TypeAlias, TypedDict, TypeVar, cast

from rawlive.errors import CaptureFormatError
from rawlive.protocol import json_type

__all__ = [
    "Capture",
    "CaptureMeta",
    "CaptureRecord",
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
    "record_from_json",
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


# -- field checks shared by from_json and __post_init__ ---------------------------------


def _require(d: Mapping[str, JSONValue], key: str, kind: str) -> JSONValue:
    if key not in d:
        raise CaptureFormatError(f"{kind} record has no {key!r}")
    return d[key]


def _as_int(value: JSONValue, key: str, kind: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise CaptureFormatError(
            f"{kind} record: {key!r} must be an integer, got {json_type(value)}"
        )
    return value


def _as_seconds(value: JSONValue, key: str, kind: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise CaptureFormatError(
            f"{kind} record: {key!r} must be a number of seconds, got {json_type(value)}"
        )
    return float(value)


def _as_str(value: JSONValue, key: str, kind: str) -> str:
    if not isinstance(value, str):
        raise CaptureFormatError(f"{kind} record: {key!r} must be a string, got {json_type(value)}")
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


class _Head(TypedDict):
    """What every connection record reads the same way from its JSON object."""

    conn: int
    t: float
    extra: JSONObject


_R = TypeVar("_R", bound="_ConnectionRecord")


@dataclass(frozen=True, slots=True, kw_only=True)
class _ConnectionRecord:
    """What open, frame and close records share, written once.

    Each is a frozen dataclass that adds its own fields, then ``extra`` (last,
    so that it stays last in the fields and the repr), and names its
    :attr:`KIND` and its keys. This base checks ``conn``, ``t`` and ``extra``;
    writes ``kind``, ``conn`` and ``t`` first and ``extra`` last, around the
    record's own keys; and reads them back. A subclass supplies :meth:`_check`
    (its own field rules), :meth:`_add_json` (its own keys) and
    :meth:`_from_json` (its own keys read back).

    Raises:
        CaptureFormatError: a field has a value the format does not allow.
    """

    KIND: ClassVar[str]
    _KEYS: ClassVar[frozenset[str]]

    conn: int
    t: float
    if TYPE_CHECKING:  # declared by each record, after its own fields
        extra: Mapping[str, JSONValue]

    def __post_init__(self) -> None:
        _check_conn(self.conn, self.KIND)
        _check_t(self.t, self.KIND)
        self._check()
        object.__setattr__(self, "extra", _check_extra(self.extra, self._KEYS, self.KIND))

    def _check(self) -> None:
        """Check the record's own fields (nothing to check by default)."""

    def _add_json(self, out: JSONObject) -> None:
        """Add the record's own keys to ``out``, in file order."""
        raise NotImplementedError  # pragma: no cover - every subclass overrides

    @classmethod
    def _from_json(cls: type[_R], d: Mapping[str, JSONValue], head: _Head) -> _R:
        """Build the record from ``head`` and its own keys read from ``d``."""
        raise NotImplementedError  # pragma: no cover - every subclass overrides

    def to_json(self) -> JSONObject:
        """Return the record as a JSON object: ``kind``, ``conn``, ``t``, own keys, ``extra``."""
        out: JSONObject = {"kind": self.KIND, "conn": self.conn, "t": self.t}
        self._add_json(out)
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls: type[_R], d: Mapping[str, JSONValue]) -> _R:
        """Build the record from its JSON object.

        Args:
            d: the decoded line; ``kind`` must be the record's :attr:`KIND`
                (``"open"``, ``"frame"`` or ``"close"``).

        Returns:
            The record, with unknown keys in ``extra``.

        Raises:
            CaptureFormatError: ``conn``, ``t`` or another key the record
                requires is missing, or a known key has the wrong type or value.
        """
        _check_kind(d, cls.KIND)
        k = cls.KIND
        head = _Head(
            conn=_as_int(_require(d, "conn", k), "conn", k),
            t=_as_seconds(_require(d, "t", k), "t", k),
            extra=_unknown_keys(d, cls._KEYS),
        )
        return cls._from_json(d, head)


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureMeta:
    """The first line of a capture: what the file is and where it came from.

    Attributes:
        version: the capture format version (only 1 exists).
        created: when the capture started, ISO 8601 UTC (``2026-11-24T18:00:00Z``).
        tool: what wrote it, e.g. ``f"rawlive {rawlive.__version__}"``.
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
class OpenRecord(_ConnectionRecord):
    """A WebSocket connection opened.

    Its JSON object requires ``conn``, ``t`` and ``endpoint``.

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

    endpoint: str
    model: str | None = None
    extra: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)

    def _add_json(self, out: JSONObject) -> None:
        out["endpoint"] = self.endpoint
        if self.model is not None:
            out["model"] = self.model

    @classmethod
    def _from_json(cls, d: Mapping[str, JSONValue], head: _Head) -> OpenRecord:
        k = cls.KIND
        return cls(
            **head,
            endpoint=_as_str(_require(d, "endpoint", k), "endpoint", k),
            model=_as_opt_str(d.get("model"), "model", k),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameRecord(_ConnectionRecord):
    """One WebSocket message exactly as it was sent or received.

    Exactly one of ``data`` and ``data_b64`` is set. Text frames and binary
    frames that are valid UTF-8 (every Live API server frame) carry ``data``;
    a binary frame that is not valid UTF-8 carries ``data_b64``. Build frames
    from a payload with :meth:`from_payload` to get this right. Its JSON object
    requires ``conn``, ``t``, ``dir``, ``type`` and one of ``data`` and ``data_b64``.

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

    dir: Direction
    type: FrameType
    data: str | None = None
    data_b64: str | None = None
    extra: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)

    def _check(self) -> None:
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

    def _add_json(self, out: JSONObject) -> None:
        out["dir"] = self.dir
        out["type"] = self.type
        if self.data is not None:
            out["data"] = self.data
        else:
            out["data_b64"] = self.data_b64

    @classmethod
    def _from_json(cls, d: Mapping[str, JSONValue], head: _Head) -> FrameRecord:
        k = cls.KIND
        data = d.get("data")
        data_b64 = d.get("data_b64")
        return cls(
            **head,
            dir=cast(Direction, _as_str(_require(d, "dir", k), "dir", k)),
            type=cast(FrameType, _as_str(_require(d, "type", k), "type", k)),
            data=None if data is None else _as_str(data, "data", k),
            data_b64=None if data_b64 is None else _as_str(data_b64, "data_b64", k),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseRecord(_ConnectionRecord):
    """A WebSocket connection closed, or dropped.

    Its JSON object requires ``conn``, ``t`` and ``code``; a missing ``by``
    means null, a missing ``reason`` empty, a missing ``dropped`` false, and
    ``dropped`` is written only when true.

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

    by: ClosedBy | None
    code: int
    reason: str = ""
    dropped: bool = False
    extra: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)

    def _check(self) -> None:
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

    def _add_json(self, out: JSONObject) -> None:
        out["by"] = self.by
        out["code"] = self.code
        out["reason"] = self.reason
        if self.dropped:
            out["dropped"] = True

    @classmethod
    def _from_json(cls, d: Mapping[str, JSONValue], head: _Head) -> CloseRecord:
        k = cls.KIND
        dropped = d.get("dropped", False)
        if not isinstance(dropped, bool):
            raise CaptureFormatError(
                f"close record: 'dropped' must be a boolean, got {json_type(dropped)}"
            )
        return cls(
            **head,
            by=cast("ClosedBy | None", _as_opt_str(d.get("by"), "by", k)),
            code=_as_int(_require(d, "code", k), "code", k),
            reason=_as_str(d.get("reason", ""), "reason", k),
            dropped=dropped,
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
        raise CaptureFormatError(f"record 'kind' must be a string, got {json_type(kind)}")
    if kind == CaptureMeta.KIND:
        return CaptureMeta.from_json(d)
    decode = _KINDS.get(kind)
    if decode is None:
        return UnknownRecord.from_json(d)
    return decode(d)


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
