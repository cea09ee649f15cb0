"""Tests for rawlive.pytest_plugin: record modes, naming, drift, live_fake, SDK settings.

Each test writes a small test module and runs pytest on it with pytester;
the generated tests talk to real loopback servers (the replay server, the
fake server) over real WebSocket frames.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawlive.capture.format import read_capture
from rawlive.pytest_plugin._modes import ModeError, auto_capture_name, parse_record_mode
from rawlive.testing._threaded import BackgroundFakeServer

pytest_plugins = ["pytester"]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SECRET = "recording-key-5c1d9e"


def plugin_args(request: pytest.FixtureRequest, *, asyncio: bool = False) -> list[str]:
    # Generated tests need no hypothesis (its plugin costs a second per run),
    # and pytest-asyncio only where they say so; once the pytest11 entry
    # point is installed, the rawlive plugin loads by itself.
    args = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:randomly"]
    if not asyncio:
        args += ["-p", "no:asyncio"]
    if not request.config.pluginmanager.has_plugin("rawlive"):
        args += ["-p", "rawlive.pytest_plugin"]
    return args


@pytest.fixture(scope="session")
def cryptography_loaded(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Import cryptography in this process before any pytester run uses it.

    An in-process pytester run removes the modules imported since its
    fixture was set up; cryptography's Rust core cannot be imported twice, so
    a second run would get classes that its extension no longer recognises.
    A session fixture is set up before pytester takes its snapshot.
    """
    pytest.importorskip("cryptography", reason="the test certificate needs cryptography")
    from rawlive.capture.tls import generate_self_signed_cert

    generate_self_signed_cert(tmp_path_factory.mktemp("preload")).client_context()


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "RAWLIVE_RECORD_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_endpoint() -> Iterator[str]:
    with BackgroundFakeServer() as fake:
        yield fake.server.url


TALK = """
import asyncio

import pytest

import rawlive


def talk(live, prompt):
    async def run():
        async with rawlive.connect(
            "gemini-2.0-flash-live-001", response_modalities=["TEXT"], **live.connect_kwargs()
        ) as session:
            await session.send_text(prompt)
            return await session.receive_turn(timeout=5)

    return asyncio.run(run())
"""


# -- replay (mode none) ---------------------------------------------------------------


def test_replay_passes_and_a_mismatch_shows_the_first_differing_frame(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, no_key: None
) -> None:
    (pytester.path / "fixtures").mkdir()
    shutil.copy(FIXTURES / "seed_text_session.jsonl", pytester.path / "fixtures")
    pytester.makepyfile(
        test_live=TALK
        + """
@pytest.mark.live_capture("fixtures/seed_text_session.jsonl")
def test_matches(live_replay):
    assert live_replay.mode == "replay"
    assert talk(live_replay, "Hello? Gemini are you there?").text.startswith("Yes, I am")


@pytest.mark.live_capture("fixtures/seed_text_session.jsonl")
def test_mismatch(live_replay):
    with pytest.raises(rawlive.ConnectionClosedError):
        talk(live_replay, "Goodbye")


@pytest.mark.live_capture("fixtures/seed_text_session.jsonl")
def test_mismatch_that_breaks_the_test(live_replay):
    talk(live_replay, "Goodbye")
"""
    )
    result = pytester.runpytest(*plugin_args(request), "-v")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_matches PASSED*",
            "*_ test_mismatch _*",
            "*replay of *seed_text_session.jsonl: 1 mismatch*",
            "*connection #1, client frame #2: expected clientContent('Hello? Gemini are you "
            "there?'), got clientContent('Goodbye')*",
            "first differing frame: connection #1, client frame #2",
            "--- fixtures/seed_text_session.jsonl",
            "+++ this run",
            '  - client {"clientContent":{"turns":[{"role":"user","parts":[{"text":"Hello? '
            'Gemini are you there?"}]}],"turnComplete":true}}',
            '  + client {"clientContent":*"Goodbye"*}',
            "same shape: no differences*",
            "*record the capture again with: GEMINI_API_KEY=... pytest "
            "--live-record-mode=rewrite 'test_live.py::test_mismatch'",
        ]
    )
    # A test that failed on its own (the 1007 close broke its session) gets
    # the report attached.
    result.stdout.fnmatch_lines(
        [
            "*_ test_mismatch_that_breaks_the_test _*",
            "*ConnectionClosedError*1007*",
            "*Captured rawlive replay call*",
            "first differing frame: connection #1, client frame #2",
        ]
    )


