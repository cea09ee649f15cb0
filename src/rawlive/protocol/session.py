"""The conversation state machine: setup, turns, resumption, goAway, usage.

Theory of operation
-------------------
A connection moves through the states below; :data:`TRANSITIONS` is the whole
table. The client feeds every frame it sends (:meth:`SessionState.on_send`)
and receives (:meth:`SessionState.on_receive`); the state machine updates what
a user of the session relies on — the latest *resumable* handle (an update
marked ``resumable: false``, or empty, never replaces it), the goAway time
left, usage totals, pending tool calls — and says when a turn ends.

:class:`TurnAssembler` gathers the frames of one model turn into a
:class:`Turn`: text, audio (returned, or streamed into a sink such as a WAV
writer so memory stays flat), transcripts, tool calls, usage and flags. A turn
ends on ``turnComplete``; the final frame usually also carries
``usageMetadata``, and both are kept.

No I/O happens here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from rawlive.audio.pcm import parse_pcm_mime
from rawlive.errors import AudioFormatError, LocalProtocolError, RemoteProtocolError
from rawlive.protocol.messages import (
    ClientMessage,
    FunctionCall,
    GoAway,
    Part,
    ServerMessage,
    Setup,
    UsageMetadata,
)

__all__ = [
    "TRANSITIONS",
    "ConnectionState",
    "SessionState",
    "Turn",
    "TurnAssembler",
    "UsageTotals",
]


class ConnectionState(enum.Enum):
    """Where one connection is in its life."""

    CONNECTING = "connecting"  # socket open, setup not sent
    SETTING_UP = "setting_up"  # setup sent, waiting for setupComplete
    OPEN = "open"  # setupComplete received
    GOING_AWAY = "going_away"  # goAway received: the server will close soon
    CLOSED = "closed"


_S = ConnectionState
# The moves: the only events that change a connection's state, and to what.
_MOVES: dict[tuple[ConnectionState, str], ConnectionState] = {
    (_S.CONNECTING, "send:setup"): _S.SETTING_UP,
    (_S.SETTING_UP, "recv:setupComplete"): _S.OPEN,
    (_S.OPEN, "recv:goAway"): _S.GOING_AWAY,
}
# The events each state allows without leaving it.
_STAYS: dict[ConnectionState, tuple[str, ...]] = {
    _S.SETTING_UP: ("recv:other",),
    _S.OPEN: ("send:other", "recv:other"),
    _S.GOING_AWAY: ("send:other", "recv:other", "recv:goAway"),
}
# (state, event) -> next state, for events "send:setup", "send:other",
# "recv:setupComplete", "recv:goAway", "recv:other" and "close" (every state
# but CLOSED closes). A pair that is not here is refused.
TRANSITIONS: dict[tuple[ConnectionState, str], ConnectionState] = {
    **_MOVES,
    **{(state, event): state for state, events in _STAYS.items() for event in events},
    **{(state, "close"): _S.CLOSED for state in _S if state is not _S.CLOSED},
}


# States that "recv:other" leaves unchanged (read off the table, not restated).
_STAY_ON_RECV = tuple(s for (s, e), nxt in TRANSITIONS.items() if e == "recv:other" and nxt is s)


@dataclass(slots=True)
class UsageTotals:
    """Token usage added up over turns (and, with reconnects, over connections).

    ``prompt_tokens`` sums each turn's ``promptTokenCount``, which is what the
    service bills even though each count is the whole context so far.
    """

    turns: int = 0
    prompt_tokens: int = 0
    response_tokens: int = 0
    total_tokens: int = 0
    thoughts_tokens: int = 0

    def add(self, usage: UsageMetadata) -> None:
        """Add one ``usageMetadata`` report."""
        self.turns += 1
        self.prompt_tokens += usage.prompt_token_count or 0
        self.response_tokens += usage.output_tokens
        self.total_tokens += usage.total_token_count or 0
        self.thoughts_tokens += usage.thoughts_token_count or 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """One model turn, gathered from its frames.

    Attributes:
        text: the model's text (thought parts excluded).
        thoughts: the text of thought parts.
        audio: the audio PCM (empty when it was streamed into a sink instead).
        audio_bytes: how many audio bytes arrived, sink or not.
        sample_rate: the audio sample rate announced by the MIME type (24000 by default).
        input_transcript / output_transcript: transcription pieces joined.
        tool_calls: function calls the model made during the turn.
        cancelled_tool_calls: ids from toolCallCancellation.
        usage: the turn's ``usageMetadata`` (None when the server sent none).
        interrupted: the user barged in; playback should stop.
        generation_complete: the model finished generating (absent when interrupted).
        turn_complete: the turn ended with ``turnComplete`` (False when it was
            cut short, e.g. by a tool call turn boundary or a close).
        turn_complete_reason: why the turn ended, when the server says.
        messages: every server message of the turn, as decoded, when asked
            for (``keep_messages=True``); empty by default.
    """

    text: str = ""
    thoughts: str = ""
    audio: bytes = b""
    audio_bytes: int = 0
    sample_rate: int = 24000
    input_transcript: str = ""
    output_transcript: str = ""
    tool_calls: tuple[FunctionCall, ...] = ()
    cancelled_tool_calls: tuple[str, ...] = ()
    usage: UsageMetadata | None = None
    interrupted: bool = False
    generation_complete: bool = False
    turn_complete: bool = False
    turn_complete_reason: str | None = None
    grounding_metadata: tuple[object, ...] = ()
    messages: tuple[ServerMessage, ...] = field(default=(), repr=False)

    @property
    def audio_duration(self) -> float:
        """Seconds of audio received (16-bit mono at ``sample_rate``)."""
        return self.audio_bytes / (2 * self.sample_rate)


def _rate_of(mime: str | None) -> int | None:
    """The rate of a raw PCM type (:func:`~rawlive.audio.pcm.parse_pcm_mime`); None otherwise."""
    if not mime:
        return None
    try:
        return parse_pcm_mime(mime)
    except AudioFormatError:
        return None


_T = TypeVar("_T")


def _add(items: list[_T] | None, item: _T) -> list[_T]:
    """``items`` with ``item`` appended (a new list when there is none yet)."""
    if items is None:
        return [item]
    items.append(item)
    return items


def _extend(items: list[_T] | None, more: Iterable[_T]) -> list[_T]:
    """``items`` with ``more`` appended (a new list when there is none yet)."""
    if items is None:
        return list(more)
    items.extend(more)
    return items


class TurnAssembler:
    """Gathers frames into a :class:`Turn`.

    Args:
        audio_sink: called with each audio chunk instead of keeping it in memory
            (e.g. ``WavWriter.write``). When None, audio is kept in ``Turn.audio``.
        keep_messages: keep every decoded message in ``Turn.messages``
            (default: no; the messages would hold the audio a second time).
    """

    def __init__(
        self,
        *,
        audio_sink: Callable[[bytes], object] | None = None,
        keep_messages: bool = False,
    ) -> None:
        self._sink = audio_sink
        self._keep = keep_messages
        # Each list is made when its first piece arrives: a turn uses two or
        # three of them, and lists alive during a turn are what the cyclic GC
        # counts and walks at scale (see docs/benchmarks.md).
        self._text: list[str] | None = None
        self._thoughts: list[str] | None = None
        self._audio: list[bytes] | None = None
        self._audio_bytes = 0
        self._rate: int | None = None
        self._in: list[str] | None = None
        self._out: list[str] | None = None
        self._calls: list[FunctionCall] | None = None
        self._cancelled: list[str] | None = None
        self._grounding: list[object] | None = None
        self._usage: UsageMetadata | None = None
        self._interrupted = False
        self._generation_complete = False
        self._turn_complete = False
        self._reason: str | None = None
        self._messages: list[ServerMessage] | None = None
        self._fed = False

    @property
    def started(self) -> bool:
        """Whether any frame of the turn has arrived."""
        return self._fed

    def feed(self, message: ServerMessage) -> bool:
        """Take one server message; return True when it ends the turn."""
        self._fed = True
        if self._keep:
            self._messages = _add(self._messages, message)
        # Fast path for the commonest frame, a model-turn chunk and nothing
        # else: unset fields are absent from the instance dicts, so one length
        # check replaces a dozen lookups of fields that are None. Depends on the
        # records' __dict__ layout (no slots, no default_factory): tests/test_record_layout.py.
        attrs = message.__dict__
        if len(attrs) == 1 and "server_content" in attrs:
            sc = attrs["server_content"]
            if len(sc.__dict__) == 1:
                mt = sc.model_turn
                if mt is not None:
                    if mt.parts:
                        self._take_parts(mt.parts)
                    return False
        return self._feed_all(message)

    def _feed_all(self, message: ServerMessage) -> bool:
        usage = message.usage_metadata
        if usage is not None:
            self._usage = usage
        tc = message.tool_call
        if tc is not None and tc.function_calls:
            self._calls = _extend(self._calls, tc.function_calls)
        tcc = message.tool_call_cancellation
        if tcc is not None and tcc.ids:
            self._cancelled = _extend(self._cancelled, tcc.ids)
        sc = message.server_content
        if sc is None:
            return False
        mt = sc.model_turn
        if mt is not None and mt.parts:
            self._take_parts(mt.parts)
        if sc.input_transcription is not None and sc.input_transcription.text:
            self._in = _add(self._in, sc.input_transcription.text)
        if sc.output_transcription is not None and sc.output_transcription.text:
            self._out = _add(self._out, sc.output_transcription.text)
        if sc.grounding_metadata is not None:
            self._grounding = _add(self._grounding, sc.grounding_metadata)
        if sc.interrupted:
            self._interrupted = True
        if sc.generation_complete:
            self._generation_complete = True
        if sc.turn_complete_reason is not None:
            self._reason = sc.turn_complete_reason
        if sc.turn_complete:
            self._turn_complete = True
            return True
        return False

    def feed_chunk(self, mime: str | None, data: bytes) -> None:
        """Take one inline-data chunk of a model turn, as :meth:`feed` takes its message.

        For the ``(mime, data)`` chunks the connection reader buffers (see
        :func:`rawlive.protocol.codec.decode_server_chunk`): no records needed.
        """
        self._fed = True
        self._take_blob(mime, data)

    def _take_blob(self, mime: str | None, data: bytes) -> None:
        if mime is None or mime.startswith("audio/"):
            if self._rate is None:
                self._rate = _rate_of(mime)
            self._audio_bytes += len(data)
            if self._sink is not None:
                self._sink(data)
            else:
                audio = self._audio
                if audio is None:
                    self._audio = [data]
                else:
                    audio.append(data)

    def _take_parts(self, parts: Sequence[Part]) -> None:
        for part in parts:
            blob = part.inline_data
            if blob is not None and blob.data is not None:
                self._take_blob(blob.mime_type, blob.data)
            if part.text is not None:
                if part.thought:
                    self._thoughts = _add(self._thoughts, part.text)
                else:
                    self._text = _add(self._text, part.text)

    def build(self) -> Turn:
        """Return the turn gathered so far."""
        return Turn(
            text="".join(self._text or ()),
            thoughts="".join(self._thoughts or ()),
            audio=b"".join(self._audio or ()),
            audio_bytes=self._audio_bytes,
            sample_rate=self._rate or 24000,
            input_transcript="".join(self._in or ()),
            output_transcript="".join(self._out or ()),
            tool_calls=tuple(self._calls or ()),
            cancelled_tool_calls=tuple(self._cancelled or ()),
            usage=self._usage,
            interrupted=self._interrupted,
            generation_complete=self._generation_complete,
            turn_complete=self._turn_complete,
            turn_complete_reason=self._reason,
            grounding_metadata=tuple(self._grounding or ()),
            messages=tuple(self._messages or ()),
        )


class SessionState:
    """What a session knows across its frames (and its connections).

    Attributes:
        phase: the current connection's state (:class:`ConnectionState`).
        setup: the setup sent on the current connection.
        handle: the latest handle from an update marked ``resumable: true``.
        last_consumed_index: ``lastConsumedClientMessageIndex`` when the server sends it.
        go_away: the last goAway of the current connection.
        usage: totals over every turn so far.
        pending_calls: function calls awaiting a response, by id.
        sent_count: client messages sent on the current connection (setup excluded).
        turn_open: a model turn has started and its ``turnComplete`` has not arrived.
        turns_completed: model turns completed so far (all connections).
        handle_turns: ``turns_completed`` when the latest resumable handle arrived:
            the handle covers that many turns.
    """

    def __init__(self) -> None:
        self.phase = ConnectionState.CONNECTING
        self.setup: Setup | None = None
        self.handle: str | None = None
        self.last_consumed_index: int | None = None
        self.go_away: GoAway | None = None
        self.usage = UsageTotals()
        self.pending_calls: dict[str, FunctionCall] = {}
        self.sent_count = 0
        self.turn_open = False
        self.turns_completed = 0
        self.handle_turns = 0

    @property
    def handle_pending(self) -> bool:
        """A turn completed after the latest resumable handle (its handle is due)."""
        return self.turns_completed > self.handle_turns

    def _move(self, event: str) -> None:
        nxt = TRANSITIONS.get((self.phase, event))
        if nxt is None:
            text = f"{event} is not allowed while the connection is {self.phase.value}"
            if event.startswith("recv:"):
                raise RemoteProtocolError(f"the server sent {event[5:]} out of order: {text}")
            raise LocalProtocolError(text)
        self.phase = nxt

    def reset_connection(self) -> None:
        """Start a new connection: keep the handle, usage and pending calls.

        A turn still open on the old connection is cut: it never completes.
        """
        self.phase = ConnectionState.CONNECTING
        self.go_away = None
        self.sent_count = 0
        self.turn_open = False

    def on_send(self, message: ClientMessage) -> None:
        """Record a client message about to be sent.

        Raises:
            LocalProtocolError: the message is not allowed in this state (a
                second setup, or anything before setupComplete).
        """
        if message.setup is not None:
            self._move("send:setup")
            self.setup = message.setup
            return
        self.on_send_other()
        tr = message.tool_response
        if tr is not None:
            for response in tr.function_responses or ():
                if response.id is not None:
                    self.pending_calls.pop(response.id, None)

    def on_send_other(self) -> None:
        """Record a client message other than setup (a media chunk needs no more).

        Raises:
            LocalProtocolError: nothing but setup may be sent in this state.
        """
        self._move("send:other")
        self.sent_count += 1

    def on_receive(self, message: ServerMessage) -> None:
        """Update the state from one server message."""
        attrs = message.__dict__
        if len(attrs) == 1 and "server_content" in attrs and self.phase in _STAY_ON_RECV:
            # serverContent alone: only the turn can change (the commonest frame).
            # Depends on the records' __dict__ layout: tests/test_record_layout.py.
            if attrs["server_content"].turn_complete:
                self._turn_complete()
            else:
                self.turn_open = True
            return
        if message.setup_complete is not None:
            self._move("recv:setupComplete")
        elif message.go_away is not None:
            self.go_away = message.go_away
            self._move("recv:goAway")
        else:
            self._move("recv:other")
        sc = message.server_content
        if sc is not None:
            if sc.turn_complete:
                self._turn_complete()
            else:
                self.turn_open = True
        elif message.tool_call is not None:
            self.turn_open = True
        sru = message.session_resumption_update
        if sru is not None:
            if sru.resumable and sru.new_handle:
                self.handle = sru.new_handle
                self.handle_turns = self.turns_completed
            if sru.last_consumed_client_message_index is not None:
                self.last_consumed_index = sru.last_consumed_client_message_index
        if message.usage_metadata is not None:
            self.usage.add(message.usage_metadata)
        tc = message.tool_call
        if tc is not None:
            for call in tc.function_calls or ():
                if call.id is not None:
                    self.pending_calls[call.id] = call
        tcc = message.tool_call_cancellation
        if tcc is not None:
            for call_id in tcc.ids or ():
                self.pending_calls.pop(call_id, None)

    def _turn_complete(self) -> None:
        self.turn_open = False
        self.turns_completed += 1

    def on_close(self) -> None:
        """The current connection closed."""
        self.phase = ConnectionState.CLOSED
