"""``rawlive show CAPTURE --html OUT.html``: a capture as one self-contained web page.

The page needs nothing but a browser: its CSS, its JavaScript and its data are
inside the file (no CDN, no network). Python does the analysis and the heavy
lifting (turns, latency, usage and the timeline come from
:mod:`rawlive.capture.tools`, lint findings from :mod:`rawlive.capture.lint`,
waveforms are downsampled here, audio is packed into WAV ``data:`` URIs) and
writes one JSON blob; ``viewer.js`` draws the page from it.

Theory of operation
-------------------
Next to the timeline's own pass (:func:`~rawlive.capture.tools.analyze`),
one pass over the records (:func:`build_view`) collects, per frame, a short
JSON text (long base64 shortened to its length) and what the page marks:
audio PCM, texts and transcripts, tool calls and responses (joined by id),
``interrupted``/``generationComplete``/``turnComplete``, ``goAway`` and usage.
Frames are assigned to turns as the timeline assigns them; client frames
before a turn's first server frame are that turn's input. Repeated strings
(kinds, summaries, the JSON of same-sized audio chunks) are stored once in a
string table, so a long capture's page stays small.

Audio is embedded turn by turn, in order, while the audio budget lasts (its
base64 size counts); after that, turns keep their waveform and the page says
how to get the audio with ``rawlive wav``. Redacted audio shows its length.
"""

from __future__ import annotations

import array
import base64
import importlib.resources
import io
import re
import sys
import wave
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rawlive.audio.pcm import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH, parse_pcm_mime
from rawlive.capture.jsonio import JSONDecodeError, dumps_pretty, dumps_text, get_key, loads
from rawlive.capture.lint import lint_capture
from rawlive.capture.markers import parse_redaction_marker
from rawlive.capture.records import Capture, FrameRecord
from rawlive.capture.shape import diff_captures
from rawlive.capture.timeline import TimelineRow, TurnStats, analyze, audio_runs
from rawlive.closecodes import explain_close
from rawlive.errors import AudioFormatError
from rawlive.protocol import GoAway

__all__ = ["DEFAULT_AUDIO_BUDGET", "build_view", "render_html"]

DEFAULT_AUDIO_BUDGET = 12_000_000
"""Bytes of embedded audio (base64 WAV) a page holds by default."""

_B64_LONG = 96  # base64 strings longer than this are shortened in the JSON view
_B64_RE = re.compile(r"[A-Za-z0-9+/=_-]+")
_B64_STRING = re.compile('"([A-Za-z0-9+/=_-]{' + str(_B64_LONG + 1) + ',})"')
_TEXT_LONG = 4000
_WAV_URI = "data:audio/wav;base64,"
_WAVE_PER_SECOND = 25
_WAVE_MIN, _WAVE_MAX = 24, 600
_SAMPLES_PER_BUCKET = 24  # samples looked at per waveform point (strided, not all)


# ============================================================ small helpers


