"""One line of text per decoded frame: what ``rawlive show`` says a frame holds.

:func:`client_summary` and :func:`server_summary` describe a decoded message
in a few words (``turnComplete; usage: prompt 12, response 40, total 52``)
and tally its audio in an :class:`AudioTally`. The timeline analysis
(:mod:`rawlive.capture.timeline`) puts these texts into its rows; the small
formatting helpers here are shared with the text rendering.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from rawlive.audio.pcm import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH, parse_pcm_mime
from rawlive.capture.jsonio import dumps_text
from rawlive.errors import AudioFormatError
from rawlive.protocol import Blob, ClientMessage, ServerContent, ServerMessage, UsageMetadata, camel

__all__ = [
    "AudioTally",
    "client_summary",
    "endpoint_text",
    "is_audio_blob",
    "quote",
    "rate_text",
    "server_summary",
    "set_fields",
]

_TEXT_LIMIT = 48


def set_fields(message: Any) -> list[str]:
    """Return the names of the attributes of a decoded message that are set."""
    names = [
        f.name
        for f in dataclasses.fields(message)
        if f.name != "extra" and getattr(message, f.name) is not None
    ]
    return names + list(message.extra)


def _flags_set(message: Any, *names: str) -> list[str]:
    """Return the wire names of those of the attributes ``names`` that are set and not false."""
    out = []
    for name in names:
        value = getattr(message, name)
        if value is not None and value is not False:
            out.append(camel(name))
    return out


# -- small formatting -------------------------------------------------------------------


def quote(text: str, limit: int = _TEXT_LIMIT) -> str:
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return dumps_text(text)


def _compact_json(value: Any, limit: int = _TEXT_LIMIT) -> str:
    try:
        text = dumps_text(value)
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def rate_text(rate: int) -> str:
    if rate % 1000 == 0:
        return f"{rate // 1000}k"
    return f"{rate / 1000:g}k"


def _short_handle(handle: str) -> str:
    return handle if len(handle) <= 12 else handle[:12] + "..."


def endpoint_text(endpoint: str) -> str:
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


# -- frame summaries --------------------------------------------------------------------


@dataclass(slots=True)
class AudioTally:
    """The audio chunks of one frame: count, bytes, seconds and rate."""

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
        rate = f" @{rate_text(self.rate)}" if show_rate else ""
        return f"audio {count}{self.nbytes} B ({_ms(self.seconds)}{rate})"


def is_audio_blob(blob: Blob | None) -> bool:
    return blob is not None and (blob.mime_type is None or blob.mime_type.startswith("audio/"))


def _usage_text(usage: UsageMetadata) -> str:
    prompt = usage.prompt_token_count
    total = usage.total_token_count
    return (
        f"usage: prompt {prompt if prompt is not None else '?'}, "
        f"response {usage.output_tokens}, total {total if total is not None else '?'}"
    )


def _part_texts(sc: ServerContent, audio: AudioTally) -> list[str]:
    out: list[str] = []
    mt = sc.model_turn
    for part in (mt.parts or ()) if mt is not None else ():
        blob = part.inline_data
        if part.text is not None:
            out.append(("thought " if part.thought else "") + quote(part.text))
        elif blob is not None and is_audio_blob(blob):
            audio.add(blob, OUTPUT_RATE)
        elif blob is not None:
            out.append(f"inlineData {blob.mime_type} {len(blob.data or b'')} B")
        elif part.executable_code is not None:
            code = part.executable_code
            out.append(f"code {code.language or ''} {quote(code.code or '')}".replace("  ", " "))
        elif part.code_execution_result is not None:
            res = part.code_execution_result
            out.append(f"result {res.outcome or ''} {quote(res.output or '')}".replace("  ", " "))
        elif part.function_call is not None:
            call = part.function_call
            out.append(f"call {call.name}({_compact_json(call.args or {})})")
        elif part.file_data is not None:
            out.append(f"file {part.file_data.file_uri}")
        else:
            out.append("part " + "+".join(set_fields(part)))
    if audio.chunks:
        out.insert(0, audio.describe(show_rate=audio.rate not in (None, OUTPUT_RATE)))
    return out


def _server_content_text(sc: ServerContent, audio: AudioTally) -> list[str]:
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
            out.append(f"{label} {quote(tr.text or '')}{done}")
    if sc.interrupted:
        out.append("INTERRUPTED")
    out += _flags_set(sc, "generation_complete", "turn_complete")
    if sc.turn_complete_reason is not None:
        out.append(f"reason {sc.turn_complete_reason}")
    if sc.waiting_for_input:
        out.append("waitingForInput")
    if sc.interaction_status is not None:
        out.append(f"status {sc.interaction_status}")
    out += _flags_set(sc, "grounding_metadata", "url_context_metadata")
    if sc.extra:
        out.append("unknown: " + ", ".join(sc.extra))
    return out


def server_summary(msg: ServerMessage, audio: AudioTally) -> str:
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


def client_summary(msg: ClientMessage, audio: AudioTally) -> str:
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
            texts.append(role + quote(text))
        out.append(" | ".join(texts) if texts else "(no turns)")
        out.append("turnComplete" if cc.turn_complete else "no turnComplete")
    ri = msg.realtime_input
    if ri is not None:
        if is_audio_blob(ri.audio):
            audio.add(cast(Blob, ri.audio), INPUT_RATE)
        for chunk in ri.media_chunks or ():
            if is_audio_blob(chunk):
                audio.add(chunk, INPUT_RATE)
        if audio.chunks:
            out.append(("mediaChunks " if ri.media_chunks else "") + audio.describe(show_rate=True))
        if ri.video is not None:
            out.append(f"video {ri.video.mime_type} {len(ri.video.data or b'')} B")
        if ri.text is not None:
            out.append(f"text {quote(ri.text)}")
        out += _flags_set(ri, "activity_start", "activity_end", "audio_stream_end")
        if ri.extra:
            out.append("unknown: " + ", ".join(ri.extra))
    tr = msg.tool_response
    if tr is not None:
        for resp in tr.function_responses or ():
            out.append(f"{resp.name} -> {_compact_json(resp.response)} id={resp.id}")
    cu = msg.context_update
    if cu is not None:
        out.append("contextUpdate " + "+".join(set_fields(cu)))
    return "; ".join(out)
