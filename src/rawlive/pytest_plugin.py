"""A pytest plugin that replays Live API captures to tests, cassette style.

Mark a test with the capture it talks to and ask for the ``live_replay``
fixture::

    @pytest.mark.live_capture("fixtures/seed_text_session.jsonl")
    async def test_greeting(live_replay):
        async with rawlive.connect("gemini-2.0-flash-live-001",
                                   response_modalities=["TEXT"],
                                   **live_replay.connect_kwargs()) as session:
            await session.send_text("Hello? Gemini are you there?")
            turn = await session.receive_turn()
        assert turn.text.startswith("Yes, I am")

By default the fixture serves the capture from a
:class:`~rawlive.capture.replay.ReplayServer` on loopback, and the test fails
if a client frame did not match the capture (the report lists every
mismatch). With ``--live-record`` and an API key (``GEMINI_API_KEY`` or
``GOOGLE_API_KEY``, or a ``.env`` file), the same test talks to the real
service instead and writes the capture file, so it can be replayed offline
from then on.

Options: ``--live-record`` (record instead of replay, when a key is found),
``--live-pace original|fast`` (replay timing; default fast).

Marker: ``live_capture(path, *, tls=False, pace=None, strict=True)``. A
relative ``path`` is looked up next to the test file first, then under the
rootdir. ``tls=True`` serves ``wss://`` with a throwaway self-signed
certificate (needs ``cryptography``; the official SDK needs it); ``pace``
overrides ``--live-pace``; ``strict=False`` reports mismatches without
closing the connection.

The plugin is registered under the name ``rawlive`` through the ``pytest11``
entry point; without it installed, load it with ``-p rawlive.pytest_plugin``.
Every pytest run in an environment with rawlive installed loads this module,
so it imports the replay machinery only when a test asks for the fixture.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import pytest

if TYPE_CHECKING:
    from rawlive.capture.recorder import Recorder
    from rawlive.capture.replay import BackgroundReplayServer, Pace, ReplayServer
    from rawlive.errors import ReplayMismatchError

__all__ = ["LiveReplay", "live_replay"]

_MARKER = "live_capture"
_FIXTURE = "live_replay"


class _ConnectionRecorder:
    """A frame observer that files one ``connect()``'s frames under its own conn number."""

    def __init__(self, shared: _SharedRecorder, conn: int) -> None:
        self._shared = shared
        self._conn = conn

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None:
        self._shared.recorder().on_open(self._conn, endpoint, model)

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None:
        self._shared.recorder().on_frame(self._conn, direction, payload)

    def on_close(self, conn: int, code: int, reason: str, by: str | None, dropped: bool) -> None:
        self._shared.recorder().on_close(self._conn, code, reason, by, dropped)


class _SharedRecorder:
    """One capture file for every connection a test opens (1, 2, ... in order).

    The file is created at the first connection, so a test that never
    connects leaves an existing capture alone.
    """

    def __init__(self, path: Path, secret: str, source: str) -> None:
        self.path = path
        self._secret = secret
        self._source = source
        self._recorder: Recorder | None = None
        self._next = 0

    def recorder(self) -> Recorder:
        if self._recorder is None:
            from rawlive.capture.recorder import Recorder

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._recorder = Recorder(self.path, secrets=(self._secret,), source=self._source)
        return self._recorder

    def observer(self) -> _ConnectionRecorder:
        self._next += 1
        return _ConnectionRecorder(self, self._next)

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.close()


class LiveReplay:
    """What the ``live_replay`` fixture yields: where to connect for this test.

    Attributes:
        mode: ``"replay"`` (serving the capture) or ``"record"`` (talking to
            the real service and writing the capture).
        capture_path: the capture file.
        url: the replay server's URL, or the real endpoint when recording.
        ssl: the client TLS context that trusts the replay server's
            certificate (``tls=True``), else ``None``.
        server: the :class:`~rawlive.capture.replay.ReplayServer` (``None``
            when recording).
        record_path: the capture file when recording, else ``None``.
    """

    def __init__(
        self,
        *,
        mode: Literal["replay", "record"],
        capture_path: Path,
        url: str,
        ssl_context: ssl.SSLContext | None = None,
        background: BackgroundReplayServer | None = None,
        recorder: _SharedRecorder | None = None,
    ) -> None:
        self.mode = mode
        self.capture_path = capture_path
        self.url = url
        self.ssl = ssl_context
        self._background = background
        self._recorder = recorder
        self.server: ReplayServer | None = background.server if background else None
        self.record_path: Path | None = capture_path if mode == "record" else None
        self._reported = False

    def __repr__(self) -> str:
        return f"<LiveReplay {self.mode} {str(self.capture_path)!r} {self.url}>"

    def connect_kwargs(self) -> dict[str, Any]:
        """Return the ``rawlive.connect()`` keyword arguments for this mode.

        Replay: ``{"endpoint": url, "ssl": context_or_None}``. Record:
        ``{"record": observer}``, an observer writing to :attr:`record_path`
        that numbers connections in the order they open, so a test that
        reconnects (resumption) records conn 1, 2, ... in one file. Call it
        once per ``connect()``.

        Returns:
            A new dict each call.
        """
        if self.mode == "record":
            assert self._recorder is not None
            return {"record": self._recorder.observer()}
        return {"endpoint": self.url, "ssl": self.ssl}

    @property
    def mismatches(self) -> tuple[ReplayMismatchError, ...]:
        """The mismatches so far (always empty when recording)."""
        return tuple(self.server.mismatches) if self.server is not None else ()

    def raise_for_mismatch(self) -> None:
        """Raise the first mismatch, if any.

        Raises:
            ReplayMismatchError: a client frame did not match the capture.
        """
        if self.server is not None:
            self.server.raise_for_mismatch()

    def report(self) -> str:
        """Return the mismatch report (empty when there were none)."""
        return self.server.report() if self.server is not None else ""

    def finish(self) -> None:
        """Stop the replay server, or close the capture file (idempotent)."""
        if self._background is not None:
            self._background.stop()
        if self._recorder is not None:
            self._recorder.close()


