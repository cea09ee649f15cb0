"""How the fake Live server produces a model turn: the reply task and its frames.

:class:`TurnProducer` is the half of :class:`~rawlive.testing.FakeConnection`
that answers: it starts a reply task per user or tool turn, streams text or
audio in the service's order, ends the turn with ``turnComplete`` and usage,
and issues resumption handles. The other half (reading, rules, setup,
dispatch) is in :mod:`rawlive.testing.fake_connection`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from rawlive.audio.pcm import INPUT_RATE, OUTPUT_RATE, parse_pcm_mime, pcm_mime
from rawlive.errors import AudioFormatError
from rawlive.protocol.codec import encode_json
from rawlive.protocol.messages import (
    Blob,
    Content,
    FunctionCall,
    FunctionDeclaration,
    Part,
    ServerContent,
    ServerMessage,
    ServerPayload,
    SessionResumptionUpdate,
    Setup,
    Tool,
    ToolCall,
    ToolCallCancellation,
    Transcription,
    UsageMetadata,
)
from rawlive.protocol.rules import (
    INTERNAL_ERROR,
)
from rawlive.testing.fake_model import split_text
from rawlive.testing.records import (
    ConnectionRecord,
    Conversation,
    ReplyTurn,
    TurnInterrupted,
    json_size,
    last_user_words,
    token_details,
)

if TYPE_CHECKING:
    from rawlive.testing.fake_server import FakeLiveServer

__all__ = ["TurnProducer"]

logger = logging.getLogger("rawlive.testing")


class TurnProducer:
    """Turn production of a :class:`~rawlive.testing.FakeConnection` (a mixin).

    The attributes are set by ``FakeConnection.__init__``; :meth:`send` and
    :meth:`close` are the connection's.
    """

    server: FakeLiveServer
    record: ConnectionRecord
    setup: Setup | None
    tools: tuple[Tool, ...]
    system_instruction: Content | None
    conversation: Conversation
    pending_calls: dict[str, FunctionCall]
    dispatched: int
    _cancelled_calls: set[str]
    _unanswered: int
    _turn_lock: asyncio.Lock
    _reply_task: asyncio.Task[None] | None
    _turn: ReplyTurn | None

    async def send(self, message: ServerMessage | ServerPayload) -> None:
        raise NotImplementedError

    async def close(self, code: int, reason: str = "") -> None:
        raise NotImplementedError

    # -------------------------------------------------------------- turns

    async def begin_user_turn(
        self,
        content: Content | None = None,
        *,
        tokens: Mapping[str, int] | None = None,
        input_transcript: str | None = None,
    ) -> None:
        """Interrupt any reply, append ``content``, and start answering.

        The user's text is that of the last user turn *with words* among the
        turns not answered yet: content-free nudges (``"."``, ``" "``, which
        frameworks send after seeding history) never win. When no unanswered
        turn has words, the last user turn with words in the whole history is
        answered (the pending question of a seeded history). The history
        given to the model is everything before the chosen turn. Pending
        function calls are cancelled.

        Args:
            content: the user turn to append first, if any.
            tokens: its token cost by modality (computed from it when None).
            input_transcript: text to send as ``inputTranscription`` (audio
                turns; only when the setup asked for input transcription).
        """
        async with self._turn_lock:
            await self._stop_reply(interrupt=True)
            await self.cancel_calls()
            turns = self.conversation.turns
            if content is not None:
                self.remember(content, tokens or self.content_tokens(content))
            current = last_user_words(turns, self._unanswered)
            if current is None:
                current = last_user_words(turns, 0)
            user_text = turns[current].text if current is not None else ""
            history = tuple(turns[:current] if current is not None else turns)
            self._unanswered = len(turns)
            turn = ReplyTurn(
                kind="user",
                user_text=user_text,
                history=history,
                prompt=self.context_tokens(),
                input_transcript=input_transcript,
            )
            self._start(turn)

    async def cancel_calls(self, ids: Iterable[str] | None = None) -> tuple[str, ...]:
        """Cancel pending function calls and send ``toolCallCancellation`` for them.

        A later response for a cancelled call is ignored, as the service does.

        Args:
            ids: the calls to cancel; None cancels every pending call.

        Returns:
            The ids cancelled (nothing is sent when there are none).
        """
        wanted = tuple(self.pending_calls) if ids is None else tuple(ids)
        cancelled = tuple(i for i in wanted if self.pending_calls.pop(i, None) is not None)
        if cancelled:
            self._cancelled_calls.update(cancelled)
            await self.send(ToolCallCancellation(ids=cancelled))
        return cancelled

    def _start(self, turn: ReplyTurn) -> None:
        self._turn = turn
        self._reply_task = asyncio.create_task(self._run_turn(turn))

    async def interrupt(self) -> bool:
        """Interrupt the reply being streamed, if any, and wait until it has stopped.

        Returns:
            True when a reply was interrupted.
        """
        async with self._turn_lock:
            return await self._stop_reply(interrupt=True)

    async def _stop_reply(self, *, interrupt: bool) -> bool:
        task = self._reply_task
        if task is None or task.done():
            return False
        if interrupt and self._turn is not None:
            self._turn.interrupt.set()
        await asyncio.wait([task])
        return interrupt

    @property
    def replying(self) -> bool:
        """Whether a reply task is running."""
        return self._reply_task is not None and not self._reply_task.done()

    async def _run_turn(self, turn: ReplyTurn) -> None:
        try:
            try:
                await self.produce_turn(turn)
            except TurnInterrupted:
                await self.finish_interrupted(turn)
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("connection %d: the fake model failed", self.record.index)
            await self.close(1011, INTERNAL_ERROR)

    async def produce_turn(self, turn: ReplyTurn) -> None:
        """Send the whole output of one model turn, in the service's order.

        ``sessionResumptionUpdate {}`` (with resumption on), input
        transcription (audio turns), then either a tool call or the reply
        (text pieces or audio chunks with output transcription),
        ``generationComplete``, ``turnComplete`` with ``usageMetadata`` and
        a new resumption handle.

        Raises:
            TurnInterrupted: new input interrupted the turn (checked between frames).
        """
        if self.resumable:
            await self.send(SessionResumptionUpdate())
        setup = self.setup
        if (
            turn.input_transcript
            and setup is not None
            and setup.input_audio_transcription is not None
        ):
            for piece in split_text(turn.input_transcript):
                await self.send(ServerContent(input_transcription=Transcription(text=piece)))
        await self.pace(turn, self.server.response_delay, always=True)
        model = self.server.model
        if turn.kind == "tool":
            text = " ".join(
                model.tool_reply(turn.history, call, response) for call, response in turn.calls
            )
        else:
            declarations = self.function_declarations
            decl = model.match_function(declarations, turn.user_text) if declarations else None
            if decl is not None:
                await self.send_tool_call(turn, decl)
                return
            text = model.reply(turn.history, turn.user_text)
        turn.reply_text = text
        if self.text_output:
            await self.stream_text(turn, text)
        else:
            await self.stream_audio(turn, text)
        await self.send(ServerContent(generation_complete=True))
        response_tokens = self._reply_tokens(turn, text)
        self.remember(Content(role="model", parts=(Part(text=text),)), response_tokens)
        await self.send_turn_complete(turn, response_tokens)
        await self.send_resumption_handle()

    async def send_tool_call(self, turn: ReplyTurn, declaration: FunctionDeclaration) -> None:
        """Send a ``toolCall`` for ``declaration`` and end the turn; the call stays pending."""
        model = self.server.model
        call = FunctionCall(
            name=declaration.name,
            args=model.function_args(declaration, turn.user_text),
            id=self.server.new_call_id(),
        )
        self.pending_calls[call.id or ""] = call
        content = Content(role="model", parts=(Part(function_call=call),))
        tokens = self.content_tokens(content)
        self.remember(content, tokens)
        await self.send(ToolCall(function_calls=(call,)))
        await self.send_turn_complete(turn, tokens)
        await self.send_resumption_handle()

    async def stream_text(self, turn: ReplyTurn, text: str) -> None:
        """Send ``text`` as a few ``modelTurn`` text pieces."""
        for piece in split_text(text):
            await self.pace(turn, self.server.chunk_ms / 1000)
            await self.send(ServerContent(model_turn=Content(parts=(Part(text=piece),))))
            turn.spoken_chars += len(piece)

    async def stream_audio(self, turn: ReplyTurn, text: str) -> None:
        """Send ``text`` spoken, as 24 kHz PCM ``inlineData`` chunks of ``chunk_ms``.

        With ``outputAudioTranscription`` configured, transcript pieces follow
        the audio that covers them. In realtime mode, chunks are paced at
        playback speed.
        """
        pcm = self.server.model.speak(text, OUTPUT_RATE)
        step = max(2, OUTPUT_RATE * self.server.chunk_ms // 1000 * 2)
        setup = self.setup
        pieces = split_text(text) if setup and setup.output_audio_transcription else []
        piece_ends: list[int] = []
        for piece in pieces:
            piece_ends.append((piece_ends[-1] if piece_ends else 0) + len(piece))
        next_piece = 0
        mime = pcm_mime(OUTPUT_RATE)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for offset in range(0, len(pcm), step):
            chunk = pcm[offset : offset + step]
            await self.pace(turn, started + turn.audio_seconds - loop.time())
            await self.send(
                ServerContent(
                    model_turn=Content(parts=(Part(inline_data=Blob(mime_type=mime, data=chunk)),))
                )
            )
            sent = offset + len(chunk)
            turn.audio_seconds = sent / (2 * OUTPUT_RATE)
            turn.spoken_chars = len(text) * sent // len(pcm)
            while next_piece < len(pieces) and piece_ends[next_piece] <= turn.spoken_chars:
                await self.send_output_transcription(pieces[next_piece])
                next_piece += 1
        for piece in pieces[next_piece:]:
            await self.send_output_transcription(piece)

    async def send_output_transcription(self, text: str) -> None:
        """Send one ``outputTranscription`` piece."""
        await self.send(ServerContent(output_transcription=Transcription(text=text)))

    async def finish_interrupted(self, turn: ReplyTurn) -> None:
        """Keep what was said so far, then send ``interrupted`` and ``turnComplete``."""
        partial = turn.reply_text[: turn.spoken_chars]
        tokens = self._reply_tokens(turn, partial) if partial else {}
        if partial:
            self.remember(Content(role="model", parts=(Part(text=partial),)), tokens)
        await self.send(ServerContent(interrupted=True))
        await self.send_turn_complete(turn, tokens)
        await self.send_resumption_handle()

    async def send_turn_complete(self, turn: ReplyTurn, response: Mapping[str, int]) -> None:
        """Send the frame ``{"serverContent":{"turnComplete":true},"usageMetadata":{...}}``."""
        prompt_total = sum(turn.prompt.values())
        response_total = sum(response.values())
        details = token_details(response) if response else None
        # Vertex AI's names for the response's share differ from the Gemini API's.
        share = "candidates" if self.server.vertex else "response"
        response_fields: dict[str, Any] = {
            f"{share}_token_count": response_total,
            f"{share}_tokens_details": details,
        }
        usage = UsageMetadata(
            prompt_token_count=prompt_total,
            total_token_count=prompt_total + response_total,
            prompt_tokens_details=token_details(turn.prompt),
            **response_fields,
        )
        await self.send(ServerMessage.bundle(ServerContent(turn_complete=True), usage))

    async def send_resumption_handle(self) -> None:
        """With resumption on, store the conversation under a new handle and send it."""
        if not self.resumable:
            return
        handle = self.server.new_handle()
        self.server._keep_session(handle, self.conversation.snapshot())
        self.record.handles.append(handle)
        resumption = self.setup.session_resumption if self.setup is not None else None
        consumed = None
        if resumption is not None and resumption.transparent:
            # Vertex's transparent mode: the index of the last client message the
            # handle covers (setup is 0 on each connection, the next message 1).
            consumed = self.dispatched
        await self.send(
            SessionResumptionUpdate(
                new_handle=handle, resumable=True, last_consumed_client_message_index=consumed
            )
        )

    async def pace(self, turn: ReplyTurn, delay: float, *, always: bool = False) -> None:
        """Wait ``delay`` seconds (in realtime mode, or ``always``), then check for interruption.

        Outside realtime mode this only yields to the event loop, so input
        that is already waiting can interrupt the turn between two frames.

        Raises:
            TurnInterrupted: the turn was interrupted (now or during the wait).
        """
        if (always or self.server.realtime) and delay > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(turn.interrupt.wait(), delay)
        else:
            await asyncio.sleep(0)
        if turn.interrupt.is_set():
            raise TurnInterrupted

    # ------------------------------------------------------------- config

    @property
    def resumable(self) -> bool:
        """Whether the setup asked for session resumption."""
        return self.setup is not None and self.setup.session_resumption is not None

    @property
    def text_output(self) -> bool:
        """Whether replies are text (``TEXT`` requested without ``AUDIO``)."""
        modalities = {m.upper() for m in self.setup.response_modalities} if self.setup else set()
        return "TEXT" in modalities and "AUDIO" not in modalities

    @property
    def vad_enabled(self) -> bool:
        """Whether automatic activity detection is on (the default)."""
        return self.setup is None or self.setup.vad_enabled

    @property
    def barge_in(self) -> bool:
        """Whether user activity interrupts the model (``activityHandling``)."""
        ric = self.setup.realtime_input_config if self.setup else None
        return ric is None or ric.activity_handling != "NO_INTERRUPTION"

    @property
    def function_declarations(self) -> list[FunctionDeclaration]:
        """The functions declared by the setup (or the latest contextUpdate)."""
        return [d for tool in self.tools for d in tool.function_declarations or ()]

    # ------------------------------------------------------------- tokens

    def remember(self, content: Content, tokens: Mapping[str, int]) -> None:
        """Append ``content`` to the conversation; it costs ``tokens`` plus the turn overhead."""
        cost = dict(tokens)
        overhead = self.server.model.turn_overhead_tokens
        if overhead:
            cost["TEXT"] = cost.get("TEXT", 0) + overhead
        self.conversation.add(content, cost)

    def content_tokens(self, content: Content) -> dict[str, int]:
        """Return the token cost of a turn by modality (audio blobs count as AUDIO)."""
        model = self.server.model
        out: dict[str, int] = {}
        text_chars = 0
        for part in content.parts or ():
            blob = part.inline_data
            if blob is not None and (blob.mime_type or "").startswith("audio/"):
                try:
                    rate = parse_pcm_mime(blob.mime_type, default_rate=INPUT_RATE)
                except AudioFormatError:
                    rate = INPUT_RATE
                seconds = len(blob.data or b"") / (2 * rate)
                out["AUDIO"] = out.get("AUDIO", 0) + model.count_audio_tokens(seconds)
            elif part.text is not None:
                text_chars += len(part.text)
            else:  # function calls and responses, files: their JSON size
                text_chars += json_size(part.to_wire())
        if text_chars or not out:
            out["TEXT"] = model.count_text_tokens("x" * text_chars)
        return out

    def context_tokens(self) -> dict[str, int]:
        """Return the size of the context by modality: instructions, tools, conversation."""
        totals = self.conversation.totals()
        fixed = 0
        model = self.server.model
        if self.system_instruction is not None:
            fixed += model.count_text_tokens(self.system_instruction.text)
        if self.tools:
            tools = encode_json([t.to_wire() for t in self.tools]).decode()
            fixed += model.count_text_tokens(tools)
        if fixed:
            totals["TEXT"] = totals.get("TEXT", 0) + fixed
        return totals

    def _reply_tokens(self, turn: ReplyTurn, text: str) -> dict[str, int]:
        model = self.server.model
        if self.text_output:
            return {"TEXT": model.count_text_tokens(text)}
        seconds = model.speech_ms(text) / 1000 if text == turn.reply_text else turn.audio_seconds
        return {"AUDIO": model.count_audio_tokens(seconds)}