def test_a_shape_difference_is_shown_as_rawlive_diff_does(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, no_key: None
) -> None:
    (pytester.path / "fixtures").mkdir()
    shutil.copy(FIXTURES / "seed_text_session.jsonl", pytester.path / "fixtures")
    pytester.makepyfile(
        test_live=TALK.replace("send_text(prompt)", "send_realtime_text(prompt)")
        + """
@pytest.mark.live_capture("fixtures/seed_text_session.jsonl", strict=False)
def test_realtime_text(live_replay):
    talk(live_replay, "Hello? Gemini are you there?")
"""
    )
    result = pytester.runpytest(*plugin_args(request))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "first differing frame: connection #1, client frame #2",
            "message kinds:",
            "  - client clientContent",
            "  + client realtimeInput",
        ]
    )


def test_a_missing_capture_names_its_path_and_the_command_that_records_it(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, no_key: None
) -> None:
    pytester.makepyfile(
        test_new="""
import pytest

@pytest.mark.live_capture
def test_greeting(live_replay):
    pass
"""
    )
    result = pytester.runpytest(*plugin_args(request))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*capture captures/test_new/test_greeting.jsonl not found "
            "(--live-record-mode=none never records); record it with: GEMINI_API_KEY=... "
            "pytest --live-record-mode=once 'test_new.py::test_greeting'"
        ]
    )
    assert not (pytester.path / "captures").exists()


def test_explicit_paths_are_found_next_to_the_test_and_take_pace(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, no_key: None
) -> None:
    folder = pytester.mkpydir("sub")
    shutil.copy(FIXTURES / "seed_text_session.jsonl", folder / "here.jsonl")
    (folder / "test_here.py").write_text(
        "import pytest\n"
        "@pytest.mark.live_capture('here.jsonl', strict=False)\n"
        "def test_here(live_replay):\n"
        "    assert live_replay.capture_path.name == 'here.jsonl'\n"
        "    assert live_replay.server.pace == 'original'\n"
        "    assert live_replay.server.strict is False\n"
        "    assert live_replay.connect_kwargs() == {'endpoint': live_replay.url, 'ssl': None}\n"
    )
    result = pytester.runpytest(*plugin_args(request), "--live-pace", "original")
    result.assert_outcomes(passed=1)


# -- options ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["all", "new_episodes"])
def test_appending_modes_are_refused_with_the_reason(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, mode: str
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(*plugin_args(request), f"--live-record-mode={mode}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: --live-record-mode={mode} is not supported: * a capture is one "
            "bidirectional session * appending new interactions to it has no clear meaning*"
        ]
    )


def test_record_mode_parsing() -> None:
    assert parse_record_mode(None, legacy_record=False) == "none"
    assert parse_record_mode("Once", legacy_record=False) == "once"
    assert parse_record_mode(None, legacy_record=True) == "rewrite"
    assert parse_record_mode("rewrite", legacy_record=True) == "rewrite"
    with pytest.raises(ModeError, match="must be one of none, once, rewrite; got 'sometimes'"):
        parse_record_mode("sometimes", legacy_record=False)
    with pytest.raises(ModeError, match="contradicts --live-record-mode=none"):
        parse_record_mode("none", legacy_record=True)


def test_automatic_names() -> None:
    here = Path("/src/tests/test_voice.py")
    base = Path("/src/tests/captures/test_voice")
    assert auto_capture_name(here, "test_hi", None) == base / "test_hi.jsonl"
    assert auto_capture_name(here, "test_hi", "TestGreeting") == base / (
        "TestGreeting.test_hi.jsonl"
    )
    assert auto_capture_name(here, "test_hi[a b/c]", None) == base / "test_hi[a-b-c].jsonl"


