"""A pytest plugin for Live API tests: captures replayed cassette style, and a fake server.

Mark a test with ``live_capture`` and ask for the ``live_replay`` fixture::

    @pytest.mark.live_capture            # captures/<test module>/<test name>.jsonl
    async def test_greeting(live_replay):
        async with rawlive.connect("gemini-2.0-flash-live-001",
                                   response_modalities=["TEXT"],
                                   **live_replay.connect_kwargs()) as session:
            ...

Record modes, with pytest-recording's meanings (``--live-record-mode``):

* ``none`` (default): replay only; never touches the network. A missing
  capture fails the test with its path and the command that records it.
* ``once``: record captures that are missing, replay the others.
* ``rewrite``: record every selected test again.

Recording talks to the real service (an API key is required: the failure
names where keys are looked for) or, with ``--live-endpoint URL`` (or
``RAWLIVE_RECORD_ENDPOINT``), to any Live-compatible server, a key being
used when present. Recorded frames go through
:class:`~rawlive.capture.recorder.Recorder`, which scrubs the key; the run
ends with the list of captures written. A replay mismatch fails the test
with the first differing frame, as ``rawlive diff`` shows it.

``live_fake`` starts :class:`~rawlive.testing.FakeLiveServer` with the
keyword arguments of its ``live_fake`` marker. Both fixtures give
``connect_kwargs()`` for rawlive and ``sdk_http_options()`` /
``sdk_client_kwargs()`` for ``google.genai.Client``. Servers run on their
own loop in a thread, on port 0: any test style, any number of xdist workers.

The plugin is registered under the name ``rawlive`` through the ``pytest11``
entry point; without it installed, load it with ``-p rawlive.pytest_plugin``.
Every pytest run in an environment with rawlive installed loads this module,
so it imports the replay and fake-server machinery only when a test asks.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from rawlive.pytest_plugin._modes import (
    ModeError,
    Settings,
    auto_capture_name,
    parse_record_mode,
    record_command,
    resolve_capture,
    url_secrets,
)
from rawlive.pytest_plugin._servers import SDK_TEST_KEY, LiveFake, LiveReplay, SharedRecorder

if TYPE_CHECKING:
    from rawlive.capture.replay import BackgroundReplayServer, Pace
    from rawlive.capture.tls import SelfSignedCertificate

__all__ = ["SDK_TEST_KEY", "LiveFake", "LiveReplay", "live_fake", "live_replay"]

_MARKER = "live_capture"
_FAKE_MARKER = "live_fake"
_FIXTURE = "live_replay"
_WROTE = "rawlive_capture_written"
_ENDPOINT_ENV = "RAWLIVE_RECORD_ENDPOINT"
_CAPTURE_OPTIONS = frozenset({"path", "tls", "pace", "strict"})
_SETTINGS = pytest.StashKey[Settings]()
_CERT = pytest.StashKey["SelfSignedCertificate"]()


# -- options ----------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--live-record-mode``, ``--live-endpoint``, ``--live-pace`` and ``--live-record``."""
    group = parser.getgroup("rawlive", "rawlive Live API captures")
    group.addoption(
        "--live-record-mode",
        dest="live_record_mode",
        default=None,
        metavar="none|once|rewrite",
        help="'none' (default): replay captures, never touch the network; 'once': record "
        "the captures that are missing; 'rewrite': record every selected test again",
    )
    group.addoption(
        "--live-endpoint",
        dest="live_endpoint",
        default=None,
        metavar="URL",
        help=f"record against this Live-compatible ws(s):// server instead of the real "
        f"service (a key is used when present, not required); default ${_ENDPOINT_ENV}",
    )
    group.addoption(
        "--live-pace",
        choices=("fast", "original"),
        default="fast",
        help="replay timing: 'fast' sends server frames at once (default), 'original' keeps "
        "the recorded gaps",
    )
    group.addoption(
        "--live-record",
        action="store_true",
        default=False,
        help="deprecated: the same as --live-record-mode=rewrite",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers and check the record options (one line when they are wrong)."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(path=None, *, tls=False, pace=None, strict=True): the Live API capture "
        f"the {_FIXTURE} fixture replays or records (default "
        "captures/<test module>/<test name>.jsonl next to the test)",
    )
    config.addinivalue_line(
        "markers",
        f"{_FAKE_MARKER}(**options): FakeLiveServer options for the live_fake fixture "
        "(faults=[...], model=..., strict=True for the service's rules, tls=True, ...)",
    )
    legacy = bool(config.getoption("live_record", False))
    try:
        mode = parse_record_mode(config.getoption("live_record_mode", None), legacy_record=legacy)
    except ModeError as exc:
        raise pytest.UsageError(str(exc)) from None
    if legacy:
        config.issue_config_time_warning(
            pytest.PytestDeprecationWarning(
                "--live-record is deprecated: use --live-record-mode=rewrite (or once)"
            ),
            stacklevel=2,
        )
    endpoint = config.getoption("live_endpoint", None) or os.environ.get(_ENDPOINT_ENV) or None
    if endpoint is not None:
        from rawlive.auth import check_endpoint
        from rawlive.errors import ConfigurationError

        try:
            check_endpoint(endpoint)
        except ConfigurationError as exc:
            raise pytest.UsageError(f"--live-endpoint: {exc}") from None
    pace = str(config.getoption("live_pace", "fast"))
    config.stash[_SETTINGS] = Settings(mode=mode, endpoint=endpoint, pace=pace)
    config.pluginmanager.register(_WrittenCaptures(config), "rawlive-written-captures")


