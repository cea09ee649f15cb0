"""Frozen dataclasses for every client and server message of BidiGenerateContent.

Attribute names are the snake_case form of the camelCase wire names (see
https://ai.google.dev/api/live for each field). Every field defaults to ``None``,
meaning "absent on the wire"; sequences decode to tuples. Each class keeps the
keys it does not know in ``extra`` and emits them again, so decoding and
re-encoding is lossless. Enum values are plain strings, so values newer than
this library pass through.

Top-level payloads (``Setup``, ``ServerContent``, ...) carry their envelope key
in ``ENVELOPE``. :class:`ClientMessage` and :class:`ServerMessage` are the
envelopes: one optional attribute per top-level key, because a server frame
normally bundles ``serverContent`` with ``usageMetadata`` at the end of a turn.

Construct messages with keyword arguments; nested fields also accept a plain
``dict`` in wire form, the escape hatch for fields newer than the library.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, NewType

from rawlive.protocol._schema import (
    EMPTY,
    WireMessage,
    extra_field,
    parse_duration,
    snake,
    wire_field,
    wire_message,
)

# The message types (rawlive re-exports every one).
__all__ = [
    "AudioTranscriptionConfig",
    "AutomaticActivityDetection",
    "Blob",
    "ClientContent",
    "ClientMessage",
    "ClientPayload",
    "CodeExecutionResult",
    "Content",
    "ContextUpdate",
    "ContextWindowCompression",
    "ExecutableCode",
    "FileData",
    "FunctionCall",
    "FunctionDeclaration",
    "FunctionResponse",
    "GenerationConfig",
    "GoAway",
    "Handle",
    "HistoryConfig",
    "ModalityTokenCount",
    "Part",
    "PrebuiltVoiceConfig",
    "ProactivityConfig",
    "RealtimeInput",
    "RealtimeInputConfig",
    "ServerContent",
    "ServerMessage",
    "ServerPayload",
    "SessionResumptionConfig",
    "SessionResumptionUpdate",
    "Setup",
    "SetupComplete",
    "SlidingWindow",
    "SpeechConfig",
    "ThinkingConfig",
    "Tool",
    "ToolCall",
    "ToolCallCancellation",
    "ToolResponse",
    "ToolsUpdate",
    "Transcription",
    "UsageMetadata",
    "VoiceActivity",
    "VoiceActivityDetectionSignal",
    "VoiceConfig",
]

Handle = NewType("Handle", str)
"""An opaque session resumption handle (``sessionResumptionUpdate.newHandle``)."""

JSON = Any
"""Free-form JSON, passed through verbatim."""


_Message = WireMessage


# ------------------------------------------------------------------ content


@wire_message
class Blob(_Message):
    """Inline bytes with a MIME type (``inlineData``, realtime ``audio``/``video``).

    ``data`` holds the decoded bytes; on the wire it is base64 (standard or
    URL-safe, padded or not, are all accepted when decoding).
    """

    mime_type: str | None = wire_field("str", default=None)
    data: bytes | None = wire_field("bytes", default=None)
    display_name: str | None = wire_field("str", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class FileData(_Message):
    """A reference to a file by URI."""

    mime_type: str | None = wire_field("str", default=None)
    file_uri: str | None = wire_field("str", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class FunctionCall(_Message):
    """A call the model asks the client to run; answer it with the same ``id``."""

    id: str | None = wire_field("str", default=None)
    name: str | None = wire_field("str", default=None)
    args: dict[str, JSON] | None = wire_field("object", default=None)
    partial_args: JSON = wire_field("json", default=None)
    will_continue: bool | None = wire_field("bool", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class FunctionResponse(_Message):
    """The result of a function call. ``response`` is free-form JSON (kept verbatim)."""

    id: str | None = wire_field("str", default=None)
    name: str | None = wire_field("str", default=None)
    response: dict[str, JSON] | None = wire_field("object", default=None)
    will_continue: bool | None = wire_field("bool", default=None)
    scheduling: str | None = wire_field("enum", default=None)
    parts: JSON = wire_field("json", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class ExecutableCode(_Message):
    """Code the model wrote for the code-execution tool."""

    language: str | None = wire_field("enum", default=None)
    code: str | None = wire_field("str", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class CodeExecutionResult(_Message):
    """The outcome of running :class:`ExecutableCode`."""

    outcome: str | None = wire_field("enum", default=None)
    output: str | None = wire_field("str", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class Part(_Message):
    """One part of a :class:`Content`; normally exactly one field is set."""

    text: str | None = wire_field("str", default=None)
    inline_data: Blob | None = wire_field("message", Blob, default=None)
    file_data: FileData | None = wire_field("message", FileData, default=None)
    function_call: FunctionCall | None = wire_field("message", FunctionCall, default=None)
    function_response: FunctionResponse | None = wire_field(
        "message", FunctionResponse, default=None
    )
    executable_code: ExecutableCode | None = wire_field("message", ExecutableCode, default=None)
    code_execution_result: CodeExecutionResult | None = wire_field(
        "message", CodeExecutionResult, default=None
    )
    thought: bool | None = wire_field("bool", default=None)
    thought_signature: str | None = wire_field("str", default=None)
    video_metadata: JSON = wire_field("json", default=None)
    media_resolution: JSON = wire_field("json", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class Content(_Message):
    """A turn of conversation: a role and its parts."""

    role: str | None = wire_field("str", default=None)
    parts: Sequence[Part] | None = wire_field("messages", Part, default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)

    @classmethod
    def user_text(cls, text: str) -> Content:
        """Return a ``user`` turn holding one text part."""
        return cls(role="user", parts=(Part(text=text),))

    @property
    def text(self) -> str:
        """The concatenated text of the non-thought parts (``""`` when none)."""
        return "".join(p.text for p in self.parts or () if p.text is not None and not p.thought)


# -------------------------------------------------------------------- setup


@wire_message
class PrebuiltVoiceConfig(_Message):
    """A named prebuilt voice (``Puck``, ``Kore``, ...)."""

    voice_name: str | None = wire_field("str", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class VoiceConfig(_Message):
    """Which voice speaks."""

    prebuilt_voice_config: PrebuiltVoiceConfig | None = wire_field(
        "message", PrebuiltVoiceConfig, default=None
    )
    replicated_voice_config: JSON = wire_field("json", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class SpeechConfig(_Message):
    """Voice and language of audio output."""

    voice_config: VoiceConfig | None = wire_field("message", VoiceConfig, default=None)
    language_code: str | None = wire_field("str", default=None)
    multi_speaker_voice_config: JSON = wire_field("json", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)

    @classmethod
    def voice(cls, name: str, *, language_code: str | None = None) -> SpeechConfig:
        """Return a speech config that selects the prebuilt voice ``name``."""
        return cls(
            voice_config=VoiceConfig(prebuilt_voice_config=PrebuiltVoiceConfig(voice_name=name)),
            language_code=language_code,
        )


@wire_message
class ThinkingConfig(_Message):
    """Thinking budget (2.5) or level (3.1)."""

    thinking_budget: int | None = wire_field("int", default=None)
    include_thoughts: bool | None = wire_field("bool", default=None)
    thinking_level: str | None = wire_field("enum", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class GenerationConfig(_Message):
    """The generation settings that apply to Live sessions."""

    response_modalities: Sequence[str] | None = wire_field("strlist", default=None)
    temperature: float | None = wire_field("number", default=None)
    top_p: float | None = wire_field("number", default=None)
    top_k: float | None = wire_field("number", default=None)
    max_output_tokens: int | None = wire_field("int", default=None)
    seed: int | None = wire_field("int", default=None)
    candidate_count: int | None = wire_field("int", default=None)
    presence_penalty: float | None = wire_field("number", default=None)
    frequency_penalty: float | None = wire_field("number", default=None)
    media_resolution: str | None = wire_field("enum", default=None)
    speech_config: SpeechConfig | None = wire_field("message", SpeechConfig, default=None)
    thinking_config: ThinkingConfig | None = wire_field("message", ThinkingConfig, default=None)
    enable_affective_dialog: bool | None = wire_field("bool", default=None)
    translation_config: JSON = wire_field("json", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class FunctionDeclaration(_Message):
    """A function the model may call. Schemas are free-form JSON, kept verbatim."""

    name: str | None = wire_field("str", default=None)
    description: str | None = wire_field("str", default=None)
    parameters: JSON = wire_field("json", default=None)
    parameters_json_schema: JSON = wire_field("json", default=None)
    response: JSON = wire_field("json", default=None)
    response_json_schema: JSON = wire_field("json", default=None)
    behavior: str | None = wire_field("enum", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class Tool(_Message):
    """One entry of ``setup.tools``; built-in tools take ``{}`` or their config."""

    function_declarations: Sequence[FunctionDeclaration] | None = wire_field(
        "messages", FunctionDeclaration, default=None
    )
    google_search: JSON = wire_field("json", default=None)
    code_execution: JSON = wire_field("json", default=None)
    url_context: JSON = wire_field("json", default=None)
    google_maps: JSON = wire_field("json", default=None)
    google_search_retrieval: JSON = wire_field("json", default=None)
    file_search: JSON = wire_field("json", default=None)
    computer_use: JSON = wire_field("json", default=None)
    mcp_servers: JSON = wire_field("json", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class AutomaticActivityDetection(_Message):
    """Server-side voice activity detection settings."""

    disabled: bool | None = wire_field("bool", default=None)
    start_of_speech_sensitivity: str | None = wire_field("enum", default=None)
    end_of_speech_sensitivity: str | None = wire_field("enum", default=None)
    prefix_padding_ms: int | None = wire_field("int", default=None)
    silence_duration_ms: int | None = wire_field("int", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class RealtimeInputConfig(_Message):
    """How realtime input is turned into turns (VAD, barge-in, coverage)."""

    automatic_activity_detection: AutomaticActivityDetection | None = wire_field(
        "message", AutomaticActivityDetection, default=None
    )
    activity_handling: str | None = wire_field("enum", default=None)
    turn_coverage: str | None = wire_field("enum", default=None)
    interim_transcript_timestamp_enabled: bool | None = wire_field("bool", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class SessionResumptionConfig(_Message):
    """``{}`` asks for handles; ``handle`` resumes; ``transparent`` is Vertex only."""

    handle: str | None = wire_field("str", default=None)
    transparent: bool | None = wire_field("bool", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class SlidingWindow(_Message):
    """The sliding-window compression mechanism."""

    target_tokens: int | None = wire_field("int64", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class ContextWindowCompression(_Message):
    """Context compression: lifts the 15 min (audio) session cap."""

    trigger_tokens: int | None = wire_field("int64", default=None)
    sliding_window: SlidingWindow | None = wire_field("message", SlidingWindow, default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class AudioTranscriptionConfig(_Message):
    """``{}`` turns transcription on; the other fields are newer options."""

    mode: str | None = wire_field("enum", default=None)
    language_codes: Sequence[str] | None = wire_field("strlist", default=None)
    custom_vocabulary: JSON = wire_field("json", default=None)
    word_timestamp: bool | None = wire_field("bool", default=None)
    diarization: JSON = wire_field("json", default=None)
    source_text: JSON = wire_field("json", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class ProactivityConfig(_Message):
    """Proactive audio/video (native-audio models)."""

    proactive_audio: bool | None = wire_field("bool", default=None)
    proactive_video: bool | None = wire_field("bool", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class HistoryConfig(_Message):
    """``initial_history_in_client_content``: seed history with clientContent."""

    initial_history_in_client_content: bool | None = wire_field("bool", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class Setup(_Message):
    """The first client message of a connection (``setup``)."""

    ENVELOPE: ClassVar[str] = "setup"

    model: str | None = wire_field("str", default=None)
    generation_config: GenerationConfig | None = wire_field(
        "message", GenerationConfig, default=None
    )
    system_instruction: Content | None = wire_field("message", Content, default=None)
    tools: Sequence[Tool] | None = wire_field("messages", Tool, default=None)
    realtime_input_config: RealtimeInputConfig | None = wire_field(
        "message", RealtimeInputConfig, default=None
    )
    session_resumption: SessionResumptionConfig | None = wire_field(
        "message", SessionResumptionConfig, default=None
    )
    context_window_compression: ContextWindowCompression | None = wire_field(
        "message", ContextWindowCompression, default=None
    )
    input_audio_transcription: AudioTranscriptionConfig | None = wire_field(
        "message", AudioTranscriptionConfig, default=None
    )
    output_audio_transcription: AudioTranscriptionConfig | None = wire_field(
        "message", AudioTranscriptionConfig, default=None
    )
    proactivity: ProactivityConfig | None = wire_field("message", ProactivityConfig, default=None)
    history_config: HistoryConfig | None = wire_field("message", HistoryConfig, default=None)
    safety_settings: JSON = wire_field("json", default=None)
    labels: dict[str, str] | None = wire_field("object", default=None)
    explicit_vad_signal: bool | None = wire_field("bool", default=None)
    avatar_config: JSON = wire_field("json", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)

    @property
    def response_modalities(self) -> tuple[str, ...]:
        """The requested modalities (``()`` when unset: the service defaults to AUDIO)."""
        gc = self.generation_config
        return tuple(gc.response_modalities or ()) if gc is not None else ()

    @property
    def vad_enabled(self) -> bool:
        """Whether automatic activity detection is on (it is unless disabled)."""
        ric = self.realtime_input_config
        aad = ric.automatic_activity_detection if ric is not None else None
        return not (aad is not None and aad.disabled)


# ---------------------------------------------------------- client payloads


@wire_message
class ClientContent(_Message):
    """Ordered turns appended to history; ``turn_complete`` makes the model answer."""

    ENVELOPE: ClassVar[str] = "clientContent"

    turns: Sequence[Content] | None = wire_field("messages", Content, default=None)
    turn_complete: bool | None = wire_field("bool", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class RealtimeInput(_Message):
    """Streaming input; set one field per message as every SDK does.

    ``activity_start``/``activity_end`` are empty objects (``{}``) on the wire.
    ``media_chunks`` is deprecated and rejected by newer endpoints.
    """

    ENVELOPE: ClassVar[str] = "realtimeInput"

    audio: Blob | None = wire_field("message", Blob, default=None)
    video: Blob | None = wire_field("message", Blob, default=None)
    text: str | None = wire_field("str", default=None)
    activity_start: dict[str, JSON] | None = wire_field("object", default=None)
    activity_end: dict[str, JSON] | None = wire_field("object", default=None)
    audio_stream_end: bool | None = wire_field("bool", default=None)
    media_chunks: Sequence[Blob] | None = wire_field("messages", Blob, default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class ToolResponse(_Message):
    """Answers to function calls; each response echoes its call's ``id``."""

    ENVELOPE: ClassVar[str] = "toolResponse"

    function_responses: Sequence[FunctionResponse] | None = wire_field(
        "messages", FunctionResponse, default=None
    )
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class ToolsUpdate(_Message):
    """The ``tools`` wrapper of :class:`ContextUpdate` (``{"tools": []}`` clears)."""

    tools: Sequence[Tool] | None = wire_field("messages", Tool, default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class ContextUpdate(_Message):
    """Replace the system instruction and/or tools mid-session (newer models)."""

    ENVELOPE: ClassVar[str] = "contextUpdate"

    system_instruction: Content | None = wire_field("message", Content, default=None)
    tools: ToolsUpdate | None = wire_field("message", ToolsUpdate, default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


# ---------------------------------------------------------- server payloads


@wire_message
class SetupComplete(_Message):
    """The server accepted ``setup``; usually ``{}``."""

    ENVELOPE: ClassVar[str] = "setupComplete"

    session_id: str | None = wire_field("str", default=None)
    voice_consent_signature: JSON = wire_field("json", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class Transcription(_Message):
    """A piece of an input or output transcript (do not rely on ``finished``)."""

    text: str | None = wire_field("str", default=None)
    finished: bool | None = wire_field("bool", default=None)
    language_code: str | None = wire_field("str", default=None)
    speaker_label: str | None = wire_field("str", default=None)
    words: JSON = wire_field("json", default=None)
    start_offset: str | None = wire_field("duration", default=None)
    end_offset: str | None = wire_field("duration", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class ServerContent(_Message):
    """Model output and turn signals (``serverContent``)."""

    ENVELOPE: ClassVar[str] = "serverContent"

    model_turn: Content | None = wire_field("message", Content, default=None)
    generation_complete: bool | None = wire_field("bool", default=None)
    turn_complete: bool | None = wire_field("bool", default=None)
    interrupted: bool | None = wire_field("bool", default=None)
    grounding_metadata: JSON = wire_field("json", default=None)
    input_transcription: Transcription | None = wire_field("message", Transcription, default=None)
    output_transcription: Transcription | None = wire_field("message", Transcription, default=None)
    url_context_metadata: JSON = wire_field("json", default=None)
    turn_complete_reason: str | None = wire_field("enum", default=None)
    waiting_for_input: bool | None = wire_field("bool", default=None)
    interim_input_transcription: Transcription | None = wire_field(
        "message", Transcription, default=None
    )
    interaction_status: str | None = wire_field("enum", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class ToolCall(_Message):
    """Function calls the client must answer with a :class:`ToolResponse`."""

    ENVELOPE: ClassVar[str] = "toolCall"

    function_calls: Sequence[FunctionCall] | None = wire_field(
        "messages", FunctionCall, default=None
    )
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class ToolCallCancellation(_Message):
    """Pending calls the client should no longer answer."""

    ENVELOPE: ClassVar[str] = "toolCallCancellation"

    ids: Sequence[str] | None = wire_field("strlist", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class GoAway(_Message):
    """The server will close this connection soon; ``time_left`` is a Duration text."""

    ENVELOPE: ClassVar[str] = "goAway"

    time_left: str | None = wire_field("duration", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)

    @property
    def time_left_seconds(self) -> float | None:
        """``time_left`` in seconds (``"1.5s"`` -> 1.5), or None when absent."""
        return None if self.time_left is None else parse_duration(self.time_left)


@wire_message
class SessionResumptionUpdate(_Message):
    """A new resumption handle; only usable when ``resumable`` is true."""

    ENVELOPE: ClassVar[str] = "sessionResumptionUpdate"

    new_handle: str | None = wire_field("str", default=None)
    resumable: bool | None = wire_field("bool", default=None)
    last_consumed_client_message_index: int | None = wire_field("int64str", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class ModalityTokenCount(_Message):
    """Tokens of one modality."""

    modality: str | None = wire_field("enum", default=None)
    token_count: int | None = wire_field("int", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class UsageMetadata(_Message):
    """Token usage; Vertex says ``candidates*`` where the Gemini API says ``response*``."""

    ENVELOPE: ClassVar[str] = "usageMetadata"

    prompt_token_count: int | None = wire_field("int", default=None)
    cached_content_token_count: int | None = wire_field("int", default=None)
    response_token_count: int | None = wire_field("int", default=None)
    tool_use_prompt_token_count: int | None = wire_field("int", default=None)
    thoughts_token_count: int | None = wire_field("int", default=None)
    total_token_count: int | None = wire_field("int", default=None)
    prompt_tokens_details: Sequence[ModalityTokenCount] | None = wire_field(
        "messages", ModalityTokenCount, default=None
    )
    cache_tokens_details: Sequence[ModalityTokenCount] | None = wire_field(
        "messages", ModalityTokenCount, default=None
    )
    response_tokens_details: Sequence[ModalityTokenCount] | None = wire_field(
        "messages", ModalityTokenCount, default=None
    )
    tool_use_prompt_tokens_details: Sequence[ModalityTokenCount] | None = wire_field(
        "messages", ModalityTokenCount, default=None
    )
    candidates_token_count: int | None = wire_field("int", default=None)
    candidates_tokens_details: Sequence[ModalityTokenCount] | None = wire_field(
        "messages", ModalityTokenCount, default=None
    )
    traffic_type: str | None = wire_field("enum", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)

    @property
    def output_tokens(self) -> int:
        """Response tokens under either backend's name (0 when absent)."""
        return self.response_token_count or self.candidates_token_count or 0


@wire_message
class VoiceActivity(_Message):
    """Voice activity start/end detected by the server (wire key ``type``)."""

    ENVELOPE: ClassVar[str] = "voiceActivity"

    activity_type: str | None = wire_field("enum", wire="type", default=None)
    audio_offset: str | None = wire_field("duration", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


@wire_message
class VoiceActivityDetectionSignal(_Message):
    """Start/end-of-speech signals (allowlisted only)."""

    ENVELOPE: ClassVar[str] = "voiceActivityDetectionSignal"

    vad_signal_type: str | None = wire_field("enum", default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)


# ------------------------------------------------------------------ envelopes

ClientPayload = Setup | ClientContent | RealtimeInput | ToolResponse | ContextUpdate
ServerPayload = (
    SetupComplete
    | ServerContent
    | ToolCall
    | ToolCallCancellation
    | GoAway
    | SessionResumptionUpdate
    | UsageMetadata
    | VoiceActivity
    | VoiceActivityDetectionSignal
)


@wire_message
class ClientMessage(_Message):
    """One client frame. A valid frame sets exactly one attribute."""

    setup: Setup | None = wire_field("message", Setup, default=None)
    client_content: ClientContent | None = wire_field("message", ClientContent, default=None)
    realtime_input: RealtimeInput | None = wire_field("message", RealtimeInput, default=None)
    tool_response: ToolResponse | None = wire_field("message", ToolResponse, default=None)
    context_update: ContextUpdate | None = wire_field("message", ContextUpdate, default=None)
    extra: Mapping[str, Any] = extra_field(default=EMPTY)

    @classmethod
    def wrap(cls, payload: ClientPayload) -> ClientMessage:
        """Return the envelope that carries ``payload``."""
        attrs: dict[str, Any] = {_ATTR_OF_ENVELOPE[payload.ENVELOPE]: payload}
        return cls(**attrs)

    @property
    def payloads(self) -> tuple[ClientPayload, ...]:
        """The payloads present, in declaration order."""
        found = (self.setup, self.client_content, self.realtime_input, self.tool_response,
                 self.context_update)  # fmt: skip
        return tuple(p for p in found if p is not None)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The top-level wire keys present, unknown ones included."""
        return tuple(p.ENVELOPE for p in self.payloads) + tuple(self.extra)


@wire_message
class ServerMessage(_Message):
    """One server frame. It may carry several payloads at once (``serverContent``
    together with ``usageMetadata`` ends a turn); all of them are kept.
    """

    setup_complete: SetupComplete | None = wire_field("message", SetupComplete, default=None)
    server_content: ServerContent | None = wire_field("message", ServerContent, default=None)
    tool_call: ToolCall | None = wire_field("message", ToolCall, default=None)
    tool_call_cancellation: ToolCallCancellation | None = wire_field(
        "message", ToolCallCancellation, default=None
    )
    go_away: GoAway | None = wire_field("message", GoAway, default=None)
    session_resumption_update: SessionResumptionUpdate | None = wire_field(
        "message", SessionResumptionUpdate, default=None
    )
    usage_metadata: UsageMetadata | None = wire_field("message", UsageMetadata, default=None)
    voice_activity: VoiceActivity | None = wire_field("message", VoiceActivity, default=None)
    voice_activity_detection_signal: VoiceActivityDetectionSignal | None = wire_field(
        "message", VoiceActivityDetectionSignal, default=None
    )
    extra: Mapping[str, Any] = extra_field(default=EMPTY)

    @classmethod
    def bundle(cls, *payloads: ServerPayload, **unknown: JSON) -> ServerMessage:
        """Return one frame carrying ``payloads`` (and unknown top-level keys)."""
        attrs: dict[str, Any] = {_ATTR_OF_ENVELOPE[p.ENVELOPE]: p for p in payloads}
        if unknown:
            attrs["extra"] = dict(unknown)
        return cls(**attrs)

    @property
    def payloads(self) -> tuple[ServerPayload, ...]:
        """The payloads present, in declaration order."""
        found = (
            self.setup_complete,
            self.server_content,
            self.tool_call,
            self.tool_call_cancellation,
            self.go_away,
            self.session_resumption_update,
            self.usage_metadata,
            self.voice_activity,
            self.voice_activity_detection_signal,
        )
        return tuple(p for p in found if p is not None)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The top-level wire keys present, unknown ones included."""
        return tuple(p.ENVELOPE for p in self.payloads) + tuple(self.extra)

    @property
    def text(self) -> str:
        """Text of the model-turn parts in this frame (thoughts excluded)."""
        sc = self.server_content
        mt = sc.model_turn if sc is not None else None
        return mt.text if mt is not None else ""

    @property
    def audio(self) -> bytes:
        """The audio bytes of this frame's model turn, concatenated."""
        sc = self.server_content
        mt = sc.model_turn if sc is not None else None
        parts = mt.parts if mt is not None else None
        if not parts:
            return b""
        if len(parts) == 1:  # the common case: one audio chunk per frame
            blob = parts[0].inline_data
            if blob is not None and blob.data is not None and _is_audio(blob.mime_type):
                return blob.data
            return b""
        return b"".join(b.data or b"" for b in self.audio_chunks())

    def audio_chunks(self) -> Iterator[Blob]:
        """Yield the audio ``inlineData`` blobs of this frame's model turn."""
        sc = self.server_content
        mt = sc.model_turn if sc is not None else None
        if mt is None or not mt.parts:
            return
        for part in mt.parts:
            blob = part.inline_data
            if blob is not None and blob.data is not None and _is_audio(blob.mime_type):
                yield blob


def _is_audio(mime: str | None) -> bool:
    return mime is None or mime.startswith("audio/")


CLIENT_ENVELOPES: tuple[str, ...] = tuple(
    cls.ENVELOPE for cls in (Setup, ClientContent, RealtimeInput, ToolResponse, ContextUpdate)
)
"""The top-level keys of client frames (camelCase), in declaration order."""

SERVER_ENVELOPES: tuple[str, ...] = tuple(
    cls.ENVELOPE
    for cls in (
        SetupComplete,
        ServerContent,
        ToolCall,
        ToolCallCancellation,
        GoAway,
        SessionResumptionUpdate,
        UsageMetadata,
        VoiceActivity,
        VoiceActivityDetectionSignal,
    )
)
"""The top-level keys of server frames (camelCase), in declaration order."""

_ATTR_OF_ENVELOPE: dict[str, str] = {key: snake(key) for key in CLIENT_ENVELOPES + SERVER_ENVELOPES}
