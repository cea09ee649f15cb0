"""Audio redaction markers: the one place that writes, recognises and expands them.

``rawlive record --redact-audio`` replaces the base64 ``data`` of every audio
blob by ``<redacted N bytes sha256=HEX>`` (see ``docs/capture-format.md``).
Every tool that reads such a capture goes through this module:

* :func:`unredact_audio` turns each marker in a frame's text into base64
  silence of the recorded length (the replay server sends that);
* :func:`neutral_markers` turns each marker into empty audio (replay compares
  the shape of client frames, never their audio bytes, and never expands a
  marker that came from the wire);
* :func:`decode_frame` decodes a captured frame with the protocol codec after
  :func:`unredact_audio` (``rawlive show``, ``wav``, ``diff`` and the viewer);
* :func:`decode_received_client` decodes a client frame that a server
  received, after :func:`neutral_markers` (the replay server).

A marker is the whole string value of a ``data`` key. One marker stands for
at most :data:`MAX_REDACTED_BYTES`, and one frame gets at most that much
silence in all, so no capture can make a tool allocate more.

This module is pure: no asyncio and no websockets.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rawlive.errors import LiveError, RemoteProtocolError
from rawlive.protocol import ClientMessage, ServerMessage, decode_client, decode_server

if TYPE_CHECKING:
    from rawlive.capture.records import FrameRecord

__all__ = [
    "MAX_REDACTED_BYTES",
    "DecodedFrame",
    "decode_frame",
    "decode_received_client",
    "neutral_markers",
    "neutral_text",
    "parse_redaction_marker",
    "redaction_marker",
    "unredact_audio",
]

MAX_REDACTED_BYTES = 2**22
"""The most bytes one redaction marker may stand for (4 MiB, 87 s of 24 kHz
audio; the service sends chunks of a few kilobytes): a marker claiming more
is not a marker, and the tools give one frame at most this much silence in
all, so no capture can make them allocate more."""

_MARKER = re.compile(r"<redacted (0|[1-9]\d{0,9}) bytes sha256=([0-9a-f]{64})>")
# A marker as the JSON value of a "data" key. The closing quote cannot be an
# escaped one (it follows ">"), so the match is always one whole JSON string.
_DATA_MARKER = re.compile(r'("data"\s*:\s*)"(<redacted [^"\\]{1,110}>)"')
_HINT = "<redacted "


def redaction_marker(raw: bytes) -> str:
    """Return the text that replaces a redacted base64 ``data`` value.

    Args:
        raw: the decoded bytes being redacted (e.g. PCM audio).

    Returns:
        ``"<redacted N bytes sha256=HEX>"``, which is never valid base64.
    """
    return f"<redacted {len(raw)} bytes sha256={hashlib.sha256(raw).hexdigest()}>"


def parse_redaction_marker(text: str) -> tuple[int, str] | None:
    """Recognise a value written by :func:`redaction_marker`.

    Args:
        text: a ``data`` value from a frame.

    Returns:
        ``(nbytes, sha256_hex)`` for a marker, ``None`` for anything else,
        including a marker that claims more than :data:`MAX_REDACTED_BYTES`.
    """
    if len(text) > 120:
        return None
    m = _MARKER.fullmatch(text)
    if m is None:
        return None
    nbytes = int(m.group(1))
    if nbytes > MAX_REDACTED_BYTES:
        return None
    return nbytes, m.group(2)


def _replace_markers(text: str, *, silence: bool) -> tuple[str, int]:
    """Replace each marker by base64 silence (or by ``""``); return the text and the count."""
    if _HINT not in text:
        return text, 0
    count = 0
    budget = MAX_REDACTED_BYTES  # silence per frame, whatever the markers claim

    def replace(m: re.Match[str]) -> str:
        nonlocal count, budget
        parsed = parse_redaction_marker(m.group(2))
        if parsed is None:
            return m.group(0)
        count += 1
        if not silence:
            return m.group(1) + '""'
        nbytes = min(parsed[0], budget)
        budget -= nbytes
        return f'{m.group(1)}"{_b64_zeros(nbytes)}"'

    return _DATA_MARKER.sub(replace, text), count


def _b64_zeros(nbytes: int) -> str:
    # parse_redaction_marker caps nbytes (MAX_REDACTED_BYTES), so this is bounded;
    # small sizes (the usual audio chunk) are cached.
    if nbytes <= 1 << 16:
        return _b64_zeros_small(nbytes)
    return base64.b64encode(bytes(nbytes)).decode("ascii")


@functools.lru_cache(maxsize=32)
def _b64_zeros_small(nbytes: int) -> str:
    return base64.b64encode(bytes(nbytes)).decode("ascii")


def unredact_audio(text: str) -> str:
    """Replace every audio redaction marker in a JSON frame with base64 silence.

    A marker ``"<redacted N bytes sha256=HEX>"`` (see :func:`redaction_marker`)
    becomes the standard base64 of ``N`` zero bytes, which is silence in PCM16.
    Everything else in the text is kept byte for byte.

    Silence is bounded: one marker stands for at most
    :data:`MAX_REDACTED_BYTES` (a larger claim is not a marker and stays as it
    is), and one frame gets at most that many bytes of silence in all; markers
    past that budget become empty audio.

    Args:
        text: the frame text (from a capture file, never from the wire).

    Returns:
        The text with markers replaced (the same object when there are none).
    """
    return _replace_markers(text, silence=True)[0]


def neutral_markers(text: str) -> str:
    """Replace every redaction marker in a JSON frame by empty audio (``""``).

    Use this where audio bytes do not matter and a marker must never be
    expanded, e.g. on a frame that came from the wire.
    """
    return _replace_markers(text, silence=False)[0]


def neutral_text(frame: str | bytes) -> str:
    """Return a received frame as text (bytes decoded as UTF-8, errors replaced),
    its redaction markers replaced by empty audio (see :func:`neutral_markers`)."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return neutral_markers(text)


