"""Outgoing lint: catch what the service would answer with an opaque 1007 or 1008.

The service closes the connection, with a terse reason, on frames it cannot
accept. These checks run before a frame is sent (the client raises
:class:`~rawlive.errors.LintError`, nothing is sent) and over capture files
(``rawlive lint CAPTURE``). Each rule has a stable id:

=====================  ======================================================
rule                   what it catches
=====================  ======================================================
one-key                a client frame with more than one top-level key, or none
setup-first            anything but ``setup`` as the first frame
second-setup           a second ``setup`` on the same connection
setup-model            a ``setup`` without ``model`` (closed 1011)
media-chunks           the deprecated ``realtimeInput.mediaChunks`` (1007)
activity-with-vad      ``activityStart``/``activityEnd`` while automatic
                       activity detection is on
stream-end-without-vad ``audioStreamEnd`` while automatic activity detection
                       is off
tool-response-id       a function response without an ``id``, or whose id
                       matches no pending call
ephemeral-endpoint     an ephemeral token on an endpoint that is not
                       ``BidiGenerateContentConstrained``
=====================  ======================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rawlive.errors import LintError
from rawlive.protocol.messages import ClientMessage, ServerMessage, Setup

__all__ = [
    "LintContext",
    "LintIssue",
    "check_ephemeral_endpoint",
    "check_message",
    "lint_message",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class LintIssue:
    """One problem found in an outgoing frame."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


@dataclass(slots=True, kw_only=True)
class LintContext:
    """What the checks need to know about the connection so far.

    Feed it the frames in order with :meth:`sent` and :meth:`received`.
    """

    setup: Setup | None = None
    pending_calls: set[str] = field(default_factory=set)
    check_tool_ids: bool = True

    def sent(self, message: ClientMessage) -> None:
        """Account for a client frame that went out."""
        if message.setup is not None and self.setup is None:
            self.setup = message.setup
        tr = message.tool_response
        if tr is not None:
            for response in tr.function_responses or ():
                if response.id is not None:
                    self.pending_calls.discard(response.id)

    def received(self, message: ServerMessage) -> None:
        """Account for a server frame that came in."""
        tc = message.tool_call
        if tc is not None:
            for call in tc.function_calls or ():
                if call.id is not None:
                    self.pending_calls.add(call.id)
        tcc = message.tool_call_cancellation
        if tcc is not None:
            for call_id in tcc.ids or ():
                self.pending_calls.discard(call_id)


def lint_message(message: ClientMessage, context: LintContext) -> list[LintIssue]:
    """Return the problems of one outgoing frame (empty when it is fine)."""
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
        if context.setup is not None:
            issues.append(
                LintIssue(rule="second-setup", message="setup was already sent on this connection")
            )
        if not message.setup.model:
            issues.append(
                LintIssue(
                    rule="setup-model",
                    message="setup has no model (the service closes with 1011 Internal error)",
                )
            )
    elif context.setup is None and kinds:
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
        vad_on = context.setup.vad_enabled if context.setup is not None else True
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
            elif context.check_tool_ids and response.id not in context.pending_calls:
                issues.append(
                    LintIssue(
                        rule="tool-response-id",
                        message=f"function response id {response.id!r} matches no pending call "
                        f"(pending: {sorted(context.pending_calls) or 'none'})",
                    )
                )
    return issues


def check_message(message: ClientMessage, context: LintContext) -> None:
    """Raise :class:`LintError` for the first problem of an outgoing frame."""
    issues = lint_message(message, context)
    if issues:
        first = issues[0]
        raise LintError(f"refusing to send: {first.message}", rule=first.rule)


def check_ephemeral_endpoint(url: str, secret_is_token: bool) -> Iterable[LintIssue]:
    """Return a problem when an ephemeral token targets a non-constrained endpoint."""
    if secret_is_token and "BidiGenerateContentConstrained" not in url:
        yield LintIssue(
            rule="ephemeral-endpoint",
            message="ephemeral tokens (auth_tokens/...) only work on the v1alpha "
            "BidiGenerateContentConstrained endpoint",
        )
