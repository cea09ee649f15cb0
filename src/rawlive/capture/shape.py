"""``rawlive diff``: the protocol shape of a capture, and the difference of two.

The shape diff (:func:`diff_captures`) compares what kinds of messages a
capture holds and how they are built, not what they say: top-level kinds and
their bundling per frame, JSON key paths per kind (lists collapsed to ``[]``,
snake_case keys spelled camelCase, free-form JSON such as ``args`` and
``response`` not descended into), JSON types per path, the values of
enum-like fields, key spelling, close codes, and the order of server messages
in one turn. Frame counts are reported next to it but are not a shape
difference: two conversations of different length have the same shape. A
frame that does not decode still gives its JSON shape when it is JSON at all.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rawlive.capture.jsonio import dumps_text, get_key
from rawlive.capture.markers import decode_frame
from rawlive.capture.records import Capture, CloseRecord, FrameRecord
from rawlive.capture.timeline import UNDECODABLE
from rawlive.errors import RemoteProtocolError
from rawlive.protocol import (
    ClientMessage,
    ServerContent,
    ServerMessage,
    camel,
    decode_json,
    json_type,
    snake,
)

__all__ = [
    "CaptureDiff",
    "CaptureShape",
    "DiffEntry",
    "capture_shape",
    "diff_captures",
    "format_diff",
]


# Free-form JSON whose inside is the application's business, not the protocol's:
# function arguments and results and the schemas that describe them.
_OPAQUE_KEYS = frozenset(
    {"args", "partialArgs", "response", "parameters", "parametersJsonSchema",
     "responseJsonSchema", "labels"}
)  # fmt: skip
# Strings whose set of values tells protocol versions or models apart.
_ENUM_KEYS = frozenset({"mimeType", "responseModalities", "role", "model", "voiceName"})
_ENUM_VALUE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_VALUE_LIMIT = 20
_ENUM_GUESS_LIMIT = 64
_STREAMED = frozenset(
    {"modelTurn", "outputTranscription", "inputTranscription", "interimInputTranscription"}
)
# Server kinds in the order the message record declares them.
_SERVER_ORDER = tuple(camel(f.name) for f in dataclasses.fields(ServerMessage) if f.name != "extra")
_NOT_JSON = "(not a JSON object)"


@dataclass(frozen=True, slots=True)
class _FieldInfo:
    key: str  # camelCase wire name
    kind: str  # the wire kind from rawlive.protocol (message, messages, enum, json, ...)
    sub: Any  # message class for message/messages kinds


@functools.cache
def _fields_of(cls: Any) -> Mapping[str, _FieldInfo]:
    """Map both spellings of every wire key of a message class to its field."""
    table: dict[str, _FieldInfo] = {}
    for f in dataclasses.fields(cls):
        if f.name == "extra":
            continue
        key = f.metadata.get("wire") or camel(f.name)
        info = _FieldInfo(key, str(f.metadata.get("kind", "json")), f.metadata.get("sub"))
        table[key] = info
        table.setdefault(f.name, info)
        table.setdefault(snake(key), info)
    return table


@dataclass(slots=True)
class _ShapeAcc:
    kinds: Counter[tuple[str, str]] = field(default_factory=Counter)
    bundles: dict[str, set[str]] = field(default_factory=dict)
    paths: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    types: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    values: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    spellings: dict[str, set[str]] = field(default_factory=dict)
    undecodable: Counter[str] = field(default_factory=Counter)

    def walk_frame(self, direction: str, value: Mapping[str, Any]) -> list[str]:
        envelope = ServerMessage if direction == "server" else ClientMessage
        table = _fields_of(envelope)
        kinds: list[str] = []
        for raw_key, item in value.items():
            info = table.get(raw_key)
            key = info.key if info is not None else camel(raw_key)
            kinds.append(key)
            self.kinds[(direction, key)] += 1
            self._walk(direction, key, key, raw_key, item, info)
        return kinds

    def _walk(
        self,
        direction: str,
        kind: str,
        path: str,
        raw_key: str,
        value: Any,
        info: _FieldInfo | None,
    ) -> None:
        key = info.key if info is not None else camel(raw_key)
        if raw_key != key:
            self.spellings.setdefault(direction, set()).add(f"{path} as {raw_key}")
        if isinstance(value, list):
            path += "[]"
            types = {json_type(v) for v in value} or {"empty array"}
        else:
            types = {json_type(value)}
        self.paths.setdefault(direction, {}).setdefault(kind, set()).add(path)
        self.types.setdefault(direction, {}).setdefault(path, set()).update(types)
        if key in _OPAQUE_KEYS or (info is not None and info.kind == "object"):
            return
        sub = info.sub if info is not None and info.kind in ("message", "messages") else None
        enum_like = key in _ENUM_KEYS or (info is not None and info.kind in ("enum", "bool"))
        # Fields the library does not model: an UPPER_CASE string is probably an enum.
        guess = info is None
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, dict):
                table = _fields_of(sub) if sub is not None else {}
                for child_key, child in item.items():
                    self._walk(
                        direction, kind, f"{path}.{_child_key(table, child_key)}", child_key,
                        child, table.get(child_key),
                    )  # fmt: skip
            elif isinstance(item, bool) or (
                isinstance(item, str) and (enum_like or (guess and _looks_like_enum(item)))
            ):
                values = self.values.setdefault(direction, {}).setdefault(path, set())
                if len(values) < _VALUE_LIMIT:
                    values.add(dumps_text(item))


def _looks_like_enum(text: str) -> bool:
    return len(text) <= _ENUM_GUESS_LIMIT and _ENUM_VALUE.match(text) is not None


def _child_key(table: Mapping[str, _FieldInfo], raw_key: str) -> str:
    info = table.get(raw_key)
    return info.key if info is not None else camel(raw_key)


def _frame_label(direction: str, value: Mapping[str, Any]) -> tuple[str, bool]:
    """Return a frame's order label (``serverContent.turnComplete+usageMetadata``) and
    whether it is a streamed piece (model turn or transcript only)."""
    table = _fields_of(ServerMessage if direction == "server" else ClientMessage)
    keys = [_child_key(table, k) for k in value]
    rank = {k: i for i, k in enumerate(_SERVER_ORDER)}
    keys.sort(key=lambda k: (rank.get(k, len(rank)), k))
    labels: list[str] = []
    streamed = len(keys) == 1
    for key in keys:
        raw = next(k for k in value if _child_key(table, k) == key)
        inner = value[raw]
        if key == "serverContent" and isinstance(inner, dict) and inner:
            sc_table = _fields_of(ServerContent)
            fields = [_child_key(sc_table, k) for k in inner]
            streamed = streamed and all(f in _STREAMED for f in fields)
            shown = fields[0] if len(fields) == 1 else "{" + ",".join(fields) + "}"
            labels.append(f"serverContent.{shown}")
        else:
            streamed = False
            labels.append(key)
    return "+".join(labels), streamed


def _collapse(labels: Sequence[tuple[str, bool]]) -> str:
    """Collapse a turn's frame labels: runs of streamed pieces become ``x N``."""
    out: list[str] = []
    i = 0
    while i < len(labels):
        label, streamed = labels[i]
        j = i + 1
        if streamed:
            names = {label}
            while j < len(labels) and labels[j][1]:
                names.add(labels[j][0])
                j += 1
            out.append(" | ".join(sorted(names)) + " x N")
        else:
            while j < len(labels) and labels[j] == labels[i]:
                j += 1
            out.append(label if j - i == 1 else f"{label} x{j - i}")
        i = j
    return ", ".join(out)


