"""rawlive: a hand-written client for the Gemini Live API over raw WebSockets.

The pure layers (:mod:`rawlive.protocol`, :mod:`rawlive.audio`) are imported
eagerly; the asyncio client is imported on first use of :func:`connect` or
:class:`Session`, so ``import rawlive`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rawlive.errors import (
    AudioFormatError,
    ConcurrentReadError,
    ConfigurationError,
    ConnectionClosedError,
    HandleRefusedError,
    LintError,
    LiveError,
    LocalProtocolError,
    MissingAPIKeyError,
    QueueFullError,
    RemoteProtocolError,
    ReplayMismatchError,
    ResumptionError,
    SetupRejectedError,
    SetupTimeoutError,
    TurnTimeoutError,
)
from rawlive.protocol import (
    AudioTranscriptionConfig,
    AutomaticActivityDetection,
    Blob,
    ClientContent,
    ClientMessage,
    ClientPayload,
    CodeExecutionResult,
    Content,
    ContextUpdate,
    ContextWindowCompression,
    ExecutableCode,
    FileData,
    FunctionCall,
    FunctionDeclaration,
    FunctionResponse,
    GenerationConfig,
    GoAway,
    Handle,
    HistoryConfig,
    ModalityTokenCount,
    ModelName,
    Part,
    PrebuiltVoiceConfig,
    ProactivityConfig,
    RealtimeInput,
    RealtimeInputConfig,
    ServerContent,
    ServerMessage,
    ServerPayload,
    SessionResumptionConfig,
    SessionResumptionUpdate,
    Setup,
    SetupComplete,
    SlidingWindow,
    SpeechConfig,
    ThinkingConfig,
    Tool,
    ToolCall,
    ToolCallCancellation,
    ToolResponse,
    ToolsUpdate,
    Transcription,
    UsageMetadata,
    VoiceActivity,
    VoiceActivityDetectionSignal,
    VoiceConfig,
    decode_client,
    decode_json,
    decode_server,
    encode,
    to_wire,
)
from rawlive.resilience import Reconnected, ReconnectPolicy

if TYPE_CHECKING:
    from rawlive.client import Session, Turn, connect
    from rawlive.tokens import EphemeralToken, create_ephemeral_token

__version__ = "0.1.0"

_LAZY = {
    "connect": "rawlive.client",
    "Session": "rawlive.client",
    "Turn": "rawlive.client",
    "EphemeralToken": "rawlive.tokens",
    "create_ephemeral_token": "rawlive.tokens",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rawlive' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AudioFormatError",
    "AudioTranscriptionConfig",
    "AutomaticActivityDetection",
    "Blob",
    "ClientContent",
    "ClientMessage",
    "ClientPayload",
    "CodeExecutionResult",
    "ConcurrentReadError",
    "ConfigurationError",
    "ConnectionClosedError",
    "Content",
    "ContextUpdate",
    "ContextWindowCompression",
    "EphemeralToken",
    "ExecutableCode",
    "FileData",
    "FunctionCall",
    "FunctionDeclaration",
    "FunctionResponse",
    "GenerationConfig",
    "GoAway",
    "Handle",
    "HandleRefusedError",
    "HistoryConfig",
    "LintError",
    "LiveError",
    "LocalProtocolError",
    "MissingAPIKeyError",
    "ModalityTokenCount",
    "ModelName",
    "Part",
    "PrebuiltVoiceConfig",
    "ProactivityConfig",
    "QueueFullError",
    "RealtimeInput",
    "RealtimeInputConfig",
    "ReconnectPolicy",
    "Reconnected",
    "RemoteProtocolError",
    "ReplayMismatchError",
    "ResumptionError",
    "ServerContent",
    "ServerMessage",
    "ServerPayload",
    "Session",
    "SessionResumptionConfig",
    "SessionResumptionUpdate",
    "Setup",
    "SetupComplete",
    "SetupRejectedError",
    "SetupTimeoutError",
    "SlidingWindow",
    "SpeechConfig",
    "ThinkingConfig",
    "Tool",
    "ToolCall",
    "ToolCallCancellation",
    "ToolResponse",
    "ToolsUpdate",
    "Transcription",
    "Turn",
    "TurnTimeoutError",
    "UsageMetadata",
    "VoiceActivity",
    "VoiceActivityDetectionSignal",
    "VoiceConfig",
    "__version__",
    "connect",
    "create_ephemeral_token",
    "decode_client",
    "decode_json",
    "decode_server",
    "encode",
    "to_wire",
]
