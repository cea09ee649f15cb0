"""The text of ``rawlive show``: the timeline rendered for a terminal.

One line per record (time offset, connection, direction arrow, kind, a short
summary), runs of audio-only frames folded into one line unless verbose, a
separator with each turn's statistics after its ``turnComplete``, and a
summary block at the end. The rows and statistics come from
:func:`rawlive.capture.timeline.analyze`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rawlive.audio.pcm import OUTPUT_RATE
from rawlive.capture.frame_summary import rate_text
from rawlive.capture.records import Capture
from rawlive.capture.timeline import (
    UNDECODABLE,
    CaptureSummary,
    TimelineRow,
    TurnStats,
    analyze,
    audio_runs,
)

__all__ = ["format_timeline"]

_KIND_WIDTH = 28
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
    rows, summary = analyze(capture)
    show_conn = len(summary.connections) > 1
    separators: dict[int, list[TurnStats]] = {}
    for turn in summary.turns:
        separators.setdefault(turn.end_index, []).append(turn)
    lines: list[str] = []
    runs = [(i, i + 1) for i in range(len(rows))] if verbose else audio_runs(rows, separators)
    for i, j in runs:
        row = rows[i]
        if j - i > 1:
            run = rows[i:j]
            seconds = sum(r.audio_seconds for r in run)
            rate = row.audio_rate
            show_rate = row.dir == "client" or rate not in (None, OUTPUT_RATE)
            shown_rate = f" @{rate_text(rate)}" if show_rate and rate is not None else ""
            redacted = sum(r.redacted_chunks for r in run)
            text = f"audio x{j - i} ({seconds:.2f} s{shown_rate})"
            if redacted:
                text += f" [{redacted} redacted]"
            segments = _row_segments(row, show_conn=show_conn, summary=text)
        else:
            segments = _row_segments(row, show_conn=show_conn)
        lines.append(_render(segments, width, color))
        for turn in separators.get(rows[j - 1].index, ()):
            lines.append(_render([(_turn_line(turn), "turn")], width, color))
    for text, style in _summary_lines(summary):
        cut = 0 if text.startswith("last resumable handle") else width
        lines.append(_render([(text, style)], cut, color))
    return "\n".join(lines) + "\n"