# -- hooks ----------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--live-record`` and ``--live-pace``."""
    group = parser.getgroup("rawlive", "rawlive Live API capture replay")
    group.addoption(
        "--live-record",
        action="store_true",
        default=False,
        help="tests marked live_capture talk to the real Live API and (re)write their "
        "capture files, when an API key is found (GEMINI_API_KEY, GOOGLE_API_KEY, .env); "
        "otherwise they replay",
    )
    group.addoption(
        "--live-pace",
        choices=("fast", "original"),
        default="fast",
        help="replay timing: 'fast' sends server frames at once (default), 'original' keeps "
        "the recorded gaps",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``live_capture`` marker."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(path, *, tls=False, pace=None, strict=True): the Live API capture the "
        f"{_FIXTURE} fixture replays (or records with --live-record)",
    )


def _resolve(request: pytest.FixtureRequest, name: str, *, for_writing: bool) -> Path:
    path = Path(name)
    if path.is_absolute():
        return path
    here = Path(str(request.node.path)).parent
    root = Path(str(request.config.rootpath))
    candidates = (here / path, root / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if for_writing:
        for candidate in candidates:
            if candidate.parent.is_dir():
                return candidate
    return candidates[0]


def _api_key() -> str | None:
    from rawlive.auth import resolve_credentials
    from rawlive.errors import MissingAPIKeyError

    try:
        return resolve_credentials(None).secret
    except MissingAPIKeyError:
        return None


@pytest.fixture
def live_replay(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveReplay]:
    """Serve the test's ``live_capture`` (or record it with ``--live-record``).

    Yields:
        A :class:`LiveReplay`; pass ``**live_replay.connect_kwargs()`` to
        ``rawlive.connect()``.

    The test fails if a client frame did not match the capture; the failure
    lists every mismatch.
    """
    marker = request.node.get_closest_marker(_MARKER)
    if marker is None or not marker.args:
        pytest.fail(
            f"the {_FIXTURE} fixture needs @pytest.mark.{_MARKER}('path/to/capture.jsonl')",
            pytrace=False,
        )
    name = os.fspath(marker.args[0])
    options: Mapping[str, Any] = marker.kwargs
    record = bool(request.config.getoption("live_record"))
    key = _api_key() if record else None
    if record and key is not None:
        from rawlive.auth import live_url

        path = _resolve(request, name, for_writing=True)
        recorder = _SharedRecorder(path, key, source=f"pytest {request.node.nodeid}")
        replay = LiveReplay(mode="record", capture_path=path, url=live_url(), recorder=recorder)
        try:
            yield replay
        finally:
            replay.finish()
        return

    path = _resolve(request, name, for_writing=False)
    if not path.is_file():
        pytest.fail(
            f"capture {name!r} not found (looked next to the test and under the rootdir); "
            "record it with --live-record and GEMINI_API_KEY set",
            pytrace=False,
        )
    from rawlive.capture.replay import BackgroundReplayServer

    pace = cast("Pace", options.get("pace") or request.config.getoption("live_pace"))
    server_context = client_context = None
    if options.get("tls", False):
        from rawlive.capture.tls import generate_self_signed_cert

        cert = generate_self_signed_cert(tmp_path / "rawlive-tls")
        server_context, client_context = cert.server_context(), cert.client_context()
    background = BackgroundReplayServer(
        path, ssl_context=server_context, pace=pace, strict=bool(options.get("strict", True))
    ).start()
    replay = LiveReplay(
        mode="replay",
        capture_path=path,
        url=background.url,
        ssl_context=client_context,
        background=background,
    )
    try:
        yield replay
    finally:
        replay.finish()
    if replay.mismatches and not replay._reported:
        pytest.fail(replay.report(), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Fail a test whose replay saw mismatches, in the call phase, with the report.

    The replay server is stopped first so that every frame the test sent has
    been judged. When the test failed on its own (usually because the
    mismatch closed its connection), the report is attached to its output.
    """
    try:
        result = yield
    except BaseException:
        replay = _replay_of(item)
        if replay is not None:
            replay.finish()
            if replay.mismatches:
                replay._reported = True
                item.add_report_section("call", "rawlive replay", replay.report())
        raise
    replay = _replay_of(item)
    if replay is not None:
        replay.finish()
        if replay.mismatches:
            replay._reported = True
            pytest.fail(replay.report(), pytrace=False)
    return result


def _replay_of(item: pytest.Item) -> LiveReplay | None:
    funcargs = getattr(item, "funcargs", None)
    if not isinstance(funcargs, dict):
        return None
    value = funcargs.get(_FIXTURE)
    return value if isinstance(value, LiveReplay) else None