class _Strings:
    """A string table: each distinct string stored once, referred to by index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.items: list[str] = []

    def __call__(self, text: str) -> int:
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.items)
            self.items.append(text)
        return found


def _b64_label(text: str) -> str:
    """What a long base64 string is shown as: its decoded length."""
    return f"<base64, {len(text) * 3 // 4 - text[-2:].count('=')} bytes>"


def _short_b64(match: re.Match[str]) -> str:
    return f'"{_b64_label(match.group(1))}"'


def _shorten(node: Any, depth: int = 0) -> Any:
    """Replace long base64 strings by ``<base64, N bytes>`` and cut very long texts.

    Nesting past 100 levels is shown as a note (a hostile capture can nest
    1,024 levels, deeper than Python recursion or orjson's writer go).
    """
    if depth > 100 and isinstance(node, (dict, list)):
        return "<nested too deeply to show>"
    if isinstance(node, dict):
        return {k: _shorten(v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_shorten(v, depth + 1) for v in node]
    if isinstance(node, str) and len(node) > _B64_LONG:
        if _B64_RE.fullmatch(node):
            return _b64_label(node)
        if len(node) > _TEXT_LONG:
            return node[:_TEXT_LONG] + f"... <{len(node) - _TEXT_LONG} more characters>"
    return node


def _seconds(value: Any) -> float | None:
    try:
        return GoAway(time_left=value).time_left_seconds if isinstance(value, str) else None
    except ValueError:
        return None


def _r(t: float | None) -> float | None:
    return None if t is None else round(t, 3)


# ============================================================ audio


@dataclass(slots=True)
class _Budget:
    """Bytes of base64 WAV still to embed; once a track does not fit, none does."""

    left: int
    skipped: int = 0

    def take(self, size: int) -> bool:
        if self.skipped or size > self.left:
            self.skipped += 1
            return False
        self.left -= size
        return True


@dataclass(slots=True)
class _Track:
    """The audio of one direction of one turn."""

    rate: int | None = None
    pcm: bytearray = field(default_factory=bytearray)
    seconds: float = 0.0
    chunks: int = 0
    redacted: int = 0
    problem: str | None = None

    def add(self, mime: Any, data: Any, default_rate: int) -> None:
        if not isinstance(data, str):
            return
        self.chunks += 1
        try:
            rate = parse_pcm_mime(
                mime if isinstance(mime, str) else None, default_rate=default_rate
            )
        except AudioFormatError:
            self.problem = f"not raw PCM ({mime})"
            return
        if self.rate is None:
            self.rate = rate
        elif rate != self.rate:
            self.problem = f"sample rate changes from {self.rate} to {rate} Hz"
        marker = parse_redaction_marker(data) if data.startswith("<") else None
        if marker is not None:
            self.redacted += 1
            self.seconds += marker[0] / (SAMPLE_WIDTH * rate)
            return
        try:
            raw = base64.b64decode(data)
        except ValueError:
            self.problem = "audio that is not base64"
            return
        self.seconds += len(raw) / (SAMPLE_WIDTH * rate)
        if rate == self.rate:
            self.pcm += raw

    def view(self, budget: _Budget) -> dict[str, Any] | None:
        if not self.chunks:
            return None
        out: dict[str, Any] = {
            "seconds": round(self.seconds, 3),
            "chunks": self.chunks,
            "rate": self.rate,
        }
        if self.redacted:
            out["redacted"] = self.redacted
            return out
        if self.problem:
            out["problem"] = self.problem
        out["wave"] = _waveform(bytes(self.pcm), self.seconds)
        if self.problem or self.rate is None:
            return out
        uri_size = len(_WAV_URI) + (len(self.pcm) + 44 + 2) // 3 * 4
        if budget.take(uri_size):
            wav = base64.b64encode(_wav_bytes(bytes(self.pcm), self.rate)).decode("ascii")
            out["wav"] = _WAV_URI + wav
        return out


def _waveform(pcm: bytes, seconds: float) -> list[int]:
    """Peak levels 0..100 of ``pcm`` (16-bit mono), a few per second of audio."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) // 2 * 2])
    if sys.byteorder == "big":  # pragma: no cover - the wire is little-endian
        samples.byteswap()
    n = len(samples)
    points = max(_WAVE_MIN, min(_WAVE_MAX, int(seconds * _WAVE_PER_SECOND)))
    if n == 0:
        return []
    points = min(points, n)
    out = []
    for i in range(points):
        start, end = i * n // points, (i + 1) * n // points
        step = max(1, (end - start) // _SAMPLES_PER_BUCKET)
        window = samples[start:end:step]
        peak = max(max(window), -min(window)) if window else 0
        out.append(min(100, peak * 100 // 32767))
    return out


def _wav_bytes(pcm: bytes, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def _blobs(value: Mapping[str, Any], server: bool) -> Iterator[tuple[Any, Any]]:
    """``(mimeType, data)`` of the audio blobs of a decoded frame."""
    if server:
        turn = get_key(get_key(value, "serverContent"), "modelTurn")
        for part in get_key(turn, "parts") or ():
            blob = get_key(part, "inlineData")
            mime = get_key(blob, "mimeType")
            if isinstance(blob, dict) and (mime is None or str(mime).startswith("audio/")):
                yield mime, get_key(blob, "data")
        return
    ri = get_key(value, "realtimeInput")
    blobs = [get_key(ri, "audio"), *(get_key(ri, "mediaChunks") or ())]
    for blob in blobs:
        mime = get_key(blob, "mimeType")
        if isinstance(blob, dict) and (mime is None or str(mime).startswith("audio/")):
            yield mime, get_key(blob, "data")


# ============================================================ turns


@dataclass(slots=True)
class _Turn:
    number: int
    conn: int
    user: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    input_transcript: list[str] = field(default_factory=list)
    transcript: list[tuple[float, float, str]] = field(default_factory=list)
    audio_in: _Track = field(default_factory=_Track)
    audio_out: _Track = field(default_factory=_Track)
    first_byte: float | None = None
    first_text: float | None = None
    first_frame_t: float | None = None
    first_frame: int = 0
    input_start: float | None = None
    markers: list[tuple[str, float, int]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)


def _texts(parts: Any) -> list[str]:
    return [
        p["text"]
        for p in parts or ()
        if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
    ]


class _Builder:
    """The one pass over a capture that fills the page's data."""

    def __init__(self, capture: Capture, rows: list[TimelineRow]) -> None:
        self.capture = capture
        self.strings = _Strings()
        self.turns: dict[int, _Turn] = {}
        self.tools: dict[str, dict[str, Any]] = {}
        self.go_aways: list[dict[str, Any]] = []
        self.markers: list[list[Any]] = []
        self.pending: dict[int, list[tuple[float, dict[str, Any]]]] = {}  # input, by conn
        self.seen_json: dict[str, int] = {}
        self.first_byte: dict[int, float | None] = {}  # first server frame after the input
        self.lint_records: list[FrameRecord] = []  # frames the outgoing lint needs to see
        self.lint_rows: list[int] = []
        cols: dict[str, list[Any]] = {k: [] for k in ("t", "c", "d", "k", "s", "j", "n")}
        self.cols = cols
        for row in rows:
            record = capture.records[row.index]
            cols["t"].append(round(row.t, 3))
            cols["c"].append(row.conn or 0)
            cols["d"].append({"client": 0, "server": 1}.get(row.dir or "", 2))
            cols["k"].append(self.strings(row.kind))
            cols["s"].append(self.strings(row.summary))
            cols["n"].append(row.turn or 0)
            json_id = -1
            if isinstance(record, FrameRecord):
                json_id = self._frame(row, record)
            cols["j"].append(json_id)

    def _turn(self, number: int, conn: int) -> _Turn:
        turn = self.turns.get(number)
        if turn is None:
            turn = self.turns[number] = _Turn(number=number, conn=conn)
        return turn

    def _frame(self, row: TimelineRow, record: FrameRecord) -> int:
        try:
            value = loads(record.payload)
        except ValueError:  # JSONDecodeError, or data_b64 that is not base64
            if record.dir == "client":
                self.lint_records.append(record)
                self.lint_rows.append(len(self.cols["t"]) - 1)
            text = (
                record.data if record.data is not None else f"<{len(record.data_b64 or '')} base64>"
            )
            return self.strings(text[:_TEXT_LONG])
        if not isinstance(value, dict):
            return self.strings(dumps_text(_shorten(value)))
        json_id = self._json_id(record)
        if json_id is None:
            json_id = self.strings(dumps_pretty(_shorten(value)))
        if row.dir == "server":
            self._server(row, value)
        else:
            self._client(row, value)
        if not row.audio_only:
            self.lint_records.append(record)
            self.lint_rows.append(len(self.cols["t"]) - 1)
        return json_id

    def _json_id(self, record: FrameRecord) -> int | None:
        """The JSON of a frame seen before with only its base64 different (audio chunks)."""
        text = record.data
        if text is None or len(text) > 20_000 or len(text) < _B64_LONG:
            return None
        key = _B64_STRING.sub(_short_b64, text)
        found = self.seen_json.get(key)
        if found is None:
            try:
                value = loads(key)
            except JSONDecodeError:
                return None
            pretty = dumps_pretty(_shorten(value))
            found = self.seen_json[key] = self.strings(pretty)
        return found

    def _client(self, row: TimelineRow, value: dict[str, Any]) -> None:
        if get_key(value, "setup") is not None:
            return
        frame = len(self.cols["t"]) - 1
        for resp in get_key(get_key(value, "toolResponse"), "functionResponses") or ():
            if isinstance(resp, dict):
                entry = self.tools.setdefault(str(resp.get("id")), {"id": str(resp.get("id"))})
                entry["response"] = dumps_text(_shorten(resp.get("response")))
                entry["rt"] = _r(row.t)
                entry["rframe"] = frame
        # Every client frame is input to the next turn on its connection (as in the
        # timeline's latency): audio sent during a reply is the user barging in.
        self.pending.setdefault(row.conn or 0, []).append((row.t, value))
        self.first_byte[row.conn or 0] = None  # the reply's first byte comes after this

    def attach_inputs(self, turn: _Turn, conn: int) -> None:
        """Make the client frames waiting on ``conn`` the input of ``turn``."""
        for t, value in self.pending.pop(conn, ()):
            if turn.input_start is None:
                turn.input_start = t
            cc = get_key(value, "clientContent")
            for content in get_key(cc, "turns") or ():
                turn.user.extend(_texts(get_key(content, "parts")))
            ri = get_key(value, "realtimeInput")
            if isinstance(get_key(ri, "text"), str):
                turn.user.append(ri["text"])
            for mime, data in _blobs(value, server=False):
                turn.audio_in.add(mime, data, INPUT_RATE)
            for resp in get_key(get_key(value, "toolResponse"), "functionResponses") or ():
                if isinstance(resp, dict):
                    turn.responses.append(str(resp.get("id")))

    def _server(self, row: TimelineRow, value: dict[str, Any]) -> None:
        conn = row.conn or 0
        go_away = get_key(value, "goAway")
        if go_away is not None:
            left = get_key(go_away, "timeLeft")
            secs = _seconds(left)
            deadline = _r(row.t + secs) if secs is not None else None
            frame = len(self.cols["t"]) - 1
            entry = {"t": _r(row.t), "conn": conn, "timeLeft": left, "deadline": deadline}
            self.go_aways.append({**entry, "frame": frame})
        if self.first_byte.get(conn, 0.0) is None:
            self.first_byte[conn] = row.t
        if not row.turn:
            return
        turn = self._turn(row.turn, conn)
        frame = len(self.cols["t"]) - 1
        if turn.first_frame_t is None:
            turn.first_frame_t = row.t
            turn.first_frame = frame
            turn.first_byte = self.first_byte.get(conn) or row.t
            self.attach_inputs(turn, conn)
        sc = get_key(value, "serverContent")
        texts = _texts(get_key(get_key(sc, "modelTurn"), "parts"))
        turn.text.extend(texts)
        out_tr = get_key(get_key(sc, "outputTranscription"), "text")
        in_tr = get_key(get_key(sc, "inputTranscription"), "text")
        if isinstance(in_tr, str):
            turn.input_transcript.append(in_tr)
        if (texts or isinstance(out_tr, str)) and turn.first_text is None:
            turn.first_text = row.t
        if isinstance(out_tr, str):
            # Aligned by audio position, not arrival time: the service sends audio
            # faster than it plays, so the piece goes where the audio had got to.
            turn.transcript.append((row.t, turn.audio_out.seconds, out_tr))
        for mime, data in _blobs(value, server=True):
            turn.audio_out.add(mime, data, OUTPUT_RATE)
        for name in ("interrupted", "generationComplete", "turnComplete"):
            if get_key(sc, name):
                turn.markers.append((name, row.t, frame))
                self.markers.append([name, _r(row.t), conn, frame, turn.number])
        for call in get_key(get_key(value, "toolCall"), "functionCalls") or ():
            if isinstance(call, dict):
                call_id = str(call.get("id"))
                entry = self.tools.setdefault(call_id, {"id": call_id})
                args = dumps_text(_shorten(call.get("args")))
                entry.update(
                    name=str(call.get("name")),
                    args=args,
                    t=_r(row.t),
                    frame=frame,
                    turn=turn.number,
                )
                turn.calls.append(call_id)
        for call_id in get_key(get_key(value, "toolCallCancellation"), "ids") or ():
            entry = self.tools.setdefault(str(call_id), {"id": str(call_id)})
            entry["cancelled"] = _r(row.t)


def _turn_view(turn: _Turn, stats: TurnStats, budget: _Budget) -> dict[str, Any]:
    start = stats.input_end_t if stats.input_end_t is not None else turn.first_frame_t

    def since(t: float | None) -> float | None:
        return None if t is None or start is None else round(t - start, 3)

    return {
        "n": turn.number,
        "conn": turn.conn,
        "complete": stats.complete,
        "interrupted": stats.interrupted,
        "inputStart": _r(turn.input_start),
        "inputEnd": _r(stats.input_end_t),
        "start": _r(turn.first_frame_t),
        "end": _r(stats.end_t),
        "latency": {
            "firstByte": since(turn.first_byte) if stats.input_end_t is not None else None,
            "firstText": since(turn.first_text) if stats.input_end_t is not None else None,
            "firstAudio": _r(stats.audio_latency),
            "duration": since(stats.end_t),
        },
        "user": "".join(turn.user),
        "inputTranscript": "".join(turn.input_transcript),
        "text": "".join(turn.text),
        "transcript": [[_r(t), _r(at), text] for t, at, text in turn.transcript],
        "audioIn": turn.audio_in.view(budget),
        "audioOut": turn.audio_out.view(budget),
        "markers": [[name, _r(t), frame] for name, t, frame in turn.markers],
        "calls": turn.calls,
        "responses": turn.responses,
        "usage": {
            "prompt": stats.prompt_tokens,
            "response": stats.response_tokens,
            "total": stats.total_tokens,
        },
        "firstFrame": turn.first_frame,
        "endIndex": stats.end_index,
    }


def _runs(rows: list[TimelineRow], separators: set[int]) -> list[list[int]]:
    """Row ranges ``[first, last]`` of the frame list: runs of audio-only frames collapse."""
    return [[start, stop - 1] for start, stop in audio_runs(rows, separators)]


def build_view(
    capture: Capture, *, name: str = "capture", audio_budget: int = DEFAULT_AUDIO_BUDGET
) -> dict[str, Any]:
    """Compute everything the page shows for one capture, as JSON-ready data.

    Args:
        capture: the capture to show.
        name: what to call it on the page (usually its file name).
        audio_budget: bytes of audio (base64 WAV) to embed at most; the
            turns past it get waveforms only.

    Returns:
        A dict of plain JSON values (see ``viewer.js`` for how it is drawn).
    """
    rows, summary = analyze(capture)
    builder = _Builder(capture, rows)
    budget = _Budget(left=max(0, audio_budget))
    stats = {t.number: t for t in summary.turns}
    turns = [_turn_view(builder.turns[n], stats[n], budget) for n in sorted(builder.turns)]
    unanswered = []  # what the user sent last, when no reply came before the end
    for number in sorted(builder.pending):
        last = _Turn(number=0, conn=number)
        builder.attach_inputs(last, number)
        if last.user or last.audio_in.chunks or last.responses:
            unanswered.append(
                {
                    "conn": number,
                    "inputStart": _r(last.input_start),
                    "user": "".join(last.user),
                    "audioIn": last.audio_in.view(budget),
                    "responses": last.responses,
                }
            )
    position = {row.index: i for i, row in enumerate(rows)}
    for turn in turns:
        turn["endIndex"] = position.get(turn["endIndex"], 0)
    # The lint checks client frames and follows the session through the server's;
    # frames of nothing but audio change nothing there, and decoding them once
    # more would cost a third of the page's time.
    lint = []
    for finding in lint_capture(Capture(records=tuple(builder.lint_records))):
        if finding.frame is not None and 0 < finding.frame <= len(builder.lint_rows):
            lint.append([builder.lint_rows[finding.frame - 1], finding.rule, finding.message])
    conns = []
    for conn in summary.connections:
        entry: dict[str, Any] = {
            "conn": conn.conn,
            "model": conn.model,
            "open": _r(conn.opened_t),
            "close": _r(conn.closed_t),
            "frames": conn.frames,
            "describe": conn.describe(),
        }
        close = conn.close
        if close is not None:
            why = explain_close(close.code, close.reason)
            entry.update(
                code=close.code, by=close.by, reason=close.reason, dropped=close.dropped,
                title=why.title, meaning=why.meaning, retryable=why.retryable,
                normal=close.code == 1000 or why.normal_end,
            )  # fmt: skip
        conns.append(entry)
    times = [row.t for row in rows]
    meta = capture.meta
    latencies = [t.latency for t in summary.turns if t.latency is not None]
    return {
        "name": name,
        "meta": {
            "created": meta.created if meta else None,
            "tool": meta.tool if meta else None,
            "source": meta.source if meta else None,
            "note": meta.note if meta else None,
        },
        "duration": round(max([*times, *[g["deadline"] or 0 for g in builder.go_aways], 0.001]), 3),
        "summary": {
            "framesClient": summary.frames_client,
            "framesServer": summary.frames_server,
            "undecodable": summary.undecodable,
            "turns": len(summary.turns),
            "complete": sum(1 for t in summary.turns if t.complete),
            "latencyAvg": round(sum(latencies) / len(latencies), 3) if latencies else None,
            "latencyMax": round(max(latencies), 3) if latencies else None,
            "tokens": [summary.prompt_tokens, summary.response_tokens, summary.total_tokens],
            "audioServer": round(summary.audio_seconds_server, 3),
            "audioClient": round(summary.audio_seconds_client, 3),
            "redacted": summary.redacted_chunks,
            "lastHandle": summary.last_handle,
        },
        "audioBudget": audio_budget,
        "audioSkipped": budget.skipped,
        "strings": builder.strings.items,
        "frames": builder.cols,
        "runs": _runs(rows, {t.end_index for t in summary.turns}),
        "turns": turns,
        "unanswered": unanswered,
        "tools": sorted(
            (
                {k: v for k, v in entry.items() if not k.startswith("_")}
                for entry in builder.tools.values()
            ),
            key=lambda e: (e.get("t") is None, e.get("t") or 0),
        ),
        "markers": builder.markers,
        "goAways": builder.go_aways,
        "conns": conns,
        "lint": lint,
    }


# ============================================================ the page


def _asset(name: str) -> str:
    return importlib.resources.files("rawlive.capture").joinpath(name).read_text("utf-8")


def _script_json(value: Any) -> str:
    # "<" only occurs inside JSON strings, where \u003c means the same: no "</script>".
    return dumps_text(value).replace("<", "\\u003c")


def render_html(
    capture: Capture,
    *,
    name: str = "capture",
    audio_budget: int = DEFAULT_AUDIO_BUDGET,
    compare: Capture | None = None,
    compare_name: str = "B",
) -> str:
    """Render the viewer page for a capture (or two captures side by side).

    Args:
        capture: the capture to show.
        name: what to call it on the page.
        audio_budget: bytes of base64 WAV audio to embed at most (shared
            between the two captures when comparing).
        compare: a second capture to put next to the first, aligned by turn,
            with the shape differences of ``rawlive diff`` highlighted.
        compare_name: what to call the second capture.

    Returns:
        The whole HTML page as text.
    """
    if compare is None:
        views = [build_view(capture, name=name, audio_budget=audio_budget)]
        diff = None
    else:
        half = audio_budget // 2
        views = [
            build_view(capture, name=name, audio_budget=half),
            build_view(compare, name=compare_name, audio_budget=half),
        ]
        result = diff_captures(capture, compare, a_name=name, b_name=compare_name)
        diff = [
            {"section": e.section, "dir": e.direction, "sign": e.sign, "text": e.text}
            for e in result.entries
        ]
    data = {"views": views, "diff": diff}
    title = name if compare is None else f"{name} vs {compare_name}"
    page = _asset("viewer.html")
    return (
        page.replace("{{title}}", _escape(title))
        .replace("/*{{css}}*/", _asset("viewer.css"))
        .replace("/*{{js}}*/", _asset("viewer.js"))
        .replace("{{data}}", _script_json(data))
    )


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
