"""A fake ``v1alpha/auth_tokens`` endpoint, so minting can be tested end to end.

The websockets server drops an HTTP POST before ``process_request`` runs, so
the fake Live server mints tokens on a port of its own: a tiny HTTP/1.1
listener that answers ``POST /v1alpha/auth_tokens`` as the Gemini API does
(``{"name": "auth_tokens/..."}``; errors as a Google API error body) and keeps
what it minted in a :class:`TokenRegistry`, which the Live server consults
when a connection presents a token. Requests are bounded (16 KiB of headers,
1 MiB of body, 10 s to arrive); anything else gets a 4xx and the connection
closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MintedToken", "TokenEndpoint", "TokenRegistry"]

_MAX_HEAD = 16 * 1024
_MAX_BODY = 1 << 20
_READ_TIMEOUT = 10.0
_INVALID_KEY = "API key not valid. Please pass a valid API key."


@dataclass
class MintedToken:
    """One ephemeral token the fake minted.

    Attributes:
        name: ``auth_tokens/...``.
        uses: sessions it may still start (None: unlimited).
        expire_time: when it stops working.
        new_session_expire_time: the last moment it may start a session.
        constraints: the ``bidiGenerateContentSetup`` it is locked to, if any.
    """

    name: str
    uses: int | None
    expire_time: _dt.datetime
    new_session_expire_time: _dt.datetime
    constraints: dict[str, Any] | None = None


@dataclass
class TokenRegistry:
    """The tokens a fake server minted, and the rule for spending them."""

    tokens: dict[str, MintedToken] = field(default_factory=dict)

    def mint(self, body: dict[str, Any], now: _dt.datetime | None = None) -> MintedToken:
        """Mint a token from a request body; raise ValueError for a bad one."""
        now = now or _dt.datetime.now(_dt.timezone.utc)
        uses = body.get("uses", 1)
        if not isinstance(uses, int) or isinstance(uses, bool) or uses < 0:
            raise ValueError("uses must be a non-negative integer")
        expire = _parse_time(body.get("expireTime"), now + _dt.timedelta(minutes=30))
        start_by = _parse_time(body.get("newSessionExpireTime"), now + _dt.timedelta(minutes=1))
        limit = now + _dt.timedelta(hours=20)
        if not (now < expire <= limit and now < start_by <= limit):
            raise ValueError("expire times must be in the future and less than 20 hours ahead")
        setup = body.get("bidiGenerateContentSetup")
        token = MintedToken(
            name=f"auth_tokens/{secrets.token_hex(16)}",
            uses=None if uses == 0 else uses,
            expire_time=expire,
            new_session_expire_time=start_by,
            constraints=setup if isinstance(setup, dict) else None,
        )
        self.tokens[token.name] = token
        return token

    def accepts(self, offered: str, *, resuming: bool, spend: bool = True) -> bool:
        """Whether ``offered`` is a live token that may open this connection.

        A new session spends one use; a resumed one spends none.
        """
        token = None
        for name, candidate in self.tokens.items():
            if hmac.compare_digest(name.encode(), offered.encode()):
                token = candidate
        if token is None:
            return False
        now = _dt.datetime.now(_dt.timezone.utc)
        if now >= token.expire_time:
            return False
        if resuming:
            return True
        if now >= token.new_session_expire_time or token.uses == 0:
            return False
        if spend and token.uses is not None:
            token.uses -= 1
        return True


def _parse_time(value: object, default: _dt.datetime) -> _dt.datetime:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError("times are RFC 3339 strings")
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an RFC 3339 time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise ValueError("times need a UTC offset")
    return moment


def _error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message, "status": status}}


class TokenEndpoint:
    """``POST /v1alpha/auth_tokens`` on loopback, minting into ``registry``.

    Args:
        registry: where minted tokens go (the Live server reads it).
        api_key: the key a request must carry in ``x-goog-api-key`` (None: any).
        host: the address to listen on.
    """

    def __init__(self, registry: TokenRegistry, *, api_key: str | None, host: str) -> None:
        self.registry = registry
        self.api_key = api_key
        self.host = host
        self.port = 0
        self.requests = 0
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``: give it to ``create_ephemeral_token(base_url=...)``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0, limit=_MAX_HEAD)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload = await asyncio.wait_for(self._answer(reader), _READ_TIMEOUT)
        except (asyncio.TimeoutError, asyncio.LimitOverrunError, ValueError, ConnectionError):
            status, payload = _error(400, "INVALID_ARGUMENT", "bad request")
        body = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
        head = (
            f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\n"
            "Content-Type: application/json; charset=UTF-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode() + body)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
        self.requests += 1
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        path = rest.partition(" ")[0].partition("?")[0]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length < 0 or length > _MAX_BODY:
            return _error(400, "INVALID_ARGUMENT", "request body too large")
        raw = await reader.readexactly(length) if length else b""
        if path != "/v1alpha/auth_tokens":
            return _error(404, "NOT_FOUND", f"no such method: {path[:80]}")
        if method != "POST":
            return _error(405, "INVALID_ARGUMENT", "use POST")
        key = headers.get("x-goog-api-key", "")
        if self.api_key is not None and not hmac.compare_digest(
            key.encode(), self.api_key.encode()
        ):
            return _error(400, "INVALID_ARGUMENT", _INVALID_KEY)
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            token = self.registry.mint(body)
        except ValueError as exc:
            return _error(400, "INVALID_ARGUMENT", str(exc))
        return 200, {"name": token.name}
