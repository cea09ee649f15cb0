"""The one place secrets are redacted: URLs, headers, text and logs.

A key or token travels in one of these places, and each has one function:

- the URL's query (``?key=``, ``?access_token=``, ``?token=``, ``;key=``...):
  :func:`redact_url`, which also drops the user part (``ws://user:KEY@host``);
- a header (``x-goog-api-key``, ``Authorization: Bearer/Token ...``):
  :func:`redact_header`;
- any text that may hold the known secret (a frame the server echoes back,
  an error message, a close reason): :func:`redact`;
- free text that may hold any of the above (a websockets DEBUG log line, a
  repr): :func:`redact_text`, which applies the URL and header rules to every
  URL and header line in it, then :func:`redact`.

Every log, capture, repr and error path in rawlive goes through these
functions; nothing else in the package knows which names are secret.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

__all__ = [
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_QUERY_NAMES",
    "RedactingLogger",
    "redact",
    "redact_header",
    "redact_text",
    "redact_url",
    "redacting_logger",
    "url_secrets",
]

REDACTED = "REDACTED"
"""What every secret is replaced by."""

SECRET_QUERY_NAMES = frozenset(
    {"key", "access_token", "token", "api_key", "apikey", "auth_token", "bearer_token"}
)
"""Query parameter names whose value is a secret (compared case-insensitively)."""

SECRET_HEADERS = frozenset(
    {"x-goog-api-key", "authorization", "proxy-authorization", "x-api-key", "cookie"}
)
"""Header names whose value is a secret (lower case)."""


def _spelled_any_way(name: str) -> str:
    # Each character as itself or percent-encoded (?%6Bey= is ?key= to a server).
    return "".join(f"(?:{re.escape(c)}|%{ord(c):02x})" for c in name)


_NAMES = "|".join(_spelled_any_way(n) for n in sorted(SECRET_QUERY_NAMES, key=len, reverse=True))
# A secret query (or ;matrix) parameter anywhere in a text: the value runs to
# the next separator, quote or whitespace.
_QUERY_RE = re.compile(rf"([?&;])({_NAMES})=[^&;#\s\"'<>]*", re.IGNORECASE)
# The user part of a URL: scheme://USERINFO@host.
_USERINFO_RE = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@?#\"'<>]*@")
_QUERY_VALUE_RE = re.compile(rf"[?&;](?:{_NAMES})=([^&;#\s\"'<>]*)", re.IGNORECASE)
_USERINFO_VALUE_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://([^/\s@?#\"'<>]*)@")
_HEADER_NAMES = "|".join(re.escape(h) for h in sorted(SECRET_HEADERS))
# A header line as websockets logs it ("> x-goog-api-key: KEY") or as text
# ("Authorization: Bearer KEY"); a scheme word before the credentials is kept.
_HEADER_RE = re.compile(
    rf"(?im)\b({_HEADER_NAMES})(\s*[:=]\s*)((?:bearer|token|basic)\s+)?[^\s,;\"'<>]+"
)


def redact(text: str, *secrets: str | None) -> str:
    """Return ``text`` with every occurrence of each secret replaced by ``REDACTED``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_bytes(data: bytes, *secrets: str | None) -> bytes:
    """Return ``data`` with every UTF-8 occurrence of each secret replaced by ``REDACTED``."""
    for secret in secrets:
        if secret:
            raw = secret.encode("utf-8", "surrogateescape")
            if raw in data:
                data = data.replace(raw, REDACTED.encode())
    return data


def redact_url(url: str, *secrets: str | None) -> str:
    """Return ``url`` with secret query values and the user part replaced.

    ``?key=K``, ``&access_token=T``, ``?token=T``, ``;key=K`` (any name in
    :data:`SECRET_QUERY_NAMES`) keep their name and get ``REDACTED`` as value;
    ``ws://user:K@host`` becomes ``ws://REDACTED@host``. Works on any text,
    even a URL that does not parse. The given secrets are redacted too.
    """
    if "@" in url:  # only a user part has one
        url = _USERINFO_RE.sub(lambda m: f"{m.group(1)}{REDACTED}@", url)
    if "=" in url:  # only a query parameter has one
        url = _QUERY_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}={REDACTED}", url)
    return redact(url, *secrets)


def url_secrets(url: str) -> tuple[str, ...]:
    """Return the secrets a URL carries: secret query values and the user part.

    A client adds them to the secrets it redacts, so a key given in the URL
    and echoed back in a frame is redacted like one given in a header.
    """
    if "@" not in url and "=" not in url:
        return ()  # no user part, no query value: the common case, without the regexes
    found: list[str] = []
    for m in _QUERY_VALUE_RE.finditer(url):
        if m.group(1):
            found.append(m.group(1))
            found.append(unquote(m.group(1)))
    userinfo = _USERINFO_VALUE_RE.search(url)
    if userinfo is not None:
        for piece in userinfo.group(1).split(":", 1):
            if piece:
                found.extend((piece, unquote(piece)))
    # Short values (a user name "a") would redact half of every text.
    return tuple(dict.fromkeys(s for s in found if len(s) >= 8))


def redact_header(name: str, value: str, *secrets: str | None) -> str:
    """Return the value of header ``name`` as it may be shown or stored.

    A secret header keeps only its scheme (``Bearer REDACTED``); any other
    header has the given secrets replaced.
    """
    if name.lower() in SECRET_HEADERS:
        scheme, sep, _ = value.strip().partition(" ")
        if sep and scheme.lower() in ("bearer", "token", "basic"):
            return f"{scheme} {REDACTED}"
        return REDACTED
    return redact(value, *secrets)


def redact_text(text: str, *secrets: str | None) -> str:
    """Return free text with every URL secret, secret header value and secret replaced."""
    text = redact_url(text)
    text = _HEADER_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{REDACTED}", text)
    return redact(text, *secrets)


if TYPE_CHECKING:
    _Adapter = logging.LoggerAdapter[logging.Logger]
else:
    _Adapter = logging.LoggerAdapter


class RedactingLogger(_Adapter):
    """A logger for websockets that never writes a key.

    websockets logs every handshake header and the request line at DEBUG
    level; this adapter formats each record, then passes it through
    :func:`redact_text` (with the given secrets) before any handler sees it.
    The client and both servers use it.
    """

    def __init__(self, base: logging.Logger, secrets: Iterable[str | None] = ()) -> None:
        super().__init__(base, {})
        self.secrets = tuple(s for s in secrets if s)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join([str(msg), *map(str, args)])
        kwargs.pop("extra", None)
        self.logger.log(level, "%s", redact_text(text, *self.secrets), **kwargs)


def redacting_logger(name: str, secrets: Iterable[str | None] = ()) -> RedactingLogger:
    """The :class:`RedactingLogger` for the logger ``name`` and these secrets.

    Connections with the same secrets share one (a few are kept), so a
    process with a thousand sessions on one key holds one logger, not a
    thousand.
    """
    return _shared_logger(name, tuple(s for s in secrets if s))


@functools.lru_cache(maxsize=16)
def _shared_logger(name: str, secrets: tuple[str, ...]) -> RedactingLogger:
    return RedactingLogger(logging.getLogger(name), secrets)
