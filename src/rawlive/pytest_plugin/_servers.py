"""What the ``live_replay`` and ``live_fake`` fixtures yield.

Both start their server lazily, at the first thing a test asks of it: a
plain ``ws://`` server for ``connect_kwargs()`` and ``url``, a ``wss://``
one for ``sdk_http_options()`` (the official SDK refuses ``ws://`` when it
has an API key). Servers run on their own loop in a daemon thread, so any
test can use them: synchronous, pytest-asyncio strict or auto, anyio.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rawlive.errors import ConfigurationError

if TYPE_CHECKING:
    from rawlive.capture.recorder import Recorder
    from rawlive.capture.replay import BackgroundReplayServer, ReplayServer
    from rawlive.capture.tls import SelfSignedCertificate
    from rawlive.errors import ReplayMismatchError
    from rawlive.testing import FakeLiveServer
    from rawlive.testing.background import BackgroundFakeServer, BackgroundServer

__all__ = ["SDK_TEST_KEY", "LiveFake", "LiveReplay", "SharedRecorder"]

#: The API key the SDK settings carry: the SDK needs one, our servers accept any.
SDK_TEST_KEY = "rawlive-test-key"

CertFactory = Callable[[], "SelfSignedCertificate"]


class _ConnectionRecorder:
    """A frame observer that files one ``connect()``'s frames under its own conn number."""

    def __init__(self, shared: SharedRecorder, conn: int) -> None:
        self._shared = shared
        self._conn = conn

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None:
        self._shared.recorder().on_open(self._conn, endpoint, model)

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None:
        self._shared.recorder().on_frame(self._conn, direction, payload)

    def on_close(self, conn: int, code: int, reason: str, by: str | None, dropped: bool) -> None:
        self._shared.recorder().on_close(self._conn, code, reason, by, dropped)


class _RelayRecorder:
    """Files each relayed connection under the next conn number of the shared file."""

    def __init__(self, shared: SharedRecorder) -> None:
        self._shared = shared
        self._conns: dict[int, _ConnectionRecorder] = {}

    def _of(self, conn: int) -> _ConnectionRecorder:
        if conn not in self._conns:
            self._conns[conn] = self._shared.observer()
        return self._conns[conn]

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None:
        self._of(conn).on_open(conn, endpoint, model)

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None:
        self._of(conn).on_frame(conn, direction, payload)

    def on_close(
        self, conn: int, code: int, reason: str, by: str | None, dropped: bool = False
    ) -> None:
        self._of(conn).on_close(conn, code, reason, by, dropped)


class SharedRecorder:
    """One capture file for every connection a test opens (1, 2, ... in order).

    The file is created at the first connection, so a test that never
    connects leaves an existing capture alone. Frames go through
    :class:`~rawlive.capture.recorder.Recorder`, which scrubs the secrets.
    """

    def __init__(self, path: Path, secrets: tuple[str, ...], source: str) -> None:
        self.path = path
        self._secrets = secrets
        self._source = source
        self._recorder: Recorder | None = None
        self._next = 0

    @property
    def written(self) -> bool:
        """Whether the capture file was (re)written."""
        return self._recorder is not None

    def recorder(self) -> Recorder:
        if self._recorder is None:
            from rawlive.capture.recorder import Recorder

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._recorder = Recorder(self.path, secrets=self._secrets, source=self._source)
        return self._recorder

    def observer(self) -> _ConnectionRecorder:
        self._next += 1
        return _ConnectionRecorder(self, self._next)

    def relay_observer(self) -> _RelayRecorder:
        """An observer for a relay that numbers its connections after this test's others."""
        return _RelayRecorder(self)

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.close()


