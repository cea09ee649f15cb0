"""Where a Live session connects and how it authenticates: Gemini API or Vertex AI.

The official SDKs reach the Live API three ways, and so does rawlive:

- **Gemini API key**: ``wss://generativelanguage.googleapis.com/ws/google.ai.
  generativelanguage.v1beta.GenerativeService.BidiGenerateContent``, header
  ``x-goog-api-key``.
- **Ephemeral token**: the same host, ``v1alpha`` ``...BidiGenerateContentConstrained``,
  header ``Authorization: Token auth_tokens/...`` (see :mod:`rawlive.tokens`).
- **Vertex AI**: ``wss://{location}-aiplatform.googleapis.com/ws/google.cloud.
  aiplatform.v1beta1.LlmBidiService/BidiGenerateContent``, header
  ``Authorization: Bearer <access token>``; in **express mode** the same path
  on ``aiplatform.googleapis.com`` with ``x-goog-api-key``.

Vertex hosts follow the SDK (google-genai ``_api_client.py``):
``aiplatform.googleapis.com`` for ``global`` and express mode,
``aiplatform.{us|eu}.rep.googleapis.com`` for the ``us`` and ``eu``
multi-regions, else ``{location}-aiplatform.googleapis.com``. The setup's
model becomes ``projects/{project}/locations/{location}/publishers/google/models/{id}``
(express mode: ``publishers/google/models/{id}``) unless given in full.

A Vertex access token is found, in order: the ``access_token`` argument;
Application Default Credentials through ``google-auth``, when that optional
package is installed (``pip install rawlive[vertex]``); ``gcloud auth
print-access-token``. An :class:`AccessTokenSource` gives a fresh token for
each connection, so a token that expires during a long session is refreshed
for the next reconnect.

A ``base_url`` (``ws://127.0.0.1:PORT``, or ``http(s)://`` as the SDKs take it)
changes only the scheme, host and port: the path and the auth rules stay the
service's, so tests, proxies and regional gateways see the real shape.

Nothing here does I/O but :class:`AccessTokenSource`, which may run
``gcloud`` or ask ``google-auth`` to refresh.
"""

from __future__ import annotations

import os  # at run time too: TargetOptions names os.PathLike (typing.get_type_hints)
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import urlsplit, urlunsplit

from rawlive.auth import (
    Credentials,
    check_endpoint,
    live_url,
    normalize_model,
    resolve_credentials,
    vertex_settings,
)
from rawlive.errors import ConfigurationError, LiveError, VertexAuthError, unexpected_keyword

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

__all__ = [
    "VERTEX_API_VERSIONS",
    "vertex_live_path",
    "AccessTokenSource",
    "TARGET_OPTIONS",
    "Target",
    "TargetOptions",
    "resolve_target",
    "VertexAuthError",
    "apply_base_url",
    "find_access_token",
    "vertex_host",
    "vertex_live_url",
    "vertex_model_name",
]

VERTEX_API_VERSIONS = ("v1beta1", "v1")
DEFAULT_VERTEX_API_VERSION = "v1beta1"
GLOBAL_HOST = "aiplatform.googleapis.com"
# A gcloud token lives an hour; ask again well before that.
_GCLOUD_TOKEN_LIFETIME = 45 * 60
_CLOUD_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def vertex_host(location: str | None) -> str:
    """Return the Vertex AI host for ``location`` (as the official SDK chooses it)."""
    if not location or location == "global":
        return GLOBAL_HOST
    if location in ("us", "eu"):
        return f"aiplatform.{location}.rep.googleapis.com"
    return f"{location}-aiplatform.googleapis.com"


def vertex_live_url(
    location: str | None,
    *,
    api_version: str = DEFAULT_VERTEX_API_VERSION,
    express: bool = False,
) -> str:
    """Return the Vertex AI Live endpoint.

    Args:
        location: the region (``us-central1``), ``global``, ``us`` or ``eu``.
        api_version: ``v1beta1`` (the SDK's default) or ``v1``.
        express: API-key express mode, always on the global host.

    Raises:
        ConfigurationError: an unknown API version.
    """
    if api_version not in VERTEX_API_VERSIONS:
        raise ConfigurationError(
            f"Vertex AI serves the Live API on {' or '.join(VERTEX_API_VERSIONS)}, "
            f"not {api_version!r}"
        )
    host = GLOBAL_HOST if express else vertex_host(location)
    return f"wss://{host}{vertex_live_path(api_version)}"


