"""What WebSocket close codes and reasons from the Live API usually mean.

One table, built from the close reasons quoted in public reports (issues of
the official SDKs, the Gemini cookbook and projects using the API), shared by
the client's errors, the reconnect policy and ``rawlive explain``. Classification looks at
the reason text first (1008 covers both "model not found" and "stale session";
1011 covers both overload and exhausted quota) and falls back to the code.
"""

from __future__ import annotations

__all__ = [
    "CLOSE_REASON_LIMIT",
    "CloseExplanation",
    "cut_reason",
    "explain_close",
    "reason_is_truncated",
]

CLOSE_REASON_LIMIT = 123
"""A close reason is at most 123 bytes (125-byte payload minus the 2-byte code)."""


class CloseExplanation:
    """What a close usually means.

    Attributes:
        code: the close code.
        reason: the reason as received.
        title: a few words naming the situation.
        meaning: what usually causes it, and what to do.
        retryable: whether reconnecting (with the latest resumption handle) can help.
        normal_end: the close is the normal end of a connection (goAway deadline,
            a clean 1000): a reconnect with the latest handle continues the session.
        truncated: the reason looks cut at the 123-byte limit.
    """

    # A hand-written frozen record rather than a dataclass: ``rawlive explain``
    # imports only this module, and ``dataclasses`` (with ``inspect``) would
    # double its start-up time.
    __slots__ = ("code", "meaning", "normal_end", "reason", "retryable", "title", "truncated")
    _FIELDS = ("code", "reason", "title", "meaning", "retryable", "normal_end", "truncated")

    code: int
    reason: str
    title: str
    meaning: str
    retryable: bool
    normal_end: bool
    truncated: bool

    def __init__(
        self,
        *,
        code: int,
        reason: str,
        title: str,
        meaning: str,
        retryable: bool,
        normal_end: bool = False,
        truncated: bool = False,
    ) -> None:
        values = (code, reason, title, meaning, retryable, normal_end, truncated)
        for name, value in zip(self._FIELDS, values, strict=True):
            object.__setattr__(self, name, value)

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"CloseExplanation is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"CloseExplanation is immutable (cannot delete {name!r})")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, CloseExplanation)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._FIELDS)
        return f"CloseExplanation({args})"

    def __str__(self) -> str:
        cut = " (reason cut at the 123-byte limit)" if self.truncated else ""
        retry = "a retry can help" if self.retryable else "a retry will not help as is"
        return f"{self.code} {self.title}: {self.meaning}; {retry}{cut}"


# (code or None for any, lowercase substring of the reason, title, meaning, retryable, normal_end)
_REASON_RULES: tuple[tuple[int | None, str, str, str, bool, bool], ...] = (
    (None, "deadline expired", "connection lifetime reached",
     "the ~10 minute connection ended, usually after a goAway; reconnect with the latest "
     "resumption handle", True, True),
    (None, "session not found", "resumption handle refused",
     "the handle is stale (over 2 hours old) or unknown; start a new session without it",
     False, False),
    (None, "media_chunks is deprecated", "deprecated mediaChunks",
     "send realtimeInput.audio / video / text instead of mediaChunks", False, False),
    (None, "api key expired", "API key expired", "renew the API key", False, False),
    (None, "api key not valid", "invalid API key", "check the key you pass", False, False),
    (None, "is not found for api version", "model not served",
     "the model is retired, misspelled or not served on this API version; pick another "
     "model or version (v1beta for API keys)", False, False),
    (None, "not supported for bidigeneratecontent", "model not served",
     "the model does not support the Live API on this version", False, False),
    (None, "publisher model", "model not found in this location",
     "Vertex: the model is not served in this region; try us-central1", False, False),
    (None, "user location is not supported", "location not supported",
     "the API is not available from this location", False, False),
    (None, "operation is not implemented", "feature not supported",
     "a configured feature (often tools or a modality) is not supported by this model",
     False, False),
    (None, "requested entity was not found", "entity not found",
     "an entity (often the session, after a tool response) was not found; reconnecting "
     "with the latest handle sometimes helps", True, False),
    (None, "response modalities", "modality not supported",
     "the model refuses this responseModalities value (native-audio models need AUDIO)",
     False, False),
    (None, "cannot extract voices", "voice on a non-audio request",
     "remove speechConfig or ask for AUDIO responses", False, False),
    (None, "inputaudio", "bad input audio",
     "send 16 kHz 16-bit little-endian mono PCM as audio/pcm;rate=16000", False, False),
    (None, "overloaded", "service overloaded", "retry with backoff", True, False),
    (None, "resource exhausted", "quota exhausted",
     "the quota or credits are used up; a retry will not help until the quota resets",
     False, False),
    (None, "quota", "quota exhausted", "the quota is used up", False, False),
    (None, "currently unavailable", "service unavailable", "retry with backoff", True, False),
    (None, "keepalive ping timeout", "keepalive timeout",
     "pings got no pong in time (the service's pongs can take 8 to 30 s); raise ping_timeout "
     "or check for a blocked event loop", True, False),
    (None, "internal error", "internal error",
     "a server-side failure (also seen after a setup without a model); retry with the latest "
     "handle and check the setup if it repeats", True, False),
    (None, "invalid argument", "invalid argument",
     "the service rejected a message or the setup: a bad field, a tool response of the wrong "
     "shape, clientContent mid-session on 3.1 models, or unsupported tool combinations",
     False, False),
)  # fmt: skip

