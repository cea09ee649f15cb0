"""Recorded with the demo, replayed to the CLI: exact replay, with a mismatch that says the fix."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

import rawlive
from cli_support import run_cli, start_cli
from rawlive.capture.replay import FrameShape, ReplayServer, client_frame_shape
from rawlive.capture.replay_match import close_reason, first_difference
from rawlive.errors import SetupRejectedError


def test_a_demo_recording_replays_to_the_cli_and_a_mismatch_names_the_fix(
    tmp_path: Path,
) -> None:
    recorded = run_cli("say", "Hello", "--server", "demo", "--record", "rec.jsonl", cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    proc = start_cli("serve", "rec.jsonl", "--port", "0", cwd=tmp_path)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("ws://127.0.0.1:")
        proc.stderr.readline()  # "replaying rec.jsonl at URL"
        assert proc.stderr.readline().strip() == (
            "rawlive: the capture expects model rawlive-demo, modality AUDIO: "
            "pass --model rawlive-demo --modality audio"
        )
        # The default model differs: the close reason leads with the difference and the fix.
        default = run_cli("say", "Hello", "--server", url, cwd=tmp_path)
        assert default.returncode == 1
        assert (
            "1007 'replay mismatch: the capture expects model rawlive-demo, got "
            "gemini-3.8-live: pass --model rawlive-demo" in default.stderr
        )
        # With the flag it names, the replay matches.
        fixed = run_cli("say", "Hello", "--server", url, "--model", "rawlive-demo", cwd=tmp_path)
        assert fixed.returncode == 0, fixed.stderr
        assert fixed.stdout == recorded.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err  # Ctrl-C stops it cleanly
    # The server's own report has the whole story: the fix, then both setups in full.
    assert (
        "connection #1, client frame #1: the capture expects model rawlive-demo, got "
        "gemini-3.8-live: pass --model rawlive-demo; expected setup(model='models/rawlive-demo', "
        "modalities=AUDIO), got setup(model='models/gemini-3.8-live', modalities=AUDIO)" in err
    )


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize(
    ("options", "lead"),
    [
        (
            {"model": "other-model", "response_modalities": ["TEXT"]},
            "the capture expects model gemini-2.0-flash-live-001: "
            "pass --model gemini-2.0-flash-live-001",
        ),
        (
            {"model": "gemini-2.0-flash-live-001", "response_modalities": ["AUDIO"]},
            "the capture expects modality TEXT, got AUDIO: pass --modality text",
        ),
        (
            {
                "model": "gemini-2.0-flash-live-001",
                "response_modalities": ["TEXT"],
                "session_resumption": "some-handle",
            },
            "the capture starts a new session: do not pass --resume",
        ),
    ],
)
async def test_a_setup_mismatch_reason_leads_with_thefirst_difference(
    options: dict[str, Any], lead: str
) -> None:
    async with ReplayServer(FIXTURES / "seed_text_session.jsonl") as server:
        with pytest.raises(SetupRejectedError) as info:
            await rawlive.connect(endpoint=server.url, **options)
    reason = info.value.reason
    assert reason.startswith(f"replay mismatch: {lead}")  # the longest wording that fits
    assert len(reason.encode("utf-8")) <= 123
    report = str(server.mismatches[0])  # uncut, with what the client sent
    assert lead.split(":")[0] in report and "; expected setup(" in report
    assert f"got {server.mismatches[0].got}" in report


def test_a_long_model_name_still_fits_the_fix_in_the_reason() -> None:
    long_name = "gemini-2.5-flash-native-audio-preview-09-2025"

    def setup(model: str) -> FrameShape:
        return client_frame_shape(orjson.dumps({"setup": {"model": f"models/{model}"}}))

    lead = first_difference(setup(long_name), setup("gemini-3.8-live"), 123 - 17)
    assert lead == f"the capture expects --model {long_name}"
    reason = close_reason("x", "y", lead)
    assert reason.startswith(f"replay mismatch: {lead}; ") and len(reason.encode()) <= 123
    full = first_difference(setup(long_name), setup("gemini-3.8-live"))
    assert full.endswith(f"got gemini-3.8-live: pass --model {long_name}")
