"""Audio turns for ``say --input-audio`` and ``chat``: a WAV file as ``realtimeInput.audio``.

The file is read by :class:`rawlive.audio.wavinput.WavInput` (any 16-bit PCM
WAV, mono or stereo, any rate; resampled to 16 kHz mono with a windowed-sinc
filter), sent in 100 ms chunks paced at real time (``--fast``: as fast as the
socket takes them), and ended with ``audioStreamEnd`` so the service answers
at once instead of waiting for silence.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rawlive.cli._args import output_dir, output_file

CHUNK_MS = 100


def add_audio_options(p: argparse.ArgumentParser, *, single: bool) -> None:
    """Declare the audio flags of ``say`` (``single``) or ``chat``.

    Where the reply audio goes (``say --audio OUT.wav``, ``chat --audio-dir
    DIR``), ``say --input-audio IN.wav``, and ``--fast``.
    """
    if single:
        p.add_argument(
            "--audio",
            metavar="OUT.wav",
            type=output_file,
            help="ask for audio and write it to this WAV",
        )
        p.add_argument(
            "--input-audio",
            metavar="IN.wav",
            help="send this WAV as realtime audio instead of TEXT (16-bit PCM, mono or stereo, "
            "any rate: resampled to 16 kHz)",
        )
    else:
        p.add_argument(
            "--audio-dir",
            metavar="DIR",
            type=output_dir,
            help="ask for audio; write audio_response_N.wav files here",
        )
    p.add_argument(
        "--fast",
        action="store_true",
        help="send input audio as fast as possible (default: paced at real time)",
    )


def is_wav_turn(text: str) -> bool:
    """Whether a chat turn names a WAV file to send as audio (it ends .wav and exists)."""
    stripped = text.strip()
    return stripped.lower().endswith(".wav") and Path(stripped).is_file()


def open_wav(path: str) -> Any:
    """Open and check a WAV file for sending (fails before anything is sent).

    Raises:
        AudioFormatError: not a 16-bit PCM WAV of one or two channels.
        ConfigurationError: the file does not exist.
    """
    from rawlive.audio.wavinput import WavInput
    from rawlive.errors import ConfigurationError

    if not Path(path).is_file():
        raise ConfigurationError(f"{path}: no such file")
    try:
        return WavInput(path)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None


async def send_wav(session: Any, wav: Any, *, fast: bool) -> float:
    """Send ``wav`` (a :class:`~rawlive.audio.wavinput.WavInput`) and ``audioStreamEnd``.

    Returns:
        The seconds of audio sent.
    """
    import asyncio

    from rawlive.audio.pcm import INPUT_RATE

    loop = asyncio.get_running_loop()
    start: float | None = None
    sent = 0.0
    for chunk in wav.chunks(CHUNK_MS):
        if start is None:
            start = loop.time()  # the clock starts with the first chunk, once the file is open
        await session.send_audio(chunk.data, rate=INPUT_RATE)
        sent += len(chunk.data) / (2 * INPUT_RATE)
        if not fast:
            # Pace against the clock, not chunk by chunk, so delays do not add up.
            delay = start + sent - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
    await session.send_audio_stream_end()
    return sent


async def audio_turn(
    session: Any, wav: Any, *, fast: bool, receive: Any, on_sent: Any = None
) -> Any:
    """Send ``wav`` while receiving the reply; return what ``receive()`` returns.

    The reply is read while the audio is still being sent, so transcripts
    stream as they come. When sending fails (the file or the connection), the
    receive is cancelled and the error raised; when receiving fails, the send
    is cancelled.

    Args:
        session: the session.
        wav: a :class:`~rawlive.audio.wavinput.WavInput`.
        fast: do not pace at real time.
        receive: a no-argument coroutine function, e.g. ``session.receive_turn``
            with its arguments bound.
        on_sent: called when the audio and ``audioStreamEnd`` are sent.
    """
    import asyncio

    sending = asyncio.ensure_future(send_wav(session, wav, fast=fast))
    if on_sent is not None:
        sending.add_done_callback(lambda task: task.cancelled() or task.exception() or on_sent())
    receiving = asyncio.ensure_future(receive())
    try:
        await asyncio.wait({sending, receiving}, return_when=asyncio.FIRST_EXCEPTION)
        if not receiving.done():  # the send failed first
            sending.result()
        return receiving.result()
    finally:
        for task in (sending, receiving):
            task.cancel()
        await asyncio.gather(sending, receiving, return_exceptions=True)
