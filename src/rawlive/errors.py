"""Exceptions raised by rawlive.

Every exception the library raises on purpose derives from :class:`LiveError`.
The tree splits errors the way h11 and wsproto do: *local* errors mean this
process misused the API (and nothing was sent), *remote* errors mean the peer
sent something wrong or ended the conversation::

    LiveError
    ├── LocalProtocolError          we misused the API; nothing was sent
    │   ├── ConfigurationError      bad argument to connect() and friends
    │   │   └── MissingAPIKeyError  no key in arguments, environment or .env
    │   │       └── VertexAuthError no Vertex AI access token (argument, ADC, gcloud)
    │   ├── ConcurrentReadError     a second reader on one session
    │   ├── QueueFullError          too many messages queued during a reconnect
    │   ├── LintError               an outgoing frame the service would reject
    │   ├── ServerNotStartedError   a fake/background server used before start()
    │   │                           (also a RuntimeError)
    │   └── WriterClosedError       a write to a closed capture or WAV writer
    │                               (also a ValueError)
    ├── AudioFormatError            bad MIME type, odd PCM, non-16-bit WAV
    │                               (also a ValueError)
    ├── CaptureFormatError          a capture file, line or record breaks the
    │                               format (also a ValueError)
    ├── RemoteProtocolError         the peer sent a frame we cannot decode
    ├── ConnectionClosedError       the WebSocket closed; carries code and reason
    │   └── SetupRejectedError      closed before setupComplete
    │       └── HandleRefusedError  ...because the resumption handle was refused
    │                               (also a ResumptionError)
    ├── SetupTimeoutError           no setupComplete in time (also a TimeoutError)
    ├── TurnTimeoutError            a turn did not complete in time (also a TimeoutError)
    ├── ResumptionError             a handle was refused or resumption is impossible
    ├── ReplayMismatchError         a replayed client frame did not match the capture
    └── TokenRequestError           minting an ephemeral token failed (HTTP status, reason)

Messages are lowercase without a trailing period. No error text ever contains
an API key: callers pass keys to :func:`rawlive.redact.redact` before formatting.
"""

from __future__ import annotations

from collections.abc import Iterable

TYPE_CHECKING = False  # typing itself is not imported: rawlive explain starts faster

if TYPE_CHECKING:
    from rawlive.protocol.session import Turn

__all__ = [
    "unexpected_keyword",
    "AudioFormatError",
    "CaptureFormatError",
    "ConcurrentReadError",
    "ConfigurationError",
    "ConnectionClosedError",
    "HandleRefusedError",
    "LintError",
    "LiveError",
    "LocalProtocolError",
    "MissingAPIKeyError",
    "QueueFullError",
    "RemoteProtocolError",
    "ReplayMismatchError",
    "ResumptionError",
    "ServerNotStartedError",
    "SetupRejectedError",
    "SetupTimeoutError",
    "TokenRequestError",
    "TurnTimeoutError",
    "VertexAuthError",
    "WriterClosedError",
    "shorten",
]

_FRAME_REPR_LIMIT = 200


