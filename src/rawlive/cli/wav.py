"""``rawlive wav CAPTURE OUT.wav``: the model's (or the user's) audio from a capture."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli._args import capture_file, load_capture, output_file


def add_parser(sub: Any) -> None:
    p = sub.add_parser("wav", help="write a capture's audio to a WAV file")
    p.add_argument("capture", type=capture_file)
    p.add_argument("out", metavar="OUT.wav", type=output_file)
    p.add_argument("--input", action="store_true", help="the user's audio instead of the model's")
    p.set_defaults(run=run, is_async=False)


def run(args: argparse.Namespace) -> int:
    from rawlive.capture.tools import extract_wav

    capture, problem = load_capture(args.capture, partial=True)
    if problem:
        print(f"rawlive: warning: {problem}", file=sys.stderr)
    info = extract_wav(capture, args.out, direction="client" if args.input else "server")
    line = (
        f"wrote {info.path}: {info.duration:.2f} s of {info.rate} Hz audio from "
        f"{info.chunks} chunks"
    )
    if info.redacted_chunks:
        line += f" ({info.redacted_chunks} redacted chunks written as silence)"
    print(line)
    if info.skipped_frames:
        print(
            f"rawlive: warning: {info.skipped_frames} frames could not be decoded and were skipped",
            file=sys.stderr,
        )
    return 1 if problem else 0
