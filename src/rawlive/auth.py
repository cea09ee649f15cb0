"""API keys, endpoints and model names: the one place that reads the environment.

Nothing else in rawlive reads environment variables or ``.env`` files.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from rawlive.errors import ConfigurationError, MissingAPIKeyError
from rawlive.redact import RedactingLogger, redact, redact_url

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_HOST",
    "ENV_VARIABLES",
    "VERTEX_ENV",
    "EPHEMERAL_PREFIX",
    "LIVE_PATH",
    "Credentials",
    "RedactingLogger",
    "check_endpoint",
    "find_env_file",
    "is_loopback_host",
    "live_path",
    "live_url",
    "normalize_model",
    "redact",
    "redact_url",
    "resolve_credentials",
    "vertex_settings",
]

DEFAULT_HOST = "generativelanguage.googleapis.com"
DEFAULT_API_VERSION = "v1beta"
ENV_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
VERTEX_ENV = ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION")
EPHEMERAL_PREFIX = "auth_tokens/"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key or ephemeral token, and where it came from.

    The secret never appears in ``repr`` or ``str``.
    """

    secret: str = field(repr=False)
    source: str = ""

    @property
    def ephemeral(self) -> bool:
        """Whether this is an ephemeral token (``auth_tokens/...``)."""
        return self.secret.startswith(EPHEMERAL_PREFIX)

    def headers(self) -> dict[str, str]:
        """Return the upgrade-request headers that carry the secret."""
        if self.ephemeral:
            return {"Authorization": f"Token {self.secret}"}
        return {"x-goog-api-key": self.secret}

    def __str__(self) -> str:
        return f"<{'ephemeral token' if self.ephemeral else 'API key'} from {self.source}>"


