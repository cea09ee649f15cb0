"""Outgoing lint: catch what the service would answer with an opaque close.

The service closes the connection, with a terse reason, on frames it cannot
accept. These checks run before a frame is sent (the client raises
:class:`~rawlive.errors.LintError`, nothing is sent), over capture files
(``rawlive lint CAPTURE``), and inside the fake and replay servers, which
close with the service's code and reason (``rules="service"``). The rules,
their ids and those codes live in one table, :data:`rawlive.protocol.rules.RULES`;
this module holds only the checks.

The checks keep no state of their own: the caller passes what the connection
knows so far (the setup sent, the pending function call ids), which the
client already tracks in :class:`~rawlive.protocol.session.SessionState`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from rawlive.errors import LintError
from rawlive.protocol.messages import ClientMessage, Setup
from rawlive.protocol.rules import GEMINI_LIVE_VERSIONS, RULES, Rule, live_path_version

__all__ = [
    "LintIssue",
    "check_message",
    "check_request",
    "lint_message",
    "lint_request",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class LintIssue:
    """One problem found in an outgoing frame or a connection request.

    Attributes:
        rule: the rule id, a key of :data:`~rawlive.protocol.rules.RULES`.
        message: what is wrong, for people.
        conn: in a capture, the connection number.
        frame: in a capture, the frame's position among its frame records (1-based).
        t: in a capture, the frame's time offset in seconds.
    """

    rule: str
    message: str
    conn: int | None = None
    frame: int | None = None
    t: float | None = None

    @property
    def spec(self) -> Rule:
        """The rule's table entry (close code and reason the service uses)."""
        return RULES[self.rule]

    def __str__(self) -> str:
        where = ""
        if self.conn is not None and self.frame is not None:
            where = f"conn {self.conn} frame {self.frame} at {self.t or 0.0:.3f}s: "
        return f"{where}[{self.rule}] {self.message}"


def lint_message(
    message: ClientMessage,
    *,
    setup: Setup | None,
    pending_calls: Collection[str] | None = None,
    backend: str = "gemini",
) -> list[LintIssue]:
    """Return the problems of one outgoing frame (empty when it is fine).

    Args:
        message: the frame, decoded.
        setup: the setup already sent on this connection, None before it.
        pending_calls: the ids of function calls awaiting a response; None
            skips the check that a response answers a pending call.
        backend: ``"gemini"`` (the Gemini API) or ``"vertex"`` (Vertex AI):
            which service's fields apply (:func:`~rawlive.protocol.rules.backend_of`
            tells it from the URL).
    """
    issues: list[LintIssue] = []
    kinds = message.kinds
    if len(kinds) != 1:
        issues.append(
            LintIssue(
                rule="one-key",
                message=f"a client frame must have exactly one top-level key, got {list(kinds)}",
            )
        )
    if message.setup is not None:
        if setup is not None:
            issues.append(
                LintIssue(rule="second-setup", message="setup was already sent on this connection")
            )
        if backend != "vertex":
            vertex_only = _vertex_only_fields(message.setup)
            if vertex_only:
                issues.append(
                    LintIssue(
                        rule="vertex-only-field",
                        message=f"{' and '.join(vertex_only)} only exist on Vertex AI; "
                        "the Gemini API refuses them",
                    )
                )
        if not message.setup.model:
            issues.append(
                LintIssue(
                    rule="setup-model",
                    message="setup has no model (the service closes with 1011 Internal error)",
                )
            )
    elif setup is None and kinds:
        issues.append(
            LintIssue(rule="setup-first", message=f"the first frame must be setup, not {kinds[0]}")
        )
    ri = message.realtime_input
    if ri is not None:
        if ri.media_chunks is not None:
            issues.append(
                LintIssue(
                    rule="media-chunks",
                    message="realtimeInput.mediaChunks is deprecated and rejected with 1007; "
                    "send realtimeInput.audio, video or text instead",
                )
            )
        vad_on = setup.vad_enabled if setup is not None else True
        if vad_on and (ri.activity_start is not None or ri.activity_end is not None):
            issues.append(
                LintIssue(
                    rule="activity-with-vad",
                    message="activityStart/activityEnd need automatic activity detection "
                    "disabled in setup.realtimeInputConfig",
                )
            )
        if not vad_on and ri.audio_stream_end:
            issues.append(
                LintIssue(
                    rule="stream-end-without-vad",
                    message="audioStreamEnd only applies with automatic activity detection on; "
                    "send activityEnd instead",
                )
            )
    tr = message.tool_response
    if tr is not None:
        for response in tr.function_responses or ():
            if not response.id:
                issues.append(
                    LintIssue(
                        rule="tool-response-id",
                        message=f"function response {response.name!r} has no id; the Gemini API "
                        "requires the id of the call it answers",
                    )
                )
            elif pending_calls is not None and response.id not in pending_calls:
                issues.append(
                    LintIssue(
                        rule="tool-response-id",
                        message=f"function response id {response.id!r} matches no pending call "
                        f"(pending: {sorted(pending_calls) or 'none'})",
                    )
                )
    return issues


def lint_request(url: str, *, ephemeral: bool) -> list[LintIssue]:
    """Return the problems of a connection URL (empty when it is fine).

    Args:
        url: the WebSocket URL (or just its path).
        ephemeral: the credential is an ephemeral token (``auth_tokens/...``).
    """
    issues: list[LintIssue] = []
    parsed = live_path_version(urlsplit(url).path or url)
    if parsed is not None and parsed[0] not in GEMINI_LIVE_VERSIONS:
        issues.append(
            LintIssue(
                rule="api-version",
                message=f"the Gemini API serves the Live WebSocket on v1beta or v1alpha, "
                f"not {parsed[0]}",
            )
        )
    if ephemeral and (parsed is None or parsed != ("v1alpha", "BidiGenerateContentConstrained")):
        issues.append(
            LintIssue(
                rule="ephemeral-endpoint",
                message="ephemeral tokens (auth_tokens/...) only work on the v1alpha "
                "BidiGenerateContentConstrained endpoint",
            )
        )
    return issues


def _raise_first(issues: list[LintIssue], doing: str) -> None:
    if issues:
        first = issues[0]
        raise LintError(f"refusing to {doing}: {first.message}", rule=first.rule)


def check_message(
    message: ClientMessage,
    *,
    setup: Setup | None,
    pending_calls: Collection[str] | None = None,
    backend: str = "gemini",
) -> None:
    """Raise :class:`LintError` for the first problem of an outgoing frame.

    Args:
        message, setup, pending_calls, backend: as for :func:`lint_message`.
    """
    issues = lint_message(message, setup=setup, pending_calls=pending_calls, backend=backend)
    _raise_first(issues, "send")


def _vertex_only_fields(setup: Setup) -> list[str]:
    found = []
    resumption = setup.session_resumption
    if resumption is not None and resumption.transparent is not None:
        found.append("sessionResumption.transparent")
    if setup.explicit_vad_signal is not None:
        found.append("explicitVadSignal")
    return found


def check_request(url: str, *, ephemeral: bool) -> None:
    """Raise :class:`LintError` for the first problem of a connection URL."""
    _raise_first(lint_request(url, ephemeral=ephemeral), "connect")
