"""Tests for rawlive.audio.wav: the streaming writer and the chunked readers.

Files are real (tmp_path) and are read back with the stdlib ``wave`` module,
never with the code under test.
"""

from __future__ import annotations

import io
import itertools
import math
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import wave
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rawlive.audio
from rawlive.audio import AudioChunk, WavWriter, pcm_mime, read_wav, read_wav_chunks
from rawlive.errors import AudioFormatError, ConfigurationError, WriterClosedError

SRC_DIR = Path(rawlive.audio.__file__).resolve().parents[2]
RATES = [8000, 16000, 22050, 24000, 44100, 48000]
tmp_examples = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, max_examples=60
)


def ramp(nbytes: int) -> bytes:
    """Deterministic, non-repeating-looking PCM of ``nbytes`` bytes."""
    return bytes((i * 7 + i // 251) & 0xFF for i in range(nbytes))


def read_back(path: Path | io.BytesIO) -> tuple[bytes, int, int, int]:
    """(frames, rate, channels, sample width) as the stdlib sees the file."""
    if isinstance(path, io.BytesIO):
        path.seek(0)
    with wave.open(path if isinstance(path, io.BytesIO) else str(path), "rb") as w:
        return w.readframes(w.getnframes()), w.getframerate(), w.getnchannels(), w.getsampwidth()


def write_stdlib_wav(
    path: Path, pcm: bytes, *, rate: int = 16000, channels: int = 1, width: int = 2
) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path


@st.composite
def split_pcm(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """Even-length PCM and an arbitrary split of it (pieces may be odd or empty)."""
    pcm = draw(st.binary(max_size=3000).map(lambda b: b[: len(b) & ~1]))
    cuts = sorted(draw(st.lists(st.integers(0, len(pcm)), max_size=12)))
    bounds = [0, *cuts, len(pcm)]
    return pcm, [pcm[a:b] for a, b in itertools.pairwise(bounds)]


# -- WavWriter: basics ----------------------------------------------------------


def test_header_written_at_open_is_a_valid_empty_wav(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    writer = WavWriter(path, rate=16000)
    try:
        assert read_back(path) == (b"", 16000, 1, 2)
        assert path.stat().st_size == 44
    finally:
        writer.close()
    assert read_back(path) == (b"", 16000, 1, 2)


def test_context_manager_properties_and_double_close(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    pcm = ramp(48000)
    with WavWriter(str(path)) as writer:
        assert writer.path == path
        writer.write(pcm)
        assert writer.frames_written == 24000
        assert writer.bytes_written == 48000
        assert writer.duration == pytest.approx(1.0)
        assert (writer.rate, writer.channels, writer.sample_width) == (24000, 1, 2)
        assert not writer.closed
    assert writer.closed
    writer.close()
    assert read_back(path) == (pcm, 24000, 1, 2)
    assert path.stat().st_size == 44 + 48000
    with pytest.raises(WriterClosedError, match="closed"):
        writer.write(b"\0\0")
    with pytest.raises(ValueError, match="closed"):
        writer.flush()


@tmp_examples
@given(data=split_pcm(), rate=st.sampled_from(RATES))
def test_round_trip_arbitrary_chunking(
    tmp_path: Path, data: tuple[bytes, list[bytes]], rate: int
) -> None:
    pcm, pieces = data
    path = tmp_path / "round.wav"
    with WavWriter(path, rate=rate, flush_every=0.01) as writer:
        for piece in pieces:
            writer.write(piece)
    assert read_back(path) == (pcm, rate, 1, 2)
    assert writer.frames_written == len(pcm) // 2


@tmp_examples
@given(
    frames=st.integers(0, 300),
    channels=st.integers(1, 3),
    cuts=st.lists(st.integers(0, 3600), max_size=8),
)
def test_round_trip_other_formats(
    tmp_path: Path, frames: int, channels: int, cuts: list[int]
) -> None:
    width = 2
    pcm = ramp(frames * channels * width)
    bounds = [0, *sorted(c for c in cuts if c <= len(pcm)), len(pcm)]
    path = tmp_path / "fmt.wav"
    with WavWriter(path, rate=8000, channels=channels) as writer:
        for a, b in itertools.pairwise(bounds):
            writer.write(pcm[a:b])
    assert read_back(path) == (pcm, 8000, channels, width)
    # RIFF: sizes match the file, and odd data gets a pad byte.
    raw = path.read_bytes()
    assert len(raw) % 2 == 0
    assert struct.unpack_from("<I", raw, 4)[0] == len(raw) - 8
    assert struct.unpack_from("<I", raw, 40)[0] == len(pcm)


def test_odd_total_is_finalized_then_reported(tmp_path: Path) -> None:
    path = tmp_path / "odd.wav"
    writer = WavWriter(path, rate=16000)
    writer.write(b"\x01\x02\x03")
    assert writer.frames_written == 1
    with pytest.raises(AudioFormatError, match=r"dropped 1 trailing byte") as info:
        writer.close()
    assert "2 bytes per frame" in str(info.value)
    assert writer.closed
    assert read_back(path) == (b"\x01\x02", 16000, 1, 2)
    writer.close()  # already closed: no second error


def test_context_manager_does_not_mask_another_exception(tmp_path: Path) -> None:
    path = tmp_path / "masked.wav"
    with pytest.raises(KeyError), WavWriter(path) as writer:
        writer.write(b"\x01\x02\x03")
        raise KeyError("original")
    assert read_back(path)[0] == b"\x01\x02"


def test_context_manager_reports_dropped_bytes(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError, match="dropped 1 trailing byte"):
        with WavWriter(tmp_path / "x.wav") as writer:
            writer.write(b"\0")


def test_partial_sample_is_carried_across_writes(tmp_path: Path) -> None:
    path = tmp_path / "carry.wav"
    with WavWriter(path, rate=16000, flush_every=None) as writer:
        writer.write(b"\x01")
        assert writer.bytes_written == 0
        writer.write(b"\x02\x03")
        assert writer.bytes_written == 2
        writer.write(b"\x04\x05\x06\x07")
        assert writer.bytes_written == 6
        writer.write(memoryview(b"\x08"))
        writer.write(bytearray())
    assert read_back(path)[0] == bytes(range(1, 9))


def test_file_object_is_left_open_unless_told(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with WavWriter(buffer, rate=16000) as writer:
        assert writer.path is None
        writer.write(ramp(640))
    assert not buffer.closed
    assert read_back(buffer) == (ramp(640), 16000, 1, 2)

    with open(tmp_path / "f.wav", "wb") as f:
        with WavWriter(f, close_file=True) as writer:
            writer.write(ramp(64))
        assert f.closed
    assert read_back(tmp_path / "f.wav")[0] == ramp(64)


def test_file_object_is_written_from_its_position() -> None:
    buffer = io.BytesIO()
    buffer.write(b"prefix--")
    with WavWriter(buffer, rate=16000) as writer:
        writer.write(ramp(100))
    embedded = io.BytesIO(buffer.getvalue()[8:])
    assert read_back(embedded) == (ramp(100), 16000, 1, 2)
    assert buffer.getvalue()[:8] == b"prefix--"


class Unseekable(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        return len(b)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rate": 0}, AudioFormatError, "bad sample rate 0"),
        ({"rate": -8000}, AudioFormatError, "bad sample rate"),
        ({"channels": 0}, AudioFormatError, "bad channel count 0"),
        ({"flush_every": 0}, ConfigurationError, "flush_every"),
        ({"flush_every": -1.0}, ConfigurationError, "flush_every"),
        ({"flush_every": math.nan}, ConfigurationError, "flush_every"),
    ],
)
def test_writer_rejects_bad_arguments(
    tmp_path: Path, kwargs: dict[str, float], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as info:
        WavWriter(tmp_path / "bad.wav", **kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_writer_rejects_unusable_file_objects(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="seekable"):
        WavWriter(Unseekable())  # type: ignore[arg-type]
    with open(tmp_path / "a.wav", "ab") as f, pytest.raises(ConfigurationError, match="append"):
        WavWriter(f)


# -- WavWriter: crash safety ----------------------------------------------------


def test_explicit_flush_makes_everything_readable_while_open(tmp_path: Path) -> None:
    path = tmp_path / "live.wav"
    first, second = ramp(3200), ramp(4800)[::-1]
    writer = WavWriter(path, rate=16000, flush_every=None)
    try:
        writer.write(first[:1001])
        writer.write(first[1001:])
        writer.flush()
        assert read_back(path) == (first, 16000, 1, 2)
        writer.write(second)  # not flushed yet: the header still says `first`
        assert read_back(path)[0] == first
        writer.flush()
        assert read_back(path)[0] == first + second
    finally:
        writer.close()
    assert read_back(path)[0] == first + second


def test_automatic_flush_every_interval(tmp_path: Path) -> None:
    path = tmp_path / "auto.wav"
    pcm = ramp(16000)  # 0.5 s at 16 kHz
    writer = WavWriter(path, rate=16000, flush_every=0.1)
    try:
        for i in range(0, len(pcm), 320):  # 10 ms chunks
            writer.write(pcm[i : i + 320])
        # 0.5 s is a multiple of 0.1 s: every frame is covered by a flush.
        assert read_back(path)[0] == pcm
        writer.write(pcm[:640])  # 20 ms more: below the interval
        assert read_back(path)[0] == pcm
    finally:
        writer.close()


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {src!r})
    from rawlive.audio import WavWriter
    pcm = bytes.fromhex({pcm_hex!r})
    w = WavWriter({path!r}, rate=16000, flush_every=0.05)
    for i in range(0, len(pcm), 321):  # odd-sized pieces
        w.write(pcm[i:i + 321])
    if {explicit_flush!r}:
        w.flush()
    w.write(b"\\x7f" * {tail})
    os._exit(1)
    """
)
FLUSH_BYTES = 1600  # flush_every=0.05 s at 16 kHz, 16-bit mono


def crash_writer(path: Path, pcm: bytes, *, tail: int, explicit_flush: bool = False) -> None:
    """Write pcm then tail in a subprocess that dies without closing the writer."""
    script = CRASH_SCRIPT.format(
        src=str(SRC_DIR),
        pcm_hex=pcm.hex(),
        path=str(path),
        tail=tail,
        explicit_flush=explicit_flush,
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == 1, result.stderr.decode()


def test_killed_process_leaves_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "crash.wav"
    pcm = ramp(32000)
    crash_writer(path, pcm, tail=600)
    frames, rate, channels, width = read_back(path)
    assert (rate, channels, width) == (16000, 1, 2)
    written = pcm + b"\x7f" * 600
    # Automatic flushes leave less than one interval uncovered.
    assert written.startswith(frames)
    assert len(frames) > len(written) - FLUSH_BYTES


def test_killed_process_keeps_everything_explicitly_flushed(tmp_path: Path) -> None:
    path = tmp_path / "crash.wav"
    pcm = ramp(32000)
    crash_writer(path, pcm, tail=600, explicit_flush=True)  # tail < one interval
    assert read_back(path) == (pcm, 16000, 1, 2)


def test_memory_stays_constant_for_long_recordings(tmp_path: Path) -> None:
    chunk = ramp(1280)  # 40 ms at 16 kHz
    count = 30 * 60 * 25  # 30 minutes
    tracemalloc.start()
    try:
        with WavWriter(tmp_path / "long.wav", rate=16000) as writer:
            for _ in range(count):
                writer.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert writer.duration == pytest.approx(1800.0)
    assert (tmp_path / "long.wav").stat().st_size == 44 + count * len(chunk)
    assert peak < 256 * 1024, f"peak traced memory {peak} bytes"


# -- readers -------------------------------------------------------------------------


@tmp_examples
@given(
    pcm=st.binary(max_size=20000).map(lambda b: b[: len(b) & ~1]),
    rate=st.sampled_from(RATES),
    chunk_ms=st.floats(min_value=0.01, max_value=500),
)
def test_read_wav_chunks_round_trip(tmp_path: Path, pcm: bytes, rate: int, chunk_ms: float) -> None:
    path = write_stdlib_wav(tmp_path / "in.wav", pcm, rate=rate)
    chunks = list(read_wav_chunks(path, chunk_ms=chunk_ms))
    assert b"".join(c.data for c in chunks) == pcm
    expected = max(1, round(rate * chunk_ms / 1000)) * 2
    assert all(len(c.data) == expected for c in chunks[:-1])
    if chunks:
        assert 0 < len(chunks[-1].data) <= expected
    assert all(isinstance(c, AudioChunk) and c.mime_type == pcm_mime(rate) for c in chunks)


def test_read_wav_chunks_default_is_100_ms(tmp_path: Path) -> None:
    path = write_stdlib_wav(tmp_path / "in.wav", ramp(32000 + 100), rate=16000)
    sizes = [len(c.data) for c in read_wav_chunks(str(path))]
    assert sizes == [3200] * 10 + [100]
    assert read_wav_chunks(path).__next__().duration == pytest.approx(0.1)


def test_read_wav_chunks_from_a_file_object(tmp_path: Path) -> None:
    path = write_stdlib_wav(tmp_path / "in.wav", ramp(1000), rate=24000)
    with open(path, "rb") as f:
        chunks = list(read_wav_chunks(f, chunk_ms=5))
        assert not f.closed
    assert [len(c.data) for c in chunks] == [240, 240, 240, 240, 40]
    assert chunks[0].rate == 24000


def test_read_wav(tmp_path: Path) -> None:
    path = write_stdlib_wav(tmp_path / "in.wav", ramp(5000), rate=22050)
    assert read_wav(path) == (ramp(5000), 22050)
    assert read_wav(str(path)) == (ramp(5000), 22050)
    with open(path, "rb") as f:
        assert read_wav(f) == (ramp(5000), 22050)


def test_reader_reads_what_the_writer_wrote(tmp_path: Path) -> None:
    path = tmp_path / "both.wav"
    with WavWriter(path, rate=16000) as writer:
        writer.write(ramp(7000))
    assert read_wav(path) == (ramp(7000), 16000)


def assert_conversion_hint(message: str) -> None:
    assert "ffmpeg -i" in message and "-ac 1" in message and "-sample_fmt s16" in message
    assert "sox" in message and "-b 16" in message


@pytest.mark.parametrize(
    ("channels", "width", "found"),
    [(2, 2, "2 channel(s), 16-bit"), (1, 1, "1 channel(s), 8-bit"), (1, 3, "24-bit")],
)
def test_readers_reject_formats_the_api_does_not_take(
    tmp_path: Path, channels: int, width: int, found: str
) -> None:
    path = write_stdlib_wav(
        tmp_path / "in.wav", ramp(120 * channels * width), channels=channels, width=width
    )
    for read in (read_wav, lambda p: list(read_wav_chunks(p))):
        with pytest.raises(AudioFormatError) as info:
            read(path)
        message = str(info.value)
        assert found in message and "16-bit mono" in message
        assert str(path) in message
        assert_conversion_hint(message)


@pytest.mark.parametrize(
    "content", [b"", b"RIFF", b"ID3\x03\x00 not a wav", b"RIFF\x10\x00\x00\x00AVI LIST"]
)
def test_readers_reject_non_wav_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "song.mp3"
    path.write_bytes(content)
    for read in (read_wav, lambda p: list(read_wav_chunks(p))):
        with pytest.raises(AudioFormatError, match="is not a pcm wav file") as info:
            read(path)
        assert isinstance(info.value.__cause__, (wave.Error, EOFError))
        assert_conversion_hint(str(info.value))
    with pytest.raises(AudioFormatError, match="input is not a pcm wav file"):
        read_wav(io.BytesIO(content))


@pytest.mark.parametrize("chunk_ms", [0, -10, math.inf, math.nan])
def test_read_wav_chunks_rejects_bad_chunk_ms(tmp_path: Path, chunk_ms: float) -> None:
    path = write_stdlib_wav(tmp_path / "in.wav", ramp(100))
    with pytest.raises(ValueError, match="chunk_ms"):
        read_wav_chunks(path, chunk_ms=chunk_ms)  # raised before iteration


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_read_wav_chunks_closes_the_file_when_the_iterator_is_closed(tmp_path: Path) -> None:
    path = write_stdlib_wav(tmp_path / "in.wav", ramp(32000))

    def is_open() -> bool:
        fds = Path("/proc/self/fd").iterdir()
        return any(_readlink(fd) == str(path) for fd in fds)

    chunks = read_wav_chunks(path, chunk_ms=10)
    assert not is_open()  # opened lazily, when iteration starts
    next(chunks)
    assert is_open()
    chunks.close()
    assert not is_open()


def _readlink(fd: Path) -> str:
    try:
        return str(fd.readlink())
    except OSError:
        return ""


def test_truncate_cuts_back_to_whole_frames_and_the_file_stays_valid(tmp_path: Path) -> None:
    # What a reconnecting session does with a reply that is answered again.
    path = tmp_path / "cut.wav"
    pcm = ramp(4000)
    writer = WavWriter(path, rate=16000)
    writer.write(pcm)
    writer.write(b"\x01")  # a carried-over partial frame, dropped by truncate
    writer.truncate(1001)  # not a whole frame: cut to 1000
    assert writer.bytes_written == 1000
    writer.write(pcm[:10])
    writer.close()
    assert read_back(path) == (pcm[:1000] + pcm[:10], 16000, 1, 2)
    with pytest.raises(WriterClosedError, match="closed") as info:
        writer.truncate(0)
    assert isinstance(info.value, ValueError)