def find_env_file(start: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the nearest ``.env`` in ``start`` (default: the working folder) or a parent."""
    here = Path(start) if start is not None else Path.cwd()
    for folder in (here, *here.parents):
        candidate = folder / ".env"
        if candidate.is_file():
            return candidate
    return None


def resolve_credentials(
    api_key: str | None = None,
    *,
    env_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Find the API key: the argument, then the environment, then a ``.env`` file.

    Args:
        api_key: an explicit key or ephemeral token; wins over everything.
        env_file: a ``.env`` file to read; by default the nearest ``.env`` in the
            working folder or its parents (the seed keeps it one folder up).
        environ: the environment to read (default ``os.environ``).

    Returns:
        The credentials and a description of their source (never the key).

    Raises:
        MissingAPIKeyError: nothing was found; the message names every place looked at.
    """
    if api_key:
        return Credentials(api_key, "the api_key argument")
    env = os.environ if environ is None else environ
    searched: list[str] = []
    for name in ENV_VARIABLES:
        searched.append(f"${name}")
        if env.get(name, "").strip():  # a key of only spaces is not a key
            return Credentials(env[name], f"${name}")
    path = Path(env_file) if env_file is not None else find_env_file()
    if path is not None:
        searched.append(str(path))
        if path.is_file():
            from dotenv import dotenv_values

            values = dotenv_values(path)
            for name in ENV_VARIABLES:
                value = values.get(name)
                if value and value.strip():
                    return Credentials(value, f"{name} in {path}")
    else:
        searched.append(".env in the working folder and its parents (none found)")
    raise MissingAPIKeyError(
        "no API key found: looked in "
        + ", ".join(searched)
        + "; set GEMINI_API_KEY, pass api_key=, or run offline against the bundled fake "
        "server (rawlive say --server demo, or connect(endpoint=...) to a rawlive.testing server)",
        searched=tuple(searched),
    )


def normalize_model(model: str) -> str:
    """Add ``models/`` to a bare model id; keep any resource name with a slash as given."""
    model = model.strip()
    if not model:
        raise ConfigurationError("model name is empty")
    return model if "/" in model else f"models/{model}"


def live_url(*, api_version: str = DEFAULT_API_VERSION, ephemeral: bool = False) -> str:
    """Return the Gemini API Live endpoint (one slash after the host).

    Ephemeral tokens use ``v1alpha`` ``BidiGenerateContentConstrained``.
    """
    if ephemeral:
        return (
            f"wss://{DEFAULT_HOST}/ws/google.ai.generativelanguage.v1alpha."
            "GenerativeService.BidiGenerateContentConstrained"
        )
    if api_version == "v1":
        raise ConfigurationError(
            "the Gemini API serves the Live WebSocket on v1beta or v1alpha, not v1"
        )
    return f"wss://{DEFAULT_HOST}{live_path(api_version)}"


def live_path(api_version: str = DEFAULT_API_VERSION) -> str:
    """Return the path of the Gemini API Live endpoint for ``api_version``."""
    return f"/ws/google.ai.generativelanguage.{api_version}.GenerativeService.BidiGenerateContent"


LIVE_PATH = live_path("v1beta")
"""The Gemini API Live path (``v1beta``), the one the fake and replay servers point at."""


def is_loopback_host(host: str | None) -> bool:
    """Return whether ``host`` is ``localhost`` or a loopback address.

    A name under ``.localhost`` counts only when it resolves, and every
    address it resolves to is loopback: nothing forces a resolver to keep
    such names local.
    """
    if not host:
        return False
    host = host.strip("[]").lower().rstrip(".")
    if host in ("localhost", "127.0.0.1", "::1"):  # the common cases, without ipaddress
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not host.endswith(".localhost"):
        return False
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(_is_loopback_address(a) for a in addresses)


def _is_loopback_address(address: object) -> bool:
    try:
        return ipaddress.ip_address(str(address).partition("%")[0]).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, *, allow_insecure: bool = False) -> str:
    """Validate a ws:// or wss:// endpoint and return it unchanged.

    Plain ``ws://`` to a host that is not loopback is refused unless
    ``allow_insecure``, since the API key would travel in clear text.

    Raises:
        ConfigurationError: the URL is not a WebSocket URL, or is insecure.
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigurationError(f"invalid endpoint {shown!r}: {redact_url(str(exc))}") from None
    try:
        port = parts.port
    except ValueError:
        text = parts.netloc.rpartition("@")[2].rpartition(":")[2]
        what = (
            f"port {text} is out of range (0 to 65535)"
            if text.isdigit()
            else (f"the port {text!r} is not a number")
        )
        raise ConfigurationError(f"invalid endpoint {shown!r}: {what}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigurationError(f"endpoint must be a ws:// or wss:// URL, got {shown!r}")
    if port is None and parts.netloc.rpartition("@")[2].endswith(":"):
        raise ConfigurationError(f"invalid endpoint {shown!r}: the port after ':' is empty")
    if port == 0:
        raise ConfigurationError(f"invalid endpoint {shown!r}: port 0 cannot be dialled")
    if parts.scheme == "ws" and not allow_insecure and not is_loopback_host(parts.hostname):
        raise ConfigurationError(
            f"refusing plain ws:// to {parts.hostname}: the API key would travel in clear text; "
            "use wss:// or pass allow_insecure=True"
        )
    return url


def vertex_settings(
    vertex: bool | None,
    project: str | None,
    location: str | None,
    *,
    environ: Mapping[str, str] | None = None,
) -> tuple[bool, str | None, str | None]:
    """Return ``(vertex, project, location)``, filling gaps as the official SDK does.

    ``GOOGLE_GENAI_USE_VERTEXAI`` (``true``/``1``) turns Vertex AI on when
    ``vertex`` is None; ``GOOGLE_CLOUD_PROJECT`` and ``GOOGLE_CLOUD_LOCATION``
    fill a missing project and location.
    """
    env = os.environ if environ is None else environ
    if vertex is None:
        vertex = env.get("GOOGLE_GENAI_USE_VERTEXAI", "").strip().lower() in ("1", "true", "yes")
    if vertex:
        project = project or env.get("GOOGLE_CLOUD_PROJECT") or None
        location = location or env.get("GOOGLE_CLOUD_LOCATION") or None
    return vertex, project, location
