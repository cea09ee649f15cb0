"""``say --input-audio`` and WAV turns in ``chat``: realtime audio in, both transcripts out."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson

from cli_support import run_cli, write_sine_wav
from rawlive.capture.format import read_capture


def test_say_input_audio_streams_16k_audio_and_prints_both_transcripts(tmp_path: Path) -> None:
    write_sine_wav(tmp_path / "in.wav", rate=44100, channels=2, seconds=0.6)
    result = run_cli(
        "say", "--input-audio", "in.wav", "--fast", "--server", "demo", "--record", "r.jsonl",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "> (0.6 s of audio)" in result.stderr.splitlines()  # the input transcript
    assert result.stdout == 'You said: "(0.6 s of audio)".\n'  # the output transcript
    client = [orjson.loads(f.text) for f in read_capture(tmp_path / "r.jsonl").frames("client")]
    setup = client[0]["setup"]
    assert "inputAudioTranscription" in setup and "outputAudioTranscription" in setup
    audio = [m["realtimeInput"]["audio"] for m in client[1:-1]]
    assert audio and {a["mimeType"] for a in audio} == {"audio/pcm;rate=16000"}
    assert client[-1] == {"realtimeInput": {"audioStreamEnd": True}}
    sent = sum(len(base64.b64decode(a["data"])) for a in audio)
    assert sent == 2 * round(0.6 * 16000)  # resampled to 16 kHz, exactly


def test_say_input_audio_is_paced_at_real_time(tmp_path: Path) -> None:
    write_sine_wav(tmp_path / "in.wav", rate=16000, seconds=0.5)
    result = run_cli(
        "say", "--input-audio", "in.wav", "--server", "demo", "--modality", "text",
        "--record", "paced.jsonl",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    frames = read_capture(tmp_path / "paced.jsonl").frames("client")
    audio = [f for f in frames if "audio" in f.text and "audioStreamEnd" not in f.text]
    assert len(audio) == 5  # 100 ms chunks
    # Paced against the clock from the first chunk: the fifth may not leave before 400 ms
    # after it; 100 ms of that is left to the first send's own delay (a busy machine).
    assert audio[-1].t - audio[0].t >= 0.3


def test_fast_skips_pacing(tmp_path: Path) -> None:
    # A minute of audio paced at real time would outlast the 30 s this run is given.
    write_sine_wav(tmp_path / "long.wav", rate=16000, seconds=60.0)
    result = run_cli(
        "say", "--input-audio", "long.wav", "--fast", "--server", "demo", "--modality", "text",
        cwd=tmp_path, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'You said: "(60.0 s of audio)".\n'


def test_other_sample_widths_are_one_clear_line(tmp_path: Path) -> None:
    write_sine_wav(tmp_path / "in24.wav", rate=16000, sample_width=3, seconds=0.1)
    result = run_cli("say", "--input-audio", "in24.wav", "--server", "demo", cwd=tmp_path)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("rawlive: error: in24.wav holds 24-bit samples") and "ffmpeg" in line


def test_text_and_input_audio_together_or_neither_are_refused(tmp_path: Path) -> None:
    write_sine_wav(tmp_path / "in.wav", rate=16000, seconds=0.1)
    for args in (("Hello", "--input-audio", "in.wav"), ()):
        result = run_cli("say", *args, "--server", "demo", cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            "rawlive: error: give TEXT or --input-audio IN.wav (one of them)"
        )
    missing = run_cli("say", "--input-audio", "nope.wav", "--server", "demo", cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "rawlive: error: nope.wav: no such file"


def test_chat_sends_an_existing_wav_argument_as_audio(tmp_path: Path) -> None:
    write_sine_wav(tmp_path / "q.wav", rate=8000, seconds=1.0)
    result = run_cli(
        "chat", "Hello", "q.wav", "missing.wav", "--server", "demo", "--modality", "text",
        "--fast",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Hello there! How can I help you today?",
        'You said: "(1.0 s of audio)".',
        'You said: "missing.wav".',  # no such file: it is text
    ]
    assert "> (1.0 s of audio)" in result.stderr.splitlines()


def test_a_bad_wav_line_on_stdin_is_one_line_and_the_chat_goes_on(tmp_path: Path) -> None:
    write_sine_wav(tmp_path / "bad.wav", rate=16000, sample_width=3, seconds=0.1)
    write_sine_wav(tmp_path / "good.wav", rate=22050, channels=2, seconds=0.4)
    result = run_cli(
        "chat", "--server", "demo", "--modality", "text", "--fast",
        cwd=tmp_path, stdin="bad.wav\ngood.wav\nHello\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        'You said: "(0.4 s of audio)".',
        "Hello there! How can I help you today?",
    ]
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("rawlive: error: bad.wav holds 24-bit")
    assert "resume handle:" in result.stderr
