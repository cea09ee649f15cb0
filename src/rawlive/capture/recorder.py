"""Record every frame of a session, both ways, to a capture file.

The recorder is a frame observer (see :class:`rawlive.client.FrameObserver`):
``connect(record="session.jsonl")`` attaches one. Frames are written exactly as
sent and received, one line each, flushed at once; the file is created
readable by the owner only. Secrets never reach the file: the endpoint's
``key``/``access_token`` query values are redacted, and any occurrence of the
API key or token inside a frame is replaced by ``REDACTED``. With
``redact_audio=True`` audio payloads are replaced by a marker giving their
length and SHA-256 (see docs/capture-format.md), so captures stay small
enough to commit; the replay server plays silence of that length for them.
"""

from __future__ import annotations

import os
from typing import Any

from rawlive.b64 import b64decode_any
from rawlive.capture.jsonio import JSONDecodeError, dumps, loads, spellings
from rawlive.capture.markers import redaction_marker
from rawlive.capture.writer import CaptureWriter
from rawlive.redact import redact, redact_bytes, redact_url

__all__ = ["Recorder", "redact_audio_payloads"]


def _redact_blob(blob: Any, done: list[tuple[str, str]]) -> bool:
    if not isinstance(blob, dict):
        return False
    mime = blob.get("mimeType", blob.get("mime_type"))
    data = blob.get("data")
    if not isinstance(data, str) or not (isinstance(mime, str) and mime.startswith("audio/")):
        return False
    try:
        raw = b64decode_any(data)
    except ValueError:
        return False
    blob["data"] = marker = redaction_marker(raw)
    done.append((data, marker))
    return True


def redact_audio_payloads(frame: str | bytes) -> str | bytes:
    """Return ``frame`` with every audio blob's data replaced by a redaction marker.

    Covers server ``modelTurn.parts[].inlineData``, client
    ``realtimeInput.audio`` and the legacy ``mediaChunks``. Frames that are not
    JSON objects, or hold no audio, are returned unchanged.
    """
    try:
        value = loads(frame)
    except (JSONDecodeError, RecursionError):
        return frame
    if not isinstance(value, dict):
        return frame
    changed = False
    done: list[tuple[str, str]] = []
    for sc_key in spellings("serverContent"):
        sc = value.get(sc_key)
        if isinstance(sc, dict):
            for mt_key in spellings("modelTurn"):
                mt = sc.get(mt_key)
                if isinstance(mt, dict) and isinstance(mt.get("parts"), list):
                    for part in mt["parts"]:
                        if isinstance(part, dict):
                            for key in spellings("inlineData"):
                                changed |= _redact_blob(part.get(key), done)
    for ri_key in spellings("realtimeInput"):
        ri = value.get(ri_key)
        if isinstance(ri, dict):
            changed |= _redact_blob(ri.get("audio"), done)
            for key in spellings("mediaChunks"):
                chunks = ri.get(key)
                if isinstance(chunks, list):
                    for chunk in chunks:
                        changed |= _redact_blob(chunk, done)
    if not changed:
        return frame
    try:
        out = dumps(value)
    except TypeError:
        # Nested deeper than orjson writes (it reads 1,024 levels, writes 255):
        # replace each base64 value where it stands in the original text.
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        for data, marker in done:
            text = text.replace(f'"{data}"', f'"{marker}"')
        return text if isinstance(frame, str) else text.encode("utf-8")
    return out.decode("utf-8") if isinstance(frame, str) else out


class Recorder:
    """Writes a capture file from the frames of one or more connections.

    Args:
        path: the capture file to create (mode 0600, truncated if it exists).
        secrets: strings that must never reach the file (the API key, tokens).
        redact_audio: replace audio payloads by their length and hash.
        source: provenance text for the meta record.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        secrets: tuple[str, ...] = (),
        redact_audio: bool = False,
        source: str | None = None,
    ) -> None:
        self._writer = CaptureWriter(path, source=source)
        self._secrets = tuple(s for s in secrets if s)
        self._redact_audio = redact_audio
        self.path = os.fspath(path)

    def __repr__(self) -> str:
        return f"<Recorder {self.path!r}>"

    def _scrub(self, text: str) -> str:
        return redact(text, *self._secrets)

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None:
        """Record a new connection."""
        if not self._writer.closed:
            self._writer.open_conn(conn, redact_url(endpoint, *self._secrets), model)

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None:
        """Record one frame exactly as it went over the wire (secrets and, optionally, audio
        redacted)."""
        if self._writer.closed:
            return
        if self._redact_audio:
            payload = redact_audio_payloads(payload)
        if self._secrets:
            if isinstance(payload, str):
                payload = self._scrub(payload)
            else:
                payload = redact_bytes(payload, *self._secrets)
        self._writer.frame(conn, "client" if direction == "client" else "server", payload)

    def on_close(self, conn: int, code: int, reason: str, by: str | None, dropped: bool) -> None:
        """Record the end of a connection."""
        if self._writer.closed:
            return
        if dropped:
            self._writer.close_conn(conn, 1006, "", None, dropped=True)
        else:
            self._writer.close_conn(conn, code, self._scrub(reason), by)  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the file (idempotent)."""
        if not self._writer.closed:
            self._writer.close()
