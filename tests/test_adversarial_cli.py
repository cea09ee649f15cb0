"""Careless and hostile input through the command line: one error line, never a traceback.

Most cases call ``rawlive.cli.main`` in-process (fast, and an escaping
exception fails the test outright); the cases about stdin, argv bytes and
hangs run ``python -m rawlive`` in a subprocess with a timeout.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from rawlive.capture.format import MAX_REDACTED_BYTES
from rawlive.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SRC = Path(__file__).resolve().parent.parent / "src"
FIXTURE = FIXTURES / "seed_text_session.jsonl"
AUDIO_FIXTURE = FIXTURES / "seed_audio_turns.jsonl"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse: a bad argument
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(code: int, err: str, *, expect: str = "") -> None:
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("rawlive"), err
    assert expect.lower() in lines[0].lower(), err


# -- files that are missing, folders, unreadable ----------------------------------------

READERS = {
    "show": ["show", "{}"],
    "lint": ["lint", "{}"],
    "wav": ["wav", "{}", "out.wav"],
    "diff": ["diff", "{}", str(FIXTURE)],
    "diff-b": ["diff", str(FIXTURE), "{}"],
    "serve": ["serve", "{}", "--port", "0"],
}


@pytest.mark.parametrize("command", sorted(READERS))
@pytest.mark.parametrize(
    ("kind", "expect"),
    [("missing", "no such file"), ("folder", "folder"), ("unreadable", "permission denied")],
)
def test_bad_input_files(
    command: str,
    kind: str,
    expect: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "capture.jsonl"
    if kind == "folder":
        target.mkdir()
    elif kind == "unreadable":
        target.write_bytes(FIXTURE.read_bytes())
        target.chmod(0)
        if os.access(target, os.R_OK):
            pytest.skip("running as root: chmod 0 does not stop reading")
    args = [a.replace("{}", str(target)) for a in READERS[command]]
    code, _, err = cli(capsys, *args)
    assert_one_error_line(code, err, expect=expect)


# -- output paths -------------------------------------------------------------------------

OUTPUTS = {
    "say --audio into a missing folder": (["say", "hi", "--audio", "nodir/x.wav"], "not exist"),
    "say --audio onto a folder": (["say", "hi", "--audio", "adir"], "folder"),
    "say --record into a missing folder": (["say", "hi", "--record", "nodir/r.jsonl"], "not exist"),
    "say --record onto a folder": (["say", "hi", "--record", "adir"], "folder"),
    "chat --record onto a folder": (["chat", "hi", "--record", "adir"], "folder"),
    "proxy --record into a missing folder": (
        ["proxy", "--record", "nodir/r.jsonl", "--port", "0"],
        "not exist",
    ),
    "wav into a missing folder": (["wav", str(AUDIO_FIXTURE), "nodir/x.wav"], "not exist"),
    "wav onto a folder": (["wav", str(AUDIO_FIXTURE), "adir"], "folder"),
    "chat --audio-dir naming a file": (["chat", "hi", "--audio-dir", "afile"], "not a folder"),
}


@pytest.mark.parametrize("case", sorted(OUTPUTS))
def test_bad_output_paths(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    args, expect = OUTPUTS[case]
    code, _, err = cli(capsys, *args, *(["--server", "demo"] if args[0] in ("say", "chat") else []))
    assert_one_error_line(code, err, expect=expect)
    assert not (tmp_path / "nodir").exists()


# -- serve options and server URLs --------------------------------------------------------


@pytest.fixture
def busy_port() -> object:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


SERVERS_CMDS = {"serve": ["serve", str(FIXTURE)], "fake": ["fake"], "proxy": ["proxy"]}


@pytest.mark.parametrize("command", sorted(SERVERS_CMDS))
def test_serve_on_a_busy_port(
    command: str, busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, *SERVERS_CMDS[command], "--port", str(busy_port))
    assert_one_error_line(code, err, expect="address already in use")


SERVE_OPTIONS = {
    "port 70000": (["--port", "70000"], "out of range"),
    "port -1": (["--port", "-1"], "out of range"),
    "port abc": (["--port", "abc"], "not a port"),
    "host 256.1.1.1": (["--host", "256.1.1.1"], "not a valid ip address"),
    "host with spaces": (["--host", "a b"], "not a valid host"),
    "missing tls files": (["--tls-cert", "nope.pem", "--tls-key", "nope.key"], "no such file"),
    "tls cert without key": (["--tls-cert", "{fixture}"], "key"),
    "tls files that are not PEM": (["--tls-cert", "{fixture}", "--tls-key", "{fixture}"], "tls"),
}


@pytest.mark.parametrize("case", sorted(SERVE_OPTIONS))
@pytest.mark.parametrize("command", sorted(SERVERS_CMDS))
def test_bad_serve_options(case: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    options, expect = SERVE_OPTIONS[case]
    options = [o.replace("{fixture}", str(FIXTURE)) for o in options]
    code, _, err = cli(capsys, *SERVERS_CMDS[command], "--port", "0", *options)
    assert_one_error_line(code, err, expect=expect)


SERVERS = {
    "ws://127.0.0.1:notaport": "port",
    "ws://127.0.0.1:": "port after ':' is empty",
    "ws://127.0.0.1:70000": "port",
    "ws://[::1": "invalid",
    "http://127.0.0.1:1/": "ws://",
    "ws://example.com/": "clear text",
}


@pytest.mark.parametrize("url", sorted(SERVERS))
@pytest.mark.parametrize("command", ["say", "chat"])
def test_bad_server_urls(url: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, command, "hi", "--server", url)
    assert_one_error_line(code, err, expect=SERVERS[url])


@pytest.mark.parametrize("value", ["nan", "-5", "0", "inf", "soon"])
def test_bad_timeouts(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "say", "hi", "--server", "demo", f"--timeout={value}")
    assert_one_error_line(code, err, expect="timeout")


def test_unreachable_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        code, _, err = cli(capsys, "say", "hi", "--server", f"ws://127.0.0.1:{port}/")
    assert_one_error_line(code, err, expect="could not connect")


def test_unreadable_file_found_only_when_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that passes the parse-time check but cannot be opened (a race, or
    root's view of permissions) still gives one line: the top-level handler."""
    import rawlive.capture.format as capture_format

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(FIXTURE))

    monkeypatch.setattr(capture_format, "read_capture_partial", refuse)
    code, _, err = cli(capsys, "show", str(FIXTURE))
    assert_one_error_line(code, err, expect=f"{FIXTURE}: Permission denied")