def _settings(config: pytest.Config) -> Settings:
    return config.stash.get(_SETTINGS, Settings(mode="none", endpoint=None, pace="fast"))


# -- shared helpers ---------------------------------------------------------------------


def _certificate(config: pytest.Config, factory: pytest.TempPathFactory) -> SelfSignedCertificate:
    """One throwaway certificate per session (per xdist worker), made at first use."""
    cert = config.stash.get(_CERT, None)
    if cert is None:
        from rawlive.capture.tls import generate_self_signed_cert

        cert = generate_self_signed_cert(factory.mktemp("rawlive-tls"))
        config.stash[_CERT] = cert
    return cert


def _api_key() -> str | None:
    from rawlive.auth import resolve_credentials
    from rawlive.errors import MissingAPIKeyError

    try:
        return resolve_credentials(None).secret
    except MissingAPIKeyError:
        return None


def _capture_path(request: pytest.FixtureRequest, marker: pytest.Mark) -> Path:
    test_file = Path(str(request.node.path))
    name = marker.args[0] if marker.args else marker.kwargs.get("path")
    if name is None:
        cls = request.node.cls
        return auto_capture_name(test_file, request.node.name, cls.__name__ if cls else None)
    return resolve_capture(os.fspath(name), test_file, Path(str(request.config.rootpath)))


def _display(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(Path(str(config.rootpath))))
    except ValueError:
        return str(path)


# -- live_replay ------------------------------------------------------------------------


