"""The engine behind every message dataclass: wire tables, decoding, encoding.

Theory of operation
-------------------
Each message class is a frozen dataclass whose fields carry a *kind* in their
metadata (see :func:`wire_field`). :func:`wire_message` reads those kinds once,
at class creation, and builds two tables on the class:

``_DEC``
    wire key -> (attribute, converter, argument). Both spellings of every
    field are keys (``modelTurn`` and ``model_turn``), because the service's
    proto-JSON parser accepts both and the official Python SDK sends both.
``_ENC``
    (attribute, camelCase key, encoder, argument) in declaration order.

Decoding walks the JSON once. Known keys are converted and type-checked;
unknown keys go, untouched, into the instance's ``extra`` mapping and are
re-emitted by ``to_wire()``, which is what makes the codec lossless at every
depth. Free-form JSON (function ``args``, ``response``, schemas, ``labels``)
has kind ``json`` and passes through verbatim, never case-converted.

Speed: decoded instances are made with ``object.__new__`` and handed their
attribute dict in one step; attributes that were absent from the wire fall
back to the class-level default (``None``). This is why the message classes are
frozen dataclasses *without* ``slots``: with slots every absent field would
cost a separate store, which tripled the cost of decoding an audio frame.

Spelling: a value keeps the JSON type it had on the wire. int64 fields
(proto3 JSON sends them as decimal strings; numbers are accepted too) decode
to an ``int`` subclass that remembers the spelling (:class:`WireInt`) when it
differs from what the field emits by default; base64 keeps its alphabet and
padding (:func:`rawlive.b64.b64decode_spelled`). Values built in Python are
plain ``int``/``bytes`` and take the default spelling.

Bounds: a frame may hold at most :data:`MAX_ITEMS_PER_FRAME` items in its
repeated message fields (parts, turns, calls...), and a field given under both
spellings (``turnComplete`` and ``turn_complete``) is an error, because one of
the two values would be lost and the service's choice is unknowable.

Errors: converters raise :class:`DecodeFailure` with a message; each level
adds its key to the failure's path on the way out, so the hot path pays
nothing for error reporting. The codec turns the failure into a
:class:`~rawlive.errors.RemoteProtocolError` that carries the frame.
"""

from __future__ import annotations

import binascii
import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from rawlive.b64 import b64decode_spelled, b64encode_any
from rawlive.errors import unexpected_keyword

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_kwargs: object):
        return lambda obj: obj


__all__ = [
    "WireMessage",
    "EMPTY",
    "COUNT_ITEMS_FROM",
    "MAX_ITEMS_PER_FRAME",
    "DecodeFailure",
    "WireInt",
    "camel",
    "count_items",
    "decode_object",
    "encode_object",
    "json_type",
    "parse_duration",
    "snake",
    "wire_field",
    "wire_message",
]


class _EmptyMapping(Mapping[str, Any]):
    """The immutable, hashable empty mapping used as the default ``extra``."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"


EMPTY: Mapping[str, Any] = _EmptyMapping()

_new = object.__new__
_set = object.__setattr__

T = TypeVar("T")


class DecodeFailure(Exception):
    """A value did not match its field's kind; ``path`` grows as it propagates."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.parts: list[str] = []

    @property
    def path(self) -> str:
        out = ""
        for part in reversed(self.parts):
            out += part if part.startswith("[") or not out else "." + part
        return out


def camel(name: str) -> str:
    """Return the lowerCamelCase form of a snake_case name (``model_turn`` -> ``modelTurn``)."""
    if "_" not in name.strip("_"):
        return name
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def snake(name: str) -> str:
    """Return the snake_case form of a lowerCamelCase name (``modelTurn`` -> ``model_turn``)."""
    return _UPPER.sub(r"_\1", name).lower()


_UPPER = re.compile(r"(?<!^)([A-Z])")


