"""Tests for rawlive.pytest_plugin: live_fake, official-SDK tests, event loops, xdist.

Each test writes a small test module and runs pytest on it with pytester,
against real loopback servers.
"""

from __future__ import annotations

import shutil

import pytest

from rawlive.capture.format import read_capture

pytest.register_assert_rewrite("plugin_helpers")  # it is a plugin too (below)
from plugin_helpers import FIXTURES, SECRET, plugin_args  # noqa: E402

# plugin_helpers also gives the fixtures no_key, fake_endpoint and cryptography_loaded.
pytest_plugins = ["pytester", "plugin_helpers"]


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
