#!/usr/bin/env python3
"""Make ``docs/viewer.png``: the capture viewer on the seed's audio session.

Usage::

    python scripts/make_viewer_screenshot.py [--capture fixtures/seed_audio_turns.jsonl]
                                             [--out docs/viewer.png] [--height 1250]

Renders the capture with ``rawlive show --html`` into a temporary file and
photographs it with Debian's ``chromium`` in headless mode (no network: the
page is self-contained). Needs ``chromium`` on the PATH.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from rawlive.capture.format import read_capture  # noqa: E402
from rawlive.capture.html import render_html  # noqa: E402

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
    "--virtual-time-budget=3000",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--capture", type=Path, default=ROOT / "fixtures" / "seed_audio_turns.jsonl"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "viewer.png")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1250)
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("make_viewer_screenshot: chromium is not installed (apt-get install -y chromium)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "viewer.html"
        page.write_text(render_html(read_capture(args.capture), name=args.capture.name))
        cmd = [
            chromium,
            *FLAGS,
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--window-size={args.width},{args.height}",
            f"--screenshot={args.out.resolve()}",
            page.as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or not args.out.exists():
        print(f"make_viewer_screenshot: chromium failed:\n{done.stderr[-2000:]}")
        return 1
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
