"""Raw PCM as the Live API carries it: base64 text plus an ``audio/pcm`` MIME type.

The Live API speaks one audio format in both directions: 16-bit signed
little-endian, mono PCM ("s16le"). Only the sample rate varies, and it travels
in the MIME type: the server sends ``audio/pcm;rate=24000`` (24 kHz output) and
expects ``audio/pcm;rate=16000`` (16 kHz input) unless another rate is declared.

Everything here is pure: no I/O, no asyncio, stdlib only. Errors are
:class:`~rawlive.errors.AudioFormatError` (a ``ValueError``); malformed base64
is re-raised as one ``from`` the original :class:`binascii.Error`.
"""

from __future__ import annotations

import binascii
import functools
from dataclasses import dataclass

from rawlive.b64 import b64decode_any, b64encode_str
from rawlive.errors import AudioFormatError

__all__ = [
    "AudioChunk",
    "INPUT_RATE",
    "OUTPUT_RATE",
    "SAMPLE_WIDTH",
    "decode_pcm",
    "encode_pcm",
    "parse_pcm_mime",
    "pcm_duration",
    "pcm_mime",
]

#: Sample rate (Hz) of the audio the server sends (``audio/pcm;rate=24000``).
OUTPUT_RATE = 24000
#: Sample rate (Hz) the server expects for input audio (``audio/pcm;rate=16000``).
INPUT_RATE = 16000
#: Bytes per sample: the Live API only uses 16-bit PCM.
SAMPLE_WIDTH = 2

# audio/L16 (RFC 2586) is accepted as an alias: clients that send it mean the
# same raw 16-bit PCM. No byte order conversion happens.
_PCM_TYPES = frozenset({"audio/pcm", "audio/l16"})


def parse_pcm_mime(mime: str | None, *, default_rate: int = OUTPUT_RATE) -> int:
    """Return the sample rate declared by a raw PCM MIME type.

    The type is matched case-insensitively and whitespace around the type,
    parameters, names and values is ignored, so ``audio/pcm;rate=24000``,
    ``AUDIO/PCM; rate = 16000`` and ``audio/pcm; rate=16000; channels=1`` are
    all accepted. ``audio/L16`` is treated as an alias of ``audio/pcm``.
    Parameters other than ``rate`` are ignored.

    Args:
        mime: the MIME type, e.g. ``inlineData.mimeType`` of a server frame.
            ``None`` or a PCM type without ``rate`` means ``default_rate``.
        default_rate: the rate to assume when none is declared. The default,
            24000, is the rate of the audio the server sends; pass
            :data:`INPUT_RATE` (16000) when parsing input audio types.

    Returns:
        The sample rate in Hz, always positive.

    Raises:
        AudioFormatError: the type is not raw PCM (``audio/wav``,
            ``image/jpeg``, the empty string), or ``rate`` is not a positive
            decimal integer, or ``rate`` is given twice with different values.
    """
    if mime is None:
        return default_rate
    return _parse_pcm_mime(mime, default_rate)


# Server audio frames repeat the same MIME string thousands of times per
# session, so parsing is cached; errors are not cached (lru_cache skips them).
@functools.lru_cache(maxsize=64)
def _parse_pcm_mime(mime: str, default_rate: int) -> int:
    media_type, *params = mime.split(";")
    if media_type.strip().lower() not in _PCM_TYPES:
        raise AudioFormatError(
            f"not a raw pcm mime type: {mime!r} (expected audio/pcm;rate=N, 16-bit mono)"
        )
    rate: int | None = None
    for param in params:
        name, sep, value = param.partition("=")
        if not sep or name.strip().lower() != "rate":
            continue
        text = value.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1].strip()
        if not (text.isascii() and text.isdigit()):
            raise AudioFormatError(
                f"bad sample rate {text!r} in mime type {mime!r}: expected a positive integer"
            )
        value_rate = int(text)
        if value_rate <= 0:
            raise AudioFormatError(
                f"bad sample rate {text!r} in mime type {mime!r}: must be greater than zero"
            )
        if rate is not None and rate != value_rate:
            raise AudioFormatError(f"conflicting sample rates in mime type {mime!r}")
        rate = value_rate
    return default_rate if rate is None else rate