def test_an_insecure_endpoint_is_a_usage_error(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(*plugin_args(request), "--live-endpoint", "ws://example.com/ws")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --live-endpoint: refusing plain ws:// to example.com*"])


# -- recording ---------------------------------------------------------------------------


RECORDED = (
    TALK
    + """
@pytest.mark.live_capture
def test_greeting(live_replay):
    turn = talk(live_replay, PROMPT)
    assert turn.text


class TestTwice:
    @pytest.mark.live_capture
    def test_reconnects(self, live_replay):
        for prompt in ("one", "two"):  # a reconnect is the next conn, same file
            talk(live_replay, prompt)
"""
)


def write_recorded(pytester: pytest.Pytester, prompt: str) -> None:
    pytester.makepyfile(test_rec=f"PROMPT = {prompt!r}\n" + RECORDED)


def test_recording_without_a_key_names_where_keys_are_looked_for(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, no_key: None
) -> None:
    write_recorded(pytester, "Hello")
    result = pytester.runpytest(*plugin_args(request), "--live-record-mode=once")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*--live-record-mode=once needs an API key to record "
            "captures/test_rec/test_greeting.jsonl from the real service: no API key found: "
            "looked in $GEMINI_API_KEY, $GOOGLE_API_KEY, *. To record against another "
            "Live-compatible server, pass --live-endpoint URL"
        ]
    )
    assert not (pytester.path / "captures").exists()


def test_once_records_missing_captures_then_replays_and_never_overwrites(
    pytester: pytest.Pytester,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    no_key: None,
    fake_endpoint: str,
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)  # used when present, and scrubbed
    write_recorded(pytester, "Hello")
    args = [*plugin_args(request), "--live-endpoint", fake_endpoint]
    result = pytester.runpytest(*args, "--live-record-mode=once")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*= rawlive captures written =*",
            "captures/test_rec/test_greeting.jsonl",
            "captures/test_rec/TestTwice.test_reconnects.jsonl",
            "2 capture(s) written; review them*",
        ]
    )
    greeting = pytester.path / "captures" / "test_rec" / "test_greeting.jsonl"
    twice = pytester.path / "captures" / "test_rec" / "TestTwice.test_reconnects.jsonl"
    for path in (greeting, twice):
        text = path.read_text()
        assert SECRET not in text
    capture = read_capture(twice)
    assert capture.connections() == (1, 2)
    assert capture.meta is not None and "against ws://127.0.0.1:" in (capture.meta.source or "")
    recorded = greeting.read_bytes()

    # Replays offline now (mode none), and once records nothing that exists.
    for mode in ("none", "once"):
        result = pytester.runpytest(*args, f"--live-record-mode={mode}")
        result.assert_outcomes(passed=2)
        assert "rawlive captures written" not in result.stdout.str()
    assert greeting.read_bytes() == recorded

    # The code changed: once fails with the difference and leaves the capture alone.
    write_recorded(pytester, "Goodbye")
    result = pytester.runpytest(*args, "--live-record-mode=once")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "first differing frame: connection #1, client frame #2",
            '  - client {"clientContent":*"Hello"*',
            '  + client {"clientContent":*"Goodbye"*',
            "captures/test_rec/test_greeting.jsonl was not overwritten: "
            "--live-record-mode=once records only missing captures; if the change is "
            "intended, record it again with: pytest --live-record-mode=rewrite "
            f"--live-endpoint {fake_endpoint} 'test_rec.py::test_greeting'",
        ]
    )
    assert greeting.read_bytes() == recorded

    # rewrite records every selected test again.
    result = pytester.runpytest(*args, "--live-record-mode=rewrite")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["2 capture(s) written*"])
    assert greeting.read_bytes() != recorded
    assert "Goodbye" in greeting.read_text()
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=2)


def test_live_record_is_a_deprecated_rewrite(
    pytester: pytest.Pytester,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    no_key: None,
    fake_endpoint: str,
) -> None:
    monkeypatch.setenv("RAWLIVE_RECORD_ENDPOINT", fake_endpoint)  # no key: not required
    write_recorded(pytester, "Hello")
    result = pytester.runpytest(*plugin_args(request), "--live-record", "-W", "default")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*PytestDeprecationWarning: --live-record is deprecated: use "
            "--live-record-mode=rewrite*",
            "2 capture(s) written*",
        ]
    )
    assert (pytester.path / "captures" / "test_rec" / "test_greeting.jsonl").is_file()


