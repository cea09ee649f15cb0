"""The pure-Python resampler and the WAV input reader (no I/O beyond temp files)."""

from __future__ import annotations

import ast
import itertools
import math
import random
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

import rawlive.audio.resample
import rawlive.audio.wavinput
from cli_support import write_sine_wav
from rawlive.audio.resample import Resampler, downmix_to_mono, resample_pcm
from rawlive.audio.wavinput import WavInput
from rawlive.errors import AudioFormatError


def sine(freq: float, rate: int, seconds: float, amp: float = 10000.0) -> bytes:
    n = int(rate * seconds)
    return array(
        "h", (int(amp * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    ).tobytes()


def samples(pcm: bytes) -> array[int]:
    return array("h", pcm)


def power_at(x: array[int], freq: float, rate: int) -> float:
    """Goertzel power of ``x`` at ``freq`` (normalised by length squared)."""
    w = 2 * math.pi * freq / rate
    coeff = 2 * math.cos(w)
    s1 = s2 = 0.0
    for v in x:
        s1, s2 = v + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (len(x) ** 2)


def rms(x: array[int]) -> float:
    return math.sqrt(sum(v * v for v in x) / len(x))


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_a_sine_keeps_its_frequency_and_the_length_ratio_is_exact(rate: int) -> None:
    out = samples(resample_pcm(sine(1000, rate, 1.0), rate, 16000))
    assert len(out) == 16000  # one second in, one second out
    middle = out[200:-200]  # away from the edges, where the filter sees silence
    assert power_at(middle, 1000, 16000) > 100 * power_at(middle, 1500, 16000)
    crossings = sum(1 for a, b in itertools.pairwise(middle) if (a < 0) != (b < 0))
    assert abs(crossings / 2 / (len(middle) / 16000) - 1000) < 5
    assert 9500 < max(middle) < 10500  # the level is kept


def test_output_length_is_floor_of_the_ratio() -> None:
    for n in (0, 1, 2, 440, 441, 442, 1000):
        out = resample_pcm(bytes(2 * n), 44100, 16000)
        assert len(out) // 2 == n * 160 // 441


def test_a_tone_above_the_new_nyquist_is_filtered_out() -> None:
    # 10 kHz cannot exist at 16 kHz: without a low-pass it would alias to 6 kHz.
    out = samples(resample_pcm(sine(10000, 44100, 0.5), 44100, 16000))
    assert rms(out[100:-100]) < 100  # from an RMS of about 7000


def test_chunking_does_not_change_the_output() -> None:
    pcm = sine(440, 44100, 0.3) + sine(3000, 44100, 0.2)
    whole = resample_pcm(pcm, 44100, 16000)
    rng = random.Random(7)
    resampler = Resampler(44100, 16000)
    pieces, i = [], 0
    while i < len(pcm):
        step = 2 * rng.randint(1, 3000)
        pieces.append(resampler.feed(pcm[i : i + step]))
        i += step
    pieces.append(resampler.flush())
    assert b"".join(pieces) == whole


def test_equal_rates_pass_through_unchanged() -> None:
    pcm = sine(440, 16000, 0.1)
    assert resample_pcm(pcm, 16000, 16000) == pcm


def test_upsampling_doubles_the_length() -> None:
    out = samples(resample_pcm(sine(500, 8000, 0.5), 8000, 16000))
    assert len(out) == 8000
    assert power_at(out[100:-100], 500, 16000) > 100 * power_at(out[100:-100], 1500, 16000)


def test_downmix_averages_the_channels() -> None:
    stereo = array("h", [100, 300, -32768, -32768, 32767, -32768]).tobytes()
    assert list(samples(downmix_to_mono(stereo, 2))) == [200, -32768, 0]
    with pytest.raises(AudioFormatError):
        downmix_to_mono(array("h", [1, 2, 3]).tobytes(), 2)


def test_bad_input_is_refused() -> None:
    with pytest.raises(AudioFormatError):
        Resampler(0, 16000)
    with pytest.raises(AudioFormatError):
        Resampler(44100, 16000).feed(b"\x00")


def test_the_module_is_pure() -> None:
    code = (
        "import sys, rawlive.audio.resample, rawlive.audio.wavinput; "
        "print(sorted(m for m in ('asyncio', 'websockets') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"
    # No audioop (gone in 3.13; on older Pythons the stdlib's wave may import it itself).
    for module in (rawlive.audio.resample, rawlive.audio.wavinput):
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "audioop" not in imported


# -- WavInput ---------------------------------------------------------------------------


def test_a_stereo_44k_wav_becomes_16k_mono_chunks(tmp_path: Path) -> None:
    path = write_sine_wav(tmp_path / "in.wav", rate=44100, channels=2, seconds=1.0, freq=440)
    wav = WavInput(path)
    assert (wav.rate, wav.channels, wav.duration) == (44100, 2, 1.0)
    chunks = list(wav.chunks(100))
    assert {c.mime_type for c in chunks} == {"audio/pcm;rate=16000"}
    pcm = b"".join(c.data for c in chunks)
    assert len(pcm) == 2 * 16000
    out = samples(pcm)
    assert power_at(out[200:-200], 440, 16000) > 100 * power_at(out[200:-200], 880, 16000)
    assert all(len(c.data) <= 2 * 1700 for c in chunks)  # about 100 ms each


@pytest.mark.parametrize("width", [1, 3, 4])
def test_other_sample_widths_get_a_clear_error(tmp_path: Path, width: int) -> None:
    path = write_sine_wav(tmp_path / "w.wav", rate=16000, sample_width=width, seconds=0.1)
    with pytest.raises(AudioFormatError, match=rf"{8 * width}-bit samples.*ffmpeg"):
        WavInput(path)


def test_not_a_wav_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"ID3 this is an mp3")
    with pytest.raises(AudioFormatError, match="not a 16-bit pcm wav file"):
        WavInput(path)