def decode_received_client(frame: str | bytes) -> ClientMessage:
    """Decode a client frame as a server received it, markers as empty audio.

    Args:
        frame: a text (``str``) or binary (``bytes``) client frame.

    Returns:
        The decoded message.

    Raises:
        RemoteProtocolError: the frame does not decode.
        RecursionError: the frame is nested deeper than Python recurses.
    """
    return decode_client(neutral_text(frame))


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A captured frame decoded with the protocol codec.

    Attributes:
        message: the decoded message, or ``None`` when the frame does not decode.
        error: why it does not decode, or ``None``.
        redacted: how many redaction markers were expanded to silence.
    """

    message: ServerMessage | ClientMessage | None
    error: str | None
    redacted: int


def _error_text(exc: LiveError) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    path = getattr(exc, "path", "")
    return f"{text} (at {path})" if path else text


def decode_frame(frame: FrameRecord) -> DecodedFrame:
    """Decode a captured frame, redaction markers expanded to silence.

    A frame that does not decode is never an exception: ``message`` is
    ``None`` and ``error`` says why.

    Args:
        frame: a frame record of a capture.

    Returns:
        The decoded frame.
    """
    try:
        payload: str | bytes = frame.payload
    except ValueError as exc:  # data_b64 that is not base64 cannot be read back
        return DecodedFrame(None, str(exc), 0)
    redacted = 0
    if isinstance(payload, bytes) and _HINT.encode() in payload:
        with contextlib.suppress(UnicodeDecodeError):  # not JSON either: the codec says so
            payload = payload.decode("utf-8")
    if isinstance(payload, str):
        payload, redacted = _replace_markers(payload, silence=True)
    try:
        if frame.dir == "server":
            return DecodedFrame(decode_server(payload), None, redacted)
        return DecodedFrame(decode_client(payload), None, redacted)
    except RemoteProtocolError as exc:
        return DecodedFrame(None, _error_text(exc), redacted)
    except (RecursionError, TypeError):
        # A frame nested deeper than Python recurses (orjson allows 1,024 levels).
        return DecodedFrame(None, "the frame is nested too deeply to decode", 0)
