"""Protocol debugging tools over capture files: timeline, WAV extraction, shape diff.

These are the pure functions behind ``rawlive show``, ``rawlive wav`` and
``rawlive diff``. They read a :class:`~rawlive.capture.format.Capture` that is
already in memory and return frozen records plus text; nothing here touches
the network, asyncio or websockets.

Theory of operation
-------------------
Every frame is decoded once with the protocol codec (:func:`decode_server` /
:func:`decode_client`). Audio redacted by ``rawlive record --redact-audio``
(``<redacted N bytes sha256=...>``, see ``docs/capture-format.md``) is
replaced by N bytes of silence before decoding, so redacted captures show
correctly sized chunks and extract to WAV files of the right length. A frame
that does not decode never stops a tool: the timeline shows it as
``!! undecodable``, the WAV extractor counts it, the diff still reads its JSON
shape when it is JSON at all.

Turns (``timeline``/``summarize``) follow PROTOCOL.md §2.5. A turn opens at
the first ``serverContent``/``toolCall`` after the previous ``turnComplete``
and ends at the next ``turnComplete`` (or, incomplete, at the close). Its
*input end* is the last client frame (other than ``setup``) sent after the
previous turn ended and before the model's first output; latency runs from
there to the first model output (a model-turn part, an output transcript or a
tool call) and to the first audio chunk. A ``usageMetadata`` frame that comes
on its own right after a ``turnComplete`` is counted for that turn.

The shape diff (``diff_captures``) compares what kinds of messages a capture
holds and how they are built, not what they say: top-level kinds and their
bundling per frame, JSON key paths per kind (lists collapsed to ``[]``,
snake_case keys spelled camelCase, free-form JSON such as ``args`` and
``response`` not descended into), JSON types per path, the values of
enum-like fields, key spelling, close codes, and the order of server messages
in one turn. Frame counts are reported next to it but are not a shape
difference: two conversations of different length have the same shape.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias, cast
from urllib.parse import urlsplit

import orjson

from rawlive.audio.pcm import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH, parse_pcm_mime
from rawlive.audio.wav import WavWriter
from rawlive.capture.format import (
    MAX_REDACTED_BYTES,
    Capture,
    CloseRecord,
    Direction,
    FrameRecord,
    OpenRecord,
    UnknownRecord,
    parse_redaction_marker,
)
from rawlive.closecodes import explain_close
from rawlive.errors import AudioFormatError, ConfigurationError, LiveError, RemoteProtocolError
from rawlive.protocol import (
    Blob,
    ClientMessage,
    ServerContent,
    ServerMessage,
    UsageMetadata,
    decode_client,
    decode_json,
    decode_server,
)
from rawlive.protocol._schema import camel, json_type

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

RowKind: TypeAlias = Literal["frame", "open", "close", "unknown"]
"""Which capture record a timeline row comes from."""

UNDECODABLE = "!! undecodable"
"""The ``kind`` of a timeline row whose frame does not decode."""

_TEXT_LIMIT = 48
_KIND_WIDTH = 28
_MARKER_HINT = "<redacted "


# ============================================================ decoding frames


@dataclass(frozen=True, slots=True)
class _Decoded:
    message: ServerMessage | ClientMessage | None
    error: str | None
    redacted: int


def _error_text(exc: LiveError) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    path = getattr(exc, "path", "")
    return f"{text} (at {path})" if path else text


def _silence_markers(value: Any) -> tuple[Any, int]:
    """Replace redaction markers in ``data`` strings by base64 silence of the same length."""
    count = 0
    budget = MAX_REDACTED_BYTES  # silence per frame, whatever the markers claim

    def walk(node: Any) -> Any:
        nonlocal count, budget
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, item in node.items():
                if key == "data" and isinstance(item, str):
                    marker = parse_redaction_marker(item)
                    if marker is not None:
                        count += 1
                        nbytes = min(marker[0], budget)
                        budget -= nbytes
                        out[key] = _b64_zeros(nbytes)
                        continue
                out[key] = walk(item)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(value), count


def _b64_zeros(nbytes: int) -> str:
    # parse_redaction_marker caps nbytes (MAX_REDACTED_BYTES), so this is bounded;
    # small sizes (the usual audio chunk) are cached.
    if nbytes <= 1 << 16:
        return _b64_zeros_small(nbytes)
    return base64.b64encode(bytes(nbytes)).decode("ascii")


@functools.lru_cache(maxsize=32)
def _b64_zeros_small(nbytes: int) -> str:
    return base64.b64encode(bytes(nbytes)).decode("ascii")


def _decode_frame(frame: FrameRecord) -> _Decoded:
    try:
        payload: str | bytes = frame.payload
    except ValueError as exc:  # data_b64 that is not base64 cannot be read back
        return _Decoded(None, str(exc), 0)
    redacted = 0
    if isinstance(payload, str):
        has_marker = _MARKER_HINT in payload
    else:
        has_marker = _MARKER_HINT.encode() in payload
    try:
        if has_marker:
            try:
                value, redacted = _silence_markers(decode_json(payload))
            except RemoteProtocolError as exc:
                return _Decoded(None, _error_text(exc), 0)
            if redacted:
                payload = orjson.dumps(value)
        if frame.dir == "server":
            return _Decoded(decode_server(payload), None, redacted)
        return _Decoded(decode_client(payload), None, redacted)
    except RemoteProtocolError as exc:
        return _Decoded(None, _error_text(exc), redacted)
    except (RecursionError, TypeError):
        # A frame nested deeper than Python recurses (orjson allows 1,024 levels).
        return _Decoded(None, "the frame is nested too deeply to decode", 0)


def _set_fields(message: Any) -> list[str]:
    """Return the names of the attributes of a decoded message that are set."""
    names = [
        f.name
        for f in dataclasses.fields(message)
        if f.name != "extra" and getattr(message, f.name) is not None
    ]
    return names + list(message.extra)


# ============================================================ small formatting


def _quote(text: str, limit: int = _TEXT_LIMIT) -> str:
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return orjson.dumps(text).decode("utf-8")


def _compact_json(value: Any, limit: int = _TEXT_LIMIT) -> str:
    try:
        text = orjson.dumps(value).decode("utf-8")
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _rate_text(rate: int) -> str:
    if rate % 1000 == 0:
        return f"{rate // 1000}k"
    return f"{rate / 1000:g}k"


def _short_handle(handle: str) -> str:
    return handle if len(handle) <= 12 else handle[:12] + "..."


def _endpoint_text(endpoint: str) -> str:
    """Shorten a Live API URL to host, version and method."""
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        return endpoint
    version = re.search(r"\.(v\d\w*)\.", parts.path)
    method = re.split(r"[./]", parts.path.rstrip("/"))[-1] if parts.path else ""
    if not parts.hostname or version is None or not method:
        return endpoint
    return f"{parts.hostname} {version.group(1)} {method}"


# ============================================================ timeline records


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineRow:
    """One line of ``rawlive show``: a frame, an open, a close or an unknown record.

    Attributes:
        index: the position of the record in ``capture.records``.
        record: which record this row shows.
        t: seconds since the capture started (an unknown record, which has no
            time, gets the time of the row before it).
        conn: the connection number, ``None`` for an unknown record.
        dir: who sent the frame; ``None`` for other records.
        kind: the frame's top-level keys joined with ``+`` (as decoded, so
            ``client_content`` reads ``clientContent``), :data:`UNDECODABLE`
            for a frame that does not decode, or the record kind.
        summary: a short human summary of the content.
        error: why the frame did not decode, else ``None``.
        audio_chunks: audio blobs in the frame.
        audio_bytes: decoded audio bytes in the frame (redacted ones count
            with their recorded length).
        audio_seconds: how long that audio plays.
        audio_rate: the sample rate of the frame's audio, ``None`` without audio.
        redacted_chunks: audio blobs stored as redaction markers.
        audio_only: the frame holds nothing but audio chunks (such rows may be
            collapsed into one line).
        turn: the 1-based number of the turn a server frame belongs to.
        turn_complete: the frame carries ``serverContent.turnComplete``.
    """

    index: int
    record: RowKind
    t: float
    conn: int | None
    dir: Direction | None = None
    kind: str
    summary: str = ""
    error: str | None = None
    audio_chunks: int = 0
    audio_bytes: int = 0
    audio_seconds: float = 0.0
    audio_rate: int | None = None
    redacted_chunks: int = 0
    audio_only: bool = False
    turn: int | None = None
    turn_complete: bool = False

    @property
    def arrow(self) -> str:
        """``->`` for client frames, ``<-`` for server frames, ``==`` otherwise."""
        if self.dir == "client":
            return "->"
        if self.dir == "server":
            return "<-"
        return "==" if self.record != "unknown" else "??"


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnStats:
    """What happened in one model turn.

    Attributes:
        number: 1-based, counted over the whole capture.
        conn: the connection the turn ran on.
        end_index: the record index of the ``turnComplete`` frame (or the
            last record of an incomplete turn); the separator goes after it.
        input_end_t: time of the user's last input frame before the model's
            first output, ``None`` when no client frame preceded it.
        first_output_t: time of the first model output (model-turn part,
            output transcript or tool call), ``None`` when there was none.
        first_audio_t: time of the first audio chunk, ``None`` without audio.
        end_t: time of the ``turnComplete`` frame (or of the turn's last frame).
        complete: the turn ended with ``turnComplete``.
        interrupted: the server sent ``interrupted``.
        audio_chunks: audio chunks received.
        audio_seconds: seconds of audio received.
        text_chars: characters of model text (thoughts excluded).
        transcript_chars: characters of output transcription.
        tool_calls: function calls received.
        prompt_tokens: ``promptTokenCount`` of the turn's usage, if reported.
        response_tokens: response (or Vertex candidates) tokens, if reported.
        total_tokens: ``totalTokenCount``, if reported.
    """

    number: int
    conn: int
    end_index: int
    input_end_t: float | None
    first_output_t: float | None
    first_audio_t: float | None
    end_t: float
    complete: bool
    interrupted: bool = False
    audio_chunks: int = 0
    audio_seconds: float = 0.0
    text_chars: int = 0
    transcript_chars: int = 0
    tool_calls: int = 0
    prompt_tokens: int | None = None
    response_tokens: int | None = None
    total_tokens: int | None = None

    @property
    def latency(self) -> float | None:
        """Seconds from the end of the user's input to the first model output."""
        if self.input_end_t is None or self.first_output_t is None:
            return None
        return self.first_output_t - self.input_end_t

    @property
    def audio_latency(self) -> float | None:
        """Seconds from the end of the user's input to the first audio chunk."""
        if self.input_end_t is None or self.first_audio_t is None:
            return None
        return self.first_audio_t - self.input_end_t


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionSummary:
    """One WebSocket connection of a capture.

    Attributes:
        conn: the connection number.
        model: the model from the open record or the setup, if known.
        opened_t: time of the open record (or of the first frame).
        closed_t: time of the close record, ``None`` when the capture has none.
        close: the close record, ``None`` when the capture ends without one.
        close_title: :func:`~rawlive.closecodes.explain_close`'s title for the close.
        frames: frames on this connection, both ways.
    """

    conn: int
    model: str | None
    opened_t: float | None
    closed_t: float | None
    close: CloseRecord | None
    close_title: str | None
    frames: int

    def describe(self) -> str:
        """Say how the connection ended, e.g. ``closed by client 1000 — normal closure``."""
        close = self.close
        if close is None:
            return "no close record (the capture ends first)"
        if close.dropped:
            return f"dropped (1006, no close frame) \u2014 {self.close_title}"
        reason = f"; reason {_quote(close.reason, 123)}" if close.reason else ""
        by = f"by {close.by}" if close.by else "(no close frame)"
        return f"closed {by} {close.code} \u2014 {self.close_title}{reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureSummary:
    """The totals printed at the end of ``rawlive show``.

    Attributes:
        frames_client: frames sent by the client.
        frames_server: frames sent by the server.
        undecodable: frames (either way) that do not decode.
        turns: every turn, in order.
        usage_reports: ``usageMetadata`` payloads seen.
        prompt_tokens: the sum of every ``promptTokenCount``.
        response_tokens: the sum of every response (or candidates) token count.
        total_tokens: the sum of every ``totalTokenCount``.
        audio_seconds_client: seconds of audio the client sent.
        audio_seconds_server: seconds of audio the server sent.
        redacted_chunks: audio chunks stored as redaction markers.
        go_aways: ``goAway`` messages received.
        connections: every connection, in order of first appearance.
        last_handle: the last ``newHandle`` that came with ``resumable: true``.
    """

    frames_client: int
    frames_server: int
    undecodable: int
    turns: tuple[TurnStats, ...]
    usage_reports: int
    prompt_tokens: int
    response_tokens: int
    total_tokens: int
    audio_seconds_client: float
    audio_seconds_server: float
    redacted_chunks: int
    go_aways: int
    connections: tuple[ConnectionSummary, ...]
    last_handle: str | None


# ------------------------------------------------------------ frame summaries


@dataclass(slots=True)
class _Audio:
    chunks: int = 0
    nbytes: int = 0
    seconds: float = 0.0
    rate: int | None = None
    mimes: set[str] = field(default_factory=set)

    def add(self, blob: Blob, default_rate: int) -> None:
        data = blob.data or b""
        self.chunks += 1
        self.nbytes += len(data)
        try:
            rate = parse_pcm_mime(blob.mime_type, default_rate=default_rate)
        except AudioFormatError:
            self.mimes.add(blob.mime_type or "?")
            return
        self.rate = rate
        self.seconds += len(data) / (SAMPLE_WIDTH * rate)

    def describe(self, *, show_rate: bool) -> str:
        count = f"{self.chunks}x " if self.chunks > 1 else ""
        if self.rate is None:
            return f"audio {count}{'/'.join(sorted(self.mimes))} {self.nbytes} B"
        rate = f" @{_rate_text(self.rate)}" if show_rate else ""
        return f"audio {count}{self.nbytes} B ({_ms(self.seconds)}{rate})"


def _is_audio_blob(blob: Blob | None) -> bool:
    return blob is not None and (blob.mime_type is None or blob.mime_type.startswith("audio/"))


def _usage_text(usage: UsageMetadata) -> str:
    prompt = usage.prompt_token_count
    total = usage.total_token_count
    return (
        f"usage: prompt {prompt if prompt is not None else '?'}, "
        f"response {usage.output_tokens}, total {total if total is not None else '?'}"
    )


def _part_texts(sc: ServerContent, audio: _Audio) -> list[str]:
    out: list[str] = []
    mt = sc.model_turn
    for part in (mt.parts or ()) if mt is not None else ():
        blob = part.inline_data
        if part.text is not None:
            out.append(("thought " if part.thought else "") + _quote(part.text))
        elif blob is not None and _is_audio_blob(blob):
            audio.add(blob, OUTPUT_RATE)
        elif blob is not None:
            out.append(f"inlineData {blob.mime_type} {len(blob.data or b'')} B")
        elif part.executable_code is not None:
            code = part.executable_code
            out.append(f"code {code.language or ''} {_quote(code.code or '')}".replace("  ", " "))
        elif part.code_execution_result is not None:
            res = part.code_execution_result
            out.append(f"result {res.outcome or ''} {_quote(res.output or '')}".replace("  ", " "))
        elif part.function_call is not None:
            call = part.function_call
            out.append(f"call {call.name}({_compact_json(call.args or {})})")
        elif part.file_data is not None:
            out.append(f"file {part.file_data.file_uri}")
        else:
            out.append("part " + "+".join(_set_fields(part)))
    if audio.chunks:
        out.insert(0, audio.describe(show_rate=audio.rate not in (None, OUTPUT_RATE)))
    return out


def _server_content_text(sc: ServerContent, audio: _Audio) -> list[str]:
    out = _part_texts(sc, audio)
    if sc.model_turn is not None and not sc.model_turn.parts:
        out.append("modelTurn (no parts)")
    for label, tr in (
        ("input transcript", sc.input_transcription),
        ("interim input", sc.interim_input_transcription),
        ("transcript", sc.output_transcription),
    ):
        if tr is not None:
            done = " (finished)" if tr.finished else ""
            out.append(f"{label} {_quote(tr.text or '')}{done}")
    if sc.interrupted:
        out.append("INTERRUPTED")
    if sc.generation_complete:
        out.append("generationComplete")
    if sc.turn_complete:
        out.append("turnComplete")
    if sc.turn_complete_reason is not None:
        out.append(f"reason {sc.turn_complete_reason}")
    if sc.waiting_for_input:
        out.append("waitingForInput")
    if sc.interaction_status is not None:
        out.append(f"status {sc.interaction_status}")
    if sc.grounding_metadata is not None:
        out.append("groundingMetadata")
    if sc.url_context_metadata is not None:
        out.append("urlContextMetadata")
    if sc.extra:
        out.append("unknown: " + ", ".join(sc.extra))
    return out


def _server_summary(msg: ServerMessage, audio: _Audio) -> str:
    out: list[str] = []
    if msg.setup_complete is not None and msg.setup_complete.session_id:
        out.append(f"session {msg.setup_complete.session_id}")
    if msg.server_content is not None:
        out.extend(_server_content_text(msg.server_content, audio))
    if msg.tool_call is not None:
        for call in msg.tool_call.function_calls or ():
            out.append(f"{call.name}({_compact_json(call.args or {})}) id={call.id}")
    if msg.tool_call_cancellation is not None:
        out.append("cancel " + ", ".join(msg.tool_call_cancellation.ids or ()))
    if msg.go_away is not None:
        out.append(f"time left {msg.go_away.time_left or '?'}")
    sru = msg.session_resumption_update
    if sru is not None:
        state = "(resumable)" if sru.resumable else "(not resumable)"
        handle = f"handle {_short_handle(sru.new_handle)} " if sru.new_handle else ""
        index = sru.last_consumed_client_message_index
        consumed = f", last consumed client message {index}" if index is not None else ""
        out.append(f"{handle}{state}{consumed}")
    if msg.usage_metadata is not None:
        out.append(_usage_text(msg.usage_metadata))
    if msg.voice_activity is not None:
        va = msg.voice_activity
        at = f" at {va.audio_offset}" if va.audio_offset else ""
        out.append(f"{va.activity_type}{at}")
    if msg.voice_activity_detection_signal is not None:
        out.append(str(msg.voice_activity_detection_signal.vad_signal_type))
    return "; ".join(out)


def _client_summary(msg: ClientMessage, audio: _Audio) -> str:
    out: list[str] = []
    setup = msg.setup
    if setup is not None:
        items = [f"model {setup.model}" if setup.model else "no model"]
        modalities = setup.response_modalities
        items.append("modalities " + ("/".join(modalities) if modalities else "default"))
        resumption = setup.session_resumption
        if resumption is None:
            items.append("no resumption")
        elif resumption.handle:
            items.append(f"resuming handle {_short_handle(resumption.handle)}")
        else:
            items.append("resumption on (new session)")
        if setup.tools:
            items.append(f"{len(setup.tools)} tool(s)")
        if setup.input_audio_transcription is not None:
            items.append("input transcription")
        if setup.output_audio_transcription is not None:
            items.append("output transcription")
        if not setup.vad_enabled:
            items.append("automatic VAD off")
        out.append(", ".join(items))
    cc = msg.client_content
    if cc is not None:
        texts: list[str] = []
        for turn in cc.turns or ():
            role = "" if turn.role in (None, "user") else f"{turn.role}: "
            text = "".join(p.text or "" for p in turn.parts or ())
            texts.append(role + _quote(text))
        out.append(" | ".join(texts) if texts else "(no turns)")
        out.append("turnComplete" if cc.turn_complete else "no turnComplete")
    ri = msg.realtime_input
    if ri is not None:
        if _is_audio_blob(ri.audio):
            audio.add(cast(Blob, ri.audio), INPUT_RATE)
        for chunk in ri.media_chunks or ():
            if _is_audio_blob(chunk):
                audio.add(chunk, INPUT_RATE)
        if audio.chunks:
            out.append(("mediaChunks " if ri.media_chunks else "") + audio.describe(show_rate=True))
        if ri.video is not None:
            out.append(f"video {ri.video.mime_type} {len(ri.video.data or b'')} B")
        if ri.text is not None:
            out.append(f"text {_quote(ri.text)}")
        if ri.activity_start is not None:
            out.append("activityStart")
        if ri.activity_end is not None:
            out.append("activityEnd")
        if ri.audio_stream_end:
            out.append("audioStreamEnd")
        if ri.extra:
            out.append("unknown: " + ", ".join(ri.extra))
    tr = msg.tool_response
    if tr is not None:
        for resp in tr.function_responses or ():
            out.append(f"{resp.name} -> {_compact_json(resp.response)} id={resp.id}")
    cu = msg.context_update
    if cu is not None:
        out.append("contextUpdate " + "+".join(_set_fields(cu)))
    return "; ".join(out)


# ------------------------------------------------------------ the analysis pass


@dataclass(slots=True)
class _TurnAcc:
    conn: int
    input_end_t: float | None = None
    first_output_t: float | None = None
    first_audio_t: float | None = None
    interrupted: bool = False
    audio_chunks: int = 0
    audio_seconds: float = 0.0
    text_chars: int = 0
    transcript_chars: int = 0
    tool_calls: int = 0
    usage: UsageMetadata | None = None
    last_index: int = 0
    last_t: float = 0.0


@dataclass(slots=True)
class _ConnState:
    last_input: tuple[int, float] | None = None  # (record index, t) of the last client input
    boundary: int = -1  # record index of the last turnComplete
    turn: _TurnAcc | None = None
    done: int | None = None  # position in turns of the turn that just completed
    model: str | None = None
    opened_t: float | None = None
    close: CloseRecord | None = None
    frames: int = 0


def _is_output(msg: ServerMessage) -> bool:
    if msg.tool_call is not None:
        return True
    sc = msg.server_content
    if sc is None:
        return False
    return bool(sc.model_turn is not None and sc.model_turn.parts) or (
        sc.output_transcription is not None
    )


def _opens_turn(msg: ServerMessage) -> bool:
    return (
        msg.server_content is not None
        or msg.tool_call is not None
        or msg.tool_call_cancellation is not None
    )


def _usage_numbers(usage: UsageMetadata | None) -> tuple[int | None, int | None, int | None]:
    if usage is None:
        return None, None, None
    return usage.prompt_token_count, usage.output_tokens, usage.total_token_count


class _Analysis:
    """One pass over a capture; fills rows, turns and the summary totals."""

    def __init__(self, capture: Capture) -> None:
        self.rows: list[TimelineRow] = []
        self.turns: list[TurnStats] = []
        self.conns: dict[int, _ConnState] = {}
        self.frames = {"client": 0, "server": 0}
        self.undecodable = 0
        self.usage_reports = 0
        self.tokens = [0, 0, 0]
        self.audio_seconds = {"client": 0.0, "server": 0.0}
        self.redacted = 0
        self.go_aways = 0
        self.last_handle: str | None = None
        last_t = 0.0
        for index, record in enumerate(capture.records):
            if isinstance(record, FrameRecord):
                self._frame(index, record)
            elif isinstance(record, OpenRecord):
                self._open(index, record)
            elif isinstance(record, CloseRecord):
                self._close(index, record)
            else:
                self._unknown(index, record, last_t)
            last_t = self.rows[-1].t
        for conn in list(self.conns):
            self._finish_turn(conn, complete=False)
        self.turns.sort(key=lambda turn: turn.number)

    # -- records

    def _conn(self, conn: int) -> _ConnState:
        state = self.conns.get(conn)
        if state is None:
            state = self.conns[conn] = _ConnState()
        return state

    def _open(self, index: int, record: OpenRecord) -> None:
        state = self._conn(record.conn)
        state.opened_t = record.t
        state.model = record.model or state.model
        model = f" ({record.model})" if record.model else ""
        self.rows.append(
            TimelineRow(
                index=index,
                record="open",
                t=record.t,
                conn=record.conn,
                kind="open",
                summary=_endpoint_text(record.endpoint) + model,
            )
        )

    def _close(self, index: int, record: CloseRecord) -> None:
        state = self._conn(record.conn)
        self._finish_turn(record.conn, complete=False)
        state.close = record
        title = explain_close(record.code, record.reason).title
        if record.dropped:
            summary = f"dropped (1006, no close frame) \u2014 {title}"
        else:
            by = f"by {record.by} " if record.by else "(no close frame) "
            # The reason is cut so that the explanation after it still fits a line.
            reason = f" {_quote(record.reason, 40)}" if record.reason else ""
            summary = f"{by}{record.code}{reason} \u2014 {title}"
        self.rows.append(
            TimelineRow(
                index=index,
                record="close",
                t=record.t,
                conn=record.conn,
                kind="close",
                summary=summary,
            )
        )

    def _unknown(self, index: int, record: UnknownRecord, last_t: float) -> None:
        conn = record.extra.get("conn")
        t = record.extra.get("t")
        self.rows.append(
            TimelineRow(
                index=index,
                record="unknown",
                t=float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else last_t,
                conn=conn if isinstance(conn, int) and not isinstance(conn, bool) else None,
                kind=record.kind,
                summary="unknown record kind: " + ", ".join(record.extra),
            )
        )

    def _frame(self, index: int, frame: FrameRecord) -> None:
        state = self._conn(frame.conn)
        state.frames += 1
        if state.opened_t is None:
            state.opened_t = frame.t
        self.frames[frame.dir] += 1
        decoded = _decode_frame(frame)
        msg = decoded.message
        audio = _Audio()
        turn_number: int | None = None
        turn_complete = False
        if msg is None:
            self.undecodable += 1
            kind, summary = UNDECODABLE, decoded.error or "unknown error"
            if frame.dir == "client":
                state.last_input = (index, frame.t)
        elif isinstance(msg, ClientMessage):
            kind = "+".join(msg.kinds) or "(empty)"
            summary = _client_summary(msg, audio)
            if msg.setup is not None:
                state.model = msg.setup.model or state.model
            else:
                state.last_input = (index, frame.t)
        else:
            kind = "+".join(msg.kinds) or "(empty)"
            summary = _server_summary(msg, audio)
            turn_number, turn_complete = self._server_turn(index, frame, msg, audio, state)
        self.redacted += decoded.redacted
        self.audio_seconds[frame.dir] += audio.seconds
        if decoded.redacted:
            summary += f" [{decoded.redacted} redacted]"
        self.rows.append(
            TimelineRow(
                index=index,
                record="frame",
                t=frame.t,
                conn=frame.conn,
                dir=frame.dir,
                kind=kind,
                summary=summary,
                error=decoded.error,
                audio_chunks=audio.chunks,
                audio_bytes=audio.nbytes,
                audio_seconds=audio.seconds,
                audio_rate=audio.rate,
                redacted_chunks=decoded.redacted,
                audio_only=msg is not None and audio.chunks > 0 and _audio_only(msg),
                turn=turn_number,
                turn_complete=turn_complete,
            )
        )

    # -- turns

    def _server_turn(
        self, index: int, frame: FrameRecord, msg: ServerMessage, audio: _Audio, state: _ConnState
    ) -> tuple[int | None, bool]:
        if msg.go_away is not None:
            self.go_aways += 1
        sru = msg.session_resumption_update
        if sru is not None and sru.resumable and sru.new_handle:
            self.last_handle = sru.new_handle
        usage = msg.usage_metadata
        if usage is not None:
            self.usage_reports += 1
            for i, value in enumerate(_usage_numbers(usage)):
                self.tokens[i] += value or 0
        turn = state.turn
        if turn is None and not _opens_turn(msg):
            # A usage report on its own right after turnComplete belongs to that turn.
            if usage is not None and state.done is not None:
                done = self.turns[state.done]
                if done.total_tokens is None:
                    prompt, response, total = _usage_numbers(usage)
                    self.turns[state.done] = dataclasses.replace(
                        done, prompt_tokens=prompt, response_tokens=response, total_tokens=total
                    )
                    return done.number, False
            return None, False
        state.done = None
        if turn is None:
            turn = state.turn = _TurnAcc(conn=frame.conn)
        turn.last_index = index
        turn.last_t = frame.t
        if usage is not None:
            turn.usage = usage
        sc = msg.server_content
        if _is_output(msg) and turn.first_output_t is None:
            turn.first_output_t = frame.t
            if state.last_input is not None and state.last_input[0] > state.boundary:
                turn.input_end_t = state.last_input[1]
        if audio.chunks:
            if turn.first_audio_t is None:
                turn.first_audio_t = frame.t
            turn.audio_chunks += audio.chunks
            turn.audio_seconds += audio.seconds
        if sc is not None:
            if sc.model_turn is not None:
                turn.text_chars += len(sc.model_turn.text)
            if sc.output_transcription is not None:
                turn.transcript_chars += len(sc.output_transcription.text or "")
            if sc.interrupted:
                turn.interrupted = True
        if msg.tool_call is not None:
            turn.tool_calls += len(msg.tool_call.function_calls or ())
        number = len(self.turns) + 1
        if sc is not None and sc.turn_complete:
            state.boundary = index
            self._finish_turn(frame.conn, complete=True)
            state.done = len(self.turns) - 1
            return number, True
        return number, False

    def _finish_turn(self, conn: int, *, complete: bool) -> None:
        state = self.conns[conn]
        turn = state.turn
        if turn is None:
            return
        state.turn = None
        prompt, response, total = _usage_numbers(turn.usage)
        self.turns.append(
            TurnStats(
                number=len(self.turns) + 1,
                conn=conn,
                end_index=turn.last_index,
                input_end_t=turn.input_end_t,
                first_output_t=turn.first_output_t,
                first_audio_t=turn.first_audio_t,
                end_t=turn.last_t,
                complete=complete,
                interrupted=turn.interrupted,
                audio_chunks=turn.audio_chunks,
                audio_seconds=turn.audio_seconds,
                text_chars=turn.text_chars,
                transcript_chars=turn.transcript_chars,
                tool_calls=turn.tool_calls,
                prompt_tokens=prompt,
                response_tokens=response,
                total_tokens=total,
            )
        )

    # -- results

    def summary(self) -> CaptureSummary:
        connections = []
        for conn, state in self.conns.items():
            close = state.close
            connections.append(
                ConnectionSummary(
                    conn=conn,
                    model=state.model,
                    opened_t=state.opened_t,
                    closed_t=close.t if close is not None else None,
                    close=close,
                    close_title=explain_close(close.code, close.reason).title if close else None,
                    frames=state.frames,
                )
            )
        return CaptureSummary(
            frames_client=self.frames["client"],
            frames_server=self.frames["server"],
            undecodable=self.undecodable,
            turns=tuple(self.turns),
            usage_reports=self.usage_reports,
            prompt_tokens=self.tokens[0],
            response_tokens=self.tokens[1],
            total_tokens=self.tokens[2],
            audio_seconds_client=self.audio_seconds["client"],
            audio_seconds_server=self.audio_seconds["server"],
            redacted_chunks=self.redacted,
            go_aways=self.go_aways,
            connections=tuple(connections),
            last_handle=self.last_handle,
        )


def _audio_only(msg: ServerMessage | ClientMessage) -> bool:
    if isinstance(msg, ServerMessage):
        sc = msg.server_content
        if msg.kinds != ("serverContent",) or sc is None or _set_fields(sc) != ["model_turn"]:
            return False
        parts = sc.model_turn.parts if sc.model_turn is not None else None
        return bool(parts) and all(
            _set_fields(p) == ["inline_data"] and _is_audio_blob(p.inline_data) for p in parts or ()
        )
    ri = msg.realtime_input
    return msg.kinds == ("realtimeInput",) and ri is not None and _set_fields(ri) == ["audio"]


def timeline(capture: Capture) -> list[TimelineRow]:
    """Describe every record of a capture, one row each, in file order.

    Frames that do not decode are rows too (``kind`` is :data:`UNDECODABLE`,
    ``error`` says why); they never stop the timeline.

    Args:
        capture: the capture to describe.

    Returns:
        One :class:`TimelineRow` per open, frame, close and unknown record.
    """
    return _Analysis(capture).rows


def summarize(capture: Capture) -> CaptureSummary:
    """Compute the per-turn statistics and the totals of a capture.

    Args:
        capture: the capture to summarize.

    Returns:
        Frame counts, turns (with latencies), token and audio totals,
        connections and how each closed, and the last resumable handle.
    """
    return _Analysis(capture).summary()


def analyze(capture: Capture) -> tuple[list[TimelineRow], CaptureSummary]:
    """Return :func:`timeline` and :func:`summarize` of a capture from one pass.

    Args:
        capture: the capture to read.

    Returns:
        The rows and the summary, as the two functions return them.
    """
    analysis = _Analysis(capture)
    return analysis.rows, analysis.summary()


# ------------------------------------------------------------ text rendering

_RESET = "\x1b[0m"
_STYLES = {
    "time": "\x1b[2m",
    "conn": "\x1b[35m",
    "client": "\x1b[36m",
    "server": "\x1b[32m",
    "meta": "\x1b[33m",
    "error": "\x1b[1;31m",
    "turn": "\x1b[1m",
    "plain": "",
}


def _render(segments: Sequence[tuple[str, str]], width: int, color: bool) -> str:
    """Join ``(text, style)`` segments, cut to ``width`` visible characters."""
    out: list[str] = []
    room = width if width > 0 else math.inf
    for text, style in segments:
        if room <= 0:
            break
        if len(text) > room:
            text = text[: int(room) - 1] + "\u2026"
        room -= len(text)
        code = _STYLES.get(style, "") if color else ""
        out.append(f"{code}{text}{_RESET}" if code else text)
    return "".join(out).rstrip()


def _row_segments(
    row: TimelineRow, *, show_conn: bool, kind: str | None = None, summary: str | None = None
) -> list[tuple[str, str]]:
    kind = row.kind if kind is None else kind
    summary = row.summary if summary is None else summary
    style = row.dir or "meta"
    segments: list[tuple[str, str]] = [(f"{row.t:8.3f}s  ", "time")]
    if show_conn:
        segments.append((f"#{row.conn if row.conn is not None else '?'} ", "conn"))
    segments.append((f"{row.arrow} ", style))
    if row.error is not None:
        segments.append((f"{UNDECODABLE}: {row.error}", "error"))
        return segments
    abnormal = row.record == "close" and not _normal_close(row)
    if row.record in ("open", "close"):
        # No column for these: the endpoint and the close explanation need the room.
        segments.append((f"{kind} ", "meta"))
        segments.append((summary, "error" if abnormal else "plain"))
    elif summary:
        segments.append((kind.ljust(_KIND_WIDTH) + " ", style))
        segments.append((summary, "error" if abnormal else "plain"))
    else:
        segments.append((kind, style))
    return segments


def _normal_close(row: TimelineRow) -> bool:
    return row.summary.startswith(("by client 1000", "by server 1000"))


def _turn_line(turn: TurnStats) -> str:
    head = f"---- turn {turn.number}"
    if not turn.complete:
        head += " (incomplete: no turnComplete)"
    items: list[str] = []
    if turn.latency is not None:
        items.append(f"first output +{turn.latency:.3f} s")
    elif turn.first_output_t is None:
        items.append("no model output")
    else:
        items.append("latency n/a (no client input first)")
    if turn.audio_latency is not None:
        items.append(f"first audio +{turn.audio_latency:.3f} s")
    if turn.audio_chunks:
        plural = "s" if turn.audio_chunks > 1 else ""
        items.append(f"audio {turn.audio_seconds:.2f} s ({turn.audio_chunks} chunk{plural})")
    if turn.text_chars:
        items.append(f"text {turn.text_chars} chars")
    if turn.transcript_chars:
        items.append(f"transcript {turn.transcript_chars} chars")
    if turn.tool_calls:
        items.append(f"{turn.tool_calls} tool call(s)")
    if turn.interrupted:
        items.append("interrupted")
    if turn.total_tokens is not None or turn.prompt_tokens is not None:
        prompt = "?" if turn.prompt_tokens is None else turn.prompt_tokens
        total = "?" if turn.total_tokens is None else turn.total_tokens
        items.append(f"tokens {prompt}+{turn.response_tokens}={total}")
    return f"{head}: {', '.join(items)}"


def _summary_lines(summary: CaptureSummary) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = [("==== summary ====", "turn")]
    undecodable = f" ({summary.undecodable} undecodable)" if summary.undecodable else ""
    lines.append(
        (
            f"frames:      {summary.frames_client} client -> server, "
            f"{summary.frames_server} server -> client{undecodable}",
            "plain",
        )
    )
    complete = sum(1 for t in summary.turns if t.complete)
    turns = f"turns:       {complete} complete"
    if complete != len(summary.turns):
        turns += f", {len(summary.turns) - complete} incomplete"
    latencies = [t.latency for t in summary.turns if t.latency is not None]
    if latencies:
        turns += (
            f"; latency to first output avg {sum(latencies) / len(latencies):.3f} s, "
            f"max {max(latencies):.3f} s"
        )
    audio_latencies = [t.audio_latency for t in summary.turns if t.audio_latency is not None]
    if audio_latencies:
        turns += f"; to first audio avg {sum(audio_latencies) / len(audio_latencies):.3f} s"
    lines.append((turns, "plain"))
    lines.append(
        (
            f"tokens:      {summary.total_tokens} total (prompt {summary.prompt_tokens}, "
            f"response {summary.response_tokens}) from {summary.usage_reports} usage report(s)",
            "plain",
        )
    )
    redacted = f" ({summary.redacted_chunks} redacted chunks)" if summary.redacted_chunks else ""
    lines.append(
        (
            f"audio:       {summary.audio_seconds_server:.2f} s received, "
            f"{summary.audio_seconds_client:.2f} s sent{redacted}",
            "plain",
        )
    )
    go_away = f", {summary.go_aways} goAway" if summary.go_aways else ""
    lines.append((f"connections: {len(summary.connections)}{go_away}", "plain"))
    for conn in summary.connections:
        model = f" {conn.model}" if conn.model else ""
        span = ""
        if conn.opened_t is not None and conn.closed_t is not None:
            span = f" ({conn.closed_t - conn.opened_t:.3f} s)"
        lines.append((f"  #{conn.conn}{model}: {conn.describe()}{span}", "plain"))
    handle = summary.last_handle or "none"
    lines.append((f"last resumable handle: {handle}", "plain"))
    return lines


def format_timeline(
    capture: Capture, *, color: bool = False, width: int = 120, verbose: bool = False
) -> str:
    """Render a capture as the text of ``rawlive show``.

    One line per record: time offset, connection number (only when the
    capture has more than one), direction arrow, kind and a short summary.
    A separator with the turn's statistics follows every ``turnComplete``;
    a summary block ends the text.

    Args:
        capture: the capture to show.
        color: add ANSI colours (for a terminal).
        width: cut every line to this many characters; 0 or less never cuts.
            The summary's handle line is never cut, so it can be copied.
        verbose: one line per audio chunk instead of one line per run of
            consecutive audio-only frames.

    Returns:
        The text, lines separated by ``\\n``, with a trailing newline.
    """
    analysis = _Analysis(capture)
    rows = analysis.rows
    summary = analysis.summary()
    show_conn = len(summary.connections) > 1
    separators: dict[int, list[TurnStats]] = {}
    for turn in summary.turns:
        separators.setdefault(turn.end_index, []).append(turn)
    lines: list[str] = []
    i = 0
    while i < len(rows):
        row = rows[i]
        j = i + 1
        if not verbose and row.audio_only:
            while (
                j < len(rows)
                and rows[j].audio_only
                and rows[j].conn == row.conn
                and rows[j].dir == row.dir
                and rows[j - 1].index not in separators
            ):
                j += 1
        if j - i > 1:
            run = rows[i:j]
            seconds = sum(r.audio_seconds for r in run)
            rate = row.audio_rate
            show_rate = row.dir == "client" or rate not in (None, OUTPUT_RATE)
            rate_text = f" @{_rate_text(rate)}" if show_rate and rate is not None else ""
            redacted = sum(r.redacted_chunks for r in run)
            text = f"audio x{j - i} ({seconds:.2f} s{rate_text})"
            if redacted:
                text += f" [{redacted} redacted]"
            segments = _row_segments(row, show_conn=show_conn, summary=text)
        else:
            segments = _row_segments(row, show_conn=show_conn)
        lines.append(_render(segments, width, color))
        for turn in separators.get(rows[j - 1].index, ()):
            lines.append(_render([(_turn_line(turn), "turn")], width, color))
        i = j
    for text, style in _summary_lines(summary):
        cut = 0 if text.startswith("last resumable handle") else width
        lines.append(_render([(text, style)], cut, color))
    return "\n".join(lines) + "\n"


# ============================================================ WAV extraction


@dataclass(frozen=True, slots=True, kw_only=True)
class WavInfo:
    """What :func:`extract_wav` wrote.

    Attributes:
        path: the WAV file.
        direction: ``"server"`` (the model's audio) or ``"client"`` (the user's).
        rate: the sample rate, from the chunks' MIME type.
        chunks: audio chunks written, in capture order.
        redacted_chunks: chunks stored as redaction markers, written as
            silence of the recorded length.
        frames: PCM frames (samples, mono) written.
        duration: seconds of audio written.
        skipped_frames: frames in that direction that did not decode and were
            left out (they may have held audio).
    """

    path: Path
    direction: Direction
    rate: int
    chunks: int
    redacted_chunks: int
    frames: int
    duration: float
    skipped_frames: int = 0


def _audio_blobs(msg: ServerMessage | ClientMessage) -> Iterator[Blob]:
    if isinstance(msg, ServerMessage):
        yield from msg.audio_chunks()
        return
    ri = msg.realtime_input
    if ri is None:
        return
    if _is_audio_blob(ri.audio):
        yield cast(Blob, ri.audio)
    for chunk in ri.media_chunks or ():
        if _is_audio_blob(chunk):
            yield chunk


def extract_wav(
    capture: Capture, out_path: str | os.PathLike[str], *, direction: Direction = "server"
) -> WavInfo:
    """Write the audio of one direction of a capture to a WAV file.

    ``direction="server"`` takes the model's audio (``modelTurn`` ``inlineData``
    audio chunks), ``"client"`` the user's (``realtimeInput.audio`` and legacy
    ``mediaChunks``), in capture order across every connection. Redacted chunks
    become silence of their recorded length. Nothing is written unless the
    capture has audio in that direction at one sample rate.

    Args:
        capture: the capture to read.
        out_path: the WAV file to create (an existing file is replaced).
        direction: whose audio to extract.

    Returns:
        What was written.

    Raises:
        AudioFormatError: the capture has no audio in that direction, the
            sample rate changes mid-stream, or a chunk is not raw PCM.
        ConfigurationError: ``direction`` is neither ``"server"`` nor ``"client"``.
        OSError: the file cannot be written.
    """
    if direction not in ("server", "client"):
        raise ConfigurationError(f"direction must be 'server' or 'client', got {direction!r}")
    default_rate = OUTPUT_RATE if direction == "server" else INPUT_RATE
    rate: int | None = None
    first_where = ""
    redacted = skipped = chunks = 0
    path = Path(out_path)
    # Audio is streamed into a temporary file next to the output, which replaces
    # it only when the whole capture went through: memory stays at one frame.
    part = path.with_name(f".{path.name}.part")
    wav: WavWriter | None = None
    try:
        for frame in capture.frames(dir=direction):
            decoded = _decode_frame(frame)
            if decoded.message is None:
                skipped += 1
                continue
            redacted += decoded.redacted
            where = f"t={frame.t:.3f}s on connection {frame.conn}"
            for blob in _audio_blobs(decoded.message):
                try:
                    chunk_rate = parse_pcm_mime(blob.mime_type, default_rate=default_rate)
                except AudioFormatError as exc:
                    raise AudioFormatError(f"cannot extract audio at {where}: {exc}") from exc
                if rate is None:
                    rate, first_where = chunk_rate, where
                    wav = WavWriter(part, rate=rate, flush_every=None)
                elif chunk_rate != rate:
                    raise AudioFormatError(
                        f"{direction} audio changes sample rate from {rate} hz (first chunk "
                        f"at {first_where}) to {chunk_rate} hz at {where}; a wav file has one rate"
                    )
                assert wav is not None
                wav.write(blob.data or b"")
                chunks += 1
        if wav is None or rate is None:
            what = (
                "modelTurn inlineData audio chunks"
                if direction == "server"
                else "realtimeInput.audio chunks"
            )
            hint = "" if direction == "client" else " (was the session TEXT only?)"
            raise AudioFormatError(f"the capture has no {direction} audio: no {what}{hint}")
        wav.close()
        os.replace(part, path)
    except BaseException:
        if wav is not None:
            with contextlib.suppress(Exception):
                wav.close()
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    frames = wav.frames_written
    return WavInfo(
        path=path,
        direction=direction,
        rate=rate,
        chunks=chunks,
        redacted_chunks=redacted,
        frames=frames,
        duration=frames / rate,
        skipped_frames=skipped,
    )


# ============================================================ shape diff

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
_SERVER_ORDER = (
    "setupComplete", "serverContent", "toolCall", "toolCallCancellation", "goAway",
    "sessionResumptionUpdate", "usageMetadata", "voiceActivity", "voiceActivityDetectionSignal",
)  # fmt: skip
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
        table.setdefault(re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower(), info)
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
                    values.add(orjson.dumps(item).decode("utf-8"))


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
        if sc is not None and (sc.get("turnComplete") or sc.get("turn_complete")):
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
        decoded = _decode_frame(record)
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