def json_type(value: object) -> str:
    """Return the JSON type name of a decoded value (``object``, ``array``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _expect(what: str, value: object) -> DecodeFailure:
    return DecodeFailure(f"expected {what}, got {json_type(value)}")


# ---------------------------------------------------------------- converters
# Each takes (value, argument) and returns the Python value or raises.


def _dec_exactly(cls: type, what: str) -> Callable[[Any, Any], Any]:
    """A converter that keeps a value of exactly type ``cls`` (no subclass: ``True`` is no int)."""

    def convert(v: Any, _a: Any) -> Any:
        if type(v) is not cls:
            raise _expect(what, v)
        return v

    return convert


_dec_str = _dec_exactly(str, "a string")
_dec_bool = _dec_exactly(bool, "a boolean")
_dec_object = _dec_exactly(dict, "an object")


class WireInt(int):
    """An ``int`` decoded from a spelling its field does not emit by default.

    Equal to, and hashing like, the plain ``int``; arithmetic returns plain
    ``int``. Only :meth:`wire` differs: the JSON value the wire had, which the
    encoder emits instead of the field's default form.
    """

    __slots__ = ()

    def wire(self) -> Any:
        """Return the JSON value (``str``, ``int`` or ``float``) to emit."""
        raise NotImplementedError  # pragma: no cover - every subclass overrides


class _AsString(WireInt):
    """Spelled as a canonical decimal string (``"1000"``)."""

    __slots__ = ()

    def wire(self) -> Any:
        return str(int(self))


class _AsText(WireInt):
    """Spelled as a decimal string ``int()`` accepts but does not print (``"007"``)."""

    def wire(self) -> Any:
        return self.__dict__["text"]


class _AsNumber(WireInt):
    """Spelled as a JSON integer where the field's default is a string."""

    __slots__ = ()

    def wire(self) -> Any:
        return int(self)


class _AsFloat(WireInt):
    """Spelled as an integral JSON float (``5.0``, ``1e300``)."""

    __slots__ = ()

    def wire(self) -> Any:
        return float(self)


def _dec_int(v: Any, _a: Any) -> Any:
    if type(v) is int:
        return v
    if type(v) is float and v.is_integer():
        return _AsFloat(v)
    raise _expect("an integer", v)


def _dec_int64(v: Any, as_string: Any) -> Any:
    # proto3 JSON sends int64 as a decimal string; numbers are accepted too.
    # The value keeps its spelling when it differs from the field's default.
    if type(v) is int:
        return _AsNumber(v) if as_string else v
    if type(v) is str:
        try:
            n = int(v)
        except ValueError:
            raise DecodeFailure(
                f"expected an int64 (number or decimal string), got {v!r}"
            ) from None
        if str(n) == v:
            return n if as_string else _AsString(n)
        text = _AsText(n)
        text.__dict__["text"] = v
        return text
    raise _expect("an int64 (number or decimal string)", v)


def _dec_number(v: Any, _a: Any) -> Any:
    if (type(v) is int) or (type(v) is float):
        return v
    raise _expect("a number", v)


def _dec_json(v: Any, _a: Any) -> Any:
    return v


def _dec_strlist(v: Any, _a: Any) -> Any:
    if type(v) is not list:
        raise _expect("an array of strings", v)
    for i, item in enumerate(v):
        if type(item) is not str:
            err = _expect("a string", item)
            err.parts.append(f"[{i}]")
            raise err
    return tuple(v)


def _dec_bytes(v: Any, _a: Any) -> Any:
    if type(v) is not str:
        raise _expect("a base64 string", v)
    try:
        return b64decode_spelled(v)
    except (binascii.Error, ValueError) as exc:
        raise DecodeFailure(f"invalid base64 ({exc})") from None


# \Z, not $: "$" also matches before a trailing newline ("50s\n").
_DURATION = re.compile(r"-?(?:\d+(?:\.\d{0,9})?|\.\d{1,9})s\Z")


def parse_duration(text: str) -> float:
    """Return the seconds in a protobuf Duration string such as ``"50s"`` or ``"1.5s"``.

    Raises:
        ValueError: ``text`` is not in the Duration JSON format.
    """
    if not _DURATION.fullmatch(text):
        raise ValueError(f"not a protobuf duration: {text!r} (expected e.g. '50s' or '1.5s')")
    return float(text[:-1])