def shorten(text: str | bytes, limit: int = _FRAME_REPR_LIMIT) -> str:
    """Return ``text`` cut to ``limit`` characters, saying how much was cut."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", "replace")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more chars]"


class LiveError(Exception):
    """Root of every exception rawlive raises on purpose."""


class LocalProtocolError(LiveError):
    """This process misused the API; nothing was sent to the peer."""


class ConfigurationError(LocalProtocolError, ValueError):
    """An argument to :func:`rawlive.connect` or a helper is invalid."""


class MissingAPIKeyError(ConfigurationError):
    """No API key was found.

    Attributes:
        searched: the variables and files that were looked at, in order.
    """

    def __init__(self, message: str, *, searched: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.searched = searched


class VertexAuthError(MissingAPIKeyError):
    """No Vertex AI access token could be found; the message names every way tried."""


class TokenRequestError(LiveError):
    """The ``auth_tokens`` endpoint refused to mint an ephemeral token.

    Attributes:
        status: the HTTP status (0 when the endpoint could not be reached).
    """

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ConcurrentReadError(LocalProtocolError, RuntimeError):
    """A second task tried to read from a session that already has a reader."""


class QueueFullError(LocalProtocolError):
    """More messages were sent during a reconnect than the queue holds."""


class LintError(LocalProtocolError, ValueError):
    """An outgoing frame would be rejected by the service (usually 1007/1008).

    Attributes:
        rule: a short stable identifier of the check that failed.
    """

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class ServerNotStartedError(LocalProtocolError, RuntimeError):
    """A bundled server (fake, background) was asked for its address before ``start()``.

    Also a :class:`RuntimeError`, which the fake server raised before.
    """


class WriterClosedError(LocalProtocolError, ValueError):
    """A write to a capture writer or a WAV writer after it was closed."""


class AudioFormatError(LiveError, ValueError):
    """Audio that rawlive cannot treat as 16-bit little-endian mono PCM."""


class CaptureFormatError(LiveError, ValueError):
    """A capture file, line or record breaks the capture format.

    Raised for bad JSON, a record without a required key, a key with the wrong
    type or value, and captures newer than this module understands.

    Attributes:
        message: what is wrong, without the location.
        filename: the file (or the name given for a list of lines) the record
            came from; ``None`` when a record was built or decoded in memory.
        lineno: the 1-based line number, or ``None``.
    """

    def __init__(
        self, message: str, *, filename: str | None = None, lineno: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.lineno = lineno

    def __str__(self) -> str:
        if self.lineno is not None:
            where = f"line {self.lineno}"
            if self.filename is not None:
                where = f"{self.filename}, {where}"
            return f"{where}: {self.message}"
        if self.filename is not None:
            return f"{self.filename}: {self.message}"
        return self.message


class RemoteProtocolError(LiveError):
    """The peer sent a frame that cannot be decoded as the protocol says.

    Attributes:
        frame: the offending frame exactly as received (``str`` or ``bytes``).
            Its ``repr`` in the error text is shortened; the attribute is not.
        path: where in the JSON document the problem is, e.g.
            ``serverContent.modelTurn.parts[0].inlineData.data``.
    """

    def __init__(self, message: str, *, frame: str | bytes | None = None, path: str = "") -> None:
        super().__init__(message)
        self.frame = frame
        self.path = path

    def __str__(self) -> str:
        text = super().__str__()
        if self.path:
            text = f"{text} (at {self.path})"
        if self.frame is not None:
            text = f"{text}; frame: {shorten(self.frame)}"
        return text


class ConnectionClosedError(LiveError):
    """The WebSocket connection closed, cleanly or not.

    Attributes:
        code: the close code (1006 when the connection dropped with no close frame).
        reason: the close reason as received.
        explanation: what the code and reason usually mean (see :mod:`rawlive.closecodes`).
        retryable: whether reconnecting (with the latest handle) can help.
        truncated: whether the reason looks cut at the 123-byte protocol limit.
        by_server: True when the server sent the close frame, False when we did,
            None when the connection dropped.
        dropped: the TCP connection was lost with no close frame.
        partial_turn: when raised by ``receive_turn``, what arrived of the turn.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int,
        reason: str = "",
        explanation: str = "",
        retryable: bool = False,
        truncated: bool = False,
        by_server: bool | None = None,
        dropped: bool = False,
    ) -> None:
        super().__init__(message)
        self.dropped = dropped
        self.partial_turn: Turn | None = None
        self.code = code
        self.reason = reason
        self.explanation = explanation
        self.retryable = retryable
        self.truncated = truncated
        self.by_server = by_server


class SetupRejectedError(ConnectionClosedError):
    """The connection closed before ``setupComplete`` arrived (bad setup, key or model)."""


class TurnTimeoutError(LiveError, TimeoutError):
    """A turn did not complete within the timeout given to ``receive_turn``.

    Attributes:
        partial_turn: what arrived of the turn before the timeout.
    """

    def __init__(self, message: str, *, partial_turn: Turn | None = None) -> None:
        super().__init__(message)
        self.partial_turn = partial_turn


class ResumptionError(LiveError):
    """A resumption handle was refused, or there is no handle to resume with."""


class HandleRefusedError(SetupRejectedError, ResumptionError):
    """The service refused the resumption handle (1008 "session not found")."""


class SetupTimeoutError(LiveError, TimeoutError):
    """No ``setupComplete`` arrived within the open timeout."""


class ReplayMismatchError(LiveError):
    """A client frame sent to a replay server did not match the capture.

    Attributes:
        expected: a description of the frame the capture holds at that point.
        got: a description of the frame that arrived.
    """

    def __init__(self, message: str, *, expected: str = "", got: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.got = got


def unexpected_keyword(function: str, name: str, known: Iterable[str]) -> TypeError:
    """The ``TypeError`` Python raises for an unknown keyword, with the likely one.

    For functions that take their keywords as ``**options`` (``connect()``,
    ``build_setup()``, the records), so a misspelt keyword reads as Python's
    own message, plus ``did you mean 'voice'?`` when a known name is close.
    """
    import difflib  # only on this error path: rawlive explain imports this module

    message = f"{function}() got an unexpected keyword argument {name!r}"
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    return TypeError(message)
