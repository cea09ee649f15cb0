"""The setup message a session sends: :func:`build_setup` (pure, no I/O).

:func:`rawlive.connect` takes the setup fields as keyword arguments; this
module turns them into one :class:`~rawlive.protocol.messages.Setup`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from rawlive.auth import normalize_model
from rawlive.errors import ConfigurationError, RemoteProtocolError
from rawlive.protocol.codec import decode_client, encode_json
from rawlive.protocol.messages import (
    AudioTranscriptionConfig,
    Content,
    ContextWindowCompression,
    GenerationConfig,
    Part,
    SessionResumptionConfig,
    SlidingWindow,
    SpeechConfig,
    Tool,
)
from rawlive.protocol.messages import Setup as SetupMessage

__all__ = ["build_setup", "encode_raw"]


def build_setup(
    model: str | None,
    *,
    setup: SetupMessage | Mapping[str, Any] | None = None,
    response_modalities: Sequence[str] | None = None,
    system_instruction: str | Content | None = None,
    voice: str | None = None,
    tools: Sequence[Tool | Mapping[str, Any]] | None = None,
    session_resumption: bool | str | None = None,
    input_audio_transcription: bool = False,
    output_audio_transcription: bool = False,
    context_window_compression: bool | int | ContextWindowCompression | None = None,
    generation_config: GenerationConfig | None = None,
    extra_setup: Mapping[str, Any] | None = None,
) -> SetupMessage:
    """Return the setup message for the given options.

    Keyword options override the same fields of ``setup``; ``extra_setup`` is a
    raw dict merged last at the top level of the setup object (the escape hatch
    for fields newer than this library).
    """
    fresh = setup is None  # then the result is built from the changes alone
    if setup is None:
        base = SetupMessage()
    elif isinstance(setup, SetupMessage):
        base = setup
    else:
        try:
            base = decode_client(encode_raw({"setup": dict(setup)})).setup or SetupMessage()
        except RemoteProtocolError as exc:
            raise ConfigurationError(f"invalid setup mapping: {exc}") from exc
    changes: dict[str, Any] = {}
    chosen_model = model or base.model
    if not chosen_model:
        raise ConfigurationError("a model is required (e.g. 'gemini-2.0-flash-live-001')")
    changes["model"] = normalize_model(chosen_model)
    gc = generation_config or base.generation_config
    gc_changes: dict[str, Any] = {}
    if response_modalities is not None:
        gc_changes["response_modalities"] = tuple(m.upper() for m in response_modalities)
    if voice is not None:
        gc_changes["speech_config"] = SpeechConfig.voice(voice)
    if gc_changes or generation_config is not None:
        changes["generation_config"] = (
            GenerationConfig(**gc_changes) if gc is None else _replace(gc, gc_changes)
        )
    if system_instruction is not None:
        changes["system_instruction"] = (
            Content(parts=(Part(text=system_instruction),))
            if isinstance(system_instruction, str)
            else system_instruction
        )
    if tools is not None:
        changes["tools"] = tuple(tools)  # mappings pass through as raw wire dicts
    if session_resumption is True:
        changes["session_resumption"] = SessionResumptionConfig()
    elif isinstance(session_resumption, str):
        changes["session_resumption"] = SessionResumptionConfig(handle=session_resumption)
    if input_audio_transcription:
        changes["input_audio_transcription"] = AudioTranscriptionConfig()
    if output_audio_transcription:
        changes["output_audio_transcription"] = AudioTranscriptionConfig()
    if context_window_compression is True:
        changes["context_window_compression"] = ContextWindowCompression(
            sliding_window=SlidingWindow()
        )
    elif isinstance(context_window_compression, int) and context_window_compression:
        changes["context_window_compression"] = ContextWindowCompression(
            trigger_tokens=context_window_compression, sliding_window=SlidingWindow()
        )
    elif isinstance(context_window_compression, ContextWindowCompression):
        changes["context_window_compression"] = context_window_compression
    # dataclasses.replace() walks every field: building a fresh record from the
    # changes gives the same record at a fraction of the cost (once per connect).
    result: SetupMessage = SetupMessage(**changes) if fresh else _replace(base, changes)
    if extra_setup:
        merged = {**dict(result.extra), **dict(extra_setup)}
        result = _replace(result, {"extra": merged})
    return result


def _replace(obj: Any, changes: Mapping[str, Any]) -> Any:
    return dataclasses.replace(obj, **changes) if changes else obj


def encode_raw(value: Mapping[str, Any]) -> bytes:
    """Encode a raw JSON mapping (used for the dict escape hatch)."""
    return encode_json(value)
