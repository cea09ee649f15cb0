"""Tests for rawlive.pytest_plugin: record modes, naming, recording, drift reports.

Each test writes a small test module and runs pytest on it with pytester;
the generated tests talk to real loopback servers (the replay server, the
fake server) over real WebSocket frames. live_fake, the SDK and parallel
runs: test_pytest_plugin_fake.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rawlive.capture.format import read_capture
from rawlive.pytest_plugin._modes import ModeError, auto_capture_name, parse_record_mode

pytest.register_assert_rewrite("plugin_helpers")  # it is a plugin too (below)
from plugin_helpers import FIXTURES, SECRET, plugin_args  # noqa: E402

# plugin_helpers also gives the fixtures no_key, fake_endpoint and cryptography_loaded.
pytest_plugins = ["pytester", "plugin_helpers"]


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