def vertex_live_path(api_version: str = DEFAULT_VERTEX_API_VERSION) -> str:
    """Return the path of the Vertex AI Live endpoint for ``api_version``."""
    return f"/ws/google.cloud.aiplatform.{api_version}.LlmBidiService/BidiGenerateContent"


def vertex_model_name(
    model: str, *, project: str | None, location: str | None, express: bool = False
) -> str:
    """Return the model resource name a Vertex setup carries.

    A name that starts with ``projects/`` is kept; ``publishers/...`` gets the
    project and location in front (not in express mode); a bare id becomes
    ``projects/{p}/locations/{l}/publishers/google/models/{id}``.

    Raises:
        ConfigurationError: a project or location is needed and missing.
    """
    model = model.strip()
    if not model:
        raise ConfigurationError("model name is empty")
    if model.startswith("projects/"):
        return model
    model = model.removeprefix("models/")
    publisher = model if model.startswith("publishers/") else f"publishers/google/models/{model}"
    if express:
        return publisher
    if not project or not location:
        pairs = (("project", project), ("location", location))
        missing = " and ".join(name for name, value in pairs if not value)
        raise ConfigurationError(
            f"Vertex AI needs a {missing}: pass project=/location= (--project/--location) "
            "or set GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION"
        )
    return f"projects/{project}/locations/{location}/{publisher}"


def apply_base_url(url: str, base_url: str | None) -> str:
    """Return ``url`` with the scheme, host and port of ``base_url``; the path stays.

    ``http://`` becomes ``ws://`` and ``https://`` becomes ``wss://``, as the
    SDKs' ``base_url`` is written. A path in ``base_url`` is put in front.

    Raises:
        ConfigurationError: ``base_url`` is not an http(s) or ws(s) URL with a host.
    """
    if base_url is None:
        return url
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        scheme = ""
    if scheme not in ("ws", "wss") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(
            f"base_url must be an http(s):// or ws(s):// URL with a host and no query, "
            f"got {base_url!r}"
        )
    target = urlsplit(url)
    path = parts.path.rstrip("/") + target.path
    return urlunsplit((scheme, parts.netloc, path, target.query, ""))


# ------------------------------------------------------------------- auth


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass
class AccessTokenSource:
    """Gives a Vertex AI access token for each new connection, refreshed when old.

    Attributes:
        kind: ``"argument"``, ``"adc"`` (google-auth) or ``"gcloud"``.
    """

    kind: str
    _token: str = ""
    _fetched: float = 0.0
    _credentials: Any = None
    _run: Runner | None = None
    _clock: Callable[[], float] = time.monotonic

    def __repr__(self) -> str:
        return f"<AccessTokenSource {self.kind}>"

    def __call__(self) -> str:
        """Return a token that is valid now (refreshing it when it is about to expire).

        Raises:
            VertexAuthError: the refresh failed.
        """
        if self.kind == "argument":
            return self._token
        if self.kind == "adc":
            creds = self._credentials
            if not getattr(creds, "valid", False) or not self._token:
                _refresh_adc(creds)
                self._token = str(creds.token)
            return self._token
        if not self._token or self._clock() - self._fetched > _GCLOUD_TOKEN_LIFETIME:
            self._token = _gcloud_token(self._run or subprocess.run)
            self._fetched = self._clock()
        return self._token


def _refresh_adc(creds: Any) -> None:
    try:
        from google.auth.transport.requests import Request
    except ImportError as exc:  # pragma: no cover - google-auth without requests
        raise VertexAuthError(f"google-auth cannot refresh a token here: {exc}") from None
    try:
        creds.refresh(Request())
    except Exception as exc:  # google-auth raises its own tree
        raise VertexAuthError(f"Application Default Credentials could not refresh: {exc}") from None