@pytest.fixture
def live_replay(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveReplay]:
    """Replay the test's ``live_capture``, or record it (see ``--live-record-mode``).

    Yields:
        A :class:`LiveReplay`; pass ``**live_replay.connect_kwargs()`` to
        ``rawlive.connect()``, or ``**live_replay.sdk_client_kwargs()`` to
        ``google.genai.Client``.

    The test fails if a client frame did not match the capture; the failure
    shows the first differing frame.
    """
    marker = request.node.get_closest_marker(_MARKER)
    if marker is None:
        pytest.fail(
            f"the {_FIXTURE} fixture needs @pytest.mark.{_MARKER} (optionally with a path)",
            pytrace=False,
        )
    unknown = sorted(set(marker.kwargs) - _CAPTURE_OPTIONS)
    if unknown or len(marker.args) > 1:
        pytest.fail(
            f"@pytest.mark.{_MARKER} takes (path=None, *, tls=False, pace=None, strict=True); "
            f"got {', '.join(unknown) or 'more than one path'}",
            pytrace=False,
        )
    config = request.config
    settings = _settings(config)
    path = _capture_path(request, marker)
    shown = _display(path, config)
    nodeid = request.node.nodeid
    record = settings.mode == "rewrite" or (settings.mode == "once" and not path.is_file())
    if record:
        yield from _recording(request, path, settings, tmp_path_factory)
        return
    if not path.is_file():
        pytest.fail(
            f"capture {shown} not found (--live-record-mode={settings.mode} never records); "
            f"record it with: {record_command(nodeid, endpoint=settings.endpoint)}",
            pytrace=False,
        )
    options = marker.kwargs
    pace = cast("Pace", options.get("pace") or settings.pace)
    strict = bool(options.get("strict", True))
    run_path = tmp_path / "rawlive-run.jsonl"

    def start(tls: bool) -> tuple[BackgroundReplayServer, Any]:
        from rawlive.capture.replay import BackgroundReplayServer
        from rawlive.errors import LiveError

        server_ctx = client_ctx = None
        if tls:
            cert = _certificate(config, tmp_path_factory)
            server_ctx, client_ctx = cert.server_context(), cert.client_context()

        try:
            background = BackgroundReplayServer(
                path, ssl_context=server_ctx, pace=pace, strict=strict, record=run_path
            ).start()
        except (LiveError, OSError) as exc:
            pytest.fail(f"cannot replay {shown}: {exc}", pytrace=False)
        return background, client_ctx

    replay = LiveReplay(
        mode="replay",
        record_mode=settings.mode,
        capture_path=path,
        start=start,
        tls=bool(options.get("tls", False)),
        run_path=run_path,
    )
    try:
        yield replay
    finally:
        replay.finish()
    if replay.mismatches and not replay.reported:
        pytest.fail(_mismatch_text(replay, run_path, nodeid, config), pytrace=False)


def _recording(
    request: pytest.FixtureRequest,
    path: Path,
    settings: Settings,
    factory: pytest.TempPathFactory,
) -> Iterator[LiveReplay]:
    from rawlive.auth import redact_url, resolve_credentials
    from rawlive.errors import MissingAPIKeyError

    if settings.endpoint is None:
        try:
            key: str | None = resolve_credentials(None).secret
        except MissingAPIKeyError as exc:
            pytest.fail(
                f"--live-record-mode={settings.mode} needs an API key to record "
                f"{_display(path, request.config)} from the real service: {exc}. "
                "To record against another Live-compatible server, pass --live-endpoint URL",
                pytrace=False,
            )
        source = f"pytest {request.node.nodeid}"
    else:
        key = _api_key()
        source = f"pytest {request.node.nodeid} against {redact_url(settings.endpoint)}"
    secrets = ((key,) if key else ()) + url_secrets(settings.endpoint or "")
    recorder = SharedRecorder(path, secrets, source)
    config = request.config
    replay = LiveReplay(
        mode="record",
        record_mode=settings.mode,
        capture_path=path,
        recorder=recorder,
        endpoint=settings.endpoint,
        cert=lambda: _certificate(config, factory),
        key=key,
    )
    try:
        yield replay
    finally:
        replay.finish()
        if replay.written:
            request.node.user_properties.append((_WROTE, str(path)))


def _mismatch_text(
    replay: LiveReplay, run_path: Path | None, nodeid: str, config: pytest.Config
) -> str:
    lines = [replay.report()]
    shown = _display(replay.capture_path, config)
    try:
        from rawlive.capture.format import read_capture
        from rawlive.pytest_plugin._drift import first_difference, format_first_difference

        if run_path is None:
            raise ValueError("the run was not recorded")
        diff = first_difference(read_capture(replay.capture_path), read_capture(run_path))
    except (OSError, ValueError) as exc:  # the run's own record is a help, not a must
        lines.append(f"(the first differing frame could not be shown: {exc})")
    else:
        if diff is not None:
            lines.append(format_first_difference(diff, capture_name=shown))
            lines.append(f"this run's frames: {run_path} (rawlive diff {shown} {run_path})")
    settings = _settings(config)
    if replay.record_mode == "once":
        lines.append(
            f"{shown} was not overwritten: --live-record-mode=once records only missing "
            "captures; if the change is intended, record it again with: "
            + record_command(nodeid, mode="rewrite", endpoint=settings.endpoint)
        )
    else:
        lines.append(
            "if the change is intended, record the capture again with: "
            + record_command(nodeid, mode="rewrite", endpoint=settings.endpoint)
        )
    return "\n".join(lines)


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
                replay.reported = True
                item.add_report_section("call", "rawlive replay", _mismatch_text_of(item, replay))
        raise
    replay = _replay_of(item)
    if replay is not None:
        replay.finish()
        if replay.mismatches:
            replay.reported = True
            pytest.fail(_mismatch_text_of(item, replay), pytrace=False)
    return result


