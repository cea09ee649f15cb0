"""Minting ephemeral tokens: a short-lived credential for a browser or a phone.

A server that holds the real API key asks the Gemini API for a token and hands
only the token to its client, which then connects to the v1alpha
``BidiGenerateContentConstrained`` endpoint with it (``rawlive.connect`` does
that by itself when ``api_key`` starts with ``auth_tokens/``). The request
(google-genai ``tokens.py`` ``Tokens.create``; the Gemini API's
"Ephemeral tokens" guide)::

    POST https://generativelanguage.googleapis.com/v1alpha/auth_tokens
    x-goog-api-key: <the real key>
    {"uses": 1, "expireTime": "...", "newSessionExpireTime": "...",
     "bidiGenerateContentSetup": {...}, "fieldMask": "..."}
    -> {"name": "auth_tokens/..."}

``uses`` 0 means unlimited; resuming a session does not spend a use. Both
times must be less than 20 hours ahead. Only the standard library is used.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rawlive.errors import ConfigurationError, TokenRequestError

__all__ = ["EphemeralToken", "create_ephemeral_token", "parse_duration"]

DEFAULT_TOKEN_BASE = "https://generativelanguage.googleapis.com"
TOKEN_PATH = "/v1alpha/auth_tokens"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_AHEAD = _dt.timedelta(hours=20)


@dataclass(frozen=True)
class EphemeralToken:
    """A minted token. ``name`` is the credential (``auth_tokens/...``); it never shows in a repr.

    Attributes:
        name: the token, to pass as ``api_key=`` (or ``?access_token=`` from a browser).
        expire_time: when the token stops working (ISO 8601, UTC).
        new_session_expire_time: the last moment it can open a new session.
        uses: how many sessions it can start (0: unlimited).
        raw: the endpoint's whole answer.
    """

    name: str = field(repr=False)
    expire_time: str
    new_session_expire_time: str
    uses: int
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)


def parse_duration(text: str) -> _dt.timedelta:
    """Parse ``30m``, ``1h30m``, ``90s`` or ``1.5h`` into a timedelta.

    Raises:
        ConfigurationError: anything else.
    """
    cleaned = text.strip().lower()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(cleaned):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not cleaned or pos != len(cleaned):
        raise ConfigurationError(f"a duration looks like 30m, 1h or 90s, got {text!r}")
    return _dt.timedelta(seconds=total)


def _iso(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _when(value: _dt.datetime | _dt.timedelta | str | None, default: _dt.timedelta) -> _dt.datetime:
    now = _dt.datetime.now(_dt.timezone.utc)
    if value is None:
        return now + default
    if isinstance(value, _dt.timedelta):
        return now + value
    if isinstance(value, str):
        return now + parse_duration(value)
    if value.tzinfo is None:
        raise ConfigurationError("give expire times as timezone-aware datetimes (UTC)")
    return value


def create_ephemeral_token(
    api_key: str | None = None,
    *,
    uses: int = 1,
    expire_time: _dt.datetime | _dt.timedelta | str | None = None,
    new_session_expire_time: _dt.datetime | _dt.timedelta | str | None = None,
    live_constraints: Mapping[str, Any] | None = None,
    lock_fields: list[str] | None = None,
    base_url: str | None = None,
    env_file: str | None = None,
    timeout: float = 30.0,
) -> EphemeralToken:
    """Ask the Gemini API for an ephemeral token (POST ``v1alpha/auth_tokens``).

    Args:
        api_key: the real key; else found as :func:`rawlive.connect` finds it.
        uses: sessions the token may start (default 1; 0: unlimited).
        expire_time: when the token expires: a datetime, a timedelta from
            now, or a duration text such as ``"30m"`` (default 30 minutes).
        new_session_expire_time: the last moment a session may start with it
            (default 1 minute).
        live_constraints: a setup (the same object as the WebSocket ``setup``
            value, camelCase) the token is locked to.
        lock_fields: with ``live_constraints``, lock only these field paths
            (``fieldMask``); None locks the whole setup.
        base_url: ``http(s)://host:port`` to ask instead of the service (tests,
            gateways); the path stays ``/v1alpha/auth_tokens``.
        env_file: the ``.env`` file to read the key from.
        timeout: seconds for the request.

    Returns:
        The token; pass ``token.name`` as ``api_key=`` to :func:`rawlive.connect`.

    Raises:
        MissingAPIKeyError: no key was found.
        ConfigurationError: bad arguments (times in the past or over 20 h ahead).
        TokenRequestError: the endpoint refused or could not be reached.
    """
    from rawlive.auth import redact, resolve_credentials

    key = resolve_credentials(api_key, env_file=env_file).secret
    if uses < 0:
        raise ConfigurationError(f"uses must be 0 (unlimited) or more, got {uses}")
    expires = _when(expire_time, _dt.timedelta(minutes=30))
    starts_by = _when(new_session_expire_time, _dt.timedelta(minutes=1))
    now = _dt.datetime.now(_dt.timezone.utc)
    for name, moment in (("expire_time", expires), ("new_session_expire_time", starts_by)):
        if not now < moment < now + _MAX_AHEAD:
            raise ConfigurationError(f"{name} must be in the future and less than 20 hours ahead")
    body: dict[str, Any] = {
        "uses": uses,
        "expireTime": _iso(expires),
        "newSessionExpireTime": _iso(starts_by),
    }
    if live_constraints is not None:
        body["bidiGenerateContentSetup"] = dict(live_constraints)
        if lock_fields is not None:
            body["fieldMask"] = ",".join(lock_fields)
    url = (base_url or DEFAULT_TOKEN_BASE).rstrip("/") + TOKEN_PATH
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"the token endpoint must be http(s)://, got {url!r}")
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"x-goog-api-key": key, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read(1 << 20) or b"{}")
    except urllib.error.HTTPError as exc:
        detail = _error_detail(exc)
        raise TokenRequestError(
            redact(f"the token endpoint refused: HTTP {exc.code} {detail}".strip(), key),
            status=exc.code,
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TokenRequestError(
            redact(f"could not reach the token endpoint {url}: {reason}", key)
        ) from None
    except ValueError:
        raise TokenRequestError("the token endpoint's answer is not JSON") from None
    token = answer.get("name") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token.startswith("auth_tokens/"):
        raise TokenRequestError("the token endpoint's answer has no auth_tokens/... name")
    return EphemeralToken(
        name=token,
        expire_time=body["expireTime"],
        new_session_expire_time=body["newSessionExpireTime"],
        uses=uses,
        raw=answer,
    )


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The ``error.message`` of a Google API error body, else the HTTP reason."""
    try:
        payload = json.loads(exc.read(1 << 16) or b"{}")
        message = payload["error"]["message"]
        if isinstance(message, str) and message:
            return message.splitlines()[0][:300]
    except (ValueError, KeyError, TypeError, OSError):
        pass
    return str(exc.reason or "")