def _is_tail(value: Mapping[str, Any]) -> bool:
    """Whether a frame after ``turnComplete`` still belongs to that turn (new handle, usage)."""
    table = _fields_of(ServerMessage)
    keys = {_child_key(table, k): v for k, v in value.items()}
    if not keys or not set(keys) <= {"sessionResumptionUpdate", "usageMetadata"}:
        return False
    sru = keys.get("sessionResumptionUpdate")
    return sru is None or (isinstance(sru, dict) and bool(sru))


class _TurnPatterns:
    """Cut each connection's server frames into turns and label them (PROTOCOL.md §2.5)."""

    def __init__(self) -> None:
        self.patterns: Counter[str] = Counter()
        self._open: dict[int, list[tuple[str, bool]]] = {}
        self._tail: dict[int, list[tuple[str, bool]]] = {}

    def frame(self, conn: int, value: Mapping[str, Any] | None) -> None:
        if value is None:
            label: tuple[str, bool] = (UNDECODABLE, False)
        else:
            label = _frame_label("server", value)
        tail = self._tail.get(conn)
        if tail is not None:
            if value is not None and _is_tail(value):
                tail.append(label)
                return
            self._flush_tail(conn)
        current = self._open.get(conn)
        if current is None:
            keys = {_child_key(_fields_of(ServerMessage), k) for k in value or {}}
            if value is not None and keys <= {"setupComplete", "goAway"}:
                return
            current = self._open[conn] = []
        current.append(label)
        sc = None
        if value is not None:
            for raw, inner in value.items():
                if camel(raw) == "serverContent" and isinstance(inner, dict):
                    sc = inner
        if sc is not None and get_key(sc, "turnComplete"):
            self._tail[conn] = self._open.pop(conn)

    def _flush_tail(self, conn: int) -> None:
        labels = self._tail.pop(conn, None)
        if labels:
            self.patterns[_collapse(labels)] += 1

    def close(self, conn: int) -> None:
        self._flush_tail(conn)
        labels = self._open.pop(conn, None)
        if labels:
            self.patterns[_collapse(labels) + " (no turnComplete)"] += 1

    def finish(self) -> None:
        for conn in list(self._tail) + list(self._open):
            self.close(conn)


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureShape:
    """The protocol shape of a capture: what messages look like, not what they say.

    Every mapping is keyed by direction first (``"client"``, ``"server"``).

    Attributes:
        kind_counts: frames carrying each top-level kind.
        bundles: the kind combinations seen in one frame
            (``serverContent+usageMetadata``; single kinds too).
        paths: per kind, every JSON key path seen (lists as ``[]``, keys in
            camelCase, free-form ``args``/``response``/schemas not descended).
        types: per path, the JSON types seen (``string``, ``object``...).
        values: per path of an enum-like field (enums, booleans, MIME types,
            modalities, roles, the model), the values seen as JSON text.
        spellings: paths whose key was spelled otherwise on the wire, as
            ``"clientContent as client_content"``.
        undecodable: frames that the codec cannot decode.
        closes: how connections ended, e.g. ``"by server 1011"``, sorted.
        turn_patterns: the server-message order of each turn, collapsed
            (see :func:`diff_captures`), with the number of turns that had it.
    """

    kind_counts: Mapping[str, Mapping[str, int]]
    bundles: Mapping[str, frozenset[str]]
    paths: Mapping[str, Mapping[str, frozenset[str]]]
    types: Mapping[str, Mapping[str, frozenset[str]]]
    values: Mapping[str, Mapping[str, frozenset[str]]]
    spellings: Mapping[str, frozenset[str]]
    undecodable: Mapping[str, int]
    closes: tuple[str, ...]
    turn_patterns: Mapping[str, int]