def pcm_mime(rate: int) -> str:
    """Return the MIME type that declares raw 16-bit mono PCM at ``rate`` Hz.

    Args:
        rate: the sample rate in Hz.

    Returns:
        ``audio/pcm;rate=N``, the spelling the service sends and accepts.

    Raises:
        AudioFormatError: ``rate`` is not a positive integer.
    """
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise AudioFormatError(f"bad sample rate {rate!r}: expected a positive integer")
    return f"audio/pcm;rate={rate}"


def decode_pcm(data: str, mime: str | None = None, *, default_rate: int = OUTPUT_RATE) -> bytes:
    """Decode base64 audio from the wire into 16-bit little-endian mono PCM bytes.

    Standard and URL-safe base64 are accepted, padded or not (the official
    SDK sends URL-safe, the service sends standard).

    Args:
        data: the base64 text, e.g. ``inlineData.data``.
        mime: the MIME type that came with it; when given, it must be a raw
            PCM type (see :func:`parse_pcm_mime`). Only validated, since the
            bytes do not depend on the rate.
        default_rate: passed to :func:`parse_pcm_mime`.

    Returns:
        The PCM bytes; their length is always even.

    Raises:
        AudioFormatError: the text is not valid base64 (bad character or a
            truncated length; the :class:`binascii.Error` is the cause), the
            decoded length is odd, or ``mime`` is not a raw PCM type.
    """
    if mime is not None:
        _parse_pcm_mime(mime, default_rate)
    try:
        pcm = b64decode_any(data)
    except binascii.Error as exc:
        raise AudioFormatError(
            f"invalid base64 audio data ({len(data)} characters): {exc}"
        ) from exc
    if len(pcm) & 1:
        raise AudioFormatError(
            f"16-bit pcm samples need an even number of bytes, got {len(pcm)} bytes"
        )
    return pcm


def encode_pcm(pcm: bytes) -> str:
    """Encode 16-bit PCM bytes as base64 text for ``realtimeInput``.

    Args:
        pcm: 16-bit little-endian mono PCM; any bytes-like object with
            byte-sized items (``bytes``, ``bytearray``, a plain ``memoryview``).

    Returns:
        Standard, padded base64 text.

    Raises:
        AudioFormatError: the length is odd, so the last sample is incomplete.
    """
    if len(pcm) & 1:
        raise AudioFormatError(
            f"16-bit pcm samples need an even number of bytes, got {len(pcm)} bytes"
        )
    return b64encode_str(pcm)


def pcm_duration(nbytes: int, rate: int) -> float:
    """Return how many seconds ``nbytes`` of 16-bit mono PCM last at ``rate`` Hz.

    Args:
        nbytes: a byte count, not negative (an odd count counts the half sample).
        rate: the sample rate in Hz.

    Returns:
        The duration in seconds.

    Raises:
        AudioFormatError: ``rate`` is not positive.
        ValueError: ``nbytes`` is negative.
    """
    if rate <= 0:
        raise AudioFormatError(f"bad sample rate {rate!r}: expected a positive integer")
    if nbytes < 0:
        raise ValueError(f"byte count must not be negative, got {nbytes}")
    return nbytes / (SAMPLE_WIDTH * rate)


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioChunk:
    """A piece of 16-bit little-endian mono PCM with its MIME type.

    Construction checks both fields, so a chunk you hold is always usable.

    Attributes:
        data: the PCM bytes; their length is even.
        mime_type: a raw PCM MIME type, normally ``audio/pcm;rate=N``. A type
            without ``rate`` means :data:`OUTPUT_RATE`.

    Raises:
        AudioFormatError: at construction, when ``mime_type`` is not raw PCM
            or ``data`` has an odd length.
    """

    data: bytes
    mime_type: str

    def __post_init__(self) -> None:
        _parse_pcm_mime(self.mime_type, OUTPUT_RATE)
        if len(self.data) & 1:
            raise AudioFormatError(
                f"16-bit pcm samples need an even number of bytes, got {len(self.data)} bytes"
            )

    @property
    def rate(self) -> int:
        """The sample rate in Hz declared by :attr:`mime_type`."""
        return _parse_pcm_mime(self.mime_type, OUTPUT_RATE)

    @property
    def duration(self) -> float:
        """How many seconds of audio :attr:`data` holds."""
        return len(self.data) / (SAMPLE_WIDTH * self.rate)
