"""``rawlive lint CAPTURE``: the outgoing-frame checks, run over a capture file.

Each connection of the capture is followed with the client's own state
machine (:class:`~rawlive.protocol.session.SessionState`): its frames tell
which setup was sent and which function calls are pending, and each client
frame is checked with the rules the client applies before sending (see
:mod:`rawlive.protocol.lint` and the table in :mod:`rawlive.protocol.rules`).
"""

from __future__ import annotations

import contextlib

from rawlive.capture.format import Capture, FrameRecord
from rawlive.errors import LocalProtocolError, RemoteProtocolError
from rawlive.protocol.codec import decode_client, decode_server
from rawlive.protocol.lint import LintIssue, lint_message
from rawlive.protocol.session import SessionState

__all__ = ["LintIssue", "format_findings", "lint_capture"]


def lint_capture(capture: Capture) -> list[LintIssue]:
    """Return every problem the outgoing lint finds in the capture's client frames.

    Each issue carries its place: ``conn``, ``frame`` (the position among the
    capture's frame records, 1-based) and ``t``. A client frame that does not
    decode is reported under the rule ``undecodable``.
    """
    states: dict[int, SessionState] = {}
    findings: list[LintIssue] = []
    position = 0
    for record in capture.records:
        if not isinstance(record, FrameRecord):
            continue
        position += 1
        state = states.setdefault(record.conn, SessionState())
        try:
            if record.dir == "server":
                server_message = decode_server(record.payload)
                # Out-of-order frames are the lint's business, not the state machine's.
                with contextlib.suppress(LocalProtocolError):
                    state.on_receive(server_message)
                continue
            message = decode_client(record.payload)
        except RemoteProtocolError as exc:
            if record.dir == "client":
                findings.append(_at(record, position, "undecodable", str(exc)))
            continue
        for issue in lint_message(message, setup=state.setup, pending_calls=state.pending_calls):
            findings.append(_at(record, position, issue.rule, issue.message))
        with contextlib.suppress(LocalProtocolError):
            state.on_send(message)
    return findings


def _at(record: FrameRecord, position: int, rule: str, message: str) -> LintIssue:
    return LintIssue(rule=rule, message=message, conn=record.conn, frame=position, t=record.t)


def format_findings(findings: list[LintIssue]) -> str:
    """Return the findings one per line, with a closing count."""
    lines = [str(f) for f in findings]
    lines.append(f"{len(findings)} problem{'s' if len(findings) != 1 else ''} found")
    return "\n".join(lines)
