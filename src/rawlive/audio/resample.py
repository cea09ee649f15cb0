"""Sample-rate conversion and downmixing of 16-bit PCM, in pure Python (stdlib only).

``audioop`` left the standard library in Python 3.13, and rawlive adds no
dependency for audio, so this module converts rates itself.

Method: **band-limited interpolation with a windowed-sinc filter** (the
method of Smith's "Digital Audio Resampling", used by libsamplerate and
``resampy``). Output sample ``n`` sits at input time ``t = n * in_rate /
out_rate``; it is the sum of the input samples within ``ZERO_CROSSINGS``
sinc lobes of ``t``, each weighted by a sinc low-pass whose cutoff is
``ROLLOFF`` times the lower of the two Nyquist frequencies, under a Blackman
window. The cutoff removes what the lower rate cannot carry (no aliasing
when downsampling, no images when upsampling). Each filter phase is
normalised to unit DC gain. The ratio is kept as an exact fraction, so the
phases repeat and are computed once; the output has exactly
``floor(n_in * out_rate / in_rate)`` samples, whatever the chunking.

Theory of operation: :class:`Resampler` is a streaming state machine. Feed it
samples with :meth:`~Resampler.feed` (any chunk sizes) and it returns every
output sample whose filter support it has seen; :meth:`~Resampler.flush`
pads the end with silence and returns the rest. Feeding the whole input at
once or in pieces gives the same samples.

Everything here is pure: no I/O, no asyncio.
"""

from __future__ import annotations

import array
import math
import sys
from collections.abc import Sequence
from operator import mul

from rawlive.errors import AudioFormatError

__all__ = ["ROLLOFF", "ZERO_CROSSINGS", "Resampler", "downmix_to_mono", "resample_pcm"]

ZERO_CROSSINGS = 16
"""Sinc lobes on each side of an output sample (filter half-length, at the lower rate)."""
ROLLOFF = 0.94
"""The cutoff as a fraction of the lower Nyquist frequency (leaves a transition band)."""

_BIG_ENDIAN = sys.byteorder == "big"


def _samples(pcm: bytes) -> array.array[int]:
    if len(pcm) & 1:
        raise AudioFormatError(f"16-bit pcm needs an even number of bytes, got {len(pcm)}")
    samples = array.array("h", pcm)
    if _BIG_ENDIAN:  # pragma: no cover - PCM on the wire and in WAV is little-endian
        samples.byteswap()
    return samples


def _to_bytes(samples: Sequence[float]) -> bytes:
    out = array.array("h", (max(-32768, min(32767, round(s))) for s in samples))
    if _BIG_ENDIAN:  # pragma: no cover
        out.byteswap()
    return out.tobytes()


def downmix_to_mono(pcm: bytes, channels: int) -> bytes:
    """Return 16-bit little-endian PCM of ``channels`` interleaved channels as mono.

    Each output sample is the mean of the frame's channels, rounded (so a
    signal present in one channel only is halved, never clipped).

    Raises:
        AudioFormatError: ``channels`` is not positive, or the bytes are not
            whole frames.
    """
    if channels < 1:
        raise AudioFormatError(f"bad channel count {channels}")
    if channels == 1:
        return pcm
    samples = _samples(pcm)
    if len(samples) % channels:
        raise AudioFormatError(f"{len(samples)} samples are not whole {channels}-channel frames")
    columns = [samples[c::channels] for c in range(channels)]
    return _to_bytes([sum(frame) / channels for frame in zip(*columns, strict=True)])


def _blackman(x: float) -> float:
    """The Blackman window on ``[-1, 1]`` (1 at the centre, 0 at the ends)."""
    if abs(x) >= 1.0:
        return 0.0
    a = math.pi * (x + 1.0)
    return 0.42 - 0.5 * math.cos(a) + 0.08 * math.cos(2.0 * a)