# -- live_fake -------------------------------------------------------------------------


FAKE_TESTS = """
import asyncio

import pytest

import rawlive
from rawlive.testing import CloseWith

MODEL = "gemini-2.0-flash-live-001"


async def one_turn(live, text, model="rawlive-demo"):
    async with rawlive.connect(
        model, response_modalities=["TEXT"], **live.connect_kwargs()
    ) as session:
        await session.send_text(text)
        return await session.receive_turn(timeout=5)


def test_sync(live_fake):
    assert asyncio.run(one_turn(live_fake, "Hello")).text
    assert live_fake.server.received_count("clientContent") == 1


@pytest.mark.live_fake(faults=[CloseWith(code=1011, reason="boom", on_turn=1)], seed=7)
def test_faults_from_the_marker(live_fake):
    with pytest.raises(rawlive.ConnectionClosedError) as info:
        asyncio.run(one_turn(live_fake, "Hello"))
    assert info.value.code == 1011
    assert [f.fault.reason for f in live_fake.server.faults] == ["boom"]


def test_call_runs_server_coroutines_on_its_loop(live_fake):
    async def run():
        async with rawlive.connect(
            "rawlive-demo", response_modalities=["TEXT"], **live_fake.connect_kwargs()
        ) as session:
            await session.send_text("Hello")
            await session.receive_turn(timeout=5)
            assert live_fake.call(live_fake.server.go_away, "30s") == 1
            message = await asyncio.wait_for(session.receive(), 5)
            return message.go_away

    go_away = asyncio.run(run())
    assert go_away is not None and go_away.time_left_seconds == 30
    assert b"goAway" in live_fake.server.connections[0].sent[-1]


@pytest.mark.live_fake(api_key="k-123", tls=True)
def test_key_and_tls(live_fake):
    assert live_fake.url.startswith("wss://127.0.0.1:")
    assert live_fake.connect_kwargs()["api_key"] == "k-123"
    assert live_fake.sdk_api_key == "k-123"
    assert asyncio.run(one_turn(live_fake, "Hello")).text
"""

ASYNC_FAKE_TESTS = """
import pytest

import rawlive

MODEL = "gemini-2.0-flash-live-001"


async def one_turn(live, text, model="rawlive-demo"):
    async with rawlive.connect(
        model, response_modalities=["TEXT"], **live.connect_kwargs()
    ) as session:
        await session.send_text(text)
        return await session.receive_turn(timeout=5)


@pytest.mark.asyncio
async def test_asyncio(live_fake):
    assert (await one_turn(live_fake, "Hello")).text


@pytest.mark.anyio
async def test_anyio(live_fake):
    assert (await one_turn(live_fake, "Hello")).text


@pytest.mark.live_capture("seed_text_session.jsonl")
@pytest.mark.asyncio
async def test_replay(live_replay):
    turn = await one_turn(live_replay, "Hello? Gemini are you there?", MODEL)
    assert turn.text.startswith("Yes, I am")
"""


def test_live_fake_takes_faults_and_options_from_its_marker(
    cryptography_loaded: None, pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    pytester.makepyfile(test_fake=FAKE_TESTS)
    result = pytester.runpytest(*plugin_args(request), "-v")
    result.assert_outcomes(passed=4)


@pytest.mark.parametrize("asyncio_mode", ["strict", "auto"])
def test_fixtures_work_in_pytest_asyncio_modes_and_anyio(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, asyncio_mode: str
) -> None:
    pytest.importorskip("anyio")
    shutil.copy(FIXTURES / "seed_text_session.jsonl", pytester.path)
    pytester.makeini(
        f"[pytest]\nasyncio_mode = {asyncio_mode}\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "anyio_backend = asyncio\n"
    )
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture\ndef anyio_backend():\n    return 'asyncio'\n"
    )
    pytester.makepyfile(test_async=ASYNC_FAKE_TESTS)
    result = pytester.runpytest(*plugin_args(request, asyncio=True), "-v")
    result.assert_outcomes(passed=3)


