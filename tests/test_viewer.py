"""``rawlive show --html``: what the page's data holds (pure), and the CLI around it.

The page in a real browser is tested in tests/test_viewer_browser.py.
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import orjson
import pytest

from rawlive.capture.format import Capture, CaptureWriter, FrameRecord, read_capture
from rawlive.capture.html import build_view, render_html
from rawlive.capture.tools import extract_wav, summarize

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
AUDIO = FIXTURES / "seed_audio_turns.jsonl"
HANDOVER = FIXTURES / "fake_handover_audio.jsonl"
TOOL = FIXTURES / "fake_tool_call.jsonl"


def page_data(page: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="rawlive-data">(.*?)</script>', page, re.S
    )
    assert found is not None
    return orjson.loads(found.group(1))  # type: ignore[no-any-return]


def wav_of(uri: str) -> tuple[int, bytes]:
    assert uri.startswith("data:audio/wav;base64,")
    with wave.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return w.getframerate(), w.readframes(w.getnframes())


def test_every_turn_of_the_audio_fixture_gets_a_player_with_its_own_audio(tmp_path: Path) -> None:
    capture = read_capture(AUDIO)
    view = build_view(capture)
    assert [t["n"] for t in view["turns"]] == [1, 2, 3]
    pieces = []
    for turn in view["turns"]:
        rate, pcm = wav_of(turn["audioOut"]["wav"])
        assert rate == 24_000
        assert len(pcm) == round(turn["audioOut"]["seconds"] * rate) * 2
        assert turn["audioOut"]["wave"] and max(turn["audioOut"]["wave"]) > 10
        assert turn["user"]  # the prompt text
        pieces.append(pcm)
    # the turns' audio, joined, is exactly what `rawlive wav` extracts
    info = extract_wav(capture, tmp_path / "all.wav")
    with wave.open(str(info.path), "rb") as w:
        assert w.readframes(w.getnframes()) == b"".join(pieces)
    assert view["audioSkipped"] == 0


def test_latency_numbers_agree_with_the_text_timeline() -> None:
    capture = read_capture(AUDIO)
    view = build_view(capture)
    for turn, stats in zip(view["turns"], summarize(capture).turns, strict=True):
        assert turn["latency"]["firstAudio"] == pytest.approx(stats.audio_latency)
        assert turn["latency"]["firstByte"] == pytest.approx(stats.latency)
        assert turn["latency"]["duration"] == pytest.approx(stats.end_t - stats.input_end_t)
        assert turn["usage"]["total"] == stats.total_tokens


def test_players_are_embedded_in_turn_order_until_the_budget_is_spent() -> None:
    capture = read_capture(AUDIO)
    one = len(build_view(capture)["turns"][0]["audioOut"]["wav"])
    view = build_view(capture, audio_budget=one + 100)
    embedded = ["wav" in t["audioOut"] for t in view["turns"]]
    assert embedded == [True, False, False]
    assert all(t["audioOut"]["wave"] for t in view["turns"])  # waveforms stay
    assert view["audioSkipped"] == 2
    none = build_view(capture, audio_budget=0)
    assert not any("wav" in t["audioOut"] for t in none["turns"])


def redacted_copy(capture: Capture) -> Capture:
    from rawlive.capture.format import redaction_marker

    def redact(match: re.Match[str]) -> str:
        return '"data":"' + redaction_marker(base64.b64decode(match.group(1))) + '"'

    records = []
    for record in capture.records:
        if isinstance(record, FrameRecord) and record.data is not None:
            text = re.sub(r'"data":"([A-Za-z0-9+/=]{100,})"', redact, record.data)
            record = FrameRecord(
                conn=record.conn, t=record.t, dir=record.dir, type=record.type, data=text
            )
        records.append(record)
    return Capture(meta=capture.meta, records=tuple(records))


def test_redacted_audio_shows_its_length_only() -> None:
    plain = build_view(read_capture(AUDIO))
    view = build_view(redacted_copy(read_capture(AUDIO)))
    for turn, before in zip(view["turns"], plain["turns"], strict=True):
        audio = turn["audioOut"]
        assert audio["redacted"] == audio["chunks"] == before["audioOut"]["chunks"]
        assert audio["seconds"] == before["audioOut"]["seconds"]
        assert "wav" not in audio and "wave" not in audio


def test_frames_keep_their_json_with_long_base64_shortened() -> None:
    page = render_html(read_capture(AUDIO))
    data = page_data(page)["views"][0]
    shortened = [s for s in data["strings"] if "<base64, 1920 bytes>" in s]
    assert shortened, "an audio chunk's JSON with its data shortened"
    assert orjson.loads(shortened[0])["serverContent"]["modelTurn"]["parts"][0]["inlineData"][
        "mimeType"
    ].startswith("audio/pcm")
    # no long base64 outside the players' data: URIs
    without_players = re.sub(r"data:audio/wav;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.search(r"[A-Za-z0-9+/]{200,}", without_players)
    # every record is a row, every frame has its JSON
    frames = data["frames"]
    assert len(frames["t"]) == len(read_capture(AUDIO).records)
    assert sum(1 for j in frames["j"] if j >= 0) == len(read_capture(AUDIO).frames())


def test_the_handover_fixture_has_two_connections_a_go_away_deadline_and_an_interruption() -> None:
    view = build_view(read_capture(HANDOVER))
    assert [c["conn"] for c in view["conns"]] == [1, 2]
    assert all(c["code"] == 1000 and c["normal"] for c in view["conns"])
    assert view["conns"][0]["reason"] == "handover to a new connection"
    (go_away,) = view["goAways"]
    assert go_away["timeLeft"] == "1.5s"
    assert go_away["deadline"] == pytest.approx(go_away["t"] + 1.5, abs=0.002)
    kinds = {m[0] for m in view["markers"]}
    assert kinds == {"interrupted", "generationComplete", "turnComplete"}
    first = view["turns"][0]
    assert first["conn"] == 1 and first["audioIn"]["rate"] == 16_000
    assert first["audioIn"]["seconds"] == pytest.approx(1.8, abs=0.01)
    assert "wav" in first["audioIn"] and first["inputTranscript"]
    assert [t["conn"] for t in view["turns"]] == [1, 2, 2]
    assert view["turns"][1]["interrupted"] and view["turns"][1]["user"] == "Can you tell me a joke?"
    pieces = view["turns"][2]["transcript"]
    assert [p[1] for p in pieces] == sorted(p[1] for p in pieces)  # aligned along the audio
    assert pieces[-1][1] <= view["turns"][2]["audioOut"]["seconds"]


def test_the_tool_call_fixture_joins_call_and_response_by_id() -> None:
    view = build_view(read_capture(TOOL))
    (tool,) = view["tools"]
    assert tool["name"] == "turn_on_the_lights"
    assert orjson.loads(tool["response"]) == {"output": "on"}
    assert tool["rt"] > tool["t"]
    call_turn = next(t for t in view["turns"] if t["calls"])
    answer_turn = next(t for t in view["turns"] if t["responses"])
    assert call_turn["calls"] == answer_turn["responses"] == [tool["id"]]
    assert answer_turn["n"] == call_turn["n"] + 1
    assert "lights are now on" in "".join(p[2] for p in answer_turn["transcript"])


def cut_capture(path: Path) -> Path:
    """A question, then the connection closes before any reply."""
    question = {
        "clientContent": {"turns": [{"parts": [{"text": "Still there?"}]}], "turnComplete": True}
    }
    with CaptureWriter(path) as writer:
        writer.frame(1, "client", '{"setup":{"model":"models/m"}}', t=0.0)
        writer.frame(1, "server", b'{"setupComplete":{}}', t=0.1)
        writer.frame(1, "client", orjson.dumps(question).decode(), t=0.2)
        writer.close_conn(1, 1011, "Internal error encountered.", "server", t=0.3)
    return path


def test_input_without_a_reply_is_shown(tmp_path: Path) -> None:
    view = build_view(read_capture(cut_capture(tmp_path / "cut.jsonl")))
    assert view["turns"] == []
    (cut,) = view["unanswered"]
    assert (cut["conn"], cut["user"], cut["inputStart"]) == (1, "Still there?", 0.2)


def test_lint_findings_point_at_their_frames(tmp_path: Path) -> None:
    from rawlive.capture.lint import lint_capture

    path = tmp_path / "bad.jsonl"
    audio = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAAA" * 40}}
    call = {"toolCall": {"functionCalls": [{"id": "c1", "name": "f", "args": {}}]}}

    def response(call_id: str) -> str:
        answer = {"functionResponses": [{"id": call_id, "name": "f", "response": {}}]}
        return orjson.dumps({"toolResponse": answer}).decode()

    with CaptureWriter(path) as writer:
        writer.frame(1, "client", '{"setup":{"model":"models/m"}}', t=0.0)
        writer.frame(1, "server", b'{"setupComplete":{}}', t=0.1)
        writer.frame(1, "client", '{"realtimeInput":{"activityStart":{}}}', t=0.2)
        writer.frame(
            1, "server", orjson.dumps({"serverContent": {"modelTurn": {"parts": [audio]}}}), t=0.3
        )
        writer.frame(1, "server", orjson.dumps(call), t=0.4)
        writer.frame(1, "client", response("c1"), t=0.5)  # fine: answers the pending call
        writer.frame(1, "client", response("c2"), t=0.6)  # no such call
        writer.frame(1, "client", '{"setup":{"model":"models/m"}}', t=0.7)
    capture = read_capture(path)
    view = build_view(capture)
    shown = [(rule, view["frames"]["t"][row]) for row, rule, _ in view["lint"]]
    assert shown == [(f.rule, f.t) for f in lint_capture(capture)]
    assert [rule for rule, _ in shown] == ["activity-with-vad", "tool-response-id", "second-setup"]
    assert [t for _, t in shown] == [0.2, 0.6, 0.7]


def test_text_cannot_close_the_data_script(tmp_path: Path) -> None:
    path = tmp_path / "evil.jsonl"
    evil = "</script><script>alert(1)</script><!--"
    with CaptureWriter(path) as writer:
        writer.frame(1, "client", orjson.dumps({"setup": {"model": "models/m"}}).decode(), t=0.0)
        turn = {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": evil}]}],
                "turnComplete": True,
            }
        }
        writer.frame(1, "client", orjson.dumps(turn).decode(), t=0.1)
        writer.frame(
            1,
            "server",
            orjson.dumps({"serverContent": {"modelTurn": {"parts": [{"text": evil}]}}}),
            t=0.2,
        )
        writer.frame(1, "server", b'{"serverContent":{"turnComplete":true}}', t=0.3)
    page = render_html(read_capture(path), name="<b>name</b>")
    assert page.count("</script>") == 2  # the data blob's and the viewer's
    assert "<b>name</b>" not in page
    data = page_data(page)["views"][0]
    assert data["turns"][0]["user"] == evil and data["turns"][0]["text"] == evil


def test_compare_carries_both_captures_and_the_shape_diff() -> None:
    page = render_html(
        read_capture(AUDIO), name="a.jsonl", compare=read_capture(TOOL), compare_name="b.jsonl"
    )
    data = page_data(page)
    assert [v["name"] for v in data["views"]] == ["a.jsonl", "b.jsonl"]
    entries = {(e["section"], e["sign"], e["text"]) for e in data["diff"]}
    assert ("kinds", "+", "toolCall") in entries
    assert ("kinds", "+", "toolResponse") in entries


def test_the_page_needs_no_network() -> None:
    page = render_html(read_capture(TOOL))
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page, re.I)
    assert "@import" not in page and "fetch(" not in page and "XMLHttpRequest" not in page


# ------------------------------------------------------------------ CLI


def rawlive(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rawlive", *args],
        capture_output=True, text=True, cwd=cwd, timeout=60, check=False,
    )  # fmt: skip


def test_cli_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "view.html"
    result = rawlive("show", str(TOOL), "--html", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out} (")
    assert page_data(out.read_text())["views"][0]["name"] == "fake_tool_call.jsonl"


def test_cli_audio_budget_and_compare(tmp_path: Path) -> None:
    out = tmp_path / "cmp.html"
    result = rawlive(
        "show", str(AUDIO), "--html", str(out), "--compare", str(HANDOVER), "--audio-budget", "0",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = page_data(out.read_text())
    assert len(data["views"]) == 2
    assert "data:audio/wav" not in out.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--compare", str(TOOL)], "--compare needs --html"),
        (["--html", "x.html", "--audio-budget", "-1"], "--audio-budget must be 0 or more"),
        (["--html", "no/such/dir/x.html"], "the folder 'no/such/dir' does not exist"),
        (["--html", "x.html", "--compare", "nope.jsonl"], "nope.jsonl: no such file"),
    ],
)
def test_cli_bad_input_gets_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = rawlive("show", str(TOOL), *args, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def broken_capture(path: Path) -> Path:
    """A capture with everything a viewer could choke on."""
    with CaptureWriter(path) as w:
        w.open_conn(1, "ws://x/ws?key=abc", "models/m", 0.0)
        w.frame(1, "client", '{"setup":{"model":"models/m"}}', t=0.01)
        w.frame(1, "server", b'{"setupComplete":{}}', t=0.1)
        w.frame(1, "client", "not json at all", t=0.2)
        w.frame(1, "server", b"\xff\xfe binary", t=0.3)
        w.frame(1, "server", b'{"serverContent":{"turnComplete":"yes"}}', t=0.4)
        w.frame(1, "server", b"[1,2,3]", t=0.45)
        bad_b64 = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "!!not base64!!"}}
        opus = {"inlineData": {"mimeType": "audio/opus", "data": "AAAA"}}
        for t, part in ((0.5, bad_b64), (0.55, opus)):
            frame = {"serverContent": {"modelTurn": {"parts": [part]}}}
            w.frame(1, "server", orjson.dumps(frame), t=t)
        w.frame(1, "server", b'{"goAway":{"timeLeft":"bogus"}}', t=0.6)
        w.frame(1, "server", b'{"toolCallCancellation":{"ids":["zz"]}}', t=0.65)
        w.close_conn(1, 1011, "Internal error encountered.", "server", t=0.7)
    with path.open("a") as f:
        f.write('{"kind":"future","conn":1,"t":0.8,"x":1}\n')
    return path


def test_broken_frames_are_shown_not_fatal(tmp_path: Path) -> None:
    view = build_view(read_capture(broken_capture(tmp_path / "broken.jsonl")))
    kinds = [view["strings"][k] for k in view["frames"]["k"]]
    assert kinds.count("!! undecodable") == 6
    assert kinds[-1] == "future"
    (turn,) = view["turns"]
    assert not turn["complete"]
    assert turn["audioOut"]["problem"] == "not raw PCM (audio/opus)"
    assert "wav" not in turn["audioOut"]
    (go_away,) = view["goAways"]
    assert go_away["deadline"] is None
    (conn,) = view["conns"]
    assert conn["code"] == 1011 and not conn["normal"] and conn["retryable"]
    assert [f[1] for f in view["lint"]] == ["undecodable"]
    assert "abc" not in render_html(read_capture(tmp_path / "broken.jsonl"))


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.jsonl")), ids=lambda p: p.name)
def test_every_fixture_renders(path: Path) -> None:
    capture = read_capture(path)
    data = page_data(render_html(capture, name=path.name))["views"][0]
    assert len(data["frames"]["t"]) == len(capture.records)
    assert len(data["turns"]) == len(summarize(capture).turns)