class Resampler:
    """Streaming windowed-sinc rate converter for 16-bit mono PCM (see the module docs).

    Args:
        in_rate: the input rate in Hz.
        out_rate: the output rate in Hz.

    Raises:
        AudioFormatError: a rate is not a positive integer.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        for name, rate in (("input", in_rate), ("output", out_rate)):
            if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
                raise AudioFormatError(f"bad {name} sample rate {rate!r}")
        g = math.gcd(in_rate, out_rate)
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._up = out_rate // g  # output sample n sits at input time n * down / up
        self._down = in_rate // g
        self._cutoff = ROLLOFF * min(1.0, out_rate / in_rate)  # of the input Nyquist
        self._half = math.ceil(ZERO_CROSSINGS / min(1.0, out_rate / in_rate))
        self._phases: dict[int, list[float]] = {}
        # _buf[i] is input sample (_base + i); samples before 0 are silence.
        self._buf: list[float] = [0.0] * (self._half - 1)
        self._base = -(self._half - 1)
        self._fed = 0  # input samples fed
        self._made = 0  # output samples returned
        self._flushed = False

    @property
    def passthrough(self) -> bool:
        """Whether the rates are equal (the samples are returned unchanged)."""
        return self.in_rate == self.out_rate

    def _taps(self, phase: int) -> list[float]:
        """Filter weights for input offsets ``-half+1 .. half`` at fractional time phase/up."""
        taps = self._phases.get(phase)
        if taps is None:
            frac = phase / self._up
            fc, half = self._cutoff, self._half
            taps = []
            for j in range(-half + 1, half + 1):
                x = j - frac
                arg = math.pi * fc * x
                sinc = 1.0 if arg == 0.0 else math.sin(arg) / arg
                taps.append(sinc * _blackman(x / half))
            total = sum(taps)
            taps = [t / total for t in taps]
            self._phases[phase] = taps
        return taps

    def _make(self, limit: int) -> bytes:
        """Return the output samples from ``_made`` up to ``limit`` that the buffer covers."""
        up, down, half = self._up, self._down, self._half
        buf, base = self._buf, self._base
        have = base + len(buf)  # input samples 0 .. have-1 are in (or before) the buffer
        out: list[float] = []
        n = self._made
        while n < limit:
            pos = n * down
            idx, phase = divmod(pos, up)
            if idx + half >= have:
                break
            start = idx - half + 1 - base
            out.append(sum(map(mul, self._taps(phase), buf[start : start + 2 * half])))
            n += 1
        self._made = n
        # Keep what the next output sample still needs.
        keep_from = (n * down) // up - half + 1 - base
        if keep_from > 0:
            del buf[:keep_from]
            self._base += keep_from
        return _to_bytes(out)

    def feed(self, pcm: bytes) -> bytes:
        """Take 16-bit little-endian mono PCM; return the output samples now computable.

        Raises:
            AudioFormatError: an odd number of bytes.
            ValueError: called after :meth:`flush`.
        """
        if self._flushed:
            raise ValueError("feed after flush")
        if self.passthrough:
            _samples(pcm)  # check the length
            return pcm
        samples = _samples(pcm)
        self._fed += len(samples)
        self._buf.extend(samples)
        return self._make(self._total())

    def _total(self) -> int:
        return (self._fed * self._up) // self._down

    def flush(self) -> bytes:
        """Return the last output samples (the input's end is padded with silence).

        After this the resampler is finished; the total output is exactly
        ``floor(samples_fed * out_rate / in_rate)`` samples.
        """
        if self._flushed:
            return b""
        self._flushed = True
        if self.passthrough:
            return b""
        self._buf.extend([0.0] * (self._half + 1))
        return self._make(self._total())


def resample_pcm(pcm: bytes, in_rate: int, out_rate: int) -> bytes:
    """Resample a whole buffer of 16-bit little-endian mono PCM (see :class:`Resampler`)."""
    resampler = Resampler(in_rate, out_rate)
    return resampler.feed(pcm) + resampler.flush()
