"""The timeline of a capture: rows, turns, latency, usage (``rawlive show``, the viewer).

:func:`analyze` reads a :class:`~rawlive.capture.format.Capture` already in
memory in one pass and returns frozen records: one :class:`TimelineRow` per
record and a :class:`CaptureSummary` with per-turn statistics. The text of
``rawlive show`` is rendered from them by
:mod:`rawlive.capture.timeline_text`; the HTML viewer
(:mod:`rawlive.capture.html`) draws them too. Nothing here touches the
network, asyncio or websockets.

Theory of operation
-------------------
Every frame is decoded once by :func:`~rawlive.capture.markers.decode_frame`
(redacted audio becomes silence of the recorded length, so redacted captures
show correctly sized chunks). A frame that does not decode never stops the
timeline: its row says ``!! undecodable`` and why.

Turns follow PROTOCOL.md §2.5. A turn opens at the first
``serverContent``/``toolCall`` after the previous ``turnComplete`` and ends at
the next ``turnComplete`` (or, incomplete, at the close). Its *input end* is
the last client frame (other than ``setup``) sent after the previous turn
ended and before the model's first output; latency runs from there to the
first model output (a model-turn part, an output transcript or a tool call)
and to the first audio chunk. A ``usageMetadata`` frame that comes on its own
right after a ``turnComplete`` is counted for that turn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from rawlive.capture.frame_summary import (
    AudioTally,
    client_summary,
    endpoint_text,
    is_audio_blob,
    quote,
    server_summary,
    set_fields,
)
from rawlive.capture.markers import decode_frame
from rawlive.capture.records import (
    Capture,
    CloseRecord,
    Direction,
    FrameRecord,
    OpenRecord,
    UnknownRecord,
)
from rawlive.closecodes import explain_close
from rawlive.protocol import ClientMessage, ServerMessage, UsageMetadata

__all__ = [
    "CaptureSummary",
    "ConnectionSummary",
    "RowKind",
    "TimelineRow",
    "TurnStats",
    "UNDECODABLE",
    "analyze",
    "audio_runs",
    "summarize",
    "timeline",
]

RowKind: TypeAlias = Literal["frame", "open", "close", "unknown"]
"""Which capture record a timeline row comes from."""

UNDECODABLE = "!! undecodable"
"""The ``kind`` of a timeline row whose frame does not decode."""


# -- timeline records -------------------------------------------------------------------


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
        reason = f"; reason {quote(close.reason, 123)}" if close.reason else ""
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


# -- the analysis pass --------------------------------------------------------------------


# A turn still running is the keyword arguments of the TurnStats it becomes, tallied
# as frames come in: its own values plus every defaulted TurnStats field (the
# counters, the token numbers) at its default. `number` and `complete` are added
# when it ends.
_OpenTurn: TypeAlias = dict[str, Any]
_TURN_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(TurnStats) if f.default is not dataclasses.MISSING
}


@dataclass(slots=True)
class _ConnState:
    last_input: tuple[int, float] | None = None  # (record index, t) of the last client input
    boundary: int = -1  # record index of the last turnComplete
    turn: _OpenTurn | None = None
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
        self._connection_row(index, "open", record, endpoint_text(record.endpoint) + model)

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
            reason = f" {quote(record.reason, 40)}" if record.reason else ""
            summary = f"{by}{record.code}{reason} \u2014 {title}"
        self._connection_row(index, "close", record, summary)

    def _connection_row(
        self,
        index: int,
        kind: Literal["open", "close"],
        record: OpenRecord | CloseRecord,
        summary: str,
    ) -> None:
        """Add the row of an open or close record: its kind, time, connection and summary."""
        self.rows.append(
            TimelineRow(
                index=index, record=kind, t=record.t, conn=record.conn, kind=kind, summary=summary
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
        decoded = decode_frame(frame)
        msg = decoded.message
        audio = AudioTally()
        turn_number: int | None = None
        turn_complete = False
        if msg is None:
            self.undecodable += 1
            kind, summary = UNDECODABLE, decoded.error or "unknown error"
            if frame.dir == "client":
                state.last_input = (index, frame.t)
        elif isinstance(msg, ClientMessage):
            kind = "+".join(msg.kinds) or "(empty)"
            summary = client_summary(msg, audio)
            if msg.setup is not None:
                state.model = msg.setup.model or state.model
            else:
                state.last_input = (index, frame.t)
        else:
            kind = "+".join(msg.kinds) or "(empty)"
            summary = server_summary(msg, audio)
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
        self,
        index: int,
        frame: FrameRecord,
        msg: ServerMessage,
        audio: AudioTally,
        state: _ConnState,
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
            turn = state.turn = {
                **_TURN_DEFAULTS,
                "conn": frame.conn,
                "input_end_t": None,
                "first_output_t": None,
                "first_audio_t": None,
            }
        turn["end_index"] = index
        turn["end_t"] = frame.t
        if usage is not None:
            prompt, response, total = _usage_numbers(usage)
            turn.update(prompt_tokens=prompt, response_tokens=response, total_tokens=total)
        sc = msg.server_content
        if _is_output(msg) and turn["first_output_t"] is None:
            turn["first_output_t"] = frame.t
            if state.last_input is not None and state.last_input[0] > state.boundary:
                turn["input_end_t"] = state.last_input[1]
        if audio.chunks:
            if turn["first_audio_t"] is None:
                turn["first_audio_t"] = frame.t
            turn["audio_chunks"] += audio.chunks
            turn["audio_seconds"] += audio.seconds
        if sc is not None:
            if sc.model_turn is not None:
                turn["text_chars"] += len(sc.model_turn.text)
            if sc.output_transcription is not None:
                turn["transcript_chars"] += len(sc.output_transcription.text or "")
            if sc.interrupted:
                turn["interrupted"] = True
        if msg.tool_call is not None:
            turn["tool_calls"] += len(msg.tool_call.function_calls or ())
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
        self.turns.append(TurnStats(number=len(self.turns) + 1, complete=complete, **turn))

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
        if msg.kinds != ("serverContent",) or sc is None or set_fields(sc) != ["model_turn"]:
            return False
        parts = sc.model_turn.parts if sc.model_turn is not None else None
        return bool(parts) and all(
            set_fields(p) == ["inline_data"] and is_audio_blob(p.inline_data) for p in parts or ()
        )
    ri = msg.realtime_input
    return msg.kinds == ("realtimeInput",) and ri is not None and set_fields(ri) == ["audio"]


def audio_runs(rows: Sequence[TimelineRow], separators: Container[int]) -> list[tuple[int, int]]:
    """Cut rows into runs ``(start, stop)``: consecutive audio-only frames of one
    connection and direction form one run, which ends at a turn separator (a row
    whose record index is in ``separators``); every other row is a run of one."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(rows):
        j = i + 1
        row = rows[i]
        if row.audio_only:
            while (
                j < len(rows)
                and rows[j].audio_only
                and rows[j].conn == row.conn
                and rows[j].dir == row.dir
                and rows[j - 1].index not in separators
            ):
                j += 1
        out.append((i, j))
        i = j
    return out


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
