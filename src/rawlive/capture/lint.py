"""``rawlive lint CAPTURE``: the outgoing-frame checks, run over a capture file.

Each connection of the capture is replayed through a fresh
:class:`~rawlive.protocol.lint.LintContext`: server frames update it (pending
tool calls), client frames are checked with the same rules the client applies
before sending (see :mod:`rawlive.protocol.lint`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rawlive.capture.format import Capture, FrameRecord
from rawlive.errors import RemoteProtocolError
from rawlive.protocol.codec import decode_client, decode_server
from rawlive.protocol.lint import LintContext, lint_message

__all__ = ["LintFinding", "format_findings", "lint_capture"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LintFinding:
    """One problem in a capture's client frames.

    Attributes:
        conn: the connection number.
        frame: the position of the frame among the capture's frame records (1-based).
        t: the frame's time offset in seconds.
        rule: the rule id (see :mod:`rawlive.protocol.lint`), or ``undecodable``.
        message: what is wrong.
    """

    conn: int
    frame: int
    t: float
    rule: str
    message: str

    def __str__(self) -> str:
        return f"conn {self.conn} frame {self.frame} at {self.t:.3f}s: [{self.rule}] {self.message}"


def lint_capture(capture: Capture) -> list[LintFinding]:
    """Return every problem the outgoing lint finds in the capture's client frames."""
    contexts: dict[int, LintContext] = {}
    findings: list[LintFinding] = []
    position = 0
    for record in capture.records:
        if not isinstance(record, FrameRecord):
            continue
        position += 1
        context = contexts.setdefault(record.conn, LintContext())
        try:
            if record.dir == "server":
                context.received(decode_server(record.payload))
                continue
            message = decode_client(record.payload)
        except RemoteProtocolError as exc:
            if record.dir == "client":
                findings.append(
                    LintFinding(
                        conn=record.conn, frame=position, t=record.t, rule="undecodable",
                        message=str(exc),
                    )
                )  # fmt: skip
            continue
        for issue in lint_message(message, context):
            findings.append(
                LintFinding(
                    conn=record.conn, frame=position, t=record.t, rule=issue.rule,
                    message=issue.message,
                )
            )  # fmt: skip
        context.sent(message)
    return findings


def format_findings(findings: list[LintFinding]) -> str:
    """Return the findings one per line, with a closing count."""
    lines = [str(f) for f in findings]
    lines.append(f"{len(findings)} problem{'s' if len(findings) != 1 else ''} found")
    return "\n".join(lines)
