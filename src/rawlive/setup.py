"""The setup message a session sends: :func:`build_setup` (pure, no I/O).

:func:`rawlive.connect` takes the setup fields as keyword arguments; this
module turns them into one :class:`~rawlive.protocol.messages.Setup`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from rawlive.auth import normalize_model
from rawlive.errors import ConfigurationError, RemoteProtocolError, unexpected_keyword
from rawlive.protocol.codec import decode_client, encode_json
from rawlive.protocol.messages import (
    AudioTranscriptionConfig,
    Content,
    ContextWindowCompression,
    GenerationConfig,
    Part,
    SessionResumptionConfig,
    Setup,
    SlidingWindow,
    SpeechConfig,
    Tool,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

__all__ = ["SETUP_OPTIONS", "SetupOptions", "build_setup", "check_setup_options", "encode_raw"]


class SetupOptions(TypedDict, total=False):
    """The setup fields :func:`rawlive.connect` and :func:`build_setup` take by keyword.

    Declared once here; both functions take them as ``**options`` (PEP 692,
    so type checkers still check every name and type), and both refuse a
    name that is not one of these with the usual ``TypeError``.

    Keys:
        response_modalities: e.g. ``["AUDIO"]`` or ``["TEXT"]``.
        system_instruction: a string or a :class:`Content`.
        voice: a prebuilt voice name (``speechConfig``).
        tools: :class:`Tool` records or raw wire mappings.
        session_resumption: ``True`` asks for handles; a string resumes from
            that handle.
        input_audio_transcription / output_audio_transcription: ask for
            transcripts of either side's audio.
        context_window_compression: ``True`` (a sliding window), a trigger in
            tokens, or a :class:`ContextWindowCompression`.
        generation_config: a :class:`GenerationConfig` to start from.
        extra_setup: raw fields merged last at the top level of the setup
            object (the escape hatch for fields newer than this library).
    """

    response_modalities: Sequence[str] | None
    system_instruction: str | Content | None
    voice: str | None
    tools: Sequence[Tool | Mapping[str, Any]] | None
    session_resumption: bool | str | None
    input_audio_transcription: bool
    output_audio_transcription: bool
    context_window_compression: bool | int | ContextWindowCompression | None
    generation_config: GenerationConfig | None
    extra_setup: Mapping[str, Any] | None


SETUP_OPTIONS = frozenset(SetupOptions.__annotations__)
"""The names :class:`SetupOptions` declares."""


def check_setup_options(function: str, options: Mapping[str, Any]) -> None:
    """Refuse a keyword that is not a setup option, as Python refuses an unknown keyword.

    Raises:
        TypeError: ``function() got an unexpected keyword argument 'name'``.
    """
    for name in options:
        if name not in SETUP_OPTIONS:
            raise unexpected_keyword(function, name, SETUP_OPTIONS)


def build_setup(
    model: str | None,
    *,
    setup: Setup | Mapping[str, Any] | None = None,
    **options: Unpack[SetupOptions],
) -> Setup:
    """Return the setup message for the given options (:class:`SetupOptions`).

    Keyword options override the same fields of ``setup``; ``extra_setup`` is a
    raw dict merged last at the top level of the setup object (the escape hatch
    for fields newer than this library).
    """
    check_setup_options("build_setup", options)
    fresh = setup is None  # then the result is built from the changes alone
    if setup is None:
        base = Setup()
    elif isinstance(setup, Setup):
        base = setup
    else:
        try:
            base = decode_client(encode_raw({"setup": dict(setup)})).setup or Setup()
        except RemoteProtocolError as exc:
            raise ConfigurationError(f"invalid setup mapping: {exc}") from exc
    changes: dict[str, Any] = {}
    chosen_model = model or base.model
    if not chosen_model:
        raise ConfigurationError("a model is required (e.g. 'gemini-2.0-flash-live-001')")
    changes["model"] = normalize_model(chosen_model)
    generation_config = options.get("generation_config")
    gc = generation_config or base.generation_config
    gc_changes: dict[str, Any] = {}
    if isinstance(modalities := options.get("response_modalities"), str):
        raise ConfigurationError(
            f"response_modalities takes a list, e.g. [{modalities!r}], "
            f"not the string {modalities!r}"
        )
    if modalities is not None:
        gc_changes["response_modalities"] = tuple(m.upper() for m in modalities)
    if (voice := options.get("voice")) is not None:
        gc_changes["speech_config"] = SpeechConfig.voice(voice)
    if gc_changes or generation_config is not None:
        changes["generation_config"] = (
            GenerationConfig(**gc_changes) if gc is None else _replace(gc, gc_changes)
        )
    if (instruction := options.get("system_instruction")) is not None:
        changes["system_instruction"] = (
            Content(parts=(Part(text=instruction),))
            if isinstance(instruction, str)
            else instruction
        )
    if (tools := options.get("tools")) is not None:
        changes["tools"] = tuple(tools)  # mappings pass through as raw wire dicts
    resumption = options.get("session_resumption")
    if resumption is True:
        changes["session_resumption"] = SessionResumptionConfig()
    elif isinstance(resumption, str):
        changes["session_resumption"] = SessionResumptionConfig(handle=resumption)
    if options.get("input_audio_transcription"):
        changes["input_audio_transcription"] = AudioTranscriptionConfig()
    if options.get("output_audio_transcription"):
        changes["output_audio_transcription"] = AudioTranscriptionConfig()
    compression = options.get("context_window_compression")
    if compression is True:
        changes["context_window_compression"] = ContextWindowCompression(
            sliding_window=SlidingWindow()
        )
    elif isinstance(compression, int) and compression:
        changes["context_window_compression"] = ContextWindowCompression(
            trigger_tokens=compression, sliding_window=SlidingWindow()
        )
    elif isinstance(compression, ContextWindowCompression):
        changes["context_window_compression"] = compression
    # dataclasses.replace() walks every field: building a fresh record from the
    # changes gives the same record at a fraction of the cost (once per connect).
    result: Setup = Setup(**changes) if fresh else _replace(base, changes)
    if extra_setup := options.get("extra_setup"):
        merged = {**dict(result.extra), **dict(extra_setup)}
        result = _replace(result, {"extra": merged})
    return result


def _replace(obj: Any, changes: Mapping[str, Any]) -> Any:
    return dataclasses.replace(obj, **changes) if changes else obj


def encode_raw(value: Mapping[str, Any]) -> bytes:
    """Encode a raw JSON mapping (used for the dict escape hatch)."""
    return encode_json(value)
