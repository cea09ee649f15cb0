"""The convenience senders of :class:`~rawlive.client.Session` (text, audio, video, tools).

Each builds one client message and hands it to ``Session.send``; the rules
about what may be sent when live in :mod:`rawlive.protocol.lint` and
:class:`~rawlive.protocol.session.SessionState`.
"""

from __future__ import annotations

import asyncio
import binascii
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from rawlive.audio.pcm import INPUT_RATE, pcm_mime
from rawlive.audio.wav import read_wav_chunks
from rawlive.protocol.codec import MEDIA_FRAME_END, media_frame_start, text_turn_frame
from rawlive.protocol.messages import (
    Blob,
    ClientContent,
    ClientMessage,
    ClientPayload,
    Content,
    ContextUpdate,
    FunctionResponse,
    Part,
    RealtimeInput,
    Tool,
    ToolResponse,
    ToolsUpdate,
)
from rawlive.protocol.messages import Setup as SetupMessage

if TYPE_CHECKING:
    from rawlive.engine import Engine

__all__ = ["Senders"]

_b2a = binascii.b2a_base64


def _show(engine: Engine, number: int, frame: bytes) -> None:
    """Show a frame that took the direct route to the observers, as the general route does."""
    text = frame.decode("utf-8")
    for observer in engine.observers:
        observer.on_frame(number, "client", text)


class Senders:
    """Mixin: one method per kind of client message, each through :meth:`send`."""

    setup: SetupMessage
    _engine: Engine

    async def send(self, message: ClientPayload | ClientMessage | Mapping[str, Any]) -> None:
        raise NotImplementedError

    async def send_text(self, text: str, *, turn_complete: bool = True) -> None:
        """Send a user text turn as ``clientContent`` (the seed's flow).

        Without a reconnect policy it takes the direct route, as media chunks
        do (:meth:`rawlive.engine.Engine.direct_route`): the frame is
        :func:`~rawlive.protocol.codec.text_turn_frame`, the encoder's bytes
        built without records.
        """
        engine = self._engine
        conn = None
        if type(text) is str:
            # built first: a text JSON cannot carry (a lone surrogate) is refused
            # before direct_route() counts the turn as sent
            frame = text_turn_frame(text, turn_complete)
            conn = engine.direct_route()
        elif not isinstance(text, str):
            raise TypeError(f"send_text() takes a str, not {type(text).__name__}")
        if conn is None:
            await self.send(
                ClientContent(turns=(Content.user_text(text),), turn_complete=turn_complete)
            )
            return
        if engine.observers:
            _show(engine, conn.number, frame)
        try:
            await conn.ws.send(frame, text=True)
        except ConnectionClosed as exc:
            await engine.write_failed(conn, exc)

    async def send_client_content(
        self, turns: Iterable[Content] | Content | None = None, *, turn_complete: bool = True
    ) -> None:
        """Send ``clientContent`` with the given turns (e.g. history seeding)."""
        if isinstance(turns, Content):
            turns = (turns,)
        await self.send(
            ClientContent(
                turns=tuple(turns) if turns is not None else None, turn_complete=turn_complete
            )
        )

    async def send_realtime_text(self, text: str) -> None:
        """Send ``realtimeInput.text`` (what 3.x models expect mid-session)."""
        await self.send(RealtimeInput(text=text))

    async def send_audio(self, pcm: bytes, *, rate: int = INPUT_RATE) -> None:
        """Send one chunk of 16-bit mono PCM as ``realtimeInput.audio``."""
        await self._send_media("audio", pcm_mime(rate), pcm)

    async def send_video(self, frame: bytes, *, mime_type: str = "image/jpeg") -> None:
        """Send one video frame (an encoded image) as ``realtimeInput.video``."""
        await self._send_media("video", mime_type, frame)

    async def _send_media(self, kind: str, mime_type: str, data: bytes) -> None:
        """Send one media chunk: the hot path of a voice application (50 a second).

        The direct route writes ``start + base64(data) + end`` (the bytes
        :func:`~rawlive.protocol.codec.encode` would give) with no records and
        one coroutine level; see :meth:`rawlive.engine.Engine.direct_route` for
        when it applies. Otherwise the chunk takes the general route through
        :meth:`send`. A ``bytes`` subclass (base64 spelled another way by a
        decoder) always takes the general route, which keeps its spelling.
        """
        engine = self._engine
        conn = None
        if type(data) is bytes or not isinstance(data, bytes):
            conn = engine.direct_route()
        if conn is None:
            blob = Blob(mime_type=mime_type, data=data)
            await self.send(
                RealtimeInput(audio=blob) if kind == "audio" else RealtimeInput(video=blob)
            )
            return
        frame = media_frame_start(kind, mime_type) + _b2a(data, newline=False) + MEDIA_FRAME_END
        if engine.observers:
            _show(engine, conn.number, frame)
        try:  # awaited here, not in a helper: one coroutine level per chunk
            await conn.ws.send(frame, text=True)
        except ConnectionClosed as exc:
            await engine.write_failed(conn, exc)

    async def send_activity_start(self) -> None:
        """Mark the start of user activity (only with automatic VAD disabled)."""
        await self.send(RealtimeInput(activity_start={}))

    async def send_activity_end(self) -> None:
        """Mark the end of user activity (only with automatic VAD disabled)."""
        await self.send(RealtimeInput(activity_end={}))

    async def send_audio_stream_end(self) -> None:
        """Say the microphone closed (automatic VAD on; Gemini API only)."""
        await self.send(RealtimeInput(audio_stream_end=True))

    async def send_tool_response(
        self, responses: FunctionResponse | Sequence[FunctionResponse]
    ) -> None:
        """Answer function calls; each response must carry its call's ``id``."""
        if isinstance(responses, FunctionResponse):
            responses = (responses,)
        await self.send(ToolResponse(function_responses=tuple(responses)))

    async def send_context_update(
        self,
        *,
        system_instruction: str | Content | None = None,
        tools: Sequence[Tool] | None = None,
    ) -> None:
        """Replace the system instruction and/or tools mid-session (newer models)."""
        si = (
            Content(parts=(Part(text=system_instruction),))
            if isinstance(system_instruction, str)
            else system_instruction
        )
        await self.send(
            ContextUpdate(
                system_instruction=si,
                tools=ToolsUpdate(tools=tuple(tools)) if tools is not None else None,
            )
        )

    async def stream_wav(
        self,
        path: str | os.PathLike[str],
        *,
        chunk_ms: float = 100,
        realtime: bool = False,
        end: bool = True,
    ) -> float:
        """Send a 16-bit mono WAV file as realtime audio; return its duration.

        Args:
            chunk_ms: chunk duration (ADK recommends 50 to 100 ms).
            realtime: sleep between chunks to pace the audio at real time.
            end: send ``audioStreamEnd`` afterwards, or ``activityEnd`` when
                automatic VAD is disabled (after an ``activityStart`` first).
        """
        manual = not self.setup.vad_enabled
        if manual:
            await self.send_activity_start()
        total = 0.0
        for chunk in read_wav_chunks(path, chunk_ms=chunk_ms):
            await self._send_media("audio", chunk.mime_type, chunk.data)
            total += chunk.duration
            if realtime:
                await asyncio.sleep(chunk.duration)
        if end:
            if manual:
                await self.send_activity_end()
            else:
                await self.send_audio_stream_end()
        return total
