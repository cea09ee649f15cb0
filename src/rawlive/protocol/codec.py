"""Bytes to messages and back: the only module that calls orjson.

``decode_server`` / ``decode_client`` accept a frame as ``bytes`` (the service
sends binary frames) or ``str`` (text frames), in camelCase or snake_case.
``encode`` emits compact camelCase JSON as ``bytes``.

The lossless guarantee: for every frame that decodes, ``encode`` returns the
same JSON value, except that keys come out camelCase and in declaration order
(unknown keys, and known keys holding an explicit null, come after the known
ones as they were spelled, in wire order). Every value keeps its JSON
type: an int64 sent as ``"1000"`` comes back as ``"1000"`` and one sent as
``5`` as ``5`` (the Python value is an ``int`` either way); base64 keeps its
alphabet and padding (URL-safe stays URL-safe); free-form JSON (function
``args`` and ``response``, schemas, unknown keys) comes back byte-equal, in its
own key order. Messages built in Python use the defaults: standard padded
base64, and each int64 field's proto3 form. Numbers are re-printed by the JSON
library (``1E3`` becomes ``1000.0``: the same value and type).

``encode`` never fails on a decoded frame: values the fast JSON encoder refuses
(nesting deeper than 254 levels, integers beyond 64 bits, which only Python
code can put there) take a slower encoder with no such limits.

Every decoding problem (not JSON, not an object, a known field of the wrong
type, invalid base64, a malformed duration, one field under both spellings,
more than ``MAX_ITEMS_PER_FRAME`` repeated items) raises
:class:`~rawlive.errors.RemoteProtocolError` carrying the frame and the path of
the bad field. Unknown keys are never an error: they are kept.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any, TypeVar

from rawlive.b64 import a2b_strict, b64decode_spelled
from rawlive.errors import LocalProtocolError, RemoteProtocolError
from rawlive.protocol._schema import COUNT_ITEMS_FROM, DecodeFailure, count_items, decode_object
from rawlive.protocol.messages import (
    Blob,
    ClientContent,
    ClientMessage,
    ClientPayload,
    Content,
    Part,
    RealtimeInput,
    ServerContent,
    ServerMessage,
    ServerPayload,
)

__all__ = [
    "MEDIA_FRAME_END",
    "Encodable",
    "decode_client",
    "decode_json",
    "chunk_message",
    "decode_server",
    "decode_server_chunk",
    "encode",
    "encode_json",
    "media_frame_start",
    "text_turn_frame",
    "to_wire",
]

Encodable = ClientMessage | ServerMessage | ClientPayload | ServerPayload

_new = object.__new__
# The fast path stores attributes with object.__setattr__ (bypassing the
# frozen __setattr__) rather than through ``obj.__dict__``: on CPython 3.11+
# that keeps them as inline values with no separate dict object, so a decoded
# audio frame is ~40% smaller and has 4 fewer objects for the cyclic GC to
# scan. That matters when a turn keeps every message (Turn.messages).
_set = object.__setattr__


# orjson is imported at the first encode or decode, not with rawlive: it
# brings datetime, uuid (and platform) and json along, ~8 ms or a fifth of
# ``import rawlive``. Each stub below replaces itself (and the exception class)
# with orjson's own on first use, so later calls go straight to orjson.
class _NotImportedYet(Exception):
    """Stands in for orjson.JSONDecodeError until orjson is imported."""


_JSONDecodeError: type[Exception] = _NotImportedYet


def _import_orjson() -> None:
    global _loads, _dumps, _JSONDecodeError
    import orjson

    _loads, _dumps, _JSONDecodeError = orjson.loads, orjson.dumps, orjson.JSONDecodeError


def _first_loads(data: bytes | bytearray | memoryview | str) -> Any:
    _import_orjson()
    return _loads(data)


def _first_dumps(value: Any) -> bytes:
    _import_orjson()
    return _dumps(value)


_loads: Callable[[bytes | bytearray | memoryview | str], Any] = _first_loads
_dumps: Callable[[Any], bytes] = _first_dumps


def decode_json(data: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """Parse a frame into a JSON object, or raise :class:`RemoteProtocolError`."""
    try:
        value = _loads(data)
    except _JSONDecodeError as exc:
        raise RemoteProtocolError(f"frame is not valid JSON: {exc}", frame=_frame(data)) from exc
    if type(value) is not dict:
        raise RemoteProtocolError(
            f"frame is a JSON {type(value).__name__}, not an object", frame=_frame(data)
        )
    return value


def _frame(data: bytes | bytearray | memoryview | str) -> str | bytes:
    return data if isinstance(data, str) else bytes(data)


def _fast_chunk(value: dict[str, Any]) -> tuple[str, bytes] | str | None:
    """Recognize the commonest frame, one model-turn part, without the generic walk.

    Audio streams as ~25 of these frames per second, so this is the hot path.
    It handles exactly ``{"serverContent":{"modelTurn":{"parts":[{"inlineData":
    {"mimeType": str, "data": str}}]}}}`` (giving ``(mime, pcm)``, a plain
    tuple that the cyclic GC stops tracking) and the same with ``{"text": str}``
    (giving the text); anything else (other keys, snake_case, bad types)
    returns None and takes the generic path, which gives the same result (a
    property test checks it).

    Depends on the records' ``__dict__`` layout (no slots, unset fields absent
    from the instance dict and read from the class): tests/test_record_layout.py guards it.
    """
    if len(value) != 1:
        return None
    sc = value.get("serverContent")
    if type(sc) is not dict or len(sc) != 1:
        return None
    mt = sc.get("modelTurn")
    if type(mt) is not dict or len(mt) != 1:
        return None
    parts = mt.get("parts")
    if type(parts) is not list or len(parts) != 1:
        return None
    raw_part = parts[0]
    if type(raw_part) is not dict or len(raw_part) != 1:
        return None
    raw_blob = raw_part.get("inlineData")
    if raw_blob is None:
        text = raw_part.get("text")
        return text if type(text) is str else None
    if type(raw_blob) is not dict or len(raw_blob) != 2:
        return None
    mime = raw_blob.get("mimeType")
    b64 = raw_blob.get("data")
    if type(mime) is not str or type(b64) is not str:
        return None
    try:
        # standard padded base64 (what the service sends) in one call; any
        # other spelling is decoded, and remembered, by b64decode_spelled
        if len(b64) % 4 == 0:
            try:
                return (mime, a2b_strict(b64))
            except binascii.Error:
                pass
        return (mime, b64decode_spelled(b64))
    except (binascii.Error, ValueError):
        return None  # the generic path reports it with the field's path


def chunk_message(chunk: tuple[str, bytes] | str) -> ServerMessage:
    """The message of one model-turn chunk: ``(mime, data)`` inline data, or a text.

    Exactly what :func:`decode_server` gives for the frame the chunk came from.
    """
    part = _new(Part)
    if isinstance(chunk, str):
        _set(part, "text", chunk)
    else:
        mime, data = chunk
        blob = _new(Blob)
        attrs = blob.__dict__  # holds no containers, so the GC never tracks it
        attrs["mime_type"] = mime
        attrs["data"] = data
        _set(part, "inline_data", blob)
    content = _new(Content)
    _set(content, "parts", (part,))
    server_content = _new(ServerContent)
    _set(server_content, "model_turn", content)
    message = _new(ServerMessage)
    _set(message, "server_content", server_content)
    return message


def _fast_model_turn(value: dict[str, Any]) -> ServerMessage | None:
    """:func:`_fast_chunk` as a message (None: take the generic path)."""
    chunk = _fast_chunk(value)
    return None if chunk is None else chunk_message(chunk)


def decode_server(data: bytes | bytearray | memoryview | str) -> ServerMessage:
    """Decode one server frame.

    Raises:
        RemoteProtocolError: the frame is not a JSON object or a known field is malformed.
    """
    value = decode_json(data)
    chunk = _fast_chunk(value)
    if chunk is not None:
        return chunk_message(chunk)
    return _decode_generic(data, value)


def decode_server_chunk(
    data: bytes | bytearray | memoryview | str,
) -> ServerMessage | tuple[str, bytes]:
    """Like :func:`decode_server`, but an inline-data model-turn chunk stays ``(mime, data)``.

    The connection reader buffers audio chunks in this form: a plain tuple of
    a string and bytes is no work for the cyclic GC, where the five records
    of its message would be (:func:`chunk_message` builds them when wanted).
    """
    value = decode_json(data)
    chunk = _fast_chunk(value)
    if type(chunk) is tuple:
        return chunk
    if chunk is not None:
        return chunk_message(chunk)
    return _decode_generic(data, value)


def _decode_generic(
    data: bytes | bytearray | memoryview | str, value: dict[str, Any]
) -> ServerMessage:
    return _decode_as(ServerMessage, value, data, "server")


def decode_client(data: bytes | bytearray | memoryview | str) -> ClientMessage:
    """Decode one client frame (camelCase or snake_case, as the SDKs send).

    Raises:
        RemoteProtocolError: the frame is not a JSON object or a known field is malformed.
    """
    value = decode_json(data)
    return _decode_as(ClientMessage, value, data, "client")


_M = TypeVar("_M", ClientMessage, ServerMessage)


def _decode_as(
    cls: type[_M], value: dict[str, Any], data: bytes | bytearray | memoryview | str, side: str
) -> _M:
    """The generic walk, with the item count bounded on large frames."""
    try:
        if len(data) >= COUNT_ITEMS_FROM:
            count_items(cls, value)
        return decode_object(cls, value)
    except DecodeFailure as exc:
        raise RemoteProtocolError(
            f"malformed {side} message: {exc.message}", frame=_frame(data), path=exc.path
        ) from None


def to_wire(message: Encodable) -> dict[str, Any]:
    """Return the JSON object for a frame carrying ``message``.

    Envelopes (:class:`ClientMessage`, :class:`ServerMessage`) map to their own
    wire form; a bare payload (``Setup``, ``ServerContent``...) is wrapped in its
    envelope key, e.g. ``{"setup": {...}}``.
    """
    envelope = getattr(message, "ENVELOPE", None)
    if envelope is None:
        return message.to_wire()
    return {envelope: message.to_wire()}


def encode(message: Encodable) -> bytes:
    """Encode ``message`` as one compact camelCase JSON frame (UTF-8 bytes).

    Raises:
        LocalProtocolError: a value built in Python is not JSON (a ``set``, an
            object); never raised for a decoded frame.
    """
    wire = to_wire(message)
    try:
        return _dumps(wire)
    except TypeError:  # orjson.JSONEncodeError: too deep, too big, or not JSON
        return _dumps_anything(wire)


def encode_json(value: Any) -> bytes:
    """Encode a raw JSON value (a frame built by hand, a line of JSON output) compactly.

    The one JSON writer for frames outside the message classes: compact UTF-8,
    any depth, any integer size, as :func:`encode` writes.

    Raises:
        LocalProtocolError: ``value`` is not JSON (a ``set``, an object).
    """
    try:
        return _dumps(value)
    except TypeError:
        return _dumps_anything(value)


MEDIA_FRAME_END = b'"}}}'
"""What follows the base64 data in a media chunk frame (see :func:`media_frame_start`)."""

_media_starts: dict[tuple[str, str], bytes] = {}


def media_frame_start(kind: str, mime_type: str) -> bytes:
    """The bytes of a ``realtimeInput`` media frame that come before its base64 data.

    ``start + base64(data) + MEDIA_FRAME_END`` is exactly what :func:`encode`
    gives for ``RealtimeInput(**{kind: Blob(mime_type=mime_type, data=data)})``
    (standard padded base64 of plain ``bytes``): the start is cut from such an
    encoding with empty data, so the two can never disagree. Kept per
    ``(kind, mime_type)`` (a handful per session); the audio and video
    senders build each chunk's frame from it without any record.

    Args:
        kind: ``"audio"`` or ``"video"``.
    """
    key = (kind, mime_type)
    start = _media_starts.get(key)
    if start is None:
        blob = Blob(mime_type=mime_type, data=b"")
        if kind == "audio":
            empty = RealtimeInput(audio=blob)
        elif kind == "video":
            empty = RealtimeInput(video=blob)
        else:
            raise ValueError(f"media kind must be 'audio' or 'video', not {kind!r}")
        frame = encode(empty)
        if not frame.endswith(b'"data":""' + MEDIA_FRAME_END[1:]):
            raise AssertionError(f"unexpected media frame layout: {frame!r}")
        start = frame[: -len(MEDIA_FRAME_END)]
        if len(_media_starts) < 256:  # bounded: mime types come from the caller
            _media_starts[key] = start
    return start


_text_turn_parts: dict[bool, tuple[bytes, bytes]] = {}


def text_turn_frame(text: str, turn_complete: bool = True) -> bytes:
    """The frame of a ``clientContent`` with one user text turn, built without records.

    Exactly what :func:`encode` gives for ``ClientContent(turns=(Content.user_text(text),),
    turn_complete=turn_complete)``: the bytes around the text are cut from
    such an encoding with an empty text, and the text is written by the same
    JSON writer, so the two can never disagree. ``Session.send_text`` uses it.
    Only the two bools are cached: ``1`` equals ``True`` as a dict key but
    encodes as ``1``, and must not stand for it.
    """
    cached = type(turn_complete) is bool
    parts = _text_turn_parts.get(turn_complete) if cached else None
    if parts is None:
        content = ClientContent(turns=(Content.user_text(""),), turn_complete=turn_complete)
        frame = encode(content)
        before, empty, after = frame.partition(b'"text":""')
        if not empty or b'"text":""' in after:
            raise AssertionError(f"unexpected text turn layout: {frame!r}")
        parts = (before + b'"text":', after)
        if cached:
            _text_turn_parts[turn_complete] = parts
    return parts[0] + encode_json(text) + parts[1]


class _Raw(bytes):
    """Output :func:`_dumps_anything` writes as it is (separators, brackets,
    keys): a distinct type, so a ``bytes`` value in the JSON is refused like
    any other non-JSON value instead of being written raw."""

    __slots__ = ()


_COMMA, _CLOSE_OBJECT, _CLOSE_ARRAY = _Raw(b","), _Raw(b"}"), _Raw(b"]")


def _dumps_anything(value: Any) -> bytes:
    """Encode JSON of any depth and any integer size, without recursion.

    Scalars are written by orjson itself (so strings and floats come out
    exactly as on the fast path); only containers and integers beyond 64
    bits are written here.
    """
    out: list[bytes] = []
    # The stack holds values still to write, and _Raw output (separators and
    # closing brackets) to emit between them.
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is _Raw:
            out.append(item)
        elif isinstance(item, dict):
            out.append(b"{")
            todo: list[Any] = [_CLOSE_OBJECT]
            for i, (key, sub) in enumerate(reversed(item.items())):
                if not isinstance(key, str):
                    raise LocalProtocolError(f"cannot encode a {type(key).__name__} key as JSON")
                todo.append(sub)
                todo.append(_Raw(_dumps(key) + b":"))
                if i < len(item) - 1:
                    todo.append(_COMMA)
            stack.extend(todo)
        elif isinstance(item, (list, tuple)):
            out.append(b"[")
            todo = [_CLOSE_ARRAY]
            for i, sub in enumerate(reversed(item)):
                todo.append(sub)
                if i < len(item) - 1:
                    todo.append(_COMMA)
            stack.extend(todo)
        elif isinstance(item, int) and not isinstance(item, bool):
            out.append(str(int(item)).encode("ascii"))
        else:
            try:
                out.append(_dumps(item))
            except TypeError as exc:
                raise LocalProtocolError(f"cannot encode a value as JSON: {exc}") from exc
    return b"".join(out)
