"""Offline stand-ins for the Live API: a loopback fake server and its scripted model.

:class:`FakeLiveServer` speaks the BidiGenerateContent protocol over real
WebSocket frames on ``127.0.0.1``, so clients, examples and tests run without a
network or an API key::

    async with FakeLiveServer() as server:
        ...  # connect any Live API client to server.url

:class:`FakeModel` decides what the fake service answers; subclass it and pass
``FakeLiveServer(model=...)`` to script other replies.

:mod:`rawlive.testing.faults` describes what the service does when things go
wrong, as frozen records a test injects in one line::

    async with FakeLiveServer(faults=[DropConnection(after_chunks=3)]) as server:
        ...

Unlike the pure layers, this package imports asyncio and websockets.
"""

from __future__ import annotations

from rawlive.testing.fake_model import (
    AUDIO_TOKENS_PER_SECOND,
    FakeModel,
    split_text,
    synthesize_speech,
)
from rawlive.testing.fake_server import (
    API_KEY_INVALID,
    DEADLINE_EXPIRED,
    INTERNAL_ERROR,
    INVALID_ARGUMENT,
    LIVE_PATH,
    MEDIA_CHUNKS_DEPRECATED,
    SESSION_NOT_FOUND,
    ConnectionRecord,
    FakeConnection,
    FakeLiveServer,
    fake_server,
)
from rawlive.testing.faults import (
    ArmedFault,
    BundleFields,
    CancelToolCall,
    CloseWith,
    DelayTurnComplete,
    DropConnection,
    ExpireHandles,
    Fault,
    FaultyConnection,
    GoAwayThenClose,
    InterruptedWithAudio,
    NeverCompleteTurn,
    NotResumableUpdates,
    PointFault,
    SlowPongs,
    TextFrames,
    UnknownTopLevelKeys,
    with_faults,
)

__all__ = [
    "API_KEY_INVALID",
    "AUDIO_TOKENS_PER_SECOND",
    "DEADLINE_EXPIRED",
    "INTERNAL_ERROR",
    "INVALID_ARGUMENT",
    "LIVE_PATH",
    "MEDIA_CHUNKS_DEPRECATED",
    "SESSION_NOT_FOUND",
    "ArmedFault",
    "BundleFields",
    "CancelToolCall",
    "CloseWith",
    "ConnectionRecord",
    "DelayTurnComplete",
    "DropConnection",
    "ExpireHandles",
    "FakeConnection",
    "FakeLiveServer",
    "FakeModel",
    "Fault",
    "FaultyConnection",
    "GoAwayThenClose",
    "InterruptedWithAudio",
    "NeverCompleteTurn",
    "NotResumableUpdates",
    "PointFault",
    "SlowPongs",
    "TextFrames",
    "UnknownTopLevelKeys",
    "fake_server",
    "split_text",
    "synthesize_speech",
    "with_faults",
]
