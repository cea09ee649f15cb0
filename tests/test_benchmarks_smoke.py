"""The benchmark scripts still run: each one, in its tiny ``--quick`` mode.

These are not timings (benchmarks are scripts, never timed tests): they only
check that every script exits 0 and prints the result lines a reader of
docs/benchmarks.md looks for, so the scripts cannot rot unnoticed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

# script -> lines (by prefix) its --quick run must print
EXPECTED = {
    "bench_codec.py": [
        "RATIO codec audio fast path rawlive/floor:",
        "RATIO codec audio generic path rawlive/floor:",
        "RATIO codec text + unknown key rawlive/floor:",
    ],
    "bench_receive.py": [
        "RATIO receive ws rawlive/floor:",
        "RATIO receive ws rawlive-wav/floor:",
    ],
    "bench_import.py": ["IMPORT rawlive:", "EXPLAIN rawlive explain 1008:"],
    "bench_memory.py": [
        "RATIO memory default peak RSS",
        "RATIO memory keep_messages=True peak RSS",
    ],
    "bench_proxy.py": [
        "RATIO proxy relay CPU per frame rawlive/bare:",
        "LATENCY added per round trip:",
    ],
    "bench_send.py": [
        "RATIO send CPU per chunk unpaced rawlive/floor:",
        "RATIO send CPU per chunk paced rawlive/floor:",
        "RATIO send library work alone rawlive/floor:",
    ],
    "bench_sessions.py": [
        "RATIO sessions 20 peak memory per session rawlive/floor:",
        "RATIO sessions 20 CPU rawlive/floor:",
    ],
    "bench_scale.py": ["RATIO scale CPU per turn concurrent/alone:", "ERRORS 0"],
    "bench_viewer.py": ["CPU render html:", "PAGE ", "RATIO render html / text timeline CPU:"],
}


def run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/SCRIPT ARGS`` with this checkout's ``src/`` first on the path."""
    env = dict(os.environ)
    src = str(SCRIPTS.parent / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def run_quick(script: str) -> subprocess.CompletedProcess[str]:
    return run_script(script, "--quick")


# Benchmarks measure against a floor written with websockets 14's API
# (send(..., text=True), recv(decode=False)); rawlive itself supports 13 too.
NEEDS_WEBSOCKETS_14 = {"bench_send.py", "bench_sessions.py"}


def websockets_major() -> int:
    from importlib.metadata import version

    return int(version("websockets").split(".")[0])


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_script_runs_in_quick_mode(script: str) -> None:
    if script in NEEDS_WEBSOCKETS_14 and websockets_major() < 14:
        pytest.skip(f"{script}'s floor uses the websockets 14 API (send(text=), recv(decode=))")
    done = run_quick(script)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    lines = done.stdout.splitlines()
    for prefix in EXPECTED[script]:
        assert any(line.startswith(prefix) for line in lines), (
            f"{script} printed no line starting with {prefix!r}:\n{done.stdout}"
        )
    # Every RATIO line carries a min and a median figure, or says why it has none.
    for line in lines:
        if line.startswith("RATIO "):
            assert (" min " in line and " median " in line) or ": no ratio, " in line, line


def test_ratio_line_survives_a_floor_of_zero_or_less() -> None:
    """A tiny quick run can measure a floor of <= 0 (RSS noise): one line, no crash."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        from _bench_common import Series, ratio_line
    finally:
        sys.path.remove(str(SCRIPTS))
    line = ratio_line("x", Series("a", [1.0, 2.0]), Series("b", [-3.0, 0.0]), target=1.1)
    assert line == "RATIO x: no ratio, the floor measured -3.000 (too small)"
    line = ratio_line("x", Series("a", [2.0, 4.0]), Series("b", [1.0, 2.0]), target=1.1)
    assert line.startswith("RATIO x: min 2.00x  median 2.00x  (n=2)") and "MISSED" in line


@pytest.mark.parametrize("client", ["floor", "rawlive"])
def test_the_codec_instruction_count_child_decodes_without_valgrind(client: str) -> None:
    # bench_codec --instructions runs this child under valgrind; here it runs bare.
    done = run_script("bench_codec.py", "--count", client, "1")
    assert done.returncode == 0 and done.stderr == "", done.stderr