def _dec_duration(v: Any, _a: Any) -> Any:
    if type(v) is not str:
        raise _expect("a duration string such as '50s'", v)
    if not _DURATION.fullmatch(v):
        raise DecodeFailure(f"expected a duration string such as '50s', got {v!r}")
    return v


MAX_ITEMS_PER_FRAME = 100_000
"""The most items a frame's repeated message fields may hold together.

Counts every element of every ``parts``, ``turns``, ``functionCalls``,
``functionResponses``, ``tools``, ``functionDeclarations``, ``mediaChunks`` and
token-details array in one frame. A decoded item costs ~300 bytes and ~1 us;
without a bound a 16 MiB frame of empty parts (``{},`` x 5.6 million) took 7 s
and 800 MB beyond what the JSON parser itself needs. Free-form JSON (function
arguments, schemas) is not counted: it is kept as the parser built it. What
remains is the parser's own work, bounded by the WebSocket frame size limit
(16 MiB of ``{"text":""}`` parts: 0.6 s and ~400 MB, then this error).
"""


def _dec_message_list(v: Any, cls: Any) -> Any:
    if type(v) is not list:
        raise _expect("an array of objects", v)
    try:
        return tuple([_decode(item, cls) for item in v])
    except DecodeFailure as exc:
        # Find which element failed; only the error path pays for this.
        for i, item in enumerate(v):
            try:
                _decode(item, cls)
            except DecodeFailure:
                exc.parts.append(f"[{i}]")
                break
        raise


_DECODERS: dict[str, Any] = {
    "str": _dec_str,
    "enum": _dec_str,
    "bool": _dec_bool,
    "int": _dec_int,
    "int64": _dec_int64,  # argument False: emits a number by default
    "int64str": _dec_int64,  # argument True: emits a decimal string by default
    "number": _dec_number,
    "json": _dec_json,
    "object": _dec_object,
    "strlist": _dec_strlist,
    "bytes": _dec_bytes,
    "duration": _dec_duration,
    "message": None,  # filled in below: _decode itself
    "messages": _dec_message_list,
}


def decode_object(cls: type[T], value: Any) -> T:
    """Build ``cls`` from its JSON object form.

    Call :func:`count_items` first for a frame that may be large.

    Raises:
        DecodeFailure: ``value`` or a field in it has the wrong shape.
    """
    result: T = _decode(value, cls)
    return result


COUNT_ITEMS_FROM = 2 * MAX_ITEMS_PER_FRAME
"""Frames shorter than this (in bytes or characters) need no :func:`count_items`:
every item is at least ``{}`` plus a comma, so they cannot hold too many."""


def count_items(cls: type[Any], value: Any) -> None:
    """Refuse ``value`` if it holds more than :data:`MAX_ITEMS_PER_FRAME` repeated items.

    Raises:
        DecodeFailure: too many items (the path names the list that overflowed).
    """
    if type(value) is dict:
        _count_items(value, cls, MAX_ITEMS_PER_FRAME)


def _count_items(value: dict[str, Any], cls: Any, budget: int) -> int:
    """Return ``budget`` minus the repeated items under ``value``; fail below zero.

    Walks only the schema's message fields (never free-form JSON), so its
    recursion is as deep as the schema, whatever the frame's nesting.
    """
    table = cls._DEC
    for key, item in value.items():
        entry = table.get(key)
        if entry is None:
            continue
        conv, sub = entry[1], entry[2]
        try:
            if conv is _decode and type(item) is dict:
                budget = _count_items(item, sub, budget)
            elif conv is _dec_message_list and type(item) is list:
                budget -= len(item)
                if budget < 0:
                    raise DecodeFailure(
                        f"too many items: more than {MAX_ITEMS_PER_FRAME} in this frame's "
                        "repeated fields"
                    )
                for i, element in enumerate(item):
                    if type(element) is dict:
                        try:
                            budget = _count_items(element, sub, budget)
                        except DecodeFailure as exc:
                            exc.parts.append(f"[{i}]")
                            raise
        except DecodeFailure as exc:
            exc.parts.append(key)
            raise
    return budget


