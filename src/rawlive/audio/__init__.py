"""Audio helpers: base64 PCM and MIME rates, WAV files. Stdlib only.

The Live API carries 16-bit little-endian mono PCM: 16 kHz from the client
(:data:`INPUT_RATE`) and 24 kHz from the server (:data:`OUTPUT_RATE`), with the
rate in the MIME type (``audio/pcm;rate=24000``). :mod:`rawlive.audio.pcm`
converts between wire text and bytes; :mod:`rawlive.audio.wav` writes
crash-safe streaming WAV files and reads WAV files as chunks to send.
"""

from __future__ import annotations

from rawlive.audio.pcm import (
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
from rawlive.audio.wav import WavWriter, read_wav, read_wav_chunks

__all__ = [
    "AudioChunk",
    "INPUT_RATE",
    "OUTPUT_RATE",
    "SAMPLE_WIDTH",
    "WavWriter",
    "decode_pcm",
    "encode_pcm",
    "parse_pcm_mime",
    "pcm_duration",
    "pcm_mime",
    "read_wav",
    "read_wav_chunks",
]