class _SDKSettings:
    """The official-SDK settings both fixtures give."""

    sdk_api_key: str = SDK_TEST_KEY

    @property
    def base_url(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def ssl(self) -> ssl.SSLContext | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _start_tls(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def sdk_http_options(self) -> dict[str, Any]:
        """Return ``http_options`` for ``genai.Client``, pointing the SDK at this server.

        ``{"api_version": "v1beta", "base_url": "https://127.0.0.1:PORT/",
        "async_client_args": {"ssl": context}}``: the server serves
        ``wss://`` with a throwaway certificate that the context trusts
        (SDK 3.x passes ``async_client_args`` to ``websockets.connect``).
        Pass :attr:`sdk_api_key` (any string) as the client's ``api_key``.

        Raises:
            ConfigurationError: the server already runs without TLS (the test
                used ``url`` or ``connect_kwargs()`` first; mark it ``tls=True``).
        """
        self._start_tls()
        return {
            "api_version": "v1beta",
            "base_url": self.base_url,
            "async_client_args": {"ssl": self.ssl},
        }

    def sdk_client_kwargs(self) -> dict[str, Any]:
        """Return ``{"api_key": ..., "http_options": ...}`` for ``genai.Client(**...)``."""
        return {"api_key": self.sdk_api_key, "http_options": self.sdk_http_options()}


def _tls_conflict(what: str) -> ConfigurationError:
    return ConfigurationError(
        f"the {what} already serves plain ws:// in this test (url or connect_kwargs() was "
        "used first) and the official SDK needs wss://; mark the test with tls=True"
    )


class LiveReplay(_SDKSettings):
    """What the ``live_replay`` fixture yields: where to connect for this test.

    Attributes:
        mode: ``"replay"`` (serving the capture) or ``"record"`` (talking to
            the recording endpoint and writing the capture).
        record_mode: the run's ``--live-record-mode``.
        capture_path: the capture file.
        record_path: the capture file when recording, else ``None``.
        endpoint: when recording, where to (``None``: the real service).
        run_path: when replaying, the server's own capture of this run.
    """

    def __init__(
        self,
        *,
        mode: Literal["replay", "record"],
        record_mode: str,
        capture_path: Path,
        start: Callable[[bool], tuple[BackgroundReplayServer, ssl.SSLContext | None]] | None = None,
        tls: bool = False,
        recorder: SharedRecorder | None = None,
        endpoint: str | None = None,
        run_path: Path | None = None,
        cert: CertFactory | None = None,
        key: str | None = None,
    ) -> None:
        self.mode = mode
        self.run_path = run_path
        self._cert = cert
        self._key = key
        self._relay: BackgroundServer[Any] | None = None
        self.record_mode = record_mode
        self.capture_path = capture_path
        self.record_path: Path | None = capture_path if mode == "record" else None
        self.endpoint = endpoint
        self._start = start
        self._tls = tls
        self._background: BackgroundReplayServer | None = None
        self._client_ssl: ssl.SSLContext | None = None
        self._recorder = recorder
        self.reported = False

    def __repr__(self) -> str:
        return f"<LiveReplay {self.mode} {str(self.capture_path)!r}>"

    def _started(self, tls: bool | None = None) -> BackgroundReplayServer:
        if self.mode == "record":
            raise ConfigurationError(
                "this test is recording: there is no replay server; use connect_kwargs()"
            )
        if self._background is None:
            assert self._start is not None
            self._background, self._client_ssl = self._start(self._tls if tls is None else tls)
        elif tls and self._client_ssl is None:
            raise _tls_conflict("replay server")
        return self._background

    def _start_tls(self) -> None:
        if self.mode == "record":
            self._relayed()
            return
        self._started(True)

    def _relayed(self) -> Any:
        """Start (once) a TLS relay to the recording endpoint that records what passes."""
        if self._relay is None:
            import importlib

            try:
                proxy = importlib.import_module("rawlive.proxy")
            except ImportError:
                raise ConfigurationError(
                    "recording the official SDK needs rawlive.proxy, which this rawlive does "
                    "not have; record this capture with rawlive.connect(**connect_kwargs()), "
                    "then replay it to the SDK"
                ) from None
            from urllib.parse import urlsplit

            from rawlive.testing.background import BackgroundServer

            assert self._cert is not None and self._recorder is not None
            upstream = "google"
            if self.endpoint is not None:
                parts = urlsplit(self.endpoint)
                upstream = f"{parts.scheme}://{parts.netloc}"
            cert = self._cert()
            self._client_ssl = cert.client_context()
            observer = self._recorder.relay_observer()

            async def begin() -> Any:
                relay = proxy.LiveProxy(
                    upstream=upstream,
                    observers=[observer],
                    ssl_context=cert.server_context(),
                )
                return await relay.start()

            self._relay = BackgroundServer(begin).start()
        return self._relay.server

    @property
    def url(self) -> str:
        """The replay server's URL, or the recording endpoint (the real service's URL)."""
        if self.mode == "record":
            if self.endpoint is not None:
                return self.endpoint
            from rawlive.auth import live_url

            return live_url()
        return self._started().url

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT/``, the form the official SDK wants (a recording
        relay's when recording)."""
        if self.mode == "record":
            return str(self._relayed().base_url)
        return self._started().server.base_url

    @property
    def ssl(self) -> ssl.SSLContext | None:
        """The client TLS context that trusts the replay server or relay (TLS only)."""
        if self.mode != "record":
            self._started()
        return self._client_ssl

    @property
    def sdk_api_key(self) -> str:  # type: ignore[override]
        """The key for the SDK: the recording key when recording, else a test key."""
        if self.mode == "record" and self._key:
            return self._key
        return SDK_TEST_KEY

    @property
    def server(self) -> ReplayServer | None:
        """The :class:`~rawlive.capture.replay.ReplayServer` (``None`` when recording)."""
        return None if self.mode == "record" else self._started().server

    def connect_kwargs(self) -> dict[str, Any]:
        """Return the ``rawlive.connect()`` keyword arguments for this mode.

        Replay: ``{"endpoint": url, "ssl": context_or_None}``. Record:
        ``{"record": observer}`` (plus ``"endpoint"`` with ``--live-endpoint``),
        an observer writing to :attr:`record_path` that numbers connections
        in the order they open, so a test that reconnects records conn 1, 2,
        ... in one file. Call it once per ``connect()``.

        Returns:
            A new dict each call.
        """
        if self.mode == "record":
            assert self._recorder is not None
            kwargs: dict[str, Any] = {"record": self._recorder.observer()}
            if self.endpoint is not None:
                kwargs["endpoint"] = self.endpoint
            return kwargs
        server = self._started()
        return {"endpoint": server.url, "ssl": self._client_ssl}

    @property
    def started(self) -> bool:
        """Whether a replay server was started for this test."""
        return self._background is not None

    @property
    def written(self) -> bool:
        """Whether this test (re)wrote its capture."""
        return self._recorder is not None and self._recorder.written

    @property
    def mismatches(self) -> tuple[ReplayMismatchError, ...]:
        """The mismatches so far (always empty when recording)."""
        return tuple(self._background.mismatches) if self._background is not None else ()

    def raise_for_mismatch(self) -> None:
        """Raise the first mismatch, if any.

        Raises:
            ReplayMismatchError: a client frame did not match the capture.
        """
        if self._background is not None:
            self._background.raise_for_mismatch()

    def report(self) -> str:
        """Return the mismatch report (empty when there were none)."""
        return self._background.server.report() if self._background is not None else ""

    def finish(self) -> None:
        """Stop the replay server, or close the capture file (idempotent)."""
        if self._background is not None:
            self._background.stop()
        if self._relay is not None:
            self._relay.stop()
        if self._recorder is not None:
            self._recorder.close()


class LiveFake(_SDKSettings):
    """What the ``live_fake`` fixture yields: a :class:`~rawlive.testing.FakeLiveServer`.

    Attributes:
        options: the keyword arguments the server was built with.
    """

    def __init__(
        self,
        *,
        options: dict[str, Any],
        tls: bool,
        cert: CertFactory,
        sdk_api_key: str | None = None,
    ) -> None:
        self.options = options
        self._tls = tls
        self._cert = cert
        self._client_ssl: ssl.SSLContext | None = None
        self._background: BackgroundFakeServer | None = None
        if sdk_api_key is not None:
            self.sdk_api_key = sdk_api_key

    def __repr__(self) -> str:
        state = "started" if self._background is not None else "not started"
        return f"<LiveFake {state}>"

    def _started(self, tls: bool | None = None) -> BackgroundFakeServer:
        if self._background is None:
            from rawlive.testing.background import BackgroundFakeServer

            options = dict(self.options)
            if self._tls if tls is None else tls:
                cert = self._cert()
                options["ssl_context"] = cert.server_context()
                self._client_ssl = cert.client_context()
            self._background = BackgroundFakeServer(**options).start()
        elif tls and self._client_ssl is None:
            raise _tls_conflict("fake server")
        return self._background

    def _start_tls(self) -> None:
        self._started(True)

    def start(self) -> LiveFake:
        """Start the server now (it otherwise starts at first use); return ``self``."""
        self._started()
        return self

    @property
    def server(self) -> FakeLiveServer:
        """The running :class:`~rawlive.testing.FakeLiveServer` (read its records freely)."""
        return self._started().server

    @property
    def url(self) -> str:
        """``ws(s)://127.0.0.1:PORT/ws/...BidiGenerateContent``."""
        return self.server.url

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT/``, the form the official SDK wants."""
        return f"https://127.0.0.1:{self._started().server.port}/"

    @property
    def ssl(self) -> ssl.SSLContext | None:
        """The client TLS context that trusts the server (TLS only), else ``None``."""
        self._started()
        return self._client_ssl

    def connect_kwargs(self) -> dict[str, Any]:
        """Return ``{"endpoint": url, "ssl": context_or_None}`` (plus ``api_key`` when the
        marker set one) for ``rawlive.connect()``."""
        kwargs: dict[str, Any] = {"endpoint": self.url, "ssl": self._client_ssl}
        if self.options.get("api_key"):
            kwargs["api_key"] = self.options["api_key"]
        return kwargs

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10.0) -> Any:
        """Run ``fn(*args)`` on the server's loop (awaiting coroutines) and return the result.

        Use it for the server's coroutine methods:
        ``live_fake.call(live_fake.server.go_away, "1s")``.
        """
        return self._started().call(fn, *args, timeout=timeout)

    def finish(self) -> None:
        """Close the server and join its thread (idempotent)."""
        if self._background is not None:
            self._background.stop()
