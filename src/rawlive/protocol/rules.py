"""What the service rejects: one table, keyed by rule.

Everything rawlive knows about what the Live API refuses lives here, with the
close code and reason the service answers with. The outgoing lint
(:mod:`rawlive.protocol.lint`: the client before sending, ``rawlive lint``
over a capture) and the fake and replay servers (``rules="service"``) all read
this table, so a client passes offline exactly when the lint lets its frames
through, and fails with the code and reason it would get online.

``recorded`` says whether the code and reason were seen for that very case in
public material (the close reasons of real sessions), or are the service's
generic answer for a request it cannot accept (``1007 Request contains an
invalid argument.``), used where no public source records the exact answer.

``lint`` says whether the outgoing lint can see the problem from the frames
and the URL alone. A wrong key, an expired handle or an unknown model need
the service's own knowledge; the servers apply those rules from their
configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias
from urllib.parse import parse_qsl

__all__ = [
    "API_KEY_INVALID",
    "DEADLINE_EXPIRED",
    "GEMINI_LIVE_VERSIONS",
    "INTERNAL_ERROR",
    "INVALID_ARGUMENT",
    "MEDIA_CHUNKS_DEPRECATED",
    "MODEL_NOT_FOUND",
    "RULES",
    "SESSION_NOT_FOUND",
    "RULE_MODES",
    "Rule",
    "RuleMode",
    "backend_of",
    "live_path_version",
    "offered_credentials",
    "split_target",
]

# Close reasons, verbatim from real sessions (see each rule's ``source``).
INVALID_ARGUMENT = "Request contains an invalid argument."
INTERNAL_ERROR = "Internal error encountered."
API_KEY_INVALID = "API key not valid. Please pass a valid API key."
SESSION_NOT_FOUND = "BidiGenerateContent session not found"
MEDIA_CHUNKS_DEPRECATED = (
    "realtime_input.media_chunks is deprecated. Use audio, video, or text instead."
)
DEADLINE_EXPIRED = "Deadline expired before operation could complete."
MODEL_NOT_FOUND = (
    "{model} is not found for API version {version}, or is not supported for bidiGenerateContent"
)

RuleMode: TypeAlias = Literal["service", "lenient"]
"""How a server applies the table: ``"service"`` refuses what the service
refuses; ``"lenient"`` lets the rules of the outgoing lint through."""

RULE_MODES: frozenset[str] = frozenset(("service", "lenient"))

GEMINI_LIVE_VERSIONS = frozenset({"v1beta", "v1alpha"})
"""The API versions on which the Gemini API serves the Live WebSocket (not ``v1``)."""

_GEMINI_LIVE_PATH = re.compile(
    r"google\.ai\.generativelanguage\.(?P<version>v\d+[a-z]*\d*)\.GenerativeService\."
    r"(?P<method>[A-Za-z]+)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One thing the service refuses, and how it says so.

    Attributes:
        id: the stable rule id (``LintError.rule``, ``rawlive lint`` output).
        summary: what the rule catches, in a few words.
        code: the WebSocket close code the service sends.
        reason: the close reason; ``{model}`` and ``{version}`` are filled in
            by :meth:`close_reason`.
        recorded: the code and reason were seen for this case in public material.
        lint: the outgoing lint can check it from the frames and the URL.
        source: where the code and reason (or the rule itself) come from.
    """

    id: str
    summary: str
    code: int
    reason: str
    recorded: bool
    lint: bool
    source: str

    def close_reason(self, *, model: str = "", version: str = "") -> str:
        """Return the close reason with the model and API version filled in."""
        if "{" not in self.reason:
            return self.reason
        return self.reason.format(model=model or "models/unknown", version=version or "v1beta")


def _rule(
    id: str, summary: str, code: int, reason: str, *, recorded: bool, lint: bool, source: str
) -> tuple[str, Rule]:
    rule = Rule(
        id=id, summary=summary, code=code, reason=reason, recorded=recorded, lint=lint,
        source=source,
    )  # fmt: skip
    return id, rule


