"""What replay compares: the shape of client frames, and each connection's script.

:func:`client_frame_shape` reduces a client frame to what the replay server
compares (the model, texts, which realtime fields are set, tool-response ids;
never audio bytes, resumption handles, casing or base64 alphabet).
:func:`scripts` cuts a capture into one script per connection: its client
frames with their shapes (later chunks of an audio run marked to skip) and
its server frames and close. :func:`first_difference` and
:func:`close_reason` word a mismatch for a 123-byte close reason. The server
itself is :mod:`rawlive.capture.replay`.

This module is pure: no asyncio and no websockets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import cast

from rawlive.auth import normalize_model
from rawlive.capture.markers import decode_received_client, neutral_text, unredact_audio
from rawlive.capture.records import Capture, CloseRecord, FrameRecord, OpenRecord
from rawlive.closecodes import CLOSE_REASON_LIMIT, cut_reason
from rawlive.errors import RemoteProtocolError, shorten
from rawlive.protocol.messages import ClientMessage, RealtimeInput

__all__ = [
    "MISMATCH_CLOSE_CODE",
    "FrameShape",
    "Script",
    "Step",
    "client_frame_shape",
    "close_reason",
    "first_difference",
    "scripts",
    "server_payload",
]

MISMATCH_CLOSE_CODE = 1007
"""The close code sent when a client frame does not match the capture."""

# Realtime fields in their wire spelling, in the order they are described.
_REALTIME_FIELDS: tuple[tuple[str, str], ...] = (
    ("audio", "audio"),
    ("video", "video"),
    ("text", "text"),
    ("activity_start", "activityStart"),
    ("activity_end", "activityEnd"),
    ("audio_stream_end", "audioStreamEnd"),
    ("media_chunks", "mediaChunks"),
)


# -- shapes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FrameShape:
    """What replay compares of a client frame.

    Two frames match when their ``key`` values are equal; ``description`` is
    for people (mismatch reports and close reasons).

    Attributes:
        key: the compared features (see :func:`client_frame_shape`).
        description: a short readable summary such as
            ``clientContent('Hello')``.
        audio: the frame carries realtime audio and nothing else; such frames
            form audio runs.
    """

    key: tuple[Hashable, ...]
    description: str = field(compare=False)
    audio: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        return self.description


def _quote(text: str, limit: int | None = None) -> str:
    # Descriptions keep texts whole so that two long texts that differ late
    # still read differently in the report; close reasons are cut separately.
    return repr(text if limit is None else shorten(text, limit))


def _is_audio_only(ri: RealtimeInput) -> bool:
    present = [name for name, _ in _REALTIME_FIELDS if getattr(ri, name) is not None]
    if ri.extra:
        return False
    if present == ["audio"]:
        return True
    # The deprecated mediaChunks form, when every chunk is audio.
    if present == ["media_chunks"] and ri.media_chunks:
        return all((c.mime_type or "").startswith("audio/") for c in ri.media_chunks)
    return False


def _shape_of(message: ClientMessage) -> FrameShape:
    keys: list[tuple[Hashable, ...]] = []
    parts: list[str] = []
    audio = False
    setup = message.setup
    if setup is not None:
        model = normalize_model(setup.model) if setup.model and setup.model.strip() else ""
        # The service answers in AUDIO when no modality is asked for, and the
        # SDK fills that in, so an absent list and ["AUDIO"] are the same.
        modalities = tuple(m.upper() for m in setup.response_modalities) or ("AUDIO",)
        resumption = setup.session_resumption
        has_handle = resumption is not None and bool(resumption.handle)
        keys.append(("setup", model, modalities, has_handle))
        parts.append(
            f"setup(model={model!r}, modalities={'+'.join(modalities)}"
            + (", handle)" if has_handle else ")")
        )
    content = message.client_content
    if content is not None:
        text = "".join(turn.text for turn in content.turns or ())
        done = bool(content.turn_complete)
        keys.append(("clientContent", text, done))
        parts.append(f"clientContent({_quote(text)}" + (")" if done else ", turnComplete=false)"))
    ri = message.realtime_input
    if ri is not None:
        names = tuple(wire for name, wire in _REALTIME_FIELDS if getattr(ri, name) is not None)
        names += tuple(sorted(ri.extra))
        keys.append(("realtimeInput", names, ri.text))
        audio = _is_audio_only(ri)
        shown = "+".join(names) or "{}"
        parts.append(
            f"realtimeInput.{shown}" + (f"({_quote(ri.text)})" if ri.text is not None else "")
        )
    tr = message.tool_response
    if tr is not None:
        responses = tr.function_responses or ()
        ids = frozenset(r.id for r in responses if r.id is not None)
        names_ = tuple(sorted(r.name or "" for r in responses))
        keys.append(("toolResponse", ids, names_))
        parts.append(f"toolResponse(ids={sorted(ids)!r}, names={list(names_)!r})")
    cu = message.context_update
    if cu is not None:
        fields = tuple(
            wire
            for name, wire in (("system_instruction", "systemInstruction"), ("tools", "tools"))
            if getattr(cu, name) is not None
        )
        keys.append(("contextUpdate", fields))
        parts.append(f"contextUpdate({', '.join(fields)})")
    for unknown in sorted(message.extra):
        keys.append((unknown,))
        parts.append(unknown)
    keys.sort(key=repr)
    return FrameShape(
        key=tuple(keys),
        description=" + ".join(parts) or "an empty object",
        audio=audio and len(keys) == 1,
    )


def client_frame_shape(frame: str | bytes) -> FrameShape:
    """Return what replay compares of one client frame.

    Both sides are decoded with :func:`~rawlive.protocol.codec.decode_client`,
    so camelCase and snake_case keys and standard and URL-safe base64 are
    equal. The shape keeps, per top-level key:

    * ``setup``: the model (``models/`` added when missing), the response
      modalities (absent counts as ``["AUDIO"]``, the service default) and
      whether a resumption handle is present (not its value);
    * ``clientContent``: the text of all turns concatenated, and turnComplete
      (absent counts as false);
    * ``realtimeInput``: which fields are set, and the text of ``text``; never
      audio or video bytes;
    * ``toolResponse``: the set of response ids and the names;
    * ``contextUpdate``: which fields are set;
    * any other key: its name.

    A frame that does not decode is compared by its exact text.

    Args:
        frame: a client frame as sent (``str``) or received (``bytes``).

    Returns:
        The frame's shape.
    """
    try:
        message = decode_received_client(frame)
    except (RemoteProtocolError, RecursionError):
        text = neutral_text(frame)
        # Long text is compared by hash, so a shape never holds a huge frame.
        key = text if len(text) <= 4096 else hashlib.sha256(text.encode()).hexdigest()
        return FrameShape(
            key=(("undecodable", key),), description=f"undecodable {_quote(text, 200)}"
        )
    return _shape_of(message)


def first_difference(expected: FrameShape, got: FrameShape, limit: int | None = None) -> str:
    """Say which setup field differs first and how to fix it ("" when not a setup mismatch).

    A close reason is cut at 123 bytes, so this lead goes first: it names the
    difference and the flag that fixes it, e.g. ``the capture expects model
    rawlive-demo, got gemini-3.8-live: pass --model rawlive-demo``. With
    ``limit``, the longest wording of at most that many UTF-8 bytes is chosen
    (the shortest, ``the capture expects --model M``, when none fits).
    """
    # The setup key is ("setup", model, modalities, has_handle); see _shape_of.
    keys = (
        [cast("tuple[object, ...]", k) for k in expected.key],
        [cast("tuple[object, ...]", k) for k in got.key],
    )
    want = next((k for k in keys[0] if k[0] == "setup"), None)
    have = next((k for k in keys[1] if k[0] == "setup"), None)
    if want is None or have is None:
        return ""
    if want[1] != have[1]:
        w, h = str(want[1]).removeprefix("models/"), str(have[1]).removeprefix("models/")
        wordings = [
            f"the capture expects model {w}, got {h}: pass --model {w}",
            f"the capture expects model {w}: pass --model {w}",
            f"the capture expects --model {w}",
        ]
    elif want[2] != have[2]:
        w = "+".join(str(m) for m in cast("tuple[str, ...]", want[2]))
        h = "+".join(str(m) for m in cast("tuple[str, ...]", have[2]))
        wordings = [f"the capture expects modality {w}, got {h}: pass --modality {w.lower()}"]
    elif want[3] != have[3]:
        wordings = [
            "the capture resumes a session: pass --resume with a handle"
            if want[3]
            else "the capture starts a new session: do not pass --resume"
        ]
    else:
        return ""
    if limit is not None:
        return next((t for t in wordings if len(t.encode("utf-8")) <= limit), wordings[-1])
    return wordings[0]


def close_reason(expected: str, got: str, lead: str = "") -> str:
    """Return ``replay mismatch: [LEAD; ]expected X, got Y`` in at most 123 UTF-8 bytes."""

    def cut(text: str, limit: int) -> str:
        if len(text.encode("utf-8")) <= limit:
            return text
        return cut_reason(text, limit - 3) + "..."

    if lead:  # the difference and its fix come first; the rest as room allows
        return cut(f"replay mismatch: {lead}; expected {expected}, got {got}", CLOSE_REASON_LIMIT)
    head = "replay mismatch: expected "
    mid = ", got "
    room = CLOSE_REASON_LIMIT - len(head) - len(mid)
    exp_b, got_b = len(expected.encode("utf-8")), len(got.encode("utf-8"))
    if exp_b + got_b > room:
        half = room // 2
        if exp_b <= half:
            got = cut(got, room - exp_b)
        elif got_b <= half:
            expected = cut(expected, room - got_b)
        else:
            expected, got = cut(expected, half), cut(got, room - half)
    reason = f"{head}{expected}{mid}{got}"
    return cut_reason(reason)


# -- the per-connection script ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    record: FrameRecord | CloseRecord
    shape: FrameShape | None = None  # client frames
    skip: bool = False  # later chunks of an audio run: matched by the run's first


@dataclass(frozen=True, slots=True)
class Script:
    conn: int
    t0: float
    steps: tuple[Step, ...]


def scripts(capture: Capture) -> tuple[Script, ...]:
    scripts: list[Script] = []
    for conn in capture.connections():
        steps: list[Step] = []
        t0: float | None = None
        previous_audio = False
        for record in capture.records:
            if not isinstance(record, (OpenRecord, FrameRecord, CloseRecord)):
                continue
            if record.conn != conn:
                continue
            if t0 is None:
                t0 = record.t
            if isinstance(record, OpenRecord):
                continue
            if isinstance(record, FrameRecord) and record.dir == "client":
                shape = client_frame_shape(record.payload if record.data is None else record.data)
                steps.append(Step(record, shape, skip=shape.audio and previous_audio))
                previous_audio = shape.audio
            else:
                steps.append(Step(record))
        scripts.append(Script(conn, t0 or 0.0, tuple(steps)))
    return tuple(scripts)


def server_payload(record: FrameRecord) -> str | bytes:
    if record.data is None:
        return record.payload  # binary that is not UTF-8: send as recorded
    data = unredact_audio(record.data)
    return data if record.type == "text" else data.encode("utf-8")
