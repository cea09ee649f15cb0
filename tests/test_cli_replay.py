"""Recorded with the demo, replayed to the CLI: exact replay, with a mismatch that says the fix."""

from __future__ import annotations

import signal
from pathlib import Path

from cli_support import run_cli, start_cli


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
