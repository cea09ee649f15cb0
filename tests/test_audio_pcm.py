"""Tests for rawlive.audio.pcm: MIME rates, base64 PCM, AudioChunk."""

from __future__ import annotations

import ast
import base64
import binascii
import dataclasses
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rawlive.audio
from rawlive.audio import (
    INPUT_RATE,
    OUTPUT_RATE,
    SAMPLE_WIDTH,
    AudioChunk,
    decode_pcm,
    encode_pcm,
    parse_pcm_mime,
    pcm_duration,
    pcm_mime,
)
from rawlive.errors import AudioFormatError

even_bytes = st.binary(max_size=4096).map(lambda b: b[: len(b) & ~1])


def assert_style(message: str) -> None:
    """Error messages are lowercase and have no trailing period (STYLE.md)."""
    assert not message[0].isupper(), message
    assert not message.endswith("."), message


# -- parse_pcm_mime -------------------------------------------------------------


@pytest.mark.parametrize(
    ("mime", "rate"),
    [
        ("audio/pcm;rate=24000", 24000),
        ("audio/pcm;rate=16000", 16000),
        ("AUDIO/PCM;RATE=16000", 16000),
        ("Audio/Pcm;Rate=44100", 44100),
        (" audio/pcm ; rate = 8000 ", 8000),
        ("audio/pcm; rate=16000; channels=1", 16000),
        ("audio/pcm;channels=1;rate=22050", 22050),
        ('audio/pcm;rate="16000"', 16000),
        ("audio/pcm;rate=16000;rate=16000", 16000),
        ("audio/L16;rate=16000", 16000),
        ("audio/l16; rate=48000; channels=1", 48000),
        ("audio/pcm", OUTPUT_RATE),
        ("audio/pcm;", OUTPUT_RATE),
        ("audio/pcm;channels=1", OUTPUT_RATE),
        ("audio/pcm;rateless", OUTPUT_RATE),
        ("audio/L16", OUTPUT_RATE),
        (None, OUTPUT_RATE),
    ],
)
def test_parse_pcm_mime(mime: str | None, rate: int) -> None:
    assert parse_pcm_mime(mime) == rate


def test_parse_pcm_mime_default_rate_only_applies_without_rate() -> None:
    assert parse_pcm_mime(None, default_rate=INPUT_RATE) == 16000
    assert parse_pcm_mime("audio/pcm", default_rate=INPUT_RATE) == 16000
    assert parse_pcm_mime("audio/pcm;rate=24000", default_rate=INPUT_RATE) == 24000


def test_rate_constants() -> None:
    assert (OUTPUT_RATE, INPUT_RATE, SAMPLE_WIDTH) == (24000, 16000, 2)


@pytest.mark.parametrize(
    ("mime", "fragment"),
    [
        ("audio/wav", "'audio/wav'"),
        ("image/jpeg", "'image/jpeg'"),
        ("", "''"),
        ("audio/pcmx;rate=16000", "'audio/pcmx;rate=16000'"),
        ("rate=16000", "'rate=16000'"),
    ],
)
def test_parse_pcm_mime_rejects_other_types(mime: str, fragment: str) -> None:
    with pytest.raises(AudioFormatError, match="not a raw pcm mime type") as info:
        parse_pcm_mime(mime)
    assert fragment in str(info.value)
    assert_style(str(info.value))


@pytest.mark.parametrize(
    ("mime", "value"),
    [
        ("audio/pcm;rate=abc", "'abc'"),
        ("audio/pcm;rate=0", "'0'"),
        ("audio/pcm;rate=-16000", "'-16000'"),
        ("audio/pcm;rate=+16000", "'+16000'"),
        ("audio/pcm;rate=", "''"),
        ("audio/pcm;rate=16000.0", "'16000.0'"),
        ("audio/pcm;rate=16_000", "'16_000'"),
        ("audio/pcm;rate=\u0661\u0666", "'\u0661\u0666'"),
    ],
)
def test_parse_pcm_mime_rejects_bad_rates(mime: str, value: str) -> None:
    with pytest.raises(AudioFormatError, match="bad sample rate") as info:
        parse_pcm_mime(mime)
    message = str(info.value)
    assert value in message
    assert repr(mime) in message
    assert_style(message)


def test_parse_pcm_mime_rejects_conflicting_rates() -> None:
    with pytest.raises(AudioFormatError, match="conflicting sample rates"):
        parse_pcm_mime("audio/pcm;rate=16000;rate=24000")


def test_audio_format_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_pcm_mime("audio/wav")


@given(st.integers(min_value=1, max_value=10**7))
def test_pcm_mime_round_trips(rate: int) -> None:
    assert pcm_mime(rate) == f"audio/pcm;rate={rate}"
    assert parse_pcm_mime(pcm_mime(rate), default_rate=1) == rate


@pytest.mark.parametrize("rate", [0, -1, True, 16000.0])
def test_pcm_mime_rejects_bad_rates(rate: int) -> None:
    with pytest.raises(AudioFormatError, match="bad sample rate"):
        pcm_mime(rate)


# -- decode_pcm / encode_pcm ----------------------------------------------------

# 256 bytes: the standard alphabet needs '+' and '/', and 256 % 3 == 1 leaves "==".
SAMPLE = bytes(range(256))


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(SAMPLE).decode(),
        base64.urlsafe_b64encode(SAMPLE).decode(),
        base64.b64encode(SAMPLE).decode().rstrip("="),
        base64.urlsafe_b64encode(SAMPLE).decode().rstrip("="),
    ],
    ids=["standard", "urlsafe", "standard-unpadded", "urlsafe-unpadded"],
)
def test_decode_pcm_accepts_every_base64_form(text: str) -> None:
    assert decode_pcm(text) == SAMPLE
    assert decode_pcm(text, "audio/pcm;rate=24000") == SAMPLE