def test_unreadable_file_refused_at_parse_time(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import rawlive.cli._args as cli_args

    monkeypatch.setattr(cli_args.os, "access", lambda path, mode: mode != os.R_OK)
    code, _, err = cli(capsys, "lint", str(FIXTURE))
    assert_one_error_line(code, err, expect="permission denied (cannot read it)")


# -- hostile capture files ----------------------------------------------------------------


def _frame_line(data: str, direction: str = "server") -> bytes:
    return orjson.dumps(
        {"kind": "frame", "conn": 1, "t": 0.1, "dir": direction, "type": "text", "data": data}
    )


def _marker_frame(digits: str) -> str:
    marker = f"<redacted {digits} bytes sha256=" + "0" * 64 + ">"
    return (
        '{"serverContent":{"modelTurn":{"parts":[{"inlineData":'
        '{"mimeType":"audio/pcm;rate=24000","data":"' + marker + '"}}]}}}'
    )


HOSTILE_CAPTURES = {
    "marker 500 MB": [_frame_line(_marker_frame("500000000"))],
    "marker 1e15": [_frame_line(_marker_frame(str(10**15)))],
    "marker 5000 digits": [_frame_line(_marker_frame("9" * 5000))],
    "markers at the limit": [_frame_line(_marker_frame(str(MAX_REDACTED_BYTES)))] * 3,
    "a marker past the limit": [_frame_line(_marker_frame(str(MAX_REDACTED_BYTES + 1)))],
    "deep nesting": [_frame_line('{"serverContent":' + "[" * 1000 + "]" * 1000 + "}")],
    "deep nesting with a marker": [
        _frame_line(
            '{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm",'
            '"data":"<redacted 10 bytes sha256=' + "0" * 64 + '>"}}]},"x":'
            + "[" * 1000 + "]" * 1000 + "}}"
        )
    ],
    "a JSON array per line": [b"[1,2,3]"],
    "binary garbage": [b"\xff\xfe\x00\x01garbage"],
    "not json": [b"this is not a capture"],
    "record with wrong types": [b'{"kind":"frame","conn":"x","t":"y","dir":5}'],
    "unknown kind": [b'{"kind":"mystery","foo":1}'],
    "huge line number json": [b'{"kind":"frame","conn":1e400,"t":0,"dir":"server","type":"text","data":"{}"}'],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(HOSTILE_CAPTURES))
@pytest.mark.parametrize("command", ["show", "lint", "wav", "diff", "html"])
def test_hostile_captures(
    case: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tracemalloc

    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(HOSTILE_CAPTURES[case]) + b"\n")
    args = {
        "show": ["show", str(path)],
        "lint": ["lint", str(path)],
        "wav": ["wav", str(path), str(tmp_path / "out.wav")],
        "diff": ["diff", str(path), str(FIXTURE)],
        "html": ["show", str(path), "--html", str(tmp_path / "out.html")],
    }[command]
    tracemalloc.start()
    try:
        code, _, err = cli(capsys, *args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "Traceback" not in err
    assert "unexpected" not in err, err  # the last-resort handler is for bugs
    assert "nested too deeply" not in err, err  # handled per frame, not for the file
    assert peak < 200 * 2**20, f"{peak / 2**20:.0f} MiB"
    if code not in (0, 1) or err:
        assert all(line.startswith("rawlive") for line in err.splitlines()), err


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.jsonl")))
@pytest.mark.parametrize("command", ["show", "lint", "wav"])
def test_a_capture_cut_by_a_crash_shows_what_came_before(
    fixture: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (FIXTURES / fixture).read_bytes()
    cut = data[:1500]
    if len(data) <= 1500:
        pytest.skip(f"{fixture} is only {len(data)} bytes: nothing to cut at 1500")
    if cut.endswith(b"\n"):
        pytest.skip("the cut falls on a line end")
    path = tmp_path / "cut.jsonl"
    path.write_bytes(cut)
    complete_lines = cut.count(b"\n")
    args = {
        "show": ["show", str(path)],
        "lint": ["lint", str(path)],
        "wav": ["wav", str(path), str(tmp_path / "out.wav")],
    }[command]
    code, out, err = cli(capsys, *args)
    assert code != 0
    assert "Traceback" not in err
    assert f"line {complete_lines + 1}" in err, err
    assert "cut" in err
    if command == "show":
        # Every record before the cut is on the timeline (meta lines are not rows).
        assert out.count("\n") >= complete_lines - 1


@pytest.mark.parametrize("command", ["show", "lint"])
def test_an_empty_capture_is_an_error(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    code, out, err = cli(capsys, command, str(path))
    assert_one_error_line(code, err, expect="empty")
    assert "0 problems" not in out


def test_wav_of_redacted_audio_is_bounded_silence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import wave

    path = tmp_path / "redacted.jsonl"
    path.write_bytes(_frame_line(_marker_frame("48000")) + b"\n")
    code, out, err = cli(capsys, "wav", str(path), str(tmp_path / "out.wav"))
    assert code == 0, err
    assert "1 redacted chunks written as silence" in out
    with wave.open(str(tmp_path / "out.wav"), "rb") as w:
        assert w.getnframes() == 24000
        assert w.readframes(24000) == bytes(48000)
    assert not list(tmp_path.glob(".*.part"))


# -- subprocess cases: hangs, stdin, argv bytes -------------------------------------------


def run(
    args: list[str | bytes], *, cwd: Path, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    full = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    full["PYTHONPATH"] = os.pathsep.join([str(SRC), full.get("PYTHONPATH", "")])
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "rawlive", *args],
        cwd=cwd,
        env=full,
        input=stdin,
        capture_output=True,
        timeout=60,
    )


def test_chat_with_an_empty_text_does_not_hang(tmp_path: Path) -> None:
    result = run(
        ["chat", "Hello", "", "  ", "--server", "demo", "--modality", "text"], cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(b"Hello there!") == 1


def test_chat_skips_a_stdin_line_that_is_not_utf8_and_keeps_the_handle(tmp_path: Path) -> None:
    stdin = b"Hello\n\xff\xfe not utf-8\nHello again\n"
    result = run(["chat", "--server", "demo", "--modality", "text"], cwd=tmp_path, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    assert b"input 2 is not valid UTF-8; skipped" in result.stderr
    assert result.stdout.count(b"\n") == 2  # both good lines answered
    assert b"resume handle:" in result.stderr


def test_say_text_that_is_not_utf8_is_refused_before_sending(tmp_path: Path) -> None:
    result = run([b"say", b"\xff\xfe", b"--server", b"demo"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        b"rawlive: error: TEXT is not valid UTF-8; nothing was sent"
    )


@pytest.mark.parametrize("case", sorted(HOSTILE_CAPTURES))
async def test_hostile_captures_served_by_the_replay_server(case: str, tmp_path: Path) -> None:
    """What ``rawlive serve`` does with each: refuse the file in one error, or serve it
    with bounded memory (markers become at most MAX_REDACTED_BYTES of silence)."""
    import asyncio
    import contextlib
    import tracemalloc

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from rawlive.capture.replay import ReplayServer
    from rawlive.errors import LiveError

    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(HOSTILE_CAPTURES[case]) + b"\n")
    try:
        server = ReplayServer(path)
    except LiveError as exc:
        assert str(exc)
        return
    tracemalloc.start()
    try:
        async with server, connect(server.url, max_size=None) as ws:
            with contextlib.suppress(ConnectionClosed, asyncio.TimeoutError):
                while True:
                    frame = await asyncio.wait_for(ws.recv(), 0.3)
                    assert len(frame) < 2 * MAX_REDACTED_BYTES
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, f"{peak / 2**20:.0f} MiB"