def _decode(value: Any, cls: Any) -> Any:
    if type(value) is not dict:
        raise _expect(f"an object ({cls.__name__})", value)
    table: dict[str, tuple[str, Callable[[Any, Any], Any], Any]] = cls._DEC
    obj = _new(cls)
    # Filling the fresh instance dict in place is ~2.5x cheaper than assigning
    # a prepared dict to __dict__; absent fields fall back to class defaults.
    attrs = obj.__dict__
    extra: dict[str, Any] | None = None
    known_null = False
    for key, item in value.items():
        entry = table.get(key)
        if entry is None or item is None:
            # Unknown keys, and explicit nulls, are kept verbatim for re-encoding.
            if extra is None:
                extra = attrs["extra"] = {}
            extra[key] = item
            if entry is not None:
                known_null = True
            continue
        name, conv, arg = entry
        try:
            attrs[name] = conv(item, arg)
        except DecodeFailure as exc:
            exc.parts.append(key)
            raise
    # Each key either set one attribute or went into ``extra``; fewer means two
    # spellings of one field met. A known key holding null is in ``extra`` and
    # may hide a value under the other spelling. Cheap checks keep the hot path fast.
    if extra is None:
        if len(attrs) != len(value):
            _check_spellings(value, table, attrs)
    elif known_null or len(attrs) + len(extra) - 1 != len(value):
        _check_spellings(value, table, attrs)
    return obj


