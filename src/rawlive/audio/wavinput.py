"""Any 16-bit PCM WAV file as Live API input audio: 16 kHz mono chunks. Stdlib only.

The Live API takes 16-bit little-endian mono PCM at 16 kHz
(:data:`~rawlive.audio.pcm.INPUT_RATE`). :class:`WavInput` reads a 16-bit
PCM WAV of one or two channels at any rate, averages stereo to mono, and
resamples with the windowed-sinc converter of :mod:`rawlive.audio.resample`.
Other sample widths (8, 24, 32 bit, float) and other channel counts are
refused with the command that converts them.
"""

from __future__ import annotations

import math
import os
import wave
from collections.abc import Iterator

from rawlive.audio.pcm import INPUT_RATE, SAMPLE_WIDTH, AudioChunk, pcm_mime
from rawlive.audio.resample import Resampler, downmix_to_mono
from rawlive.audio.wav import _convert_hint
from rawlive.errors import AudioFormatError, ConfigurationError

__all__ = ["WavInput"]


class WavInput:
    """A 16-bit PCM WAV file, read as 16 kHz mono chunks for ``realtimeInput.audio``.

    The header is read and checked at construction, so a bad file fails
    before anything is sent.

    Args:
        path: the WAV file.
        rate: the output rate (default 16000, what the Live API takes).

    Attributes:
        rate / channels / frames: the file's own rate, channels and frame count.
        duration: the file's duration in seconds.

    Raises:
        AudioFormatError: not a PCM WAV file, not 16-bit, or not mono or stereo;
            the message says how to convert it.
        OSError: the file cannot be read.
    """

    def __init__(self, path: str | os.PathLike[str], *, rate: int = INPUT_RATE) -> None:
        self.path = os.fspath(path)
        self.out_rate = rate
        try:
            with wave.open(self.path, "rb") as reader:
                self.rate = reader.getframerate()
                self.channels = reader.getnchannels()
                self.sample_width = reader.getsampwidth()
                self.frames = reader.getnframes()
        except (wave.Error, EOFError) as exc:
            raise AudioFormatError(
                f"{self.path} is not a 16-bit pcm wav file ({exc or 'truncated header'}); "
                f"{_convert_hint(self.path)}"
            ) from None
        if self.sample_width != SAMPLE_WIDTH:
            raise AudioFormatError(
                f"{self.path} holds {8 * self.sample_width}-bit samples; rawlive reads 16-bit "
                f"pcm wav files: {_convert_hint(self.path)}"
            )
        if self.channels not in (1, 2) or self.rate <= 0:
            raise AudioFormatError(
                f"{self.path} holds {self.channels} channels at {self.rate} Hz; rawlive reads "
                f"mono or stereo: {_convert_hint(self.path)}"
            )

    @property
    def duration(self) -> float:
        """The file's duration in seconds."""
        return self.frames / self.rate

    def chunks(self, chunk_ms: float = 100) -> Iterator[AudioChunk]:
        """Yield the audio as mono chunks at the output rate, about ``chunk_ms`` each.

        Raises:
            ConfigurationError: ``chunk_ms`` is not a positive number.
            AudioFormatError: the file changed since it was checked.
            OSError: the file cannot be read.
        """
        if not (math.isfinite(chunk_ms) and chunk_ms > 0):
            raise ConfigurationError(f"chunk_ms must be a positive number, got {chunk_ms!r}")
        mime = pcm_mime(self.out_rate)
        frames = max(1, round(self.rate * chunk_ms / 1000))
        resampler = Resampler(self.rate, self.out_rate)
        frame_bytes = self.channels * SAMPLE_WIDTH
        with wave.open(self.path, "rb") as reader:
            while data := reader.readframes(frames):
                data = data[: len(data) - len(data) % frame_bytes]  # a truncated last frame
                pcm = resampler.feed(downmix_to_mono(data, self.channels))
                if pcm:
                    yield AudioChunk(data=pcm, mime_type=mime)
        tail = resampler.flush()
        if tail:
            yield AudioChunk(data=tail, mime_type=mime)
