"""The viewer page in a real browser: Debian's ``chromium``, headless.

Each test renders a fixture capture with ``rawlive show --html``, lets
chromium run the page's script and reads the DOM it ends up with
(``--dump-dom``): turns, players, lanes and markers must be there. One test
takes a screenshot and checks that it is not blank. ``.ci/run`` installs
chromium where it is missing; without it these tests are skipped.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rawlive.capture.format import read_capture
from rawlive.capture.html import render_html

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Frames are drawn as virtual time advances, so the intersection observer
    # that gives players their audio runs before --dump-dom, however loaded
    # the machine is.
    "--run-all-compositor-stages-before-draw",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (.ci/run installs it: apt-get install -y chromium)",
)


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tempfile.mkdtemp(prefix="rawlive-chromium-")
    try:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class Dom(HTMLParser):
    """The elements (tag, attributes) and the text of a dumped page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.texts.append(data)

    def with_class(self, name: str, tag: str | None = None) -> list[dict[str, str]]:
        return [
            attrs
            for t, attrs in self.elements
            if name in attrs.get("class", "").split() and (tag is None or t == tag)
        ]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


def rendered(tmp_path: Path, fixture: str, **kwargs: object) -> Dom:
    page = tmp_path / (fixture + ".html")
    page.write_text(render_html(read_capture(FIXTURES / fixture), name=fixture, **kwargs))  # type: ignore[arg-type]
    # Players get their data: URI when they come near the screen: a tall window
    # and some virtual time let that happen before the DOM is dumped.
    result = chromium(
        "--window-size=1400,3000", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Dom(result.stdout)
    (app,) = [attrs for tag, attrs in dom.elements if attrs.get("id") == "app"]
    assert app.get("data-state") == "ready", "the page's script did not finish"
    return dom


def lane_svg_count(dom: Dom) -> int:
    count = 0
    inside = False
    for tag, attrs in dom.elements:
        if "lanes" in attrs.get("class", "").split():
            inside = True
        elif inside and tag == "svg":
            count += 1
            inside = False
    return count


def test_audio_fixture_turns_players_lanes_and_markers(tmp_path: Path) -> None:
    dom = rendered(tmp_path, "seed_audio_turns.jsonl")
    assert len(dom.with_class("turn", "div")) == 3
    players = dom.with_class("player", "audio")
    assert len(players) == 3
    assert all(p.get("src", "").startswith("data:audio/wav;base64,") for p in players)
    assert lane_svg_count(dom) == 1
    text = dom.text
    for lane in ("connections", "client \u2192", "server \u2190", "turns", "markers"):
        assert lane in text
    assert text.count("generationComplete at") == 3 and text.count("turnComplete at") == 3
    user_quotes = [a for a in dom.with_class("quote", "div")]
    assert len(user_quotes) >= 3  # the three prompts
    assert "closed by client 1000" in text


def test_handover_fixture_shows_both_connections_the_go_away_and_the_interruption(
    tmp_path: Path,
) -> None:
    dom = rendered(tmp_path, "fake_handover_audio.jsonl")
    assert len(dom.with_class("turn", "div")) == 3
    assert len(dom.with_class("interrupted", "div")) == 1
    assert len(dom.with_class("player", "audio")) == 4  # spoken input + three replies
    text = dom.text
    assert "handover \u21aa" in text
    assert "goAway timeLeft 1.5s" in text and "goAway deadline" in text
    assert "connection #1" in text and "connection #2" in text
    assert "interrupted at" in text
    assert "spoken input 1.80 s" in text
    assert "What was my first question?" in text


def test_tool_call_fixture_joins_call_and_response(tmp_path: Path) -> None:
    dom = rendered(tmp_path, "fake_tool_call.jsonl")
    assert len(dom.with_class("turn", "div")) == 3
    # the call (model side) and the response (user side)
    assert len(dom.with_class("tool", "div")) == 2
    text = dom.text
    assert "toolCall turn_on_the_lights" in text
    assert '{"output":"on"}' in text
    assert "turn_on_the_lights answered after" in text  # the lane's call -> response curve
    assert "OK. The lights" in text


def test_clicking_a_frame_row_shows_its_json(tmp_path: Path) -> None:
    html = render_html(read_capture(FIXTURES / "fake_tool_call.jsonl"))
    click = (
        "<script>document.querySelectorAll('.frow').forEach(function (row) {"
        " var kind = row.querySelector('.k').textContent;"
        " if (kind === 'toolCall' || row.querySelector('.s').textContent.indexOf('audio \u00d7') === 0)"
        " row.click(); });</script>"
    )
    page = tmp_path / "click.html"
    page.write_text(html.replace("</body>", click + "</body>"))
    result = chromium("--dump-dom", page.as_uri())
    dom = Dom(result.stdout)
    shown = [text for text in dom.texts if '"functionCalls"' in text]
    assert len(shown) == 1 and '"turn_on_the_lights"' in shown[0]
    assert dom.with_class("sub", "div")  # runs of audio chunks open to one row per frame
    assert len(dom.with_class("frow", "div")) > 100


def test_past_the_budget_turns_say_how_to_extract_the_audio(tmp_path: Path) -> None:
    dom = rendered(tmp_path, "seed_audio_turns.jsonl", audio_budget=0)
    assert not dom.with_class("player", "audio")
    assert dom.text.count("rawlive wav seed_audio_turns.jsonl out.wav") == 3


def test_compare_page_aligns_turns_and_highlights_the_diff(tmp_path: Path) -> None:
    page = tmp_path / "compare.html"
    page.write_text(
        render_html(
            read_capture(FIXTURES / "seed_audio_turns.jsonl"),
            name="a",
            compare=read_capture(FIXTURES / "fake_tool_call.jsonl"),
            compare_name="b",
        )
    )
    result = chromium("--dump-dom", page.as_uri())
    dom = Dom(result.stdout)
    assert 'data-state="ready"' in result.stdout
    assert len(dom.with_class("turn", "div")) == 6
    assert dom.with_class("diffk")  # frames of a kind only one capture has
    assert "+ server toolCall" in dom.text
    assert "shape differs: toolCall" in dom.text
    # turn 2: text reply in a, toolCall in b
    assert dom.text.count("frame order differs") == 2
    assert "server frames: toolCall \u2192 serverContent+usageMetadata" in dom.text
    assert lane_svg_count(dom) == 2


# ------------------------------------------------------------------ screenshot


def png_rows(path: Path, limit: int) -> Iterator[tuple[bytes, int]]:
    """The first ``limit`` rows of an 8-bit RGB(A) PNG, unfiltered (pure Python)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IHDR":
            header = data[pos + 8 : pos + 8 + length]
        elif kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    for y in range(min(height, limit)):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        prev = line
        yield bytes(line), bpp


def colours(path: Path, rows: int = 420) -> int:
    seen: set[bytes] = set()
    for line, bpp in png_rows(path, rows):
        seen.update(line[i : i + 3] for i in range(0, len(line), bpp))
    return len(seen)


def test_screenshot_is_not_blank(tmp_path: Path) -> None:
    page = tmp_path / "audio.html"
    page.write_text(render_html(read_capture(FIXTURES / "seed_audio_turns.jsonl")))
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    shots = {}
    for name, source in (("page", page), ("blank", blank)):
        shot = tmp_path / f"{name}.png"
        result = chromium(f"--screenshot={shot}", "--window-size=1400,1000", source.as_uri())
        assert shot.exists(), result.stderr[-2000:]
        shots[name] = shot
    assert colours(shots["blank"]) <= 2
    assert colours(shots["page"]) > 40  # text, lanes, bars, waveforms in several colours
    assert shots["page"].stat().st_size > 10 * shots["blank"].stat().st_size


def test_a_broken_capture_still_draws(tmp_path: Path) -> None:
    from test_viewer import broken_capture

    path = broken_capture(tmp_path / "broken.jsonl")
    page = tmp_path / "broken.html"
    page.write_text(render_html(read_capture(path), name="broken.jsonl"))
    result = chromium("--dump-dom", page.as_uri())
    dom = Dom(result.stdout)
    assert 'data-state="ready"' in result.stdout
    assert len(dom.with_class("bad", "div")) >= 6  # undecodable rows and the 1011 close
    assert "no player: not raw PCM (audio/opus)" in dom.text
    assert "1011" in dom.text and "internal error" in dom.text


def test_input_without_a_reply_has_its_card(tmp_path: Path) -> None:
    from test_viewer import cut_capture

    page = tmp_path / "cut.html"
    page.write_text(render_html(read_capture(cut_capture(tmp_path / "cut.jsonl"))))
    result = chromium("--dump-dom", page.as_uri())
    dom = Dom(result.stdout)
    assert 'data-state="ready"' in result.stdout
    assert "Input without a reply" in dom.text and "Still there?" in dom.text
    assert "No model turn in this capture." in dom.text
