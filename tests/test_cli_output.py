"""How ``say`` and ``chat`` print: streamed pieces, audio progress on a tty, ``--json``."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import orjson

import rawlive
from cli_support import run_cli, write_sine_wav
from rawlive.cli._output import TurnPrinter
from rawlive.testing import FakeLiveServer


class Stream(io.StringIO):
    """A text stream that records each write, with how many server frames had arrived then."""

    def __init__(self, counter: FrameCounter, tty: bool = False) -> None:
        super().__init__()
        self._counter = counter
        self._tty = tty
        self.writes: list[tuple[int, str]] = []

    def isatty(self) -> bool:
        return self._tty

    def write(self, s: str) -> int:
        self.writes.append((self._counter.frames, s))
        return super().write(s)


class FrameCounter:
    """An observer placed before the printer: counts server frames as they are read."""

    def __init__(self) -> None:
        self.frames = 0

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None:
        pass

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None:
        if direction == "server":
            self.frames += 1

    def on_close(self, conn: int, code: int, reason: str, by: str | None, dropped: bool) -> None:
        pass


async def run_turn(text: str, *, audio: bool, tty: bool) -> tuple[Stream, Stream, int]:
    counter = FrameCounter()
    out, err = Stream(counter, tty), Stream(counter, tty)
    printer = TurnPrinter(out, err, json_mode=False)
    async with (
        FakeLiveServer() as server,
        rawlive.connect(
            "rawlive-demo",
            endpoint=server.url,
            response_modalities=["AUDIO" if audio else "TEXT"],
            output_audio_transcription=audio,
            observers=[counter, printer],
        ) as session,
    ):
        printer.begin_turn(prompt=text)
        await session.send_text(text)
        turn = await session.receive_turn(timeout=10)
        await printer.end_turn(session, turn, None)
        total = counter.frames
    return out, err, total


async def test_text_is_printed_piece_by_piece_as_frames_arrive() -> None:
    out, err, total = await run_turn("Can you tell me a joke?", audio=False, tty=False)
    pieces = [(n, s) for n, s in out.writes if s != "\n"]
    assert len(pieces) >= 3  # the fake streams a few words per frame
    assert pieces[0][0] < total - 1  # the first piece was out long before turnComplete
    assert [n for n, _ in pieces] == sorted({n for n, _ in pieces})  # one write per frame
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1
    assert err.getvalue() == ""  # no progress and no notes off a terminal


async def test_audio_progress_on_a_terminal_only() -> None:
    _, err_pipe, _ = await run_turn("Hello", audio=True, tty=False)
    assert err_pipe.getvalue() == ""
    # stdout is a pipe, stderr a terminal: the seconds received are shown, then erased.
    counter = FrameCounter()
    out, err = Stream(counter, False), Stream(counter, True)
    printer = TurnPrinter(out, err, json_mode=False)
    async with (
        FakeLiveServer() as server,
        rawlive.connect(
            "rawlive-demo",
            endpoint=server.url,
            output_audio_transcription=True,
            observers=[counter, printer],
        ) as session,
    ):
        printer.begin_turn(prompt="Hello")
        await session.send_text("Hello")
        turn = await session.receive_turn(timeout=10)
        await printer.end_turn(session, turn, None)
    shown = [s for _, s in err.writes if "receiving audio:" in s]
    assert len(shown) >= 5
    assert shown[-1].endswith(f"{int(turn.audio_duration * 10) / 10:.1f} s")
    assert err.getvalue().endswith("\r\x1b[K")  # erased at the end of the turn
    assert out.getvalue() == "Hello there! How can I help you today?\n"


def test_say_json_is_one_object_and_nothing_else(tmp_path: Path) -> None:
    result = run_cli("say", "Hello", "--server", "demo", "--audio", "o.wav", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    obj = orjson.loads(lines[0])
    assert obj["output_transcript"] == "Hello there! How can I help you today?"
    assert obj["prompt"] == "Hello" and obj["text"] == ""
    with wave.open(str(tmp_path / "o.wav"), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    assert obj["audio"] == {"path": "o.wav", "seconds": round(seconds, 4), "rate": 24000}
    assert obj["usage"]["totalTokenCount"] > 0
    assert obj["handle"]
    timings = obj["timings"]
    assert 0 <= timings["input_sent_s"] <= timings["first_output_s"] <= timings["complete_s"]
    assert "usage:" not in result.stderr  # the footer is in the object


def test_chat_json_one_object_per_turn_with_both_transcripts(tmp_path: Path) -> None:
    write_sine_wav(tmp_path / "q.wav", rate=48000, channels=2, seconds=0.5)
    result = run_cli(
        "chat", "Hello", "q.wav", "--server", "demo", "--json", "--fast", "--modality", "text",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, second = (orjson.loads(line) for line in result.stdout.splitlines())
    assert first["turn"] == 0 and first["text"] == "Hello there! How can I help you today?"
    assert second["turn"] == 1 and second["input_audio"] == "q.wav"
    assert second["input_transcript"] == "(0.5 s of audio)"
    assert second["text"] == 'You said: "(0.5 s of audio)".'
    assert second["handle"] and second["handle"] != first["handle"]