def _mismatch_text_of(item: pytest.Item, replay: LiveReplay) -> str:
    return _mismatch_text(replay, replay.run_path, item.nodeid, item.config)


def _replay_of(item: pytest.Item) -> LiveReplay | None:
    funcargs = getattr(item, "funcargs", None)
    if not isinstance(funcargs, dict):
        return None
    value = funcargs.get(_FIXTURE)
    return value if isinstance(value, LiveReplay) and value.started else None


# -- the report of written captures (works under xdist: user_properties travel) ---------


class _WrittenCaptures:
    """Collects the captures tests wrote, from their teardown reports, and lists them."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self.paths: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == _WROTE and str(value) not in self.paths:
                self.paths.append(str(value))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.paths:
            return
        terminalreporter.section("rawlive captures written")
        for path in self.paths:
            terminalreporter.write_line(_display(Path(path), self._config))
        terminalreporter.write_line(
            f"{len(self.paths)} capture(s) written; review them (rawlive show FILE) "
            "before committing"
        )


# -- live_fake ---------------------------------------------------------------------------


def _fake_options(marker: pytest.Mark | None) -> tuple[dict[str, Any], bool]:
    if marker is None:
        return {}, False
    if marker.args:
        pytest.fail(
            f"@pytest.mark.{_FAKE_MARKER} takes keyword arguments only "
            "(the FakeLiveServer options), e.g. live_fake(faults=[...])",
            pytrace=False,
        )
    options = dict(marker.kwargs)
    tls = bool(options.pop("tls", False))
    if "strict" in options:
        from rawlive.testing import FakeLiveServer

        strict = bool(options.pop("strict"))
        if "rules" not in inspect.signature(FakeLiveServer).parameters:
            pytest.fail(
                "live_fake(strict=...) needs a FakeLiveServer with rules='service'|'lenient', "
                "which this rawlive does not have",
                pytrace=False,
            )
        options.setdefault("rules", "service" if strict else "lenient")
    return options, tls


@pytest.fixture
def live_fake(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveFake]:
    """A :class:`~rawlive.testing.FakeLiveServer` for this test, on its own thread.

    Options come from ``@pytest.mark.live_fake(...)``: every keyword
    :class:`FakeLiveServer` takes (``faults=[...]``, ``model=...``,
    ``api_key=...``, ``seed=...``, ...), plus ``strict=True`` for the
    service's rules (``rules="service"``) and ``tls=True`` to serve
    ``wss://`` from the start. The server starts at first use and is closed
    after the test.

    Yields:
        A :class:`LiveFake`: ``connect_kwargs()``, ``sdk_http_options()``,
        ``server``, ``call()``.
    """
    options, tls = _fake_options(request.node.get_closest_marker(_FAKE_MARKER))
    options.setdefault("port", 0)
    from rawlive.testing import FakeLiveServer

    try:
        inspect.signature(FakeLiveServer).bind(**options)
    except TypeError as exc:
        pytest.fail(f"@pytest.mark.{_FAKE_MARKER}: FakeLiveServer {exc}", pytrace=False)
    config = request.config
    fake = LiveFake(
        options=options,
        tls=tls,
        cert=lambda: _certificate(config, tmp_path_factory),
        sdk_api_key=options.get("api_key"),
    )
    try:
        yield fake
    finally:
        fake.finish()