def _check_spellings(value: dict[str, Any], table: dict[str, Any], attrs: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for key, item in value.items():
        entry = table.get(key)
        if entry is None:
            continue
        name = entry[0]
        first = seen.get(name)
        if first is not None and (item is not None or name in attrs):
            exc = DecodeFailure(f"field given twice, as {first!r} and {key!r}")
            exc.parts.append(key)
            raise exc
        seen[name] = key


_DECODERS["message"] = _decode

# ------------------------------------------------------------------ encoders


def _enc_plain(v: Any, _a: Any) -> Any:
    return v


def _enc_seq(v: Any, _a: Any) -> Any:
    return list(v)


def _enc_int(v: Any, _a: Any) -> Any:
    return v if type(v) is int else _wire_number(v)


def _enc_int64str(v: Any, _a: Any) -> Any:
    return str(v) if type(v) is int else _wire_number(v)


def _wire_number(v: Any) -> Any:
    if isinstance(v, WireInt):
        return v.wire()
    return v  # a float or a subclass from user code: emitted as given


def _enc_bytes(v: Any, _a: Any) -> Any:
    if isinstance(v, str):  # already base64 text (e.g. passed through)
        return v
    return b64encode_any(v)


def _enc_message(v: Any, _a: Any) -> Any:
    if isinstance(v, Mapping):  # raw-dict escape hatch for fields newer than the library
        return dict(v)
    return encode_object(v)


def _enc_message_list(v: Any, _a: Any) -> Any:
    return [dict(x) if isinstance(x, Mapping) else encode_object(x) for x in v]


_ENCODERS: dict[str, Callable[[Any, Any], Any]] = {
    "str": _enc_plain,
    "enum": _enc_plain,
    "bool": _enc_plain,
    "int": _enc_int,
    "int64": _enc_int,
    "int64str": _enc_int64str,
    "number": _enc_plain,
    "json": _enc_plain,
    "object": _enc_plain,
    "strlist": _enc_seq,
    "bytes": _enc_bytes,
    "duration": _enc_plain,
    "message": _enc_message,
    "messages": _enc_message_list,
}


def encode_object(obj: Any) -> dict[str, Any]:
    """Return the camelCase JSON object form of a message instance."""
    out: dict[str, Any] = {}
    for name, key, enc, arg in type(obj)._ENC:
        value = getattr(obj, name)
        if value is not None:
            out[key] = enc(value, arg)
    extra = obj.extra
    if extra:
        out.update(extra)
    return out


# ------------------------------------------------------------- declarations


def wire_field(
    kind: str, sub: type | None = None, *, wire: str | None = None, default: None = None
) -> Any:
    """Declare a message field of the given wire ``kind`` (default ``None``).

    Args:
        kind: one of the keys of the converter tables above.
        sub: the message class for ``message``/``messages`` kinds.
        wire: the camelCase wire name when it is not derived from the attribute.
        default: always None ("absent on the wire"); spelled out in every
            declaration so that type checkers see the field is optional.
    """
    if kind not in _DECODERS:
        raise ValueError(f"unknown wire kind {kind!r}")
    return dataclasses.field(default=None, metadata={"kind": kind, "sub": sub, "wire": wire})


def extra_field(*, default: Mapping[str, Any] = EMPTY) -> Any:
    """Declare the ``extra`` mapping that holds unknown wire keys verbatim."""
    return dataclasses.field(default=default, repr=False)


class WireMessage:
    """Base of every message class: frozen, keyword-only, compared by value.

    The dataclass machinery is asked only for field bookkeeping
    (``dataclasses.fields``/``replace``/``asdict`` all work); ``__init__``,
    ``__eq__``, ``__hash__`` and the frozen ``__setattr__`` are shared here
    instead of generated per class. Generating them cost 1.5 ms per class at
    import, three quarters of ``import rawlive``.
    """

    _DEC: ClassVar[dict[str, Any]]
    _ENC: ClassVar[tuple[Any, ...]]
    _NAMES: ClassVar[tuple[str, ...]]
    _SEQUENCES: ClassVar[frozenset[str]]
    extra: Mapping[str, Any]

    def __init__(self, **kwargs: Any) -> None:
        # object.__setattr__, not self.__dict__: on CPython 3.11+ the values stay
        # inline, with no dict object beside the record for the cyclic GC to walk
        # while it lives (a session keeps its setup).
        names = self._NAMES
        seqs = self._SEQUENCES
        for key, value in kwargs.items():
            if key not in names:
                raise unexpected_keyword(type(self).__name__, key, names)
            if value is not None:
                if key in seqs and not isinstance(value, tuple):
                    value = tuple(value)
                _set(self, key, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._NAMES])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        # Only the fields that are set: a full repr of a 15-field message with
        # one value is unreadable. Bytes show their size, never their content.
        shown = []
        for name in self._NAMES:
            value = getattr(self, name)
            if value is None or (name == "extra" and not value):
                continue
            is_bytes = isinstance(value, (bytes, bytearray))
            text = f"<{len(value)} bytes>" if is_bytes else repr(value)
            shown.append(f"{name}={text}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), dict(self.__dict__)))

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON object form (camelCase keys, unknown keys re-emitted)."""
        return encode_object(self)


def _rebuild(cls: type[WireMessage], attrs: dict[str, Any]) -> WireMessage:
    obj = _new(cls)
    obj.__dict__.update(attrs)
    return obj


@dataclass_transform(
    kw_only_default=True, frozen_default=True, field_specifiers=(wire_field, extra_field)
)
def wire_message(cls: type[T]) -> type[T]:
    """Make ``cls`` (a :class:`WireMessage` subclass) a frozen record with wire tables."""
    cls = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    dec: dict[str, tuple[str, Callable[[Any, Any], Any], Any]] = {}
    enc: list[tuple[str, str, Callable[[Any, Any], Any], Any]] = []
    names: list[str] = []
    seqs: set[str] = set()
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        names.append(f.name)
        if f.name == "extra":
            continue
        kind = f.metadata["kind"]
        if kind in ("strlist", "messages"):
            seqs.add(f.name)
        key = f.metadata["wire"] or camel(f.name)
        arg = kind == "int64str" if kind.startswith("int64") else f.metadata["sub"]
        entry = (f.name, _DECODERS[kind], arg)
        dec[key] = entry
        dec.setdefault(f.name, entry)
        dec.setdefault(snake(key), entry)
        enc.append((f.name, key, _ENCODERS[kind], f.metadata["sub"]))
    cls._DEC = dec  # type: ignore[attr-defined]
    cls._ENC = tuple(enc)  # type: ignore[attr-defined]
    cls._NAMES = tuple(names)  # type: ignore[attr-defined]
    cls._SEQUENCES = frozenset(seqs)  # type: ignore[attr-defined]
    return cls
