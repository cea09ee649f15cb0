"""How ``say`` and ``chat`` print turns: streamed text, audio progress, ``--json``.

:class:`TurnPrinter` is a frame observer (see :class:`rawlive.client.FrameObserver`):
the session hands it every server frame as it is read, so the reply's text,
or its output transcript when the reply is audio, is written to stdout piece
by piece (flushed) instead of at the end of the turn. The user's input
transcript (audio input) goes to stderr as ``> ...``. The turn itself is
still gathered by ``Session.receive_turn``; this only shows it early.

On a terminal (stderr is a tty) the seconds of audio received so far are
shown on stderr and erased at the end of the turn. When stdout is the same
terminal the progress shows only while no text line is being streamed (the
streamed transcript is the progress then), so the two never share a line.
Nothing of this is printed when stderr is not a terminal.

With ``--json`` nothing is streamed: each turn is one JSON object on one line
of stdout, and stdout holds nothing else (notes go to stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from typing import Any, TextIO

from rawlive.errors import LiveError
from rawlive.protocol.codec import encode_json

_DEMO_HANDLE = (
    "the handle is from the in-process demo server: it dies with this process; "
    "to resume later, run `rawlive fake` and pass --server URL"
)
# Erase the current terminal line: carriage return, then clear to its end.
_ERASE = "\r\x1b[K"


class TurnPrinter:
    """Streams each turn's text as it arrives and reports the finished turn.

    Args:
        out: where the reply text (or the JSON objects) go.
        err: where notes, the input transcript and the progress go.
        json_mode: print one JSON object per turn instead of streaming.
        demo: the server is the in-process demo (its handles die with us).
    """

    def __init__(self, out: TextIO, err: TextIO, *, json_mode: bool, demo: bool = False) -> None:
        self._out = out
        self._err = err
        self._json = json_mode
        self.demo = demo
        self._progress = _isatty(err)
        self._shared_tty = self._progress and _isatty(out)
        self._index = -1
        self._begin_turn_state()

    def _begin_turn_state(self) -> None:
        self._t0 = time.monotonic()
        self._t_input: float | None = None
        self._t_first: float | None = None
        self._t_done: float | None = None
        self._saw_text = False
        self._out_open = False  # a streamed reply line is not finished yet
        self._in_open = False  # a streamed input transcript line is not finished yet
        self._progress_shown = False
        self._audio_bytes = 0
        self._audio_rate = 24000
        self._shown_tenths = -1
        self._prompt: str | None = None
        self._input_audio: str | None = None

    # -- the turn's life --------------------------------------------------------------

    def begin_turn(self, *, prompt: str | None = None, input_audio: str | None = None) -> None:
        """Start a new turn (before sending its input)."""
        self._index += 1
        self._begin_turn_state()
        self._prompt = prompt
        self._input_audio = input_audio

    def input_sent(self) -> None:
        """Mark the end of the turn's input (the text sent, or audioStreamEnd)."""
        self._t_input = time.monotonic()

    async def end_turn(self, session: Any, turn: Any, audio_path: str | Path | None) -> None:
        """Finish the turn's output; with ``--json``, print its object.

        Args:
            session: the :class:`~rawlive.client.Session` (for the handle).
            turn: the :class:`~rawlive.Turn` that ``receive_turn`` returned.
            audio_path: the WAV the audio went to, if any.
        """
        self.finish_lines()
        if not self._json:
            if audio_path is not None:
                self.note(f"audio saved to {audio_path} ({turn.audio_duration:.2f} s)")
            return
        handle = await session.wait_for_handle(timeout=2.0)
        self._write_json(turn, audio_path, handle)

    def _write_json(self, turn: Any, audio_path: str | Path | None, handle: str | None) -> None:
        def since(t: float | None) -> float | None:
            return None if t is None else round(t - self._t0, 4)

        usage = turn.usage.to_wire() if turn.usage is not None else None
        obj = {
            "turn": self._index,
            "prompt": self._prompt,
            "input_audio": self._input_audio,
            "text": turn.text,
            "input_transcript": turn.input_transcript,
            "output_transcript": turn.output_transcript,
            "audio": {
                "path": None if audio_path is None else str(audio_path),
                "seconds": round(turn.audio_duration, 4),
                "rate": turn.sample_rate,
            },
            "usage": usage,
            "handle": handle,
            "interrupted": turn.interrupted,
            "timings": {
                "input_sent_s": since(self._t_input),
                "first_output_s": since(self._t_first),
                "complete_s": since(self._t_done or time.monotonic()),
            },
        }
        self._out.write(encode_json(obj).decode() + "\n")
        self._out.flush()

    async def print_footer(self, session: Any) -> None:
        """Print the session's usage totals and latest handle on stderr.

        With ``--json`` they are in the turn objects; only the demo's warning is printed.
        """
        if self._json:
            if self.demo and session.handle:
                self.note(f"rawlive: note: {_DEMO_HANDLE}")
            return
        await session.wait_for_handle(timeout=2.0)
        usage = session.usage
        self.note(
            f"usage: prompt {usage.prompt_tokens}, response {usage.response_tokens}, "
            f"total {usage.total_tokens} tokens"
        )
        if session.handle:
            line = f"resume handle: {session.handle}"
            if self.demo:
                line += f" ({_DEMO_HANDLE})"
            self.note(line)

    def note(self, text: str) -> None:
        """Print one line on stderr, after finishing any streamed line."""
        self.finish_lines()
        print(text, file=self._err, flush=True)

    def finish_lines(self) -> None:
        """End the streamed lines and erase the progress (also after an error)."""
        self._erase_progress()
        if self._in_open:
            self._err.write("\n")
            self._err.flush()
            self._in_open = False
        if self._out_open:
            self._out.write("\n")
            self._out.flush()
            self._out_open = False

    # -- FrameObserver ----------------------------------------------------------------

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None:
        return None

    def on_close(self, conn: int, code: int, reason: str, by: str | None, dropped: bool) -> None:
        return None

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None:
        if direction != "server":
            return
        from rawlive.protocol.codec import decode_server

        try:
            message = decode_server(payload)
        except LiveError:
            return  # the session reports undecodable frames itself
        sc = message.server_content
        if sc is None:
            return
        if sc.input_transcription is not None and sc.input_transcription.text:
            self._input_piece(sc.input_transcription.text)
        if sc.model_turn is not None:
            for part in sc.model_turn.parts or ():
                blob = part.inline_data
                if (
                    blob is not None
                    and blob.data
                    and (blob.mime_type or "audio/").startswith("audio/")
                ):
                    self._audio_piece(len(blob.data), blob.mime_type)
                if part.text and not part.thought:
                    self._saw_text = True
                    self._text_piece(part.text)
        if sc.output_transcription is not None and sc.output_transcription.text:
            self._first_output()
            if not self._saw_text:  # text parts win; the transcript is the fallback
                self._text_piece(sc.output_transcription.text)
        if sc.turn_complete:
            self._t_done = time.monotonic()
            self.finish_lines()

    # -- streaming --------------------------------------------------------------------

    def _first_output(self) -> None:
        if self._t_first is None:
            self._t_first = time.monotonic()

    def _input_piece(self, text: str) -> None:
        if self._json:
            return
        self._erase_progress()
        if not self._in_open:
            self._err.write("> ")
            self._in_open = True
        self._err.write(text)
        self._err.flush()

    def _text_piece(self, text: str) -> None:
        self._first_output()
        if self._json:
            return
        self._erase_progress()
        if self._in_open:
            self._err.write("\n")
            self._err.flush()
            self._in_open = False
        self._out.write(text)
        self._out.flush()
        self._out_open = True

    def _audio_piece(self, size: int, mime: str | None) -> None:
        self._first_output()
        if self._audio_bytes == 0 and mime:
            from rawlive.audio.pcm import parse_pcm_mime

            with contextlib.suppress(LiveError):
                self._audio_rate = parse_pcm_mime(mime)
        self._audio_bytes += size
        if not self._progress or self._in_open or (self._shared_tty and self._out_open):
            return
        tenths = int(self._audio_bytes * 10 / (2 * self._audio_rate))
        if tenths == self._shown_tenths:
            return
        self._shown_tenths = tenths
        self._err.write(f"{_ERASE}receiving audio: {tenths / 10:.1f} s")
        self._err.flush()
        self._progress_shown = True

    def _erase_progress(self) -> None:
        if self._progress_shown:
            self._err.write(_ERASE)
            self._err.flush()
            self._progress_shown = False
            self._shown_tenths = -1


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def add_output_options(p: argparse.ArgumentParser) -> None:
    """Declare ``--json``."""
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per turn on stdout (text, transcripts, audio path and "
        "seconds, usage, handle, timings) and nothing else",
    )