def test_strict_maps_to_the_service_rules_or_says_it_cannot(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    import inspect

    from rawlive.testing import FakeLiveServer

    pytester.makepyfile(
        """
import pytest

@pytest.mark.live_fake(strict=True)
def test_strict(live_fake):
    assert live_fake.options["rules"] == "service"
    live_fake.start()
"""
    )
    result = pytester.runpytest(*plugin_args(request))
    if "rules" in inspect.signature(FakeLiveServer).parameters:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(
            ["*live_fake(strict=...) needs a FakeLiveServer with rules='service'|'lenient'*"]
        )


# -- the official SDK ----------------------------------------------------------------


SDK_TESTS = """
import pytest
from google import genai
from google.genai import types


def user(text):
    return types.Content(role="user", parts=[types.Part(text=text)])


@pytest.mark.live_capture("seed_resumable_session.jsonl")
async def test_sdk_replays(live_replay):
    client = genai.Client(api_key="any", http_options=live_replay.sdk_http_options())
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"], session_resumption=types.SessionResumptionConfig()
    )
    async with client.aio.live.connect(model="gemini-2.0-flash-live-001", config=config) as s:
        await s.send_client_content(turns=user("Hello"))
        texts = [m.text async for m in s.receive() if m.text]
    assert "".join(texts) == "Hello there! How can I help you today?\\n"


@pytest.mark.live_capture("seed_resumable_session.jsonl")
async def test_sdk_mismatch(live_replay):
    client = genai.Client(**live_replay.sdk_client_kwargs())
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"], session_resumption=types.SessionResumptionConfig()
    )
    async with client.aio.live.connect(model="gemini-2.0-flash-live-001", config=config) as s:
        await s.send_client_content(turns=user("Bonjour"))


async def test_sdk_against_the_fake(live_fake):
    client = genai.Client(**live_fake.sdk_client_kwargs())
    config = types.LiveConnectConfig(response_modalities=["TEXT"])
    async with client.aio.live.connect(model="rawlive-demo", config=config) as s:
        await s.send_client_content(turns=user("Hello"))
        texts = [m.text async for m in s.receive() if m.text]
    assert "".join(texts)
    assert live_fake.server.received_count("clientContent") == 1
"""


def test_official_sdk_replays_through_sdk_http_options(
    cryptography_loaded: None,
    pytester: pytest.Pytester,
    request: pytest.FixtureRequest,
    no_key: None,
) -> None:
    pytest.importorskip("google.genai", reason="the official SDK is not installed")
    shutil.copy(FIXTURES / "seed_resumable_session.jsonl", pytester.path)
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_sdk=SDK_TESTS)
    result = pytester.runpytest(*plugin_args(request, asyncio=True), "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_sdk_replays PASSED*",
            "*test_sdk_mismatch FAILED*",
            "*test_sdk_against_the_fake PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "first differing frame: connection #1, client frame #2",
            '  + client {"client_content":*"Bonjour"*',
        ]
    )


SDK_RECORD_TEST = """
import pytest
from google import genai
from google.genai import types


@pytest.mark.live_capture
async def test_sdk_greeting(live_replay):
    client = genai.Client(**live_replay.sdk_client_kwargs())
    config = types.LiveConnectConfig(response_modalities=["TEXT"])
    async with client.aio.live.connect(model="gemini-2.0-flash-live-001", config=config) as s:
        await s.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="Hello")])
        )
        texts = [m.text async for m in s.receive() if m.text]
    assert "".join(texts)
"""


def test_official_sdk_tests_record_through_a_relay(
    cryptography_loaded: None,
    pytester: pytest.Pytester,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    no_key: None,
    fake_endpoint: str,
) -> None:
    pytest.importorskip("google.genai", reason="the official SDK is not installed")
    import importlib.util

    monkeypatch.setenv("GEMINI_API_KEY", SECRET)  # the SDK is given the recording key
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_sdk_rec=SDK_RECORD_TEST)
    args = plugin_args(request, asyncio=True)
    result = pytester.runpytest(*args, "--live-record-mode=once", "--live-endpoint", fake_endpoint)
    path = pytester.path / "captures" / "test_sdk_rec" / "test_sdk_greeting.jsonl"
    if importlib.util.find_spec("rawlive.proxy") is None:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*recording the official SDK needs rawlive.proxy*"])
        assert not path.exists()
        return
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["1 capture(s) written*"])
    text = path.read_text()
    assert SECRET not in text
    assert "Hello" in text
    result = pytester.runpytest(*args)  # and it replays to the SDK offline
    result.assert_outcomes(passed=1)