RULES: Mapping[str, Rule] = dict(
    (
        _rule(
            "undecodable",
            "a client frame that is not a JSON object of known messages",
            1007,
            INVALID_ARGUMENT,
            recorded=False,
            lint=True,
            source="ai.google.dev/api/live: a client message is one of setup, clientContent, "
            "realtimeInput, toolResponse",
        ),
        _rule(
            "one-key",
            "a client frame with more than one top-level key, or none",
            1007,
            INVALID_ARGUMENT,
            recorded=False,
            lint=True,
            source="proto v1beta BidiGenerateContentClientMessage: a oneof",
        ),
        _rule(
            "setup-first",
            "anything but setup as the first frame",
            1007,
            INVALID_ARGUMENT,
            recorded=False,
            lint=True,
            source="ai.google.dev/api/live: the first message is the setup",
        ),
        _rule(
            "second-setup",
            "a second setup on the same connection",
            1007,
            INVALID_ARGUMENT,
            recorded=False,
            lint=True,
            source="ai.google.dev/api/live: setup is sent once, first",
        ),
        _rule(
            "setup-model",
            "a setup without model",
            1011,
            INTERNAL_ERROR,
            recorded=True,
            lint=True,
            source="discuss.ai.google.dev/t/unity-gemini-live-api-websocket-closed-with-"
            "internalservererror-after-sending-setup-messag/95520",
        ),
        _rule(
            "media-chunks",
            "the deprecated realtimeInput.mediaChunks",
            1007,
            MEDIA_CHUNKS_DEPRECATED,
            recorded=True,
            lint=True,
            source="github.com/mastra-ai/mastra/issues/18287",
        ),
        _rule(
            "activity-with-vad",
            "activityStart/activityEnd while automatic activity detection is on",
            1007,
            INVALID_ARGUMENT,
            recorded=False,
            lint=True,
            source="proto v1beta BidiGenerateContentRealtimeInput.activity_start: only with "
            "automatic activity detection disabled",
        ),
        _rule(
            "stream-end-without-vad",
            "audioStreamEnd while automatic activity detection is off",
            1007,
            INVALID_ARGUMENT,
            recorded=False,
            lint=True,
            source="proto v1beta BidiGenerateContentRealtimeInput.audio_stream_end: only with "
            "automatic activity detection enabled",
        ),
        _rule(
            "tool-response-id",
            "a function response without id, or whose id matches no pending call",
            1007,
            INVALID_ARGUMENT,
            recorded=False,
            lint=True,
            source="proto v1beta FunctionResponse.id; a tool result in the wrong shape got 1007 "
            "(github.com/vercel/ai/issues/20695)",
        ),
        _rule(
            "vertex-only-field",
            "a Vertex-AI-only setup field (sessionResumption.transparent, explicitVadSignal) "
            "sent to the Gemini API",
            1007,
            INVALID_ARGUMENT,
            recorded=False,
            lint=True,
            source="google-genai _live_converters.py: the SDK refuses these fields on the "
            "Gemini API (ValueError); the service's answer to them is not recorded",
        ),
        _rule(
            "api-version",
            "a Gemini API Live URL on an API version other than v1beta or v1alpha",
            1008,
            MODEL_NOT_FOUND,
            recorded=False,
            lint=True,
            source="google-genai tests/live_api/conftest.py (Live is served on v1beta); the v1 "
            "proto has no BidiGenerateContent; reason form from github.com/google/adk-python/"
            "issues/3964",
        ),
        _rule(
            "ephemeral-endpoint",
            "an ephemeral token (auth_tokens/...) on an endpoint other than v1alpha "
            "BidiGenerateContentConstrained",
            1008,
            API_KEY_INVALID,
            recorded=False,
            lint=True,
            source="ai.google.dev/gemini-api/docs/ephemeral-tokens",
        ),
        _rule(
            "api-key",
            "a missing or wrong API key (only when the server has one)",
            1008,
            API_KEY_INVALID,
            recorded=False,
            lint=False,
            source="the service checks the key from x-goog-api-key, ?key= or ?access_token=",
        ),
        _rule(
            "model-not-found",
            "a model the service does not serve on this API version",
            1008,
            MODEL_NOT_FOUND,
            recorded=True,
            lint=False,
            source="github.com/google/adk-python/issues/3964",
        ),
        _rule(
            "session-not-found",
            "an unknown or expired resumption handle",
            1008,
            SESSION_NOT_FOUND,
            recorded=True,
            lint=False,
            source="github.com/yeyu2/Youtube_demos/issues/5",
        ),
    )
)
"""Every rule, by id."""


def backend_of(url: str) -> str:
    """``"vertex"`` for a Vertex AI Live URL or path, else ``"gemini"`` (the Gemini API)."""
    return "vertex" if "google.cloud.aiplatform." in url else "gemini"


def live_path_version(path: str) -> tuple[str, str] | None:
    """Return ``(version, method)`` of a Gemini API Live path, or None for any other path.

    ``//ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent``
    gives ``("v1beta", "BidiGenerateContent")``. Vertex AI paths
    (``google.cloud.aiplatform...``) and unrelated paths give None.
    """
    match = _GEMINI_LIVE_PATH.search(path)
    if match is None:
        return None
    return match.group("version"), match.group("method")


def split_target(target: str) -> tuple[str, str]:
    """Split a request target (``/path?query``) into path and query.

    Not ``urllib.parse.urlsplit``: it reads ``//ws/...`` (the SDKs' double
    slash) as a host named ``ws`` and drops that segment from the path.
    """
    path, _, query = target.partition("?")
    return path, query


def offered_credentials(target: str, headers: Iterable[tuple[str, str]]) -> list[str]:
    """Return the keys or tokens a Live request carries, wherever the service reads them.

    That is the ``x-goog-api-key`` header, ``Authorization: Token`` (or
    ``Bearer``), and the ``key`` and ``access_token`` query parameters.

    Args:
        target: the request target, path and query.
        headers: the request headers as (name, value) pairs.
    """
    offered: list[str] = []
    for name, value in headers:
        lname = name.lower()
        if lname == "x-goog-api-key":
            offered.append(value.strip())
        elif lname == "authorization":
            scheme, _, credentials = value.strip().partition(" ")
            if scheme.lower() in {"token", "bearer"}:
                offered.append(credentials.strip())
    for name, value in parse_qsl(split_target(target)[1], keep_blank_values=True):
        if name in ("key", "access_token"):
            offered.append(value)
    return offered