def test_sample_covers_both_alphabets() -> None:
    # Guards the parametrization above: the forms must actually differ.
    std = base64.b64encode(SAMPLE).decode()
    assert "+" in std and "/" in std and std.endswith("==")


def test_decode_pcm_empty() -> None:
    assert decode_pcm("") == b""


@pytest.mark.parametrize("text", ["AAAAA", "AAAAAAAAA", "AA!A", "AAAA AAAA", "A=AA"])
def test_decode_pcm_rejects_bad_base64(text: str) -> None:
    with pytest.raises(AudioFormatError, match="invalid base64 audio data") as info:
        decode_pcm(text)
    assert isinstance(info.value.__cause__, binascii.Error)
    assert f"({len(text)} characters)" in str(info.value)
    assert_style(str(info.value))


@pytest.mark.parametrize("size", [1, 3, 4801])
def test_decode_pcm_rejects_odd_length(size: int) -> None:
    with pytest.raises(AudioFormatError) as info:
        decode_pcm(base64.b64encode(bytes(size)).decode())
    message = str(info.value)
    assert "16-bit" in message and "even number of bytes" in message
    assert f"got {size} bytes" in message
    assert_style(message)


@pytest.mark.parametrize("mime", ["audio/wav", "audio/pcm;rate=0"])
def test_decode_pcm_checks_the_mime_type(mime: str) -> None:
    with pytest.raises(AudioFormatError):
        decode_pcm("AAAA", mime)


def test_encode_pcm_is_standard_padded_base64() -> None:
    assert encode_pcm(SAMPLE) == base64.b64encode(SAMPLE).decode("ascii")
    assert encode_pcm(b"") == ""


def test_encode_pcm_rejects_odd_length() -> None:
    with pytest.raises(AudioFormatError, match="even number of bytes, got 3 bytes"):
        encode_pcm(b"abc")


@given(even_bytes)
def test_encode_decode_round_trip(pcm: bytes) -> None:
    text = encode_pcm(pcm)
    assert decode_pcm(text) == pcm
    unpadded_urlsafe = base64.urlsafe_b64encode(pcm).decode().rstrip("=")
    assert decode_pcm(unpadded_urlsafe) == pcm


# -- pcm_duration / AudioChunk --------------------------------------------------


@pytest.mark.parametrize(
    ("nbytes", "rate", "seconds"),
    [(48000, 24000, 1.0), (32000, 16000, 1.0), (3200, 16000, 0.1), (0, 24000, 0.0)],
)
def test_pcm_duration(nbytes: int, rate: int, seconds: float) -> None:
    assert pcm_duration(nbytes, rate) == pytest.approx(seconds)


def test_pcm_duration_rejects_bad_input() -> None:
    with pytest.raises(AudioFormatError, match="bad sample rate"):
        pcm_duration(100, 0)
    with pytest.raises(ValueError, match="negative"):
        pcm_duration(-2, 16000)


def test_audio_chunk_rate_and_duration() -> None:
    chunk = AudioChunk(data=bytes(3200), mime_type="audio/pcm;rate=16000")
    assert chunk.rate == 16000
    assert chunk.duration == pytest.approx(0.1)
    assert AudioChunk(data=b"", mime_type="audio/pcm").rate == OUTPUT_RATE


def test_audio_chunk_is_a_frozen_keyword_only_record() -> None:
    chunk = AudioChunk(data=b"\0\0", mime_type="audio/pcm;rate=16000")
    with pytest.raises(dataclasses.FrozenInstanceError):
        chunk.data = b""  # type: ignore[misc]
    with pytest.raises(TypeError):
        AudioChunk(b"\0\0", "audio/pcm;rate=16000")  # type: ignore[misc]
    assert not hasattr(chunk, "__dict__")
    assert chunk == AudioChunk(data=b"\0\0", mime_type="audio/pcm;rate=16000")


def test_audio_chunk_validates_its_fields() -> None:
    with pytest.raises(AudioFormatError, match="not a raw pcm mime type"):
        AudioChunk(data=b"", mime_type="audio/wav")
    with pytest.raises(AudioFormatError, match="even number of bytes, got 3 bytes"):
        AudioChunk(data=b"abc", mime_type="audio/pcm;rate=16000")


# -- package shape ----------------------------------------------------------------


def test_audio_package_imports_only_stdlib_and_rawlive_basics() -> None:
    # STYLE.md: audio/ never imports asyncio or websockets (nor any third party).
    # Checked on the source, because importing rawlive itself may pull the client in.
    package_dir = Path(rawlive.audio.__file__).parent
    allowed_local = {"rawlive.errors", "rawlive.b64", "rawlive.audio.pcm", "rawlive.audio.wav"}
    for source in sorted(package_dir.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{source.name}: relative import"
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top == "rawlive":
                    in_audio = name.startswith("rawlive.audio.")
                    assert in_audio or name in allowed_local, f"{source.name} imports {name}"
                else:
                    assert top in sys.stdlib_module_names, f"{source.name} imports {name}"
                    assert top not in {"asyncio", "socket", "threading"}, name


def test_all_is_sorted_and_complete() -> None:
    assert rawlive.audio.__all__ == sorted(rawlive.audio.__all__)
    for name in rawlive.audio.__all__:
        assert getattr(rawlive.audio, name) is not None
        obj = getattr(rawlive.audio, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"