# -- parallel runs ----------------------------------------------------------------------


def test_parallel_workers_each_run_their_own_servers(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, no_key: None, fake_endpoint: str
) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    shutil.copy(FIXTURES / "seed_text_session.jsonl", pytester.path)
    body = FAKE_TESTS + "\n".join(
        f"""
@pytest.mark.live_capture("seed_text_session.jsonl")
def test_replay_{n}(live_replay):
    turn = asyncio.run(one_turn(live_replay, "Hello? Gemini are you there?", MODEL))
    assert turn.text.startswith("Yes, I am")


@pytest.mark.live_capture
def test_record_{n}(live_replay):
    assert asyncio.run(one_turn(live_replay, "Hi {n}")).text
"""
        for n in range(4)
    )
    pytester.makepyfile(test_par=body)
    args = plugin_args(request)
    result = pytester.runpytest_subprocess(
        *args, "-n", "2", "--live-record-mode=once", "--live-endpoint", fake_endpoint
    )
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(["*= rawlive captures written =*", "4 capture(s) written*"])
    for n in range(4):
        capture = read_capture(pytester.path / "captures" / "test_par" / f"test_record_{n}.jsonl")
        assert f"Hi {n}" in str([f.data for f in capture.frames(dir="client")])
    result = pytester.runpytest_subprocess(*args, "-n", "2")
    result.assert_outcomes(passed=12)


# -- bad input: one line each ---------------------------------------------------------


def test_bad_markers_and_a_broken_capture_fail_in_one_line(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, no_key: None
) -> None:
    (pytester.path / "broken.jsonl").write_text("this is not a capture\n")
    pytester.makepyfile(
        test_bad="""
import pytest

@pytest.mark.live_capture("broken.jsonl", stric=False)
def test_typo(live_replay):
    pass


@pytest.mark.live_capture("broken.jsonl")
def test_broken(live_replay):
    live_replay.connect_kwargs()


@pytest.mark.live_fake(fault=[])
def test_fake_typo(live_fake):
    pass
"""
    )
    result = pytester.runpytest(*plugin_args(request))
    result.assert_outcomes(failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.live_capture takes (path=None, *, tls=False, pace=None, "
            "strict=True); got stric",
        ]
    )
    result.stdout.fnmatch_lines(["*cannot replay broken.jsonl: *"])
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.live_fake: FakeLiveServer got an unexpected keyword argument 'fault'*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_key_in_the_endpoint_never_reaches_a_capture_or_a_message(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, no_key: None, fake_endpoint: str
) -> None:
    endpoint = f"{fake_endpoint}?key={SECRET}"
    pytester.makepyfile(
        test_rec=f"PROMPT = 'Hello {SECRET}'\n"
        + RECORDED
        + """
@pytest.mark.live_capture
def test_sdk(live_replay):
    assert live_replay.mode == "record"
"""
    )
    result = pytester.runpytest(
        *plugin_args(request), "--live-record-mode=rewrite", "--live-endpoint", endpoint
    )
    result.assert_outcomes(passed=3)
    greeting = pytester.path / "captures" / "test_rec" / "test_greeting.jsonl"
    text = greeting.read_text()
    assert SECRET not in text
    assert "Hello REDACTED" in text  # scrubbed from the frame, not only from the URL
    # A test that never connects leaves no capture.
    assert not (pytester.path / "captures" / "test_rec" / "test_sdk.jsonl").exists()
    # The command a failure suggests never shows the key either.
    result = pytester.runpytest(
        *plugin_args(request), "--live-endpoint", endpoint, "-k", "test_sdk"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*--live-endpoint ws://127.0.0.1:*?key=REDACTED 'test_rec.py::test_sdk'*"]
    )
    assert SECRET not in result.stdout.str()