def capture_shape(capture: Capture) -> CaptureShape:
    """Compute the protocol shape of a capture (see :class:`CaptureShape`).

    Args:
        capture: the capture to read.

    Returns:
        Its shape. Frames that are not JSON objects count under the kind
        ``"(not a JSON object)"``; frames that are JSON but do not decode still
        contribute their keys.
    """
    acc = _ShapeAcc()
    turns = _TurnPatterns()
    bundles: dict[str, set[str]] = {"client": set(), "server": set()}
    for record in capture.records:
        if isinstance(record, CloseRecord):
            turns.close(record.conn)
            continue
        if not isinstance(record, FrameRecord):
            continue
        direction = record.dir
        decoded = decode_frame(record)
        if decoded.message is None:
            acc.undecodable[direction] += 1
        value: dict[str, Any] | None
        try:
            value = decode_json(record.payload)
        except (RemoteProtocolError, ValueError):
            value = None
        if value is None:
            acc.kinds[(direction, _NOT_JSON)] += 1
            bundles[direction].add(_NOT_JSON)
        else:
            kinds = acc.walk_frame(direction, value)
            if not kinds:
                acc.kinds[(direction, "(empty)")] += 1
            bundles[direction].add("+".join(kinds) or "(empty)")
        if direction == "server":
            turns.frame(record.conn, value)
    turns.finish()
    counts: dict[str, dict[str, int]] = {"client": {}, "server": {}}
    for (side, kind), n in sorted(acc.kinds.items()):
        counts[side][kind] = n
    closes = sorted(
        {
            "dropped (1006)" if c.dropped else f"by {c.by or 'nobody'} {c.code}"
            for c in capture.closes()
        }
    )
    return CaptureShape(
        kind_counts=counts,
        bundles={d: frozenset(b) for d, b in bundles.items()},
        paths={d: {k: frozenset(p) for k, p in kinds.items()} for d, kinds in acc.paths.items()},
        types={d: {k: frozenset(t) for k, t in ts.items()} for d, ts in acc.types.items()},
        values={d: {k: frozenset(v) for k, v in vs.items()} for d, vs in acc.values.items()},
        spellings={d: frozenset(s) for d, s in acc.spellings.items()},
        undecodable=dict(acc.undecodable),
        closes=tuple(closes),
        turn_patterns=dict(turns.patterns),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffEntry:
    """One shape difference between two captures.

    Attributes:
        section: ``"kinds"``, ``"bundles"``, ``"paths"``, ``"types"``,
            ``"values"``, ``"spelling"``, ``"decoding"``, ``"closes"`` or ``"order"``.
        direction: ``"client"`` or ``"server"``; ``None`` for closes.
        sign: ``"-"``: only in the first capture; ``"+"``: only in the second;
            ``"~"``: in both, but different (types).
        text: what differs.
    """

    section: str
    direction: str | None
    sign: Literal["+", "-", "~"]
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureDiff:
    """The shape differences between two captures.

    Attributes:
        a_name: what to call the first capture.
        b_name: what to call the second capture.
        a: the shape of the first capture.
        b: the shape of the second capture.
        entries: the differences, grouped by section.
    """

    a_name: str
    b_name: str
    a: CaptureShape
    b: CaptureShape
    entries: tuple[DiffEntry, ...]

    @property
    def same(self) -> bool:
        """True when the two captures have the same shape (counts may differ)."""
        return not self.entries


_DIRECTIONS: tuple[str, str] = ("client", "server")
_SECTION_TITLES = {
    "kinds": "message kinds",
    "bundles": "kinds bundled in one frame",
    "paths": "key paths",
    "types": "JSON types",
    "values": "enum-like values",
    "spelling": "key spelling",
    "decoding": "decoding",
    "closes": "close codes",
    "order": "order of one turn",
}


def _set_diff(
    section: str,
    direction: str | None,
    a: Iterable[str],
    b: Iterable[str],
    *,
    minus_first: bool = False,
) -> list[DiffEntry]:
    sa, sb = set(a), set(b)
    out = [DiffEntry(section=section, direction=direction, sign="-", text=x) for x in sa - sb]
    out += [DiffEntry(section=section, direction=direction, sign="+", text=x) for x in sb - sa]
    if minus_first:  # old value, then new value: reads as a change
        return sorted(out, key=lambda e: (e.sign != "-", e.text))
    return sorted(out, key=lambda e: (e.text, e.sign))


def diff_captures(a: Capture, b: Capture, *, a_name: str = "A", b_name: str = "B") -> CaptureDiff:
    """Compare the protocol shape of two captures (e.g. one model against another).

    Differences are reported per direction: message kinds present in only one
    capture, kind bundles per frame, key paths of the kinds both have, JSON
    types of the paths both have, values of enum-like fields, snake_case vs
    camelCase spelling, whether frames fail to decode, close codes, and the
    server-message order of a turn. A turn's order is the sequence of frame
    labels from its first server message to its ``turnComplete`` plus the
    handle/usage frames that follow it; runs of streamed pieces (model turn,
    transcripts) collapse to ``x N`` since their number is content, not shape.

    Args:
        a: the first (old, reference) capture; its extras are ``-`` lines.
        b: the second (new) capture; its extras are ``+`` lines.
        a_name: what to call ``a`` in the output (e.g. its file name).
        b_name: what to call ``b``.

    Returns:
        The diff; ``diff.same`` is true when there is no shape difference.
    """
    sa, sb = capture_shape(a), capture_shape(b)
    entries: list[DiffEntry] = []
    for d in _DIRECTIONS:
        kinds_a = set(sa.kind_counts.get(d, {}))
        kinds_b = set(sb.kind_counts.get(d, {}))
        entries += _set_diff("kinds", d, kinds_a, kinds_b)
        # A bundle holding a kind only one side has repeats a "kinds" line.
        both = kinds_a & kinds_b
        bundles = _set_diff("bundles", d, sa.bundles.get(d, ()), sb.bundles.get(d, ()))
        entries += [e for e in bundles if set(e.text.split("+")) <= both]
    for d in _DIRECTIONS:
        pa, pb = sa.paths.get(d, {}), sb.paths.get(d, {})
        for kind in sorted(set(pa) & set(pb)):
            entries += _set_diff("paths", d, pa[kind], pb[kind])
    for d in _DIRECTIONS:
        ta, tb = sa.types.get(d, {}), sb.types.get(d, {})
        for path in sorted(set(ta) & set(tb)):
            if ta[path] != tb[path]:
                text = f"{path}: {'|'.join(sorted(ta[path]))} -> {'|'.join(sorted(tb[path]))}"
                entries.append(DiffEntry(section="types", direction=d, sign="~", text=text))
    for d in _DIRECTIONS:
        va, vb = sa.values.get(d, {}), sb.values.get(d, {})
        shared = set(sa.kind_counts.get(d, {})) & set(sb.kind_counts.get(d, {}))
        for path in sorted(set(va) | set(vb)):
            # A new path is already a "paths" line, but its values (a MIME type,
            # a modality) say what changed; a kind only one side has is a
            # "kinds" line and its values would be noise.
            if re.split(r"[.\[]", path, maxsplit=1)[0] not in shared:
                continue
            out = _set_diff("values", d, va.get(path, ()), vb.get(path, ()), minus_first=True)
            entries += [dataclasses.replace(e, text=f"{path} = {e.text}") for e in out]
    for d in _DIRECTIONS:
        entries += _set_diff("spelling", d, sa.spellings.get(d, ()), sb.spellings.get(d, ()))
        na, nb = sa.undecodable.get(d, 0), sb.undecodable.get(d, 0)
        if (na > 0) != (nb > 0):
            text = f"{max(na, nb)} frame(s) do not decode"
            entries.append(
                DiffEntry(section="decoding", direction=d, sign="-" if na else "+", text=text)
            )
    entries += _set_diff("closes", None, sa.closes, sb.closes)
    entries += _set_diff("order", "server", sa.turn_patterns, sb.turn_patterns, minus_first=True)
    order = list(_SECTION_TITLES)
    entries.sort(key=lambda e: order.index(e.section))  # stable: keeps the order within
    return CaptureDiff(a_name=a_name, b_name=b_name, a=sa, b=sb, entries=tuple(entries))


def format_diff(diff: CaptureDiff) -> str:
    """Render a :class:`CaptureDiff` as the text of ``rawlive diff``.

    Lines starting ``-`` are only in the first capture, ``+`` only in the
    second, ``~`` differ between them. A table of frame counts per kind ends
    the text; counts are not shape differences.

    Args:
        diff: the result of :func:`diff_captures`.

    Returns:
        The text, with a trailing newline.
    """
    lines = [f"--- {diff.a_name}", f"+++ {diff.b_name}"]
    if diff.same:
        lines.append("same shape: no differences in kinds, paths, bundling, values or order")
    section = None
    for entry in diff.entries:
        if entry.section != section:
            section = entry.section
            lines.append(f"{_SECTION_TITLES[section]}:")
        where = f"{entry.direction:<6} " if entry.direction else ""
        lines.append(f"  {entry.sign} {where}{entry.text}")
    lines.append("frame counts per kind (not a shape difference):")
    rows: list[tuple[str, str, str, str]] = [("", "kind", diff.a_name, diff.b_name)]
    for d in _DIRECTIONS:
        ca, cb = diff.a.kind_counts.get(d, {}), diff.b.kind_counts.get(d, {})
        for kind in sorted(set(ca) | set(cb)):
            rows.append((d, kind, str(ca.get(kind, 0)), str(cb.get(kind, 0))))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        line = (
            f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}"
        )
        lines.append(line.rstrip())
    for name, shape in ((diff.a_name, diff.a), (diff.b_name, diff.b)):
        if shape.turn_patterns:
            lines.append(f"turn order in {name}:")
            for pattern, n in sorted(shape.turn_patterns.items(), key=lambda kv: -kv[1]):
                lines.append(f"  {n} x  {pattern}")
    return "\n".join(lines) + "\n"
