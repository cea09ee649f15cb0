"""``rawlive wav``: the audio of one direction of a capture as a WAV file.

Frames are decoded by :func:`~rawlive.capture.markers.decode_frame`, so
redacted chunks become silence of their recorded length. The audio is
streamed into a temporary file next to the output, which replaces it only
when the whole capture went through.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from rawlive.audio.pcm import INPUT_RATE, OUTPUT_RATE, parse_pcm_mime
from rawlive.audio.wav import WavWriter
from rawlive.capture.frame_summary import is_audio_blob
from rawlive.capture.markers import decode_frame
from rawlive.capture.records import Capture, Direction
from rawlive.errors import AudioFormatError, ConfigurationError
from rawlive.protocol import Blob, ClientMessage, ServerMessage

__all__ = ["WavInfo", "extract_wav"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WavInfo:
    """What :func:`extract_wav` wrote.

    Attributes:
        path: the WAV file.
        direction: ``"server"`` (the model's audio) or ``"client"`` (the user's).
        rate: the sample rate, from the chunks' MIME type.
        chunks: audio chunks written, in capture order.
        redacted_chunks: chunks stored as redaction markers, written as
            silence of the recorded length.
        frames: PCM frames (samples, mono) written.
        duration: seconds of audio written.
        skipped_frames: frames in that direction that did not decode and were
            left out (they may have held audio).
    """

    path: Path
    direction: Direction
    rate: int
    chunks: int
    redacted_chunks: int
    frames: int
    duration: float
    skipped_frames: int = 0


def _audio_blobs(msg: ServerMessage | ClientMessage) -> Iterator[Blob]:
    if isinstance(msg, ServerMessage):
        yield from msg.audio_chunks()
        return
    ri = msg.realtime_input
    if ri is None:
        return
    if is_audio_blob(ri.audio):
        yield cast(Blob, ri.audio)
    for chunk in ri.media_chunks or ():
        if is_audio_blob(chunk):
            yield chunk


def extract_wav(
    capture: Capture, out_path: str | os.PathLike[str], *, direction: Direction = "server"
) -> WavInfo:
    """Write the audio of one direction of a capture to a WAV file.

    ``direction="server"`` takes the model's audio (``modelTurn`` ``inlineData``
    audio chunks), ``"client"`` the user's (``realtimeInput.audio`` and legacy
    ``mediaChunks``), in capture order across every connection. Redacted chunks
    become silence of their recorded length. Nothing is written unless the
    capture has audio in that direction at one sample rate.

    Args:
        capture: the capture to read.
        out_path: the WAV file to create (an existing file is replaced).
        direction: whose audio to extract.

    Returns:
        What was written.

    Raises:
        AudioFormatError: the capture has no audio in that direction, the
            sample rate changes mid-stream, or a chunk is not raw PCM.
        ConfigurationError: ``direction`` is neither ``"server"`` nor ``"client"``.
        OSError: the file cannot be written.
    """
    if direction not in ("server", "client"):
        raise ConfigurationError(f"direction must be 'server' or 'client', got {direction!r}")
    default_rate = OUTPUT_RATE if direction == "server" else INPUT_RATE
    rate: int | None = None
    first_where = ""
    redacted = skipped = chunks = 0
    path = Path(out_path)
    # Audio is streamed into a temporary file next to the output, which replaces
    # it only when the whole capture went through: memory stays at one frame.
    part = path.with_name(f".{path.name}.part")
    wav: WavWriter | None = None
    try:
        for frame in capture.frames(dir=direction):
            decoded = decode_frame(frame)
            if decoded.message is None:
                skipped += 1
                continue
            redacted += decoded.redacted
            where = f"t={frame.t:.3f}s on connection {frame.conn}"
            for blob in _audio_blobs(decoded.message):
                try:
                    chunk_rate = parse_pcm_mime(blob.mime_type, default_rate=default_rate)
                except AudioFormatError as exc:
                    raise AudioFormatError(f"cannot extract audio at {where}: {exc}") from exc
                if rate is None:
                    rate, first_where = chunk_rate, where
                    wav = WavWriter(part, rate=rate, flush_every=None)
                elif chunk_rate != rate:
                    raise AudioFormatError(
                        f"{direction} audio changes sample rate from {rate} hz (first chunk "
                        f"at {first_where}) to {chunk_rate} hz at {where}; a wav file has one rate"
                    )
                assert wav is not None
                wav.write(blob.data or b"")
                chunks += 1
        if wav is None or rate is None:
            what = (
                "modelTurn inlineData audio chunks"
                if direction == "server"
                else "realtimeInput.audio chunks"
            )
            hint = "" if direction == "client" else " (was the session TEXT only?)"
            raise AudioFormatError(f"the capture has no {direction} audio: no {what}{hint}")
        wav.close()
        os.replace(part, path)
    except BaseException:
        if wav is not None:
            with contextlib.suppress(Exception):
                wav.close()
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    frames = wav.frames_written
    return WavInfo(
        path=path,
        direction=direction,
        rate=rate,
        chunks=chunks,
        redacted_chunks=redacted,
        frames=frames,
        duration=frames / rate,
        skipped_frames=skipped,
    )