_CODE_RULES: dict[int, tuple[str, str, bool, bool]] = {
    1000: ("normal closure",
           "the connection ended normally (often right after a goAway, or at the ~10 minute "
           "limit); reconnect with the latest resumption handle to continue", True, True),
    1001: ("going away", "the server is shutting the connection down; reconnect", True, True),
    1002: ("protocol error", "a WebSocket-level protocol violation", False, False),
    1003: ("unsupported data", "the peer cannot accept this kind of frame", False, False),
    1005: ("no status", "closed without a status code", True, False),
    1006: ("connection dropped",
           "the TCP connection was lost with no close frame (network, proxy or a crashed "
           "peer); reconnect with backoff and the latest handle", True, False),
    1007: ("invalid payload",
           "the service rejected the content of a message or the setup; fix the message, "
           "do not retry it unchanged", False, False),
    1008: ("policy violation",
           "not found, not allowed or not supported: a model or version not served, a stale "
           "resumption handle, a bad key, or a feature the model lacks; change something "
           "before retrying", False, False),
    1009: ("message too big", "a frame exceeded the peer's size limit", False, False),
    1011: ("internal error",
           "a server-side failure, overload, quota or deadline; retry with backoff and the "
           "latest handle unless the reason names quota, credits or the key", True, False),
    1012: ("service restart", "the service is restarting; reconnect", True, False),
    1013: ("try again later", "the service is overloaded; retry with backoff", True, False),
    1014: ("bad gateway", "a proxy got a bad answer upstream; retry", True, False),
}  # fmt: skip


def cut_reason(reason: str, limit: int = CLOSE_REASON_LIMIT) -> str:
    """Return ``reason`` cut to ``limit`` bytes of UTF-8 without splitting a character."""
    data = reason.encode("utf-8")
    if len(data) <= limit:
        return reason
    return data[:limit].decode("utf-8", "ignore")


def reason_is_truncated(reason: str) -> bool:
    """Return whether ``reason`` looks cut at the 123-byte limit of a close frame."""
    return len(reason.encode("utf-8")) >= CLOSE_REASON_LIMIT - 3 and not reason.rstrip().endswith(
        (".", "!", ")", "]")
    )


def explain_close(code: int, reason: str = "") -> CloseExplanation:
    """Explain a close code and reason.

    Args:
        code: the WebSocket close code (1006 for a drop with no close frame).
        reason: the close reason, possibly cut at 123 bytes.

    Returns:
        What the close usually means and whether a retry can help.
    """
    title, meaning, retryable, normal_end = _meaning(code, reason.lower())
    return CloseExplanation(
        code=code,
        reason=reason,
        title=title,
        meaning=meaning,
        retryable=retryable,
        normal_end=normal_end,
        truncated=reason_is_truncated(reason),
    )


def _meaning(code: int, lowered: str) -> tuple[str, str, bool, bool]:
    """(title, meaning, retryable, normal_end): the first matching reason rule, else the code's."""
    for rule_code, needle, title, meaning, retryable, normal_end in _REASON_RULES:
        if (rule_code is None or rule_code == code) and needle in lowered:
            return title, meaning, retryable, normal_end
    if code in _CODE_RULES:
        return _CODE_RULES[code]
    if 4000 <= code < 5000:
        return ("application close", "a private-use code chosen by the peer", False, False)
    return ("unknown code", "no known meaning", False, False)