def _gcloud_token(run: Runner) -> str:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise VertexAuthError("gcloud is not on PATH")
    try:
        done = run(
            [gcloud, "auth", "print-access-token"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VertexAuthError(f"gcloud auth print-access-token failed: {exc}") from None
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        first = (done.stderr or "").strip().splitlines()
        raise VertexAuthError(
            "gcloud auth print-access-token failed"
            + (f": {first[0]}" if first else f" (exit {done.returncode})")
        )
    return token


def find_access_token(
    access_token: str | None = None,
    *,
    run: Runner | None = None,
    use_adc: bool = True,
) -> AccessTokenSource:
    """Find a Vertex AI access token: the argument, then ADC, then gcloud.

    Args:
        access_token: an OAuth 2 access token; wins over everything.
        run: ``subprocess.run`` (a seam for tests).
        use_adc: try Application Default Credentials through google-auth.

    Returns:
        A source that gives a fresh token for each connection.

    Raises:
        VertexAuthError: none of the three worked; the message names all three.
    """
    if access_token is not None:
        if not access_token.strip():
            raise VertexAuthError("the access token is empty")
        return AccessTokenSource("argument", _token=access_token.strip())
    tried: list[str] = ["access_token= / --access-token (not given)"]
    if use_adc:
        try:
            import google.auth
        except ImportError:
            tried.append("Application Default Credentials (google-auth is not installed: "
                         "pip install 'rawlive[vertex]')")  # fmt: skip
        else:
            try:
                creds, _ = google.auth.default(scopes=[_CLOUD_SCOPE])
                source = AccessTokenSource("adc", _credentials=creds)
                source()
                return source
            except Exception as exc:  # DefaultCredentialsError, RefreshError, ...
                tried.append(f"Application Default Credentials ({_first_line(exc)})")
    source = AccessTokenSource("gcloud", _run=run)
    try:
        source()
        return source
    except VertexAuthError as exc:
        tried.append(f"gcloud auth print-access-token ({exc})")
    raise VertexAuthError(
        "no Vertex AI access token found: tried " + "; ".join(tried),
        searched=tuple(tried),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ----------------------------------------------------------------- target


@dataclass
class Target:
    """Where a session connects and what it presents, resolved once per ``connect``.

    Attributes:
        url: the WebSocket URL.
        model: the model name the setup carries (``models/..`` or a Vertex resource name).
        vertex: Vertex AI (bearer token or express-mode key) rather than the Gemini API.
        credentials: the Gemini API key, ephemeral token or express-mode key, if any.
        token_source: the Vertex AI access token source, if any.
    """

    url: str
    model: str | None
    vertex: bool = False
    credentials: Credentials | None = None
    token_source: AccessTokenSource | None = None

    def headers(self) -> dict[str, str]:
        """The upgrade-request headers carrying the credential, fresh for this connection."""
        if self.token_source is not None:
            return {"Authorization": f"Bearer {self.token_source()}"}
        if self.credentials is not None:
            return self.credentials.headers()
        return {}

    def secrets(self) -> tuple[str, ...]:
        """Every credential this target has presented so far (for redaction)."""
        found: list[str] = []
        if self.credentials is not None:
            found.append(self.credentials.secret)
        if self.token_source is not None and self.token_source._token:
            found.append(self.token_source._token)
        return tuple(found)


class TargetOptions(TypedDict, total=False):
    """Where a session connects and with which credential: the keywords of
    :func:`rawlive.connect` and :func:`resolve_target`, declared once.

    Keys:
        api_key: the key or ephemeral token; else ``GEMINI_API_KEY``, then
            ``GOOGLE_API_KEY``, from the environment or ``.env``.
        env_file: the ``.env`` file to read (default: nearest one upwards).
        endpoint: any ws:// or wss:// URL, used as given (fake or replay
            servers, proxies); a key is then optional.
        base_url: ``ws(s)://`` or ``http(s)://HOST:PORT`` replacing the
            service's scheme, host and port, keeping its path and auth rules.
        api_version: ``v1beta`` (the default) or ``v1alpha``; on Vertex AI
            ``v1beta`` means ``v1beta1``, and ``v1`` selects ``v1``.
        allow_insecure: allow plain ws:// to a non-loopback host.
        vertex: connect to Vertex AI instead of the Gemini API (default: the
            ``GOOGLE_GENAI_USE_VERTEXAI`` environment variable). The model
            becomes ``projects/{project}/locations/{location}/publishers/
            google/models/{model}`` and the access token is ``access_token``,
            else Application Default Credentials (``pip install
            rawlive[vertex]``), else ``gcloud auth print-access-token``; it is
            fetched again for each new connection when it gets old. With
            ``api_key`` (and no ``access_token``) it is Vertex express mode.
        project / location: the Google Cloud project and region (default:
            ``GOOGLE_CLOUD_PROJECT`` / ``GOOGLE_CLOUD_LOCATION``).
        access_token: a Vertex AI OAuth 2 access token.
    """

    api_key: str | None
    env_file: str | os.PathLike[str] | None
    endpoint: str | None
    base_url: str | None
    api_version: str
    allow_insecure: bool
    vertex: bool | None
    project: str | None
    location: str | None
    access_token: str | None


TARGET_OPTIONS = frozenset(TargetOptions.__annotations__)
"""The names :class:`TargetOptions` declares."""


def resolve_target(model: str | None, **options: Unpack[TargetOptions]) -> Target:
    """Decide the URL, the model name and the credential of a session.

    * ``endpoint``: the URL as given (fake, replay, proxy); a credential is
      used when one is found, and not required.
    * Gemini API: the key or token from :func:`rawlive.auth.resolve_credentials`;
      a token (``auth_tokens/...``) goes to v1alpha ``...Constrained``.
    * Vertex AI (``vertex``, or ``GOOGLE_GENAI_USE_VERTEXAI``): the bearer token
      from :func:`find_access_token`; with an ``api_key`` it is express mode
      instead (``x-goog-api-key`` on the global host).
    * ``base_url`` then replaces the scheme, host and port, keeping the path.

    Raises:
        TypeError: a keyword that is not one of :class:`TargetOptions`.
        ConfigurationError: bad URLs, versions or a missing project/location.
        MissingAPIKeyError: no credential (VertexAuthError for Vertex AI).
    """
    for key in options:
        if key not in TARGET_OPTIONS:
            raise unexpected_keyword("resolve_target", key, TARGET_OPTIONS)
    api_key, env_file = options.get("api_key"), options.get("env_file")
    endpoint, base_url = options.get("endpoint"), options.get("base_url")
    api_version = options.get("api_version", "v1beta")
    allow_insecure = options.get("allow_insecure", False)
    access_token = options.get("access_token")
    vertex, project, location = vertex_settings(
        options.get("vertex"), options.get("project"), options.get("location")
    )
    if not vertex:
        if endpoint is not None:
            try:
                credentials: Credentials | None = resolve_credentials(api_key, env_file=env_file)
            except LiveError:
                credentials = None  # fake and replay servers need no key
            url = endpoint
        else:
            credentials = resolve_credentials(api_key, env_file=env_file)
            url = live_url(api_version=api_version, ephemeral=credentials.ephemeral)
        url = check_endpoint(apply_base_url(url, base_url), allow_insecure=allow_insecure)
        name = normalize_model(model) if model else None
        return Target(url=url, model=name, credentials=credentials)

    express = api_key is not None and access_token is None
    version = DEFAULT_VERTEX_API_VERSION if api_version in ("v1beta", "v1beta1") else api_version
    url = endpoint if endpoint is not None else vertex_live_url(
        location, api_version=version, express=express
    )  # fmt: skip
    url = check_endpoint(apply_base_url(url, base_url), allow_insecure=allow_insecure)
    name = (
        vertex_model_name(model, project=project, location=location, express=express)
        if model
        else None
    )
    if express:
        credentials = resolve_credentials(api_key, env_file=env_file)
        return Target(url=url, model=name, vertex=True, credentials=credentials)
    return Target(url=url, model=name, vertex=True, token_source=find_access_token(access_token))
