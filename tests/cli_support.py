"""Running the ``rawlive`` command in tests: a subprocess, offline, with no key in its environment."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import wave
from array import array
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``rawlive`` subprocess: no API key, this checkout's sources."""
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env.update(extra or {})
    return env


def run_cli(
    *args: str,
    cwd: Path,
    env_extra: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rawlive ARGS`` to completion and return its result."""
    return subprocess.run(
        [sys.executable, "-m", "rawlive", *args],
        cwd=cwd,
        env=cli_env(env_extra),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start ``python -m rawlive ARGS`` in the background (stdout and stderr piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "rawlive", *args],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def write_sine_wav(
    path: Path,
    *,
    rate: int,
    channels: int = 1,
    seconds: float = 1.0,
    freq: float = 440.0,
    sample_width: int = 2,
) -> Path:
    """Write a sine tone WAV (16-bit unless ``sample_width`` says otherwise)."""
    n = int(rate * seconds)
    if sample_width == 2:
        samples = array(
            "h",
            (
                int(8000 * math.sin(2 * math.pi * freq * i / rate))
                for i in range(n)
                for _ in range(channels)
            ),
        )
        data = samples.tobytes() if sys.byteorder == "little" else _swapped(samples)
    else:
        data = bytes(n * channels * sample_width)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(sample_width)
        w.setframerate(rate)
        w.writeframes(data)
    return path


def _swapped(samples: array[int]) -> bytes:  # pragma: no cover - big-endian hosts
    samples.byteswap()
    return samples.tobytes()
