"""``rawlive lint CAPTURE``: the outgoing-frame checks, run over a capture file.

Each connection of the capture is followed with the client's own state
machine (:class:`~rawlive.protocol.session.SessionState`): its frames tell
which setup was sent and which function calls are pending, and each client
frame is checked with the rules the client applies before sending (see
:mod:`rawlive.protocol.lint` and the table in :mod:`rawlive.protocol.rules`).
"""

from __future__ import annotations

import contextlib

from rawlive.capture.records import Capture, FrameRecord
from rawlive.errors import LocalProtocolError, RemoteProtocolError
from rawlive.protocol.codec import decode_client, decode_server
from rawlive.protocol.lint import LintIssue, lint_message
from rawlive.protocol.rules import backend_of
from rawlive.protocol.session import SessionState

__all__ = ["ConnectionLint", "LintIssue", "format_findings", "lint_capture"]


class ConnectionLint:
    """The outgoing lint over one connection's frames, in order.

    Server frames keep its state current (the setup, pending tool calls);
    each client frame is checked against what the service rejects before
    its own effect is applied. ``rawlive lint`` runs one per connection of a
    capture, and ``rawlive proxy --lint`` one per relayed connection.
    """

    def __init__(self, backend: str = "gemini") -> None:
        self.state = SessionState()
        self.backend = backend

    def server(self, payload: str | bytes) -> None:
        """Account for a server frame (an undecodable one is not the lint's business)."""
        with contextlib.suppress(RemoteProtocolError, LocalProtocolError):
            # Out-of-order frames are the lint's business, not the state machine's.
            self.state.on_receive(decode_server(payload))

    def client(self, payload: str | bytes) -> list[tuple[str, str]]:
        """Return ``(rule, message)`` for each problem of a client frame."""
        try:
            message = decode_client(payload)
        except RemoteProtocolError as exc:
            return [("undecodable", str(exc))]
        state = self.state
        issues = lint_message(
            message, setup=state.setup, pending_calls=state.pending_calls, backend=self.backend
        )
        found = [(issue.rule, issue.message) for issue in issues]
        with contextlib.suppress(LocalProtocolError):
            state.on_send(message)
        return found


def lint_capture(capture: Capture) -> list[LintIssue]:
    """Return every problem the outgoing lint finds in the capture's client frames.

    Each issue carries its place: ``conn``, ``frame`` (the position among the
    capture's frame records, 1-based) and ``t``. A client frame that does not
    decode is reported under the rule ``undecodable``.
    """
    linters: dict[int, ConnectionLint] = {}
    backends = {opened.conn: backend_of(opened.endpoint) for opened in capture.opens()}
    findings: list[LintIssue] = []
    position = 0
    for record in capture.records:
        if not isinstance(record, FrameRecord):
            continue
        position += 1
        linter = linters.get(record.conn)
        if linter is None:
            linter = linters[record.conn] = ConnectionLint(backends.get(record.conn, "gemini"))
        if record.dir == "server":
            linter.server(record.payload)
            continue
        for rule, message in linter.client(record.payload):
            findings.append(_at(record, position, rule, message))
    return findings


def _at(record: FrameRecord, position: int, rule: str, message: str) -> LintIssue:
    return LintIssue(rule=rule, message=message, conn=record.conn, frame=position, t=record.t)


def format_findings(findings: list[LintIssue]) -> str:
    """Return the findings one per line, with a closing count."""
    lines = [str(f) for f in findings]
    lines.append(f"{len(findings)} problem{'s' if len(findings) != 1 else ''} found")
    return "\n".join(lines)
